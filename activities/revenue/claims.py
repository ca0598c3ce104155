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
from domain.claim_status import ClaimStatus, can_transition
from domain.enums import PayerRouting
from domain.errors import NotFound, ValidationError
from domain.services.corrections import apply_claim_changes
from domain.services.encounters import create_claim
from domain.services.professional import load_professional_claim
from domain.services.scrubbing import scrub_claim
from domain.services.submissions import (
    SUBMITTED_ACTION,
    apply_277ca,
    apply_999,
    last_sent,
    move_claim,
    pending_submission,
    record_built,
    record_sent,
)
from domain.store.control_numbers import next_numbers
from domain.store.engine import recorded_after_side_effect
from domain.store.uow import UnitOfWork
from domain.x12.claim837 import Submitter, write_837p
from domain.x12.envelope import Party
from domain.x12.status276 import ClaimStatusInquiry, parse_277, write_276


def _claim(session: Session, claim_id: str) -> m.Claim:
    claim = session.get(m.Claim, claim_id)
    if claim is None:
        raise NotFound(f"unknown claim {claim_id}")
    return claim


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
        claim_status=str(claim.status),
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
            scrubbed = scrub_claim(session, claim, datetime.now(UTC).date())
            failures, professional = scrubbed.failures, scrubbed.claim
            if not failures and ClaimStatus(claim.status) in (
                ClaimStatus.DRAFT,
                ClaimStatus.REJECTED,
                ClaimStatus.DENIED,
            ):
                move_claim(session, claim, ClaimStatus.READY, "workflow:claim")
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
                move_claim(session, claim, ClaimStatus.READY, data.actor, corrected=sorted(data.changes))
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
        """Build and record the 837P (one transaction), send it (no transaction open), record the outcome and the
        999 the clearinghouse answered with (another transaction, idempotent on the interchange control number).
        The 277CA is read by ``claims.acknowledgments``, the one place acknowledgments are applied from the
        mailbox."""
        with self.uow() as uow:
            session = uow.session
            claim = _claim(session, data.claim_id)
            if ClaimStatus(claim.status) != ClaimStatus.READY:
                previous = self._last_submission(session, claim)
                if previous is not None:  # a retried attempt after the outcome was recorded: do not send twice
                    return previous
                raise ValidationError(f"claim {claim.id} is {claim.status}, not ready to submit")
            pending = pending_submission(session, claim) or self._build(uow, claim)
            interchange, text, frequency = pending.interchange_control_number, pending.x12, pending.frequency_code
            uow.commit()
        receipt = self._clearinghouse.submit_837(text)

        def record() -> c.SubmitResult:
            with self.uow() as uow:
                submission = record_sent(
                    uow.session, interchange, receipt.batch_id, receipt.ack_999, actor="workflow:claim"
                )
                claim = _claim(uow.session, submission.claim_id)
                uow.commit()
                return c.SubmitResult(claim.id, f"{interchange:09d}", receipt.batch_id, frequency, str(claim.status))

        # The clearinghouse has the file: a lost write race reruns this unit only, never the send (a second
        # send of the same interchange was adjudicated by the payer as a second claim and denied as a duplicate).
        return recorded_after_side_effect(record)

    def _build(self, uow: UnitOfWork, claim: m.Claim) -> m.ClaimSubmission:
        session = uow.session
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
        key = None
        if self._documents is not None:
            key = f"edi/837/{control.interchange:09d}.x12"
            store_and_record(
                self._documents,
                uow,
                key,
                text.encode("ascii", errors="replace"),
                "application/edi-x12",
                "claim_837",
                entity_type="claim",
                entity_id=claim.id,
            )
        return record_built(session, claim, control, text, key)

    def _last_submission(self, session: Session, claim: m.Claim) -> c.SubmitResult | None:
        sent = last_sent(session, claim.id)
        if sent is not None and sent.batch_id is not None:
            isa13 = f"{sent.interchange_control_number:09d}"
            return c.SubmitResult(claim.id, isa13, sent.batch_id, sent.frequency_code, str(claim.status))
        event = session.execute(  # claims sent before submissions were recorded: their audit event
            select(m.AuditEvent)
            .where(m.AuditEvent.entity_id == claim.id, m.AuditEvent.action == SUBMITTED_ACTION)
            .order_by(m.AuditEvent.occurred_at.desc())
        ).scalar()
        if event is None:
            return None
        details = event.details
        return c.SubmitResult(
            claim.id,
            f"{int(details['isa13']):09d}",
            str(details["batch"]),
            str(details.get("frequency", "1")),
            str(claim.status),
        )

    @activity.defn(name=c.CLAIMS_ACKNOWLEDGMENTS)
    @domain_errors_are_final
    def acknowledgments(self, query: c.AckQuery) -> c.AckResult:
        """Where the claim stands after its 999/277CA: the mailbox read (no transaction open while the
        clearinghouse answers), every acknowledgment in it applied (domain.services.submissions), then the claim's
        status in the store."""
        with self.uow() as uow:
            waiting = ClaimStatus(_claim(uow.session, query.claim_id).status) in (
                ClaimStatus.SUBMITTED,
                ClaimStatus.ACKNOWLEDGED,
            )
        if waiting:
            documents = self._clearinghouse.fetch_acknowledgments()
            unread: set[str] = set()  # left in the mailbox: a 277CA for a claim whose send is still being recorded
            with self.uow() as uow:
                for document in documents:
                    if document.kind == "277CA":
                        if apply_277ca(uow.session, document.x12).in_flight:
                            unread.add(document.id)
                    elif document.kind == "999":
                        apply_999(uow.session, document.x12)
                uow.commit()
            self._clearinghouse.confirm([d.id for d in documents if d.id not in unread])
        with self.uow() as uow:
            session = uow.session
            claim = _claim(session, query.claim_id)
            status = ClaimStatus(claim.status)
            if status == ClaimStatus.REJECTED:
                event = session.execute(
                    select(m.AuditEvent)
                    .where(m.AuditEvent.entity_id == claim.id, m.AuditEvent.action == "claim.status")
                    .order_by(m.AuditEvent.occurred_at.desc())
                ).scalar()
                codes = tuple(event.details.get("codes", ())) if event else ()
                return c.AckResult(claim.id, "rejected", codes, status.value)
            if status in (ClaimStatus.SUBMITTED, ClaimStatus.ACKNOWLEDGED):
                return c.AckResult(claim.id, "pending", (), status.value)
            return c.AckResult(claim.id, "accepted", (), status.value)

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
            move_claim(uow.session, claim, ClaimStatus(data.status), data.actor, note=data.note[:200])
            uow.commit()
        return c.Nothing()
