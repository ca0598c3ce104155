"""Booking, rescheduling and cancelling appointments: every check, then one change in the caller's transaction.

The intake module (the one door that starts a patient's processes) calls these, then starts or tells the visit's
workflow; nothing here starts anything. A refusal raises a typed domain error before anything is added to the
session, so the caller's unit of work rolls back with nothing stored.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from domain import audit
from domain import models as m
from domain.enums import AppointmentKind, AppointmentStatus
from domain.errors import NotFound, ValidationError
from domain.visits import (
    Slot,
    check_cancel_reason,
    check_contact,
    check_kind,
    check_move,
    check_no_double_booking,
    check_slot,
    check_visit_type,
    is_open,
)

# Appointments that still hold the provider's time.
HOLDING = (AppointmentStatus.BOOKED, AppointmentStatus.ARRIVED)
# How far around a slot to look for overlapping appointments (no visit lasts longer, see domain.visits).
_SEARCH_MARGIN = timedelta(hours=12)


@dataclass(frozen=True)
class BookingRequest:
    patient_id: str
    provider_id: str
    starts_at: datetime
    duration_minutes: int = 20
    kind: str = AppointmentKind.IN_PERSON
    visit_type: str = "follow_up"
    location_id: str | None = None  # None: the practice's first location (a virtual visit bills from it)
    source: str = "console"  # which door: fhir, hl7, csv, console, cli, demo
    appointment_id: str | None = None  # a caller-chosen id (e.g. derived from the EHR's), else a new one


@dataclass(frozen=True)
class BookedAppointment:
    appointment_id: str
    kind: str
    starts_at: datetime
    created: bool  # False: this id was booked before (an idempotent repeat)


def book(session: Session, request: BookingRequest, *, now: datetime, actor: str) -> BookedAppointment:
    """Check the request (known patient and provider, a future slot, no double booking, a contact for a virtual
    visit) and add the booked appointment to the session."""
    if request.appointment_id is not None:
        existing = session.get(m.Appointment, request.appointment_id)
        if existing is not None:
            return BookedAppointment(existing.id, str(existing.kind), existing.starts_at, created=False)
    kind = check_kind(str(request.kind))
    check_visit_type(request.visit_type)
    slot = Slot(request.starts_at, request.duration_minutes)
    patient = session.get(m.Patient, request.patient_id)
    if patient is None:
        raise NotFound(f"unknown patient {request.patient_id}")
    provider = session.get(m.Provider, request.provider_id)
    if provider is None:
        raise NotFound(f"unknown provider {request.provider_id}")
    location_id = _location_for(session, request.location_id, provider.practice_id)
    check_booking(session, patient, provider.id, slot, kind, now=now)
    appointment = m.Appointment(
        patient_id=patient.id,
        provider_id=provider.id,
        location_id=location_id,
        kind=kind,
        status=AppointmentStatus.BOOKED,
        starts_at=slot.starts_at,
        duration_minutes=slot.duration_minutes,
        visit_type=request.visit_type,
        source=request.source,
        created_at=now,
        updated_at=now,
    )
    if request.appointment_id is not None:
        appointment.id = request.appointment_id
    session.add(appointment)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="appointment.booked",
        entity_type="appointment",
        entity_id=appointment.id,
        details={"kind": str(kind), "visit_type": request.visit_type, "source": request.source},
    )
    return BookedAppointment(appointment.id, str(kind), appointment.starts_at, created=True)


def check_booking(
    session: Session,
    patient: m.Patient,
    provider_id: str,
    slot: Slot,
    kind: str,
    *,
    now: datetime,
    excluding: str | None = None,
    past_allowed: bool = False,
) -> None:
    """Every rule a booked (or moved) appointment must satisfy: a future slot of a sane length, a phone or e-mail for
    a virtual visit's join link, and no other appointment of the provider at that time. The intake module applies
    it to every booking from every door; :func:`book` and :func:`reschedule` too. ``past_allowed``: a mirror of
    the EHR's own schedule (an HL7 or CSV feed) may record a late entry; nothing is started for a visit that is
    over (intake.visit_processes)."""
    if past_allowed:
        check_slot(slot, slot.starts_at - timedelta(minutes=1))  # the length only
    else:
        check_slot(slot, now)
    check_contact(kind, patient.phone, patient.email)
    check_no_double_booking(provider_id, slot, provider_booked_slots(session, provider_id, slot, excluding=excluding))


def _location_for(session: Session, location_id: str | None, practice_id: str) -> str:
    if location_id is not None:
        location = session.get(m.Location, location_id)
        if location is None:
            raise NotFound(f"unknown location {location_id}")
        return location.id
    first = session.execute(
        select(m.Location.id).where(m.Location.practice_id == practice_id).order_by(m.Location.name).limit(1)
    ).scalar()
    if first is None:
        raise ValidationError(f"the practice of provider has no location (practice {practice_id})")
    return str(first)


def provider_booked_slots(
    session: Session, provider_id: str, slot: Slot, *, excluding: str | None = None
) -> list[tuple[str, Slot]]:
    """The provider's appointments that still hold time near ``slot`` (for the double-booking rule)."""
    query = select(m.Appointment.id, m.Appointment.starts_at, m.Appointment.duration_minutes).where(
        m.Appointment.provider_id == provider_id,
        m.Appointment.status.in_([s.value for s in HOLDING]),
        m.Appointment.starts_at < slot.ends_at + _SEARCH_MARGIN,
        m.Appointment.starts_at > slot.starts_at - _SEARCH_MARGIN,
    )
    if excluding is not None:
        query = query.where(m.Appointment.id != excluding)
    return [(aid, Slot(_aware(start), minutes)) for aid, start, minutes in session.execute(query).all()]


