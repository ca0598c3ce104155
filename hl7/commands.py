"""HL7 events onto the intake module's commands: every HL7 message is applied in one intake unit (all of it
written or none), and intake starts whatever processes it queued.

| event | intake |
|---|---|
| ADT^A04 / A08 | ``RegisterPatient`` (MRN, demographics, each IN1 as a ``CoverageEntry``), upsert by MRN |
| ADT^A40 | ``MergePatients`` (the MRG's MRN into the PID's patient) |
| SIU^S12/S13/S14 | ``ScheduleAppointment`` (SCH-1), booked; S15 (or SCH-25 CANCELLED) cancels it |
| DFT^P03 | ``RecordEncounter`` FINISHED and one ``RecordCharge`` per FT1: the visit closes for billing |

DFT details: the encounter is PV1-19 (visit number); its appointment is the SIU's when PV1-19 carries the same
id as SCH-1 (else a walk-in); diagnoses are the DG1s by priority; each charge is keyed by FT1-2 (else visit
number + FT1-1), so a re-sent DFT changes nothing.
"""

from __future__ import annotations

from domain.enums import AppointmentKind, AppointmentStatus, CoverageRank, SubscriberRelationship
from hl7.events import (
    AppointmentEvent,
    Charge,
    ChargesEvent,
    Event,
    Identifier,
    Insurance,
    MergeEvent,
    PatientEvent,
)
from intake import (
    BusinessId,
    CoverageData,
    CoverageEntry,
    EncounterStatus,
    IfExists,
    IntakeUnit,
    Kind,
    Outcome,
    PatientData,
    RecordCharge,
    RecordEncounter,
    Ref,
    RegisterPatient,
    ScheduleAppointment,
)


def business_id(identifier: Identifier) -> BusinessId:
    return BusinessId(identifier.system, identifier.value)


def patient_command(event: PatientEvent) -> RegisterPatient:
    person = event.person
    return RegisterPatient(
        identifier=business_id(event.mrn),
        patient=PatientData(
            first_name=person.first_name,
            last_name=person.last_name,
            birth_date=person.birth_date,
            sex=person.sex,
            address_line=person.address_line,
            city=person.city,
            state=person.state,
            postal_code=person.postal_code,
            phone=person.phone,
            email=person.email,
        ),
        coverages=tuple(CoverageEntry(_coverage(i)) for i in event.insurances),
        if_exists=IfExists.UPDATE,
    )


def _coverage(insurance: Insurance) -> CoverageData:
    return CoverageData(
        payer_code=insurance.payer_code,
        member_id=insurance.member_id,
        rank=CoverageRank(insurance.rank),
        relationship=SubscriberRelationship(insurance.relationship),
        group_number=insurance.group_number,
        effective_from=insurance.effective_from,
        effective_to=insurance.effective_to,
        subscriber_first_name=insurance.subscriber_first_name,
        subscriber_last_name=insurance.subscriber_last_name,
        subscriber_birth_date=insurance.subscriber_birth_date,
    )


def appointment_command(event: AppointmentEvent) -> ScheduleAppointment:
    return ScheduleAppointment(
        identifier=business_id(event.appointment),
        patient=Ref(identifier=business_id(event.patient)),
        provider_npi=event.provider_npi,
        starts_at=event.starts_at,
        status=AppointmentStatus.CANCELLED if event.cancelled else AppointmentStatus.BOOKED,
        kind=AppointmentKind.TELEHEALTH if event.telehealth else AppointmentKind.IN_PERSON,
        duration_minutes=event.duration_minutes,
        if_exists=IfExists.UPDATE,
    )


def encounter_command(event: ChargesEvent, appointment_id: str | None) -> RecordEncounter:
    return RecordEncounter(
        identifier=business_id(event.encounter),
        patient=Ref(identifier=business_id(event.patient)),
        provider_npi=event.provider_npi,
        date_of_service=event.date_of_service,
        status=EncounterStatus.FINISHED,
        diagnosis_codes=event.diagnosis_codes,
        appointment=Ref.to(appointment_id) if appointment_id else None,
        telehealth=event.telehealth,
        if_exists=IfExists.UPDATE,
    )


def charge_commands(event: ChargesEvent) -> list[RecordCharge]:
    encounter = Ref(identifier=business_id(event.encounter))
    patient = Ref(identifier=business_id(event.patient))
    system = event.charge_system
    return [
        RecordCharge(
            patient=patient,
            encounter=encounter,
            code=charge.code,
            quantity=charge.quantity,
            modifiers=charge.modifiers,
            price_cents=charge.price_cents,
            reason_codes=charge.diagnosis_codes,
            identifier=BusinessId(system, _charge_key(event, charge, number)),
            if_exists=IfExists.UPDATE,
        )
        for number, charge in enumerate(event.charges, start=1)
    ]


def _charge_key(event: ChargesEvent, charge: Charge, number: int) -> str:
    return charge.transaction_id or f"{event.encounter.value}/{charge.set_id or number}"


def apply(unit: IntakeUnit, event: Event) -> list[Outcome]:
    """Hand one HL7 event to intake inside ``unit`` (the caller's transaction)."""
    if isinstance(event, PatientEvent):
        registration = patient_command(event)
        unit.prefetch_for([registration])  # the sender's identifiers of the message: one look-up
        return [unit.register_patient(registration)]
    if isinstance(event, AppointmentEvent):
        appointment = appointment_command(event)
        unit.prefetch_for([appointment])
        return [unit.schedule_appointment(appointment)]
    if isinstance(event, ChargesEvent):
        charges = charge_commands(event)
        unit.prefetch_for(
            [encounter_command(event, None), *charges], [(Kind.APPOINTMENT, business_id(event.appointment))]
        )
        appointment_id = unit.find(Kind.APPOINTMENT, business_id(event.appointment))
        outcomes = [unit.record_encounter(encounter_command(event, appointment_id))]
        outcomes += [unit.record_charge(command) for command in charges]
        return outcomes
    if isinstance(event, MergeEvent):
        return [_merge(unit, event)]
    raise TypeError(f"not an HL7 event: {type(event).__name__}")


def _merge(unit: IntakeUnit, event: MergeEvent) -> Outcome:
    from intake import MergePatients

    return unit.merge_patients(
        MergePatients(survivor=Ref(identifier=business_id(event.survivor)), merged=business_id(event.merged))
    )
