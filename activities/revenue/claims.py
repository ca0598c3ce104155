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
from domain.catalog import requires_prior_authorization
from domain.claim_edits import ScrubContext, fingerprint, scrub
from domain.claim_status import ClaimStatus, can_transition
from domain.codes import validate_hcpcs, validate_icd10, validate_modifier, validate_place_of_service
from domain.enums import PayerRouting
from domain.errors import NotFound, ValidationError
from domain.services.encounters import create_claim
from domain.services.professional import load_professional_claim
from domain.services.provider_standing import provider_standing
from domain.store.control_numbers import next_numbers
from domain.workitems import PRIOR_AUTHORIZATION_FIELDS, is_authorization_number
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


def _scrub_result(claim: m.Claim, payer: m.Payer, edits: tuple[c.ClaimEdit, ...]) -> c.ScrubResult:
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
            return _scrub_result(claim, payer, tuple(c.ClaimEdit(f.code, f.message, f.fix_hint) for f in failures))

    @activity.defn(name=c.CLAIMS_TERMS)
    @domain_errors_are_final
    def terms(self, ref: c.ClaimRef) -> c.ScrubResult:
        """The payer's follow-up window, filing deadline and route for a claim, changing nothing.

        For a claim whose process is reopened by a late remittance: it was scrubbed and submitted long ago."""
        with self.uow() as uow:
            claim = _claim(uow.session, ref.claim_id)
            payer = uow.session.get(m.Payer, claim.payer_id)
            assert payer is not None
            return _scrub_result(claim, payer, ())

    @activity.defn(name=c.CLAIMS_CORRECT)
    @domain_errors_are_final
    def correct(self, data: c.ClaimCorrection) -> c.Nothing:
        """A biller's corrections, checked, applied to the claim (and its encounter); then it goes back to DRAFT."""
        with self.uow() as uow:
            session = uow.session
            claim = _claim(session, data.claim_id)
            encounter = session.get(m.Encounter, claim.encounter_id)
            assert encounter is not None
            first_line = claim.lines[0] if claim.lines else None
            for name, value in data.changes.items():
                value = value.strip()
                if name == "diagnosis_codes":
                    encounter.diagnosis_codes = [validate_icd10(x) for x in value.replace(";", ",").split(",") if x]
                elif name == "place_of_service":
                    encounter.place_of_service = validate_place_of_service(value)
                elif first_line is not None and name == "procedure_code":
                    first_line.procedure_code = validate_hcpcs(value)
                elif first_line is not None and name == "modifiers":
                    first_line.modifiers = [validate_modifier(x) for x in value.split(",") if x.strip()]
                elif first_line is not None and name == "diagnosis_pointers":
                    first_line.diagnosis_pointers = [int(x) for x in value.split(",") if x.strip().isdigit()]
                elif first_line is not None and name == "units" and value.isdigit() and int(value) > 0:
                    first_line.units = int(value)
                elif name == "member_id" and claim.coverage_id:
                    coverage = session.get(m.Coverage, claim.coverage_id)
                    assert coverage is not None
                    coverage.member_id = value
                elif name in PRIOR_AUTHORIZATION_FIELDS:
                    _record_prior_authorization(session, claim, value)
                elif name in ("rendering_npi", "billing_npi", "original_claim_number"):
                    pass  # carried by the resubmission's notes; the 837 mapper takes them from the store rows
                elif name == "frequency_code":
                    if value not in ("1", "7", "8"):
                        raise ValidationError("frequency_code must be 1, 7 or 8")
                else:
                    raise ValidationError(f"the claim has no correctable field {name!r}")
            # A replacement (7) needs the payer's claim number; a claim the payer never took is sent anew (1).
            claim.frequency_code = data.frequency_code if claim.payer_claim_control_number else "1"
            if ClaimStatus(claim.status) not in (ClaimStatus.DRAFT, ClaimStatus.READY):
                target = ClaimStatus.READY if can_transition(ClaimStatus(claim.status), ClaimStatus.READY) else None
                if target is None:
                    raise ValidationError(f"claim {claim.id} is {claim.status}: it cannot be corrected now")
                _move(session, claim, target, data.actor, corrected=sorted(data.changes))
            claim.transition(ClaimStatus.DRAFT) if claim.status == ClaimStatus.READY else None
            audit.record(
                session,
                actor=data.actor,
                action="claim.corrected",
                entity_type="claim",
                entity_id=claim.id,
                details={"fields": sorted(data.changes), "frequency": claim.frequency_code},
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


def _record_prior_authorization(session: Session, claim: m.Claim, number: str) -> m.PriorAuthorization:
    """The biller has the payer's authorization ``number`` for this claim's service: record it on the patient so
    the claim (and the 837P built from it, REF*G1) carries it.

    A number this payer already issued to the patient is widened to the claim's codes and date of service (an
    extension or retro-authorization granted by phone); a new one covers exactly them."""
    if not is_authorization_number(number):
        raise ValidationError("prior_auth must be 1 to 50 letters, digits or dashes")
    payer = session.get(m.Payer, claim.payer_id)
    assert payer is not None
    codes = [line.procedure_code for line in claim.lines]
    needing = [code for code in codes if requires_prior_authorization(payer.payer_id, code)]
    covered = needing or codes  # the payer rule names no code here: the biller knows the payer wants one
    day = claim.date_of_service
    authorization = session.execute(
        select(m.PriorAuthorization).where(
            m.PriorAuthorization.payer_id == claim.payer_id, m.PriorAuthorization.number == number
        )
    ).scalar_one_or_none()
    if authorization is None:
        authorization = m.PriorAuthorization(
            patient_id=claim.patient_id,
            payer_id=claim.payer_id,
            number=number,
            procedure_codes=sorted(set(covered)),
            valid_from=day,
            valid_to=day,
        )
        session.add(authorization)
    elif authorization.patient_id != claim.patient_id:
        raise ValidationError(f"that authorization number belongs to another patient of payer {payer.payer_id}")
    else:
        authorization.procedure_codes = sorted(set(authorization.procedure_codes or ()) | set(covered))
        authorization.valid_from = min(authorization.valid_from, day)
        authorization.valid_to = max(authorization.valid_to, day)
        if authorization.units_authorized is not None:
            most = max((line.units for line in claim.lines if line.procedure_code in covered), default=1)
            authorization.units_authorized = max(authorization.units_authorized, most)
    session.flush()
    return authorization