def _aware(value: datetime) -> datetime:
    from datetime import UTC

    return value if value.tzinfo else value.replace(tzinfo=UTC)


def get_appointment(session: Session, appointment_id: str) -> m.Appointment:
    appointment = session.get(m.Appointment, appointment_id)
    if appointment is None:
        raise NotFound(f"unknown appointment {appointment_id}")
    return appointment


def reschedule(
    session: Session,
    appointment_id: str,
    starts_at: datetime,
    *,
    now: datetime,
    actor: str,
    duration_minutes: int | None = None,
) -> m.Appointment:
    """Move a booked appointment to a new future slot the provider has free."""
    appointment = get_appointment(session, appointment_id)
    if not is_open(appointment.status):
        raise ValidationError(f"appointment {appointment_id} is {appointment.status}; only a booked one moves")
    slot = check_slot(Slot(starts_at, duration_minutes or appointment.duration_minutes), now)
    check_no_double_booking(
        appointment.provider_id,
        slot,
        provider_booked_slots(session, appointment.provider_id, slot, excluding=appointment.id),
    )
    previous = _aware(appointment.starts_at)
    appointment.starts_at = slot.starts_at
    appointment.duration_minutes = slot.duration_minutes
    appointment.updated_at = now
    audit.record(
        session,
        actor=actor,
        action="appointment.rescheduled",
        entity_type="appointment",
        entity_id=appointment.id,
        details={"from": previous.isoformat(), "to": slot.starts_at.isoformat()},
    )
    return appointment


def cancel(session: Session, appointment_id: str, reason: str, *, now: datetime, actor: str) -> m.Appointment:
    appointment = get_appointment(session, appointment_id)
    check_cancel_reason(reason)
    check_move(appointment.id, appointment.status, AppointmentStatus.CANCELLED)
    appointment.status = AppointmentStatus.CANCELLED
    appointment.cancel_reason = reason
    appointment.updated_at = now
    audit.record(
        session,
        actor=actor,
        action="appointment.cancelled",
        entity_type="appointment",
        entity_id=appointment.id,
        details={"reason": reason},
    )
    return appointment


def set_status(session: Session, appointment_id: str, status: str, *, now: datetime, actor: str) -> bool:
    """Move the appointment to ``status`` if it is not there already (True when it moved)."""
    appointment = get_appointment(session, appointment_id)
    if appointment.status == status:
        return False
    check_move(appointment.id, appointment.status, status)
    appointment.status = AppointmentStatus(status)
    appointment.updated_at = now
    audit.record(
        session,
        actor=actor,
        action=f"appointment.{status}",
        entity_type="appointment",
        entity_id=appointment.id,
    )
    return True


def visit_day(appointment: m.Appointment) -> date:
    return _aware(appointment.starts_at).date()
