"""Eligibility: a coverage checked (270/271 or the payer's portal), the answer recorded, coverage changes applied."""

from __future__ import annotations

from datetime import UTC, date, datetime

from sqlalchemy import select
from temporalio import activity

from activities.clearinghouse.base import Clearinghouse
from activities.contracts import revenue as c
from activities.revenue.base import Envelope, StoreActivities, domain_errors_are_final
from domain import audit
from domain import models as m
from domain.coverage_changes import parse_coverage_changes
from domain.enums import PayerRouting
from domain.errors import NotFound
from domain.store.control_numbers import next_numbers
from domain.x12.eligibility import EligibilityInquiry, parse_271, write_270
from domain.x12.envelope import Party


def _today() -> date:
    return datetime.now(UTC).date()


class EligibilityActivities(StoreActivities):
    def __init__(
        self,
        session_factory: object,
        clearinghouse: Clearinghouse,
        envelope: Envelope,
        portal_payers: frozenset[str] = frozenset(),
    ) -> None:
        super().__init__(session_factory)  # type: ignore[arg-type]
        self._clearinghouse = clearinghouse
        self._envelope = envelope
        self._portal_payers = portal_payers  # portal payers we hold credentials for

    @activity.defn(name=c.ELIGIBILITY_CHECK)
    @domain_errors_are_final
    def check(self, ref: c.CoverageRef) -> c.EligibilityAnswer:
        """A real 270 to the clearinghouse, the 271 read back; the answer's amounts are kept on the coverage."""
        with self.uow() as uow:
            session = uow.session
            coverage = session.get(m.Coverage, ref.coverage_id)
            if coverage is None:
                raise NotFound(f"unknown coverage {ref.coverage_id}")
            payer = session.get(m.Payer, coverage.payer_id)
            patient = session.get(m.Patient, coverage.patient_id)
            practice = session.execute(select(m.Practice).limit(1)).scalar_one_or_none()
            if payer is None or patient is None or practice is None:
                raise NotFound(f"coverage {ref.coverage_id} lacks its payer, patient or practice")
            if payer.routing == PayerRouting.PORTAL and payer.payer_id in self._portal_payers:
                # No 270/271 route to this payer: the workflow asks its web portal instead.
                return c.EligibilityAnswer(ref.coverage_id, payer.payer_id, "unrouted", "portal")
            inquiry = _inquiry(coverage, payer, patient, practice)
            control = next_numbers(session)
            text = write_270(
                [inquiry],
                sender=Party("ZZ", self._envelope.sender_id),
                receiver=Party("ZZ", self._envelope.receiver_id),
                control=control,
                usage=self._envelope.usage,
            )
            uow.commit()  # the control numbers are spent once the 270 leaves
            payer_code = payer.payer_id
        answer_text = self._clearinghouse.eligibility(text)
        responses = parse_271(answer_text)
        if not responses:
            return c.EligibilityAnswer(
                ref.coverage_id, payer_code, "inconclusive", "clearinghouse", None, None, "no271"
            )
        response = responses[0]
        active = response.active
        status = "active" if active else ("inactive" if active is False else "inconclusive")
        reason = response.errors[0].code if response.errors else None
        with self.uow() as uow:
            coverage = uow.session.get(m.Coverage, ref.coverage_id)
            assert coverage is not None
            coverage.eligibility_checked_at = datetime.now(UTC)
            coverage.copay_cents = response.copay_cents
            coverage.deductible_remaining_cents = response.deductible_remaining_cents
            uow.commit()
        return c.EligibilityAnswer(
            ref.coverage_id,
            payer_code,
            status,
            "clearinghouse",
            response.copay_cents,
            response.deductible_remaining_cents,
            reason,
        )

    @activity.defn(name=c.ELIGIBILITY_RECORD)
    @domain_errors_are_final
    def record(self, data: c.EligibilityRecord) -> c.Nothing:
        with self.uow() as uow:
            coverage = uow.session.get(m.Coverage, data.coverage_id)
            if coverage is None:
                raise NotFound(f"unknown coverage {data.coverage_id}")
            coverage.eligibility_status = data.status
            audit.record(
                uow.session,
                actor=data.decided_by,
                action="coverage.eligibility",
                entity_type="coverage",
                entity_id=data.coverage_id,
                details={"status": data.status, **({"route": data.route} if data.route else {})},
            )
            uow.commit()
        return c.Nothing()

    @activity.defn(name=c.ELIGIBILITY_UPDATE_COVERAGE)
    @domain_errors_are_final
    def update_coverage(self, data: c.CoverageUpdate) -> c.Nothing:
        """A person's correction of the coverage (the values stay in the store; the audit names the fields)."""
        with self.uow() as uow:
            session = uow.session
            coverage = session.get(m.Coverage, data.coverage_id)
            if coverage is None:
                raise NotFound(f"unknown coverage {data.coverage_id}")
            changes = parse_coverage_changes(
                data.fields, current_from=coverage.effective_from, current_to=coverage.effective_to
            )
            if changes.payer_id is not None:
                payer = session.execute(select(m.Payer).where(m.Payer.payer_id == changes.payer_id)).scalar()
                if payer is None:
                    raise NotFound(f"payer_id {changes.payer_id}: no such payer")
                coverage.payer_id = payer.id
            if changes.member_id is not None:
                coverage.member_id = changes.member_id
            if changes.group_number is not None:
                coverage.group_number = changes.group_number
            if changes.effective_from is not None:
                coverage.effective_from = changes.effective_from
            if changes.effective_to is not None or changes.clear_effective_to:
                coverage.effective_to = changes.effective_to
            audit.record(
                session,
                actor=data.actor,
                action="coverage.updated",
                entity_type="coverage",
                entity_id=data.coverage_id,
                details={"fields": sorted(data.fields)},
            )
            uow.commit()
        return c.Nothing()


def _inquiry(coverage: m.Coverage, payer: m.Payer, patient: m.Patient, practice: m.Practice) -> EligibilityInquiry:
    """The 270's one inquiry: the subscriber is the patient when the coverage is their own."""
    is_self = str(coverage.relationship_to_subscriber) == "self"
    return EligibilityInquiry(
        trace=coverage.id.replace("-", "")[:30],
        payer_name=payer.name.upper(),
        payer_id=payer.payer_id,
        provider_name=practice.name.upper(),
        provider_npi=practice.npi,
        member_id=coverage.member_id,
        subscriber_last_name=(patient.last_name if is_self else coverage.subscriber_last_name or "").upper(),
        subscriber_first_name=(patient.first_name if is_self else coverage.subscriber_first_name or "").upper(),
        subscriber_birth_date=patient.birth_date if is_self else coverage.subscriber_birth_date,
        service_date=_today(),
    )
