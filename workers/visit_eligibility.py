"""The nightly "eligibility for tomorrow's visits" batch's ports (flows.batch.visit_eligibility) over the store and
the clearinghouse.

Which visits are due is the domain's rule (``domain.visits.nightly_check_reason``); the 270/271 is the eligibility
activity's own code (``activities.revenue.EligibilityActivities.check``, called as a function, not through
Temporal), the visit's answer is combined as the Visit workflow combines it (``domain.visits.combined_eligibility``)
and recorded with the same function as the workflow's activity (``activities.visits.record_visit_eligibility``).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from activities.clearinghouse.base import Clearinghouse
from activities.contracts import revenue as rc
from activities.revenue import EligibilityActivities, Envelope
from activities.visits import coverage_fingerprint, coverages_for_visit, record_visit_eligibility
from domain import models as m
from domain.enums import AppointmentStatus
from domain.services.appointments import get_appointment
from domain.visits import combined_eligibility, nightly_check_reason
from flows.batch import VISIT_ELIGIBILITY
from flows.batch.visit_eligibility import DueVisit, VisitEligibilityResult

ACTOR = f"batch:{VISIT_ELIGIBILITY.name}"


def _aware(value: datetime | None) -> datetime | None:
    return value if value is None or value.tzinfo else value.replace(tzinfo=UTC)


class VisitEligibilityChecks:
    def __init__(
        self,
        session_factory: sessionmaker[Session],
        clearinghouse: Clearinghouse,
        envelope: Envelope,
        now: Any = None,
    ) -> None:
        self._session_factory = session_factory
        # Every payer is asked with a 270 here (no portal route): the batch runs without the portal workers.
        self._eligibility = EligibilityActivities(session_factory, clearinghouse, envelope)
        self._now = now or (lambda: datetime.now(UTC))

    def due(self, day: date, max_age_hours: int) -> list[DueVisit]:
        start = datetime.combine(day, time(), tzinfo=UTC)
        now, max_age = self._now(), timedelta(hours=max_age_hours)
        with self._session_factory() as session:
            rows = session.execute(
                select(m.Appointment)
                .where(
                    m.Appointment.status == AppointmentStatus.BOOKED,
                    m.Appointment.starts_at >= start,
                    m.Appointment.starts_at < start + timedelta(days=1),
                )
                .order_by(m.Appointment.starts_at, m.Appointment.id)
            ).scalars()
            due = []
            for appointment in rows:
                fingerprint = appointment.eligibility_fingerprint
                changed = fingerprint is not None and fingerprint != coverage_fingerprint(
                    coverages_for_visit(session, appointment)
                )
                why = nightly_check_reason(
                    appointment.eligibility_status, _aware(appointment.eligibility_checked_at), changed, now, max_age
                )
                if why is not None:
                    due.append(DueVisit(appointment.id, why))
        return due

    def check(self, appointment_id: str) -> VisitEligibilityResult:
        with self._session_factory() as session:
            coverage_ids = [cov.id for cov in coverages_for_visit(session, get_appointment(session, appointment_id))]
        answers = [self._eligibility.check(rc.CoverageRef(coverage_id)) for coverage_id in coverage_ids]
        status = combined_eligibility([answer.status for answer in answers])
        with self._session_factory() as session:
            record_visit_eligibility(session, get_appointment(session, appointment_id), status, ACTOR)
            session.commit()
        return VisitEligibilityResult(appointment_id, status, len(answers))


def wiring(container: Any) -> Any:
    """The batch's ports on the container's store and clearinghouse (``workers.batch.VisitEligibilityWiring``)."""
    from workers.batch import VisitEligibilityWiring

    settings = container.settings
    envelope = Envelope(
        settings.edi_sender_id, settings.edi_receiver_id, settings.edi_receiver_name, settings.edi_usage
    )
    checks = VisitEligibilityChecks(container.session_factory, container.clearinghouse, envelope)
    return VisitEligibilityWiring(checks.due, checks.check)
