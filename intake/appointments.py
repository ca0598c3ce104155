"""Appointments from every door: booked, moved, cancelled or recorded late; a booked one queues its visit process."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy.orm import Session

from domain import models as m
from domain.enums import AppointmentKind, AppointmentStatus
from domain.services.appointments import check_booking
from domain.visits import Slot, check_cancel_reason, check_contact, check_visit_type
from intake import records, rows
from intake.commands import ScheduleAppointment, StartVisit
from intake.context import UnitContext
from intake.errors import AlreadyBilled, IdentifierConflict, InvalidEvent
from intake.outcomes import Change, Kind, Outcome
from intake.visit_records import encounter_of, is_closed, keep_or_refuse, location, provider_by_npi


def schedule_appointment(ctx: UnitContext, cmd: ScheduleAppointment) -> Outcome:
    session = ctx.session
    patient_id = records.resolve(session, Kind.PATIENT, cmd.patient, m.Patient)
    provider = provider_by_npi(session, cmd.provider_npi)
    place = location(session, cmd.location_id)
    if cmd.starts_at.tzinfo is None:
        raise InvalidEvent("appointment start needs a time zone offset")
    if not 1 <= cmd.duration_minutes <= 24 * 60:
        raise InvalidEvent("appointment duration must be between 1 and 1440 minutes")
    wanted = AppointmentStatus(cmd.status)
    digest = records.content_hash(
        patient_id, provider.id, place.id, cmd.starts_at, wanted, AppointmentKind(cmd.kind), cmd.duration_minutes
    )
    appointment_id = records.existing(session, Kind.APPOINTMENT, cmd.identifier, cmd.target, m.Appointment)
    row: m.Appointment | None = None
    if appointment_id is not None:
        records.check_version(session, Kind.APPOINTMENT, appointment_id, cmd.expected_version)
        early = keep_or_refuse(ctx, Kind.APPOINTMENT, appointment_id, digest, cmd.if_exists)
        if early is not None:
            return early
        record = records.record_of(session, Kind.APPOINTMENT, appointment_id)
        if record is not None and record.content_hash == digest:
            ctx.audit(Kind.APPOINTMENT, appointment_id, Change.UNCHANGED, {"status": wanted.value})
            return Outcome(Kind.APPOINTMENT, appointment_id, Change.UNCHANGED, record.version)
        row = rows.get(session, m.Appointment, appointment_id)
        assert row is not None
        if row.patient_id != patient_id:
            raise IdentifierConflict(f"appointment {appointment_id} belongs to another patient")
        if _billed_appointment(session, row.id) and (
            wanted is not AppointmentStatus.COMPLETED or _moved(row.starts_at, cmd.starts_at)
        ):
            raise AlreadyBilled(f"appointment {row.id} was billed: correct the claim instead")
    new = row is None
    previous = (None, None) if row is None else (row.starts_at, AppointmentStatus(row.status))
    _check_visit_rules(ctx, cmd, row, patient_id, provider.id)
    if row is None:
        row = rows.add(session, m.Appointment(patient_id=patient_id, source=ctx.actor.kind[:20]))
    row.provider_id, row.location_id = provider.id, place.id
    row.kind, row.status = AppointmentKind(cmd.kind), wanted
    row.starts_at, row.duration_minutes = cmd.starts_at, cmd.duration_minutes
    if cmd.visit_type is not None or new:
        row.visit_type = check_visit_type(cmd.visit_type or "follow_up")
    if wanted is AppointmentStatus.CANCELLED:
        row.cancel_reason = check_cancel_reason(cmd.cancel_reason) if cmd.cancel_reason else row.cancel_reason
    records.link_identifier(session, Kind.APPOINTMENT, cmd.identifier, row.id)
    change, version = records.accept(session, Kind.APPOINTMENT, row.id, digest, ctx.actor.label, new=new)
    starts: tuple[str, ...] = ()
    # An appointment first seen past booking (sent arrived, fulfilled, no-show or cancelled: a visit the EHR
    # records late) has no visit process and none starts for it: nothing for the hook to tell (each telling was a
    # store read and Temporal calls answered NOT_FOUND, on every such Bundle or message).
    if not new or wanted is AppointmentStatus.BOOKED:
        starts = (ctx.queue_appointment(row.id, _appointment_change(new, previous, cmd), str(row.kind)),)
    ctx.audit(Kind.APPOINTMENT, row.id, change, {"status": wanted.value})
    return Outcome(Kind.APPOINTMENT, row.id, change, version, starts)


# Doors that mirror the EHR's own schedule, which is the book of record and may carry a late entry of a visit already
# past (the FHIR API, HL7 SIU, CSV exports); a person booking through carecycle (the CLI, the console, the demo)
# books only what is still ahead. Every door gets the provider's double booking and a virtual visit's contact refused.
SCHEDULE_MIRRORS = frozenset({"api", "hl7", "csv"})


def _check_visit_rules(
    ctx: UnitContext, cmd: ScheduleAppointment, row: m.Appointment | None, patient_id: str, provider_id: str
) -> None:
    """The domain's booking rules (domain.services.appointments.check_booking) for an appointment booked new, or
    still booked and moved to another time, provider or kind: a future slot, the provider free, a contact for a
    virtual visit's invite. A visit that already happened (arrived, fulfilled...) is history, not a booking."""
    if AppointmentStatus(cmd.status) is not AppointmentStatus.BOOKED:
        return
    if row is not None and not (
        _moved(row.starts_at, cmd.starts_at)
        or row.provider_id != provider_id
        or row.kind != AppointmentKind(cmd.kind)
        or row.duration_minutes != cmd.duration_minutes
        or row.status != AppointmentStatus.BOOKED
    ):
        return
    if rows.created_rows(ctx.session, m.Appointment):
        # The double-booking rule reads the provider's appointments from the store: this unit's go there first.
        rows.write_later(ctx.session, keep_tracking=True)
    patient = ctx.session.get(m.Patient, patient_id)
    assert patient is not None
    slot = Slot(cmd.starts_at, cmd.duration_minutes)
    check_booking(
        ctx.session,
        patient,
        provider_id,
        slot,
        cmd.kind,
        now=datetime.now(UTC),
        excluding=row.id if row else None,
        past_allowed=ctx.actor.kind in SCHEDULE_MIRRORS,
    )


