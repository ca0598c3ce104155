"""Claim activities: create, scrub with the claim edits, correct, submit the 837P, read 999/277CA, ask with a 276."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session
from temporalio import activity

from activities.clearinghouse.base import Clearinghouse
from activities.contracts import revenue as c
from activities.documents.records import store_and_record
from activities.documents.store import DocumentStore
from activities.revenue.base import Envelope, StoreActivities, domain_errors_are_final, record_status_inquiry
from domain import audit
from domain import models as m
from domain.claim_edits import ScrubContext, fingerprint, scrub
from domain.claim_status import ClaimStatus, can_transition
from domain.enums import PayerRouting
from domain.errors import NotFound, ValidationError
from domain.services.corrections import apply_claim_changes
from domain.services.encounters import create_claim
from domain.services.professional import load_professional_claim
from domain.services.provider_standing import provider_standing
from domain.store.control_numbers import next_numbers
from domain.x12.ack277ca import parse_277ca
from domain.x12.ack999 import parse_999
from domain.x12.claim837 import Submitter, write_837p
from domain.x12.envelope import Party
from domain.x12.status276 import ClaimStatusInquiry, parse_277, write_276

OPEN_CLAIM_STATUSES = (ClaimStatus.READY, ClaimStatus.SUBMITTED, ClaimStatus.ACKNOWLEDGED, ClaimStatus.ACCEPTED)


def _claim(session: Session, claim_id: str) -> m.Claim:
    claim = session.get(m.Claim, claim_id)
    if claim is None:
        raise NotFound(f"unknown claim {claim_id}")
    return claim


def _move(session: Session, claim: m.Claim, target: ClaimStatus, actor: str, **details: object) -> None:
    """Transition when the lifecycle allows it (a retried activity finds it already there: fine)."""
    current = ClaimStatus(claim.status)
    if current == target:
        return
    claim.transition(target)
    audit.record(
        session,
        actor=actor,
        action="claim.status",
        entity_type="claim",
        entity_id=claim.id,
        details={"from": current.value, "to": target.value, **details},
    )


def _scrub_result(claim: m.Claim, payer: m.Payer, edits: tuple[c.ClaimEdit, ...], diagnoses: int = 0) -> c.ScrubResult:
    today = datetime.now(UTC).date()
    return c.ScrubResult(
        claim_id=claim.id,
        payer_id=payer.payer_id,
        passed=not edits,
        edits=edits,
        follow_up_days=payer.follow_up_days,
        filing_deadline_days=payer.timely_filing_days - (today - claim.date_of_service).days,
        charge_cents=claim.total_charge_cents,
        route="portal" if payer.routing == PayerRouting.PORTAL else "clearinghouse",
        lines=len(claim.lines),
        diagnoses=diagnoses,
        line_pointers=tuple(max(line.diagnosis_pointers or [0]) for line in claim.lines),
    )


class ClaimActivities(StoreActivities):
    def __init__(
        self,
        session_factory: object,
        clearinghouse: Clearinghouse,
        envelope: Envelope,
        documents: DocumentStore | None = None,
    ) -> None:
        super().__init__(session_factory)  # type: ignore[arg-type]
        self._clearinghouse = clearinghouse
        self._envelope = envelope
        self._documents = documents

    @activity.defn(name=c.CLAIMS_CREATE)
    @domain_errors_are_final
    def create(self, ref: c.EncounterRef) -> c.CreatedClaim:
        """A draft claim to the primary coverage (once per encounter); no active coverage: the patient pays."""
        with self.uow() as uow:
            session = uow.session
            existing = session.execute(
                select(m.Claim.id).where(
                    m.Claim.encounter_id == ref.encounter_id, m.Claim.rank == "primary", m.Claim.status != "void"
                )
            ).scalar()
            if existing is not None:
                return c.CreatedClaim(existing, "payer")
            try:
                claim_id = create_claim(session, ref.encounter_id, actor="workflow:encounter")
            except ValidationError as exc:
                if "coverage" in exc.message or "self-pay" in exc.message:
                    return c.CreatedClaim(None, "patient")
                raise
            uow.commit()
            return c.CreatedClaim(claim_id, "payer")

    @activity.defn(name=c.CLAIMS_SCRUB)
    @domain_errors_are_final
    def scrub(self, ref: c.ClaimRef) -> c.ScrubResult:
        """Run every claim edit; a clean claim becomes READY."""
        with self.uow() as uow:
            session = uow.session
            claim = _claim(session, ref.claim_id)
            payer = session.get(m.Payer, claim.payer_id)
            assert payer is not None
            professional = load_professional_claim(session, claim)
            others = session.execute(
                select(m.Claim).where(
                    m.Claim.patient_id == claim.patient_id,
                    m.Claim.id != claim.id,
                    m.Claim.status.in_([s.value for s in OPEN_CLAIM_STATUSES]),
                    m.Claim.date_of_service == claim.date_of_service,
                    m.Claim.original_claim_id.is_(None),
                )
            ).scalars()
            others_fp = [fingerprint(load_professional_claim(session, other), other.patient_id) for other in others]
            today = datetime.now(UTC).date()
            failures = scrub(
                professional,
                ScrubContext(
                    today=today,
                    timely_filing_days=payer.timely_filing_days,
                    open_claims=others_fp,
                    self_fingerprint=fingerprint(professional, claim.patient_id),
                    provider=provider_standing(session, claim),
                ),
            )
            if not failures and ClaimStatus(claim.status) in (
                ClaimStatus.DRAFT,
                ClaimStatus.REJECTED,
                ClaimStatus.DENIED,
            ):
                _move(session, claim, ClaimStatus.READY, "workflow:claim")
            uow.commit()
            edits = tuple(c.ClaimEdit(f.code, f.message, f.fix_hint) for f in failures)
            return _scrub_result(claim, payer, edits, len(professional.diagnoses))

    @activity.defn(name=c.CLAIMS_TERMS)
    @domain_errors_are_final
    def terms(self, ref: c.ClaimRef) -> c.ScrubResult:
        """The payer's follow-up window, filing deadline and route for a claim, changing nothing.

        For a claim whose process is reopened by a late remittance: it was scrubbed and submitted long ago."""
        with self.uow() as uow:
            claim = _claim(uow.session, ref.claim_id)
            payer = uow.session.get(m.Payer, claim.payer_id)
            encounter = uow.session.get(m.Encounter, claim.encounter_id)
            assert payer is not None
            return _scrub_result(claim, payer, (), len(encounter.diagnosis_codes or ()) if encounter else 0)

    @activity.defn(name=c.CLAIMS_CORRECT)
    @domain_errors_are_final
    def correct(self, data: c.ClaimCorrection) -> c.Nothing:
        """A biller's corrections, checked by the correction rule with the store's facts, applied on every line they
        name (domain.services.corrections); then the claim goes back to DRAFT to be scrubbed again."""
        with self.uow() as uow:
            session = uow.session
            claim = _claim(session, data.claim_id)
            status = ClaimStatus(claim.status)
            if status not in (ClaimStatus.DRAFT, ClaimStatus.READY) and not can_transition(status, ClaimStatus.READY):
                raise ValidationError(f"claim {claim.id} is {claim.status}: it cannot be corrected now")
            applied = apply_claim_changes(
                session,
                claim,
                {name: value.strip() for name, value in data.changes.items()},
                suggested_frequency=data.frequency_code,
                today=datetime.now(UTC).date(),
            )
            if status not in (ClaimStatus.DRAFT, ClaimStatus.READY):
                _move(session, claim, ClaimStatus.READY, data.actor, corrected=sorted(data.changes))
            if claim.status == ClaimStatus.READY:
                claim.transition(ClaimStatus.DRAFT)
            audit.record(
                session,
                actor=data.actor,
                action="claim.corrected",
                entity_type="claim",
                entity_id=claim.id,
                details={
                    "fields": sorted(data.changes),
                    "frequency": applied.frequency_code,
                    "charge_delta_cents": applied.charge_delta_cents,
                    "payer_changed": applied.payer_changed,
                },
            )
            uow.commit()
        return c.Nothing()

    @activity.defn(name=c.CLAIMS_SUBMIT)
    @domain_errors_are_final
    def submit(self, data: c.ClaimCorrection) -> c.SubmitResult:
        """Build the 837P, send it, and read the 999 and 277CA the clearinghouse answers with."""
        with self.uow() as uow:
            session = uow.session
            claim = _claim(session, data.claim_id)
            if ClaimStatus(claim.status) != ClaimStatus.READY:
                previous = self._last_submission(session, claim.id)
                if previous is not None:  # a retried attempt after the batch was sent: do not send twice
                    return previous
                raise ValidationError(f"claim {claim.id} is {claim.status}, not ready to submit")
            professional = load_professional_claim(session, claim)
            control = next_numbers(session)
            text = write_837p(
                [professional],
                sender=Party("ZZ", self._envelope.sender_id),
                receiver=Party("ZZ", self._envelope.receiver_id),
                control=control,
                submitter=Submitter(professional.billing_provider.last_or_organization_name, self._envelope.sender_id),
                receiver_name=self._envelope.receiver_name,
                usage=self._envelope.usage,
            )
            receipt = self._clearinghouse.submit_837(text)
            actor = "workflow:claim"
            claim.submitted_at = datetime.now(UTC)
            _move(session, claim, ClaimStatus.SUBMITTED, actor, batch=receipt.batch_id)
            codes: list[str] = []
            if receipt.ack_999:
                acks = parse_999(receipt.ack_999)
                if acks and all(t.accepted for a in acks for t in a.transactions):
                    _move(session, claim, ClaimStatus.ACKNOWLEDGED, actor)
                elif acks:
                    codes = ["999:R"]
                    _move(session, claim, ClaimStatus.REJECTED, actor, codes=codes)
            if receipt.ack_277ca and ClaimStatus(claim.status) != ClaimStatus.REJECTED:
                self._apply_277ca(session, receipt.ack_277ca)
            if self._documents is not None:
                store_and_record(
                    self._documents,
                    uow,
                    f"edi/837/{receipt.batch_id}.x12",
                    text.encode("ascii", errors="replace"),
                    "application/edi-x12",
                    "claim_837",
                    entity_type="claim",
                    entity_id=claim.id,
                )
            audit.record(
                session,
                actor=actor,
                action="claim.submitted",
                entity_type="claim",
                entity_id=claim.id,
                details={"batch": receipt.batch_id, "isa13": control.interchange, "frequency": claim.frequency_code},
            )
            uow.commit()
            return c.SubmitResult(claim.id, f"{control.interchange:09d}", receipt.batch_id, claim.frequency_code)

    def _last_submission(self, session: Session, claim_id: str) -> c.SubmitResult | None:
        event = session.execute(
            select(m.AuditEvent)
            .where(m.AuditEvent.entity_id == claim_id, m.AuditEvent.action == "claim.submitted")
            .order_by(m.AuditEvent.occurred_at.desc())
        ).scalar()
        if event is None:
            return None
        details = event.details
        return c.SubmitResult(
            claim_id, f"{int(details['isa13']):09d}", str(details["batch"]), str(details.get("frequency", "1"))
        )

    def _apply_277ca(self, session: Session, text: str) -> int:
        """Move every claim a 277CA names to ACCEPTED or REJECTED (with its STC codes); returns how many."""
        moved = 0
        for ack in parse_277ca(text):
            for claim_ack in ack.claims:
                claim = session.get(m.Claim, claim_ack.claim_id)
                if claim is None or ClaimStatus(claim.status) not in (ClaimStatus.SUBMITTED, ClaimStatus.ACKNOWLEDGED):
                    continue
                codes = [":".join(s.text()) for s in claim_ack.statuses]
                if claim_ack.accepted:
                    if claim_ack.payer_claim_number:
                        claim.payer_claim_control_number = claim_ack.payer_claim_number
                    _move(session, claim, ClaimStatus.ACCEPTED, "clearinghouse:277CA", codes=codes)
                else:
                    _move(session, claim, ClaimStatus.REJECTED, "clearinghouse:277CA", codes=codes)
                moved += 1
        return moved

    @activity.defn(name=c.CLAIMS_ACKNOWLEDGMENTS)
    @domain_errors_are_final
    def acknowledgments(self, query: c.AckQuery) -> c.AckResult:
        """Where the claim stands after its 999/277CA: read the mailbox for late ones, then the claim's status."""
        with self.uow() as uow:
            session = uow.session
            claim = _claim(session, query.claim_id)
            if ClaimStatus(claim.status) in (ClaimStatus.SUBMITTED, ClaimStatus.ACKNOWLEDGED):
                documents = self._clearinghouse.fetch_acknowledgments()
                for document in documents:
                    if document.kind == "277CA":
                        self._apply_277ca(session, document.x12)
                uow.commit()
                self._clearinghouse.confirm([d.id for d in documents])
                session.refresh(claim)
            status = ClaimStatus(claim.status)
            if status == ClaimStatus.REJECTED:
                event = session.execute(
                    select(m.AuditEvent)
                    .where(m.AuditEvent.entity_id == claim.id, m.AuditEvent.action == "claim.status")
                    .order_by(m.AuditEvent.occurred_at.desc())
                ).scalar()
                codes = tuple(event.details.get("codes", ())) if event else ()
                return c.AckResult(claim.id, "rejected", codes)
            if status in (ClaimStatus.SUBMITTED, ClaimStatus.ACKNOWLEDGED):
                return c.AckResult(claim.id, "pending")
            return c.AckResult(claim.id, "accepted")

    @activity.defn(name=c.CLAIMS_STATUS_INQUIRY)
    @domain_errors_are_final
    def status_inquiry(self, ref: c.ClaimRef) -> c.StatusInquiryResult:
        """A real 276 to the clearinghouse; the 277's first status tells where the payer has the claim."""
        with self.uow() as uow:
            session = uow.session
            claim = _claim(session, ref.claim_id)
            professional = load_professional_claim(session, claim)
            payer = session.get(m.Payer, claim.payer_id)
            assert payer is not None
            subscriber = professional.subscriber
            inquiry = ClaimStatusInquiry(
                trace=claim.id.replace("-", "")[:30],
                payer_name=payer.name.upper(),
                payer_id=payer.payer_id,
                submitter_name=professional.billing_provider.last_or_organization_name,
                submitter_id=self._envelope.sender_id,
                provider_name=professional.billing_provider.last_or_organization_name,
                provider_npi=professional.billing_provider.npi,
                member_id=subscriber.member_id,
                subscriber_last_name=subscriber.person.last_name,
                subscriber_first_name=subscriber.person.first_name,
                claim_id=claim.id,
                charge_cents=claim.total_charge_cents,
                service_from=claim.date_of_service,
                payer_claim_number=claim.payer_claim_control_number,
                subscriber_birth_date=subscriber.person.birth_date,
            )
            text = write_276(
                [inquiry],
                sender=Party("ZZ", self._envelope.sender_id),
                receiver=Party("ZZ", self._envelope.receiver_id),
                control=next_numbers(session),
                usage=self._envelope.usage,
            )
            uow.commit()
        results = parse_277(self._clearinghouse.claim_status(text))
        result = next((r for r in results if r.claim_id == ref.claim_id), results[0] if results else None)
        if result is None or not result.statuses:
            answer = c.StatusInquiryResult(ref.claim_id, "E0", "0", False, "clearinghouse")
        else:
            first = result.statuses[0]
            answer = c.StatusInquiryResult(ref.claim_id, first.category, first.code, result.finalized, "clearinghouse")
        record_status_inquiry(
            self._session_factory,
            ref.claim_id,
            {"route": "clearinghouse", "category": answer.category, "status": answer.status_code},
        )
        return answer

    @activity.defn(name=c.CLAIMS_SET_STATUS)
    @domain_errors_are_final
    def set_status(self, data: c.SetClaimStatus) -> c.Nothing:
        with self.uow() as uow:
            claim = _claim(uow.session, data.claim_id)
            _move(uow.session, claim, ClaimStatus(data.status), data.actor, note=data.note[:200])
            uow.commit()
        return c.Nothing()
