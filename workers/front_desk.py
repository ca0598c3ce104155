"""The console's front desk (console.desk.FrontDesk) on the one intake: register a patient, book a visit.

Both build the commands every other door builds (``intake.RegisterPatient`` with its coverage, and
``intake.ScheduleAppointment``) and submit them to ``workers.api.build_intake``'s intake as ``console:<user>``, so
the duplicate-patient rule, the booking rules, the transaction (all or nothing) and the process starts
(PatientRegistration; the Visit or the VirtualVisit through the visit seam) are intake's.

A patient registered here is named by its MRN in ``urn:carecycle:mrn`` (the CSV import's default system): the
one typed, or a fresh one. A booking names the patient by our id or by that MRN.
"""

from __future__ import annotations

import uuid

from temporalio.client import Client

from console.desk import DeskResult, NewBooking, NewPatient
from domain import models as m
from domain.enums import AppointmentKind, AppointmentStatus
from domain.errors import NotFound
from intake import (
    Actor,
    BusinessId,
    Change,
    CoverageData,
    CoverageEntry,
    IdentifierConflict,
    IfExists,
    Intake,
    Outcome,
    PatientData,
    Ref,
    RegisterPatient,
    ScheduleAppointment,
)
from workers.composition import Container
from workers.visit_desk import CARECYCLE_APPOINTMENTS

CONSOLE_MRNS = "urn:carecycle:mrn"


class FrontDeskForConsole:
    def __init__(self, container: Container, client: Client, intake: Intake | None = None) -> None:
        self._container = container
        self._client = client
        self._intake = intake

    def intake(self) -> Intake:
        if self._intake is None:
            from workers.api import build_intake

            self._intake = build_intake(self._container, self._client)
        return self._intake

    async def register(self, user: str, patient: NewPatient) -> DeskResult:
        data = PatientData(
            first_name=patient.first_name,
            last_name=patient.last_name,
            birth_date=patient.birth_date,
            sex=patient.sex,
            address_line=patient.address_line,
            city=patient.city,
            state=patient.state,
            postal_code=patient.postal_code,
            phone=patient.phone,
            email=patient.email,
        )
        coverage = CoverageEntry(CoverageData(payer_code=patient.payer_code, member_id=patient.member_id))
        mrn = patient.mrn or f"C{uuid.uuid4().hex[:12].upper()}"
        command = RegisterPatient(BusinessId(CONSOLE_MRNS, mrn), data, (coverage,), if_exists=IfExists.REFUSE)
        outcome = await self.intake().submit(Actor("console", user), command)
        if outcome.change is Change.UNCHANGED:
            # The same MRN and the same values again: a registration is a new patient, so say it is known.
            raise IdentifierConflict(f"MRN already registered as patient {outcome.id}")
        return _result(outcome)

    async def book(self, user: str, booking: NewBooking) -> DeskResult:
        with self._container.session_factory() as session:
            provider = session.get(m.Provider, booking.provider_id)
            if provider is None:
                raise NotFound(f"unknown provider {booking.provider_id}")
            npi = provider.npi
            known = session.get(m.Patient, booking.patient) is not None
        patient = Ref.to(booking.patient) if known else Ref.by(CONSOLE_MRNS, booking.patient)
        command = ScheduleAppointment(
            BusinessId(CARECYCLE_APPOINTMENTS, str(uuid.uuid4())),
            patient,
            npi,
            booking.starts_at,
            AppointmentStatus.BOOKED,
            AppointmentKind.TELEHEALTH if booking.virtual else AppointmentKind.IN_PERSON,
            booking.duration_minutes,
            booking.location_id,
            if_exists=IfExists.REFUSE,
            visit_type=booking.visit_type,
        )
        outcome = await self.intake().submit(Actor("console", user), command)
        return DeskResult(outcome.id, tuple(outcome.starts))


def _result(outcome: Outcome) -> DeskResult:
    starts = list(outcome.starts)
    for related in outcome.related:
        starts.extend(s for s in related.starts if s not in starts)
    return DeskResult(outcome.id, tuple(starts))
