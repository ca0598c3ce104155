"""The Visit's store activities: the schedule, the coverage to check before the visit, status moves, no-shows."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.orm import Session
from temporalio import activity

from activities.contracts import revenue as rc
from activities.contracts import visits as c
from activities.revenue.base import StoreActivities, domain_errors_are_final
from domain import audit
from domain import models as m
from domain.enums import AppointmentStatus, CoverageRank
from domain.ledger import post_no_show_fee
from domain.services.appointments import get_appointment, set_status, visit_day


def _actor() -> str:
    return f"workflow:{activity.info().workflow_id}" if activity.in_activity() else "system"


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def schedule_of(appointment: m.Appointment) -> c.VisitSchedule:
    return c.VisitSchedule(
        appointment.id,
        appointment.patient_id,
        appointment.provider_id,
        str(appointment.kind),
        str(appointment.status),
        _aware(appointment.starts_at),
        appointment.duration_minutes,
        visit_day(appointment).isoformat(),
    )


def coverages_for_visit(session: Session, appointment: m.Appointment) -> list[m.Coverage]:
    """The patient's coverages in force on the visit day, primary first."""
    patient = session.get(m.Patient, appointment.patient_id)
    if patient is None:
        return []
    day = visit_day(appointment)
    ranks = list(CoverageRank)
    return sorted(
        (cov for cov in patient.coverages if cov.is_active_on(day)), key=lambda cov: ranks.index(CoverageRank(cov.rank))
    )


def coverage_fingerprint(coverages: list[m.Coverage]) -> str:
    """A digest of what a payer is asked about (stays in the store; tells the day-before check if it changed)."""
    parts = [
        "|".join(
            str(v)
            for v in (
                cov.id,
                cov.payer_id,
                cov.rank,
                cov.member_id,
                cov.group_number,
                cov.effective_from,
                cov.effective_to,
            )
        )
        for cov in coverages
    ]
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()


class VisitActivities(StoreActivities):
    def all(self) -> list[Callable[..., Any]]:
        return [self.load, self.coverage, self.record_eligibility, self.set_status, self.no_show]

    @activity.defn(name=c.VISITS_LOAD)
    @domain_errors_are_final
    def load(self, ref: c.AppointmentRef) -> c.VisitSchedule:
        with self.uow() as uow:
            return schedule_of(get_appointment(uow.session, ref.appointment_id))

    @activity.defn(name=c.VISITS_COVERAGE)
    @domain_errors_are_final
    def coverage(self, ref: c.AppointmentRef) -> c.VisitCoverage:
        with self.uow() as uow:
            appointment = get_appointment(uow.session, ref.appointment_id)
            coverages = coverages_for_visit(uow.session, appointment)
            changed = (
                appointment.eligibility_fingerprint is not None
                and appointment.eligibility_fingerprint != coverage_fingerprint(coverages)
            )
            return c.VisitCoverage(
                appointment.id, tuple(cov.id for cov in coverages), changed, appointment.eligibility_status
            )

    @activity.defn(name=c.VISITS_RECORD_ELIGIBILITY)
    @domain_errors_are_final
    def record_eligibility(self, data: c.VisitEligibility) -> rc.Nothing:
        with self.uow() as uow:
            appointment = get_appointment(uow.session, data.appointment_id)
            record_visit_eligibility(uow.session, appointment, data.status, _actor())
            uow.commit()
        return rc.Nothing()

    @activity.defn(name=c.VISITS_SET_STATUS)
    @domain_errors_are_final
    def set_status(self, data: c.StatusChange) -> c.VisitSchedule:
        with self.uow() as uow:
            set_status(uow.session, data.appointment_id, data.status, now=datetime.now(UTC), actor=data.actor)
            uow.commit()
            return schedule_of(get_appointment(uow.session, data.appointment_id))

    @activity.defn(name=c.VISITS_NO_SHOW)
    @domain_errors_are_final
    def no_show(self, data: c.NoShow) -> c.NoShowResult:
        """Mark a still-booked appointment a no-show and bill the policy's fee (once: the entry's key)."""
        with self.uow() as uow:
            appointment = get_appointment(uow.session, data.appointment_id)
            if appointment.status not in (AppointmentStatus.BOOKED, AppointmentStatus.NOSHOW):
                return c.NoShowResult(data.appointment_id, False)
            set_status(uow.session, appointment.id, AppointmentStatus.NOSHOW, now=datetime.now(UTC), actor=data.actor)
            guarantor_id = None
            if data.fee_cents > 0:
                guarantor_id, _ = post_no_show_fee(uow.session, appointment.id, data.fee_cents, actor=data.actor)
            uow.commit()
        return c.NoShowResult(data.appointment_id, True, data.fee_cents, guarantor_id)


def record_visit_eligibility(session: Session, appointment: m.Appointment, status: str, actor: str) -> None:
    """What the payer said about the visit's coverage, with the fingerprint of what was asked (shared by the Visit
    workflow's activity and the nightly batch)."""
    appointment.eligibility_status = status
    appointment.eligibility_checked_at = datetime.now(UTC)
    appointment.eligibility_fingerprint = coverage_fingerprint(coverages_for_visit(session, appointment))
    audit.record(
        session,
        actor=actor,
        action="appointment.eligibility",
        entity_type="appointment",
        entity_id=appointment.id,
        details={"status": status},
    )
