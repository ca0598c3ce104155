"""A virtual visit in the store: its row, who may give it (interstate licensure), consent, check-in, the encounter.

The activities of the VirtualVisit workflow, the CLI and the console call these; the licensure question is always
:func:`domain.visits.licensure_problem` over the provider's licenses (domain.services.licensure).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from domain import audit
from domain import models as m
from domain.enums import AppointmentKind, AppointmentStatus, VirtualVisitState
from domain.errors import NotFound, ValidationError
from domain.licensure import License
from domain.services.appointments import get_appointment, provider_booked_slots, set_status, visit_day
from domain.services.licensure import provider_licenses
from domain.visits import (
    NotLicensed,
    Slot,
    check_consent_method,
    check_patient_location,
    check_state,
    licensure_problem,
    overlaps,
    telehealth_modifier,
    telehealth_place_of_service,
    visit_minutes,
)


@dataclass(frozen=True)
class Candidate:
    provider_id: str
    licenses: tuple[License, ...]
    free: bool


@dataclass(frozen=True)
class Plan:
    appointment_id: str
    provider_id: str
    patient_state: str
    day: date
    problem: str | None
    candidates: tuple[Candidate, ...]
    consent_on_file: bool
    has_contact: bool


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def virtual_appointment(session: Session, appointment_id: str) -> m.Appointment:
    appointment = get_appointment(session, appointment_id)
    if appointment.kind != AppointmentKind.TELEHEALTH:
        raise ValidationError(f"appointment {appointment_id} is not a virtual visit")
    return appointment


def visit_row(session: Session, appointment_id: str) -> m.VirtualVisit:
    """The appointment's virtual-visit row (created the first time)."""
    row = session.execute(
        select(m.VirtualVisit).where(m.VirtualVisit.appointment_id == appointment_id)
    ).scalar_one_or_none()
    if row is None:
        row = m.VirtualVisit(appointment_id=appointment_id, state=VirtualVisitState.INVITED)
        session.add(row)
        session.flush()
    return row


def plan(session: Session, appointment_id: str) -> Plan:
    """Who gives the visit, where the patient is (said at check-in, else the address on file), whether the provider
    is licensed there on the visit day, and every provider the coordinator could give it to instead."""
    appointment = virtual_appointment(session, appointment_id)
    patient = session.get(m.Patient, appointment.patient_id)
    if patient is None:
        raise NotFound(f"unknown patient {appointment.patient_id}")
    row = visit_row(session, appointment_id)
    state = row.patient_state or patient.state
    day = visit_day(appointment)
    problem = licensure_problem(
        appointment.provider_id, provider_licenses(session, appointment.provider_id), state, day
    )
    consent = session.execute(
        select(m.TelehealthConsent.id).where(m.TelehealthConsent.appointment_id == appointment_id)
    ).first()
    return Plan(
        appointment_id,
        appointment.provider_id,
        state.upper(),
        day,
        problem,
        candidates(session, appointment),
        consent is not None,
        bool((patient.phone or "").strip() or (patient.email or "").strip()),
    )


def candidates(session: Session, appointment: m.Appointment) -> tuple[Candidate, ...]:
    provider = session.get(m.Provider, appointment.provider_id)
    if provider is None:
        raise NotFound(f"unknown provider {appointment.provider_id}")
    slot = Slot(_aware(appointment.starts_at), appointment.duration_minutes)
    others = session.execute(
        select(m.Provider.id).where(m.Provider.practice_id == provider.practice_id).order_by(m.Provider.id)
    ).scalars()
    found = []
    for provider_id in others:
        busy = provider_booked_slots(session, provider_id, slot, excluding=appointment.id)
        free = not any(overlaps(slot, other) for _, other in busy)
        found.append(Candidate(provider_id, tuple(provider_licenses(session, provider_id)), free))
    return tuple(found)