def start_visit(ctx: UnitContext, cmd: StartVisit) -> Outcome:
    """Queue a stored, booked appointment's visit process again (the hook starts it unless it runs)."""
    session = ctx.session
    appointment_id = records.resolve(session, Kind.APPOINTMENT, cmd.appointment, m.Appointment)
    row = session.get(m.Appointment, appointment_id)
    assert row is not None
    if row.status != AppointmentStatus.BOOKED:
        raise InvalidEvent(f"appointment {appointment_id} is {row.status}: only a booked one has a visit to start")
    patient = session.get(m.Patient, row.patient_id)
    assert patient is not None
    check_contact(str(row.kind), patient.phone, patient.email)
    starts = (ctx.queue_appointment(row.id, "booked", str(row.kind)),)
    ctx.audit(Kind.APPOINTMENT, row.id, Change.UNCHANGED, {"status": str(row.status), "visit": "started"})
    return Outcome(
        Kind.APPOINTMENT, row.id, Change.UNCHANGED, records.version_of(session, Kind.APPOINTMENT, row.id), starts
    )


def _moved(before: datetime, after: datetime) -> bool:
    if before.tzinfo is None:  # SQLite hands back naive UTC
        before = before.replace(tzinfo=UTC)
    return before != after


def _appointment_change(
    new: bool, previous: tuple[datetime | None, AppointmentStatus | None], cmd: ScheduleAppointment
) -> str:
    starts_at, status = previous
    wanted = AppointmentStatus(cmd.status)
    if wanted is AppointmentStatus.CANCELLED:
        return "cancelled"
    if new:
        return "booked" if wanted is AppointmentStatus.SCHEDULED else wanted.value
    if starts_at is not None and _moved(starts_at, cmd.starts_at):
        return "rescheduled"
    return wanted.value if wanted is not status else "updated"


def _billed_appointment(session: Session, appointment_id: str) -> bool:
    encounter_id = encounter_of(session, appointment_id)
    return encounter_id is not None and is_closed(session, encounter_id)
