"""Encounters: completed visits not billed yet, prepared for a claim, and the codes a person records."""

from __future__ import annotations

from sqlalchemy import select
from temporalio import activity

from activities.contracts import revenue as c
from activities.revenue.base import StoreActivities, domain_errors_are_final
from domain import audit
from domain import models as m
from domain.claim_status import ClaimStatus
from domain.coding import coding_lines, validate_coding
from domain.enums import AppointmentKind, AppointmentStatus, CoverageRank, PayerKind
from domain.errors import NotFound, ValidationError
from domain.services.encounters import coverage_for

# Claims in these states still need the revenue cycle; the others are settled history.
UNFINISHED_CLAIM_STATUSES = frozenset({ClaimStatus.DRAFT, ClaimStatus.READY, ClaimStatus.REJECTED})


class EncounterActivities(StoreActivities):
    @activity.defn(name=c.ENCOUNTER_LIST_BILLABLE)
    @domain_errors_are_final
    def list_billable(self, ref: c.PatientRef) -> c.BillableAppointments:
        """Completed visits not billed yet: no encounter, not coded, no claim, or a claim not yet accepted."""
        with self.uow() as uow:
            session = uow.session
            appointments = session.execute(
                select(m.Appointment)
                .where(m.Appointment.patient_id == ref.patient_id, m.Appointment.status == AppointmentStatus.FULFILLED)
                .order_by(m.Appointment.starts_at)
            ).scalars()
            billable: list[str] = []
            for appointment in appointments:
                encounter = session.execute(
                    select(m.Encounter).where(m.Encounter.appointment_id == appointment.id)
                ).scalar_one_or_none()
                if encounter is None or not encounter.coded:
                    billable.append(appointment.id)
                    continue
                claims = list(
                    session.execute(
                        select(m.Claim.status).where(m.Claim.encounter_id == encounter.id, m.Claim.rank == "primary")
                    ).scalars()
                )
                if claims:
                    if any(ClaimStatus(s) in UNFINISHED_CLAIM_STATUSES for s in claims):
                        billable.append(appointment.id)
                    continue
                charged = session.execute(
                    select(m.JournalEntry.id).where(m.JournalEntry.idempotency_key == f"patient_charge:{encounter.id}")
                ).first()
                if charged is None:
                    billable.append(appointment.id)
            return c.BillableAppointments(tuple(billable))

    @activity.defn(name=c.ENCOUNTER_PREPARE)
    @domain_errors_are_final
    def prepare(self, ref: c.AppointmentRef) -> c.PreparedEncounter:
        """The appointment's encounter (created, uncoded, when the visit left none) and whom to bill."""
        with self.uow() as uow:
            session = uow.session
            appointment = session.get(m.Appointment, ref.appointment_id)
            if appointment is None:
                raise NotFound(f"unknown appointment {ref.appointment_id}")
            if appointment.status != AppointmentStatus.FULFILLED:
                raise ValidationError(f"appointment {ref.appointment_id} is {appointment.status}, not fulfilled")
            encounter = session.execute(
                select(m.Encounter).where(m.Encounter.appointment_id == appointment.id)
            ).scalar_one_or_none()
            if encounter is None:
                location = session.get(m.Location, appointment.location_id)
                telehealth = appointment.kind == AppointmentKind.TELEHEALTH
                encounter = m.Encounter(
                    appointment_id=appointment.id,
                    patient_id=appointment.patient_id,
                    provider_id=appointment.provider_id,
                    location_id=appointment.location_id,
                    date_of_service=appointment.starts_at.date(),
                    place_of_service="10" if telehealth else (location.place_of_service if location else "11"),
                    diagnosis_codes=[],
                    coded=False,
                )
                session.add(encounter)
                session.flush()
                uow.commit()
            return _prepared(session, encounter)

    @activity.defn(name=c.ENCOUNTER_RECORD_CODES)
    @domain_errors_are_final
    def record_codes(self, data: c.RecordCodes) -> c.PreparedEncounter:
        """A coder's diagnoses and procedures, validated, become the encounter's service lines."""
        with self.uow() as uow:
            session = uow.session
            encounter = session.get(m.Encounter, data.encounter_id)
            if encounter is None:
                raise NotFound(f"unknown encounter {data.encounter_id}")
            lines = coding_lines(
                data.diagnosis_codes,
                data.procedure_codes,
                data.modifiers,
                data.units,
                encounter.telehealth_modifier,
            )
            diagnoses = validate_coding(data.diagnosis_codes, lines, encounter.place_of_service)
            encounter.diagnosis_codes = diagnoses
            if encounter.service_lines:  # lines captured without diagnoses: the coder's lines replace them
                encounter.service_lines.clear()
                session.flush()
            encounter.service_lines = [
                m.ServiceLine(
                    line_number=number,
                    procedure_code=line.procedure_code,
                    modifiers=list(line.modifiers),
                    units=line.units,
                    charge_cents=line.charge_cents,
                    diagnosis_pointers=list(line.diagnosis_pointers),
                )
                for number, line in enumerate(lines, start=1)
            ]
            encounter.coded = True
            session.flush()
            audit.record(
                session,
                actor=data.actor,
                action="encounter.coded",
                entity_type="encounter",
                entity_id=encounter.id,
                details={"lines": len(lines), "diagnoses": len(diagnoses)},
            )
            uow.commit()
            return _prepared(session, encounter)


def _prepared(session: object, encounter: m.Encounter) -> c.PreparedEncounter:
    from sqlalchemy.orm import Session

    assert isinstance(session, Session)
    patient = session.get(m.Patient, encounter.patient_id)
    assert patient is not None
    claim_id = session.execute(
        select(m.Claim.id)
        .where(m.Claim.encounter_id == encounter.id, m.Claim.rank == "primary", m.Claim.status != ClaimStatus.VOID)
        .order_by(m.Claim.created_at.desc())
    ).scalar()
    coded = bool(encounter.coded and encounter.service_lines)
    missing = (
        ()
        if coded
        else tuple(
            x for x, ok in (("diagnoses", encounter.diagnosis_codes), ("procedures", encounter.service_lines)) if not ok
        )
    )
    if claim_id is not None:
        bill_to = "payer"
    else:
        coverage = coverage_for(session, encounter.patient_id, encounter.date_of_service, CoverageRank.PRIMARY)
        payer = session.get(m.Payer, coverage.payer_id) if coverage else None
        insured = (
            coverage is not None
            and payer is not None
            and payer.kind != PayerKind.SELF_PAY
            and coverage.eligibility_status != "inactive"
        )
        bill_to = "payer" if insured else "patient"
    return c.PreparedEncounter(
        encounter_id=encounter.id,
        patient_id=encounter.patient_id,
        guarantor_id=patient.guarantor_id,
        coded=coded,
        claim_id=claim_id,
        bill_to=bill_to,
        missing=missing,
    )