def reassign(session: Session, appointment_id: str, provider_id: str, patient_state: str, *, actor: str) -> None:
    """Give the visit to ``provider_id``: licensed in the patient's state on the visit day and free at its time."""
    appointment = virtual_appointment(session, appointment_id)
    if session.get(m.Provider, provider_id) is None:
        raise NotFound(f"unknown provider {provider_id}")
    problem = licensure_problem(
        provider_id, provider_licenses(session, provider_id), patient_state, visit_day(appointment)
    )
    if problem is not None:
        raise NotLicensed(problem)
    slot = Slot(_aware(appointment.starts_at), appointment.duration_minutes)
    if any(
        overlaps(slot, other)
        for _, other in provider_booked_slots(session, provider_id, slot, excluding=appointment.id)
    ):
        raise ValidationError(f"provider {provider_id} is booked at that time")
    previous = appointment.provider_id
    appointment.provider_id = provider_id
    appointment.updated_at = datetime.now(UTC)
    audit.record(
        session,
        actor=actor,
        action="telehealth.reassigned",
        entity_type="appointment",
        entity_id=appointment_id,
        details={"from": previous, "to": provider_id, "patient_state": patient_state},
    )


def record_consent(session: Session, appointment_id: str, method: str, state: str, at: datetime, *, actor: str) -> str:
    appointment = virtual_appointment(session, appointment_id)
    consent = m.TelehealthConsent(
        patient_id=appointment.patient_id,
        appointment_id=appointment_id,
        given_at=at,
        method=check_consent_method(method),
        patient_state=check_state(state),
        recorded_by=actor,
    )
    session.add(consent)
    row = visit_row(session, appointment_id)
    row.patient_state = row.patient_state or consent.patient_state
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="telehealth.consent",
        entity_type="appointment",
        entity_id=appointment_id,
        details={"method": method, "patient_state": consent.patient_state},
    )
    return consent.id


def check_in(session: Session, appointment_id: str, location: str, state: str, at: datetime, *, actor: str) -> None:
    virtual_appointment(session, appointment_id)
    row = visit_row(session, appointment_id)
    row.patient_location = check_patient_location(location)
    row.patient_state = check_state(state)
    row.checked_in_at = at
    audit.record(
        session,
        actor=actor,
        action="telehealth.checked_in",
        entity_type="appointment",
        entity_id=appointment_id,
        details={"patient_location": location, "patient_state": row.patient_state},
    )


@dataclass(frozen=True)
class Finished:
    encounter_id: str
    place_of_service: str
    modifier: str
    duration_minutes: int


def finish(
    session: Session,
    appointment_id: str,
    *,
    audio_only: bool,
    started_at: datetime | None,
    ended_at: datetime,
    actor: str,
) -> Finished:
    """The visit happened: the appointment fulfilled, and its encounter made with POS 10/02 (from where the patient
    said they were), modifier 95/93 (video or audio only) and the duration. Repeating it changes nothing more."""
    appointment = virtual_appointment(session, appointment_id)
    row = visit_row(session, appointment_id)
    now = datetime.now(UTC)
    if appointment.status == AppointmentStatus.BOOKED:
        set_status(session, appointment_id, AppointmentStatus.ARRIVED, now=now, actor=actor)
    if appointment.status == AppointmentStatus.ARRIVED:
        set_status(session, appointment_id, AppointmentStatus.FULFILLED, now=now, actor=actor)
    pos = telehealth_place_of_service(row.patient_location)
    modifier = telehealth_modifier(audio_only)
    minutes = visit_minutes(started_at, ended_at)
    row.audio_only = audio_only
    row.ended_at = ended_at
    row.duration_seconds = int((ended_at - started_at).total_seconds()) if started_at else 0
    row.state = VirtualVisitState.DONE
    encounter = session.execute(
        select(m.Encounter).where(m.Encounter.appointment_id == appointment_id)
    ).scalar_one_or_none()
    if encounter is None:
        encounter = m.Encounter(
            appointment_id=appointment_id,
            patient_id=appointment.patient_id,
            provider_id=appointment.provider_id,
            location_id=appointment.location_id,
            date_of_service=visit_day(appointment),
            diagnosis_codes=[],
            coded=False,
            place_of_service=pos,
        )
        session.add(encounter)
    encounter.place_of_service = pos
    encounter.telehealth_modifier = modifier
    encounter.duration_minutes = minutes
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="telehealth.finished",
        entity_type="appointment",
        entity_id=appointment_id,
        details={"place_of_service": pos, "modifier": modifier, "duration_minutes": minutes, "audio_only": audio_only},
    )
    return Finished(encounter.id, pos, modifier, minutes)
