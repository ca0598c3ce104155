"""Encounters, diagnoses and charges; an encounter closed for billing starts Encounter -> Claim.

An encounter is stored as soon as it is sent (uncoded). Its diagnoses come with it (ICD-10-CM in rank order);
its charges are recorded against it (each a ``ClinicalEntry``). When it is sent ``FINISHED``, the unit closes it
at commit: the charges become service lines under the domain's coding rules (``validate_coding``), the
appointment is completed and the Encounter workflow is queued. A closed encounter no longer changes: a
correction goes through the claim. Appointments are intake.appointments; what both share is intake.visit_records.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, time

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from domain import models as m
from domain.catalog import PROCEDURES_BY_CODE
from domain.codes import validate_hcpcs, validate_icd10, validate_modifier, validate_place_of_service
from domain.enums import AppointmentKind, AppointmentStatus
from domain.services.encounters import ServiceLineInput, validate_coding
from intake import records, rows
from intake.commands import RecordCharge, RecordCondition, RecordEncounter, Ref
from intake.context import UnitContext
from intake.errors import AlreadyBilled, IdentifierConflict, InvalidEvent
from intake.outcomes import Change, Kind, Outcome
from intake.reference import ProviderRef
from intake.visit_records import FINISHED, encounter_of, is_closed, keep_or_refuse, location, provider_by_npi

# --- encounters ------------------------------------------------------------------------------------------


def record_encounter(ctx: UnitContext, cmd: RecordEncounter) -> Outcome:
    session = ctx.session
    patient_id = records.resolve(session, Kind.PATIENT, cmd.patient, m.Patient)
    provider = provider_by_npi(session, cmd.provider_npi)
    diagnoses = [validate_icd10(code) for code in cmd.diagnosis_codes]
    appointment_ref = (
        records.resolve(session, Kind.APPOINTMENT, cmd.appointment, m.Appointment) if cmd.appointment else None
    )
    status = cmd.status.value
    digest = records.content_hash(
        patient_id,
        provider.id,
        cmd.date_of_service,
        diagnoses,
        appointment_ref,
        cmd.location_id,
        cmd.place_of_service,
        cmd.telehealth,
    )
    encounter_id = records.existing(session, Kind.ENCOUNTER, cmd.identifier, cmd.target, m.Encounter)
    if encounter_id is not None:
        records.check_version(session, Kind.ENCOUNTER, encounter_id, cmd.expected_version)
        early = keep_or_refuse(ctx, Kind.ENCOUNTER, encounter_id, digest, cmd.if_exists)
        if early is not None:
            return early
        record = records.record_of(session, Kind.ENCOUNTER, encounter_id)
        if record is not None and record.content_hash == digest and record.source_status == status:
            ctx.audit(Kind.ENCOUNTER, encounter_id, Change.UNCHANGED, {"status": status})
            return Outcome(Kind.ENCOUNTER, encounter_id, Change.UNCHANGED, record.version)
        if is_closed(session, encounter_id):
            raise AlreadyBilled(f"encounter {encounter_id} was closed for billing: correct the claim instead")
    encounter = _write_encounter(ctx, cmd, encounter_id, patient_id, provider, diagnoses)
    records.link_identifier(session, Kind.ENCOUNTER, cmd.identifier, encounter.id)
    change, version = records.accept(
        session, Kind.ENCOUNTER, encounter.id, digest, ctx.actor.label, new=encounter_id is None, status=status
    )
    starts: tuple[str, ...] = ()
    appointment = rows.get(session, m.Appointment, encounter.appointment_id) if encounter.appointment_id else None
    assert appointment is not None
    if status == FINISHED:
        ctx.closing[encounter.id] = None
        starts = (ctx.queue_encounter(appointment.id, patient_id),)
    elif status == "cancelled" and appointment.status != AppointmentStatus.CANCELLED:
        appointment.status = AppointmentStatus.CANCELLED
        ctx.queue_appointment(appointment.id, "cancelled", str(appointment.kind))
    elif status == "open" and appointment.status == AppointmentStatus.SCHEDULED:
        appointment.status = AppointmentStatus.CHECKED_IN
        ctx.queue_appointment(appointment.id, AppointmentStatus.CHECKED_IN.value, str(appointment.kind))
    ctx.audit(Kind.ENCOUNTER, encounter.id, change, {"status": status, "diagnoses": len(diagnoses)})
    return Outcome(Kind.ENCOUNTER, encounter.id, change, version, starts)


def _write_encounter(
    ctx: UnitContext,
    cmd: RecordEncounter,
    encounter_id: str | None,
    patient_id: str,
    provider: ProviderRef,
    diagnoses: list[str],
) -> m.Encounter:
    session = ctx.session
    appointment = _appointment_for(ctx, cmd, patient_id, provider)
    place = location(session, cmd.location_id or appointment.location_id)
    telehealth = cmd.telehealth or appointment.kind == AppointmentKind.TELEHEALTH
    values = {
        "appointment_id": appointment.id,
        "provider_id": provider.id,
        "location_id": place.id,
        "date_of_service": cmd.date_of_service,
        "place_of_service": validate_place_of_service(
            cmd.place_of_service or ("10" if telehealth else place.place_of_service)
        ),
        "diagnosis_codes": diagnoses,
    }
    if encounter_id is None:
        taken = encounter_of(session, appointment.id)
        if taken is not None:
            raise IdentifierConflict(f"appointment {appointment.id} already has encounter {taken}")
        encounter = rows.add(session, m.Encounter(patient_id=patient_id, coded=False, **values))
    else:
        found = rows.get(session, m.Encounter, encounter_id)
        assert found is not None
        encounter = found
        if encounter.patient_id != patient_id:
            raise IdentifierConflict(f"encounter {encounter_id} belongs to another patient")
        if encounter.appointment_id not in (None, appointment.id):
            raise IdentifierConflict(f"encounter {encounter_id} belongs to another appointment")
        for name, value in values.items():
            setattr(encounter, name, value)
    return encounter


def _appointment_for(ctx: UnitContext, cmd: RecordEncounter, patient_id: str, provider: ProviderRef) -> m.Appointment:
    """The encounter's appointment: the one it names, else a walk-in appointment made for it."""
    session = ctx.session
    if cmd.appointment is not None:
        appointment_id = records.resolve(session, Kind.APPOINTMENT, cmd.appointment, m.Appointment)
        appointment = rows.get(session, m.Appointment, appointment_id)
        assert appointment is not None
        if appointment.patient_id != patient_id:
            raise IdentifierConflict(f"appointment {appointment_id} belongs to another patient")
        return appointment
    existing_id = records.find_identifier(session, Kind.ENCOUNTER, cmd.identifier)
    if existing_id is not None:
        encounter = rows.get(session, m.Encounter, existing_id)
        if encounter is not None and encounter.appointment_id is not None:
            walk_in = rows.get(session, m.Appointment, encounter.appointment_id)
            assert walk_in is not None
            return walk_in
    walk_in = m.Appointment(
        patient_id=patient_id,
        provider_id=provider.id,
        location_id=location(session, cmd.location_id).id,
        kind=AppointmentKind.TELEHEALTH if cmd.telehealth else AppointmentKind.IN_PERSON,
        status=AppointmentStatus.CHECKED_IN,
        starts_at=datetime.combine(cmd.date_of_service, time(12, 0), tzinfo=UTC),
    )
    return rows.add(session, walk_in)


def close_encounter(ctx: UnitContext, encounter_id: str) -> None:
    """Code a finished encounter from its diagnoses and charges (or leave it for the coders when either is
    missing: the Encounter workflow opens a coding work item) and complete its appointment."""
    session = ctx.session
    encounter = rows.get(session, m.Encounter, encounter_id)
    assert encounter is not None and encounter.appointment_id is not None
    charges = _active_charges(session, encounter_id)
    diagnoses = tuple(encounter.diagnosis_codes or ())
    if diagnoses and charges:
        lines = tuple(_service_line(entry, diagnoses) for entry in charges)
        validate_coding(diagnoses, lines, encounter.place_of_service)
        service_lines = [
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
        if rows.created(session, m.Encounter, encounter_id):  # inserted with the encounter, when the unit ends
            for service_line in service_lines:
                service_line.encounter_id = encounter_id
                rows.add(session, service_line)
        else:
            encounter.service_lines = service_lines
        encounter.coded = True
    appointment = rows.get(session, m.Appointment, encounter.appointment_id)
    assert appointment is not None
    if appointment.status != AppointmentStatus.COMPLETED:
        appointment.status = AppointmentStatus.COMPLETED
        ctx.queue_appointment(appointment.id, AppointmentStatus.COMPLETED.value, str(appointment.kind))
    ctx.audit(
        Kind.ENCOUNTER, encounter_id, Change.UPDATED, {"closed": True, "coded": encounter.coded, "lines": len(charges)}
    )


def _active_charges(session: Session, encounter_id: str) -> list[m.ClinicalEntry]:
    """An encounter's active charges in the order they were recorded: the store's, then this unit's."""
    mine = [
        e
        for e in rows.created_rows(session, m.ClinicalEntry)
        if e.kind == "charge" and e.encounter_id == encounter_id and e.status == "active"
    ]
    if rows.created(session, m.Encounter, encounter_id):
        return mine
    stored = session.execute(
        select(m.ClinicalEntry)
        .where(
            m.ClinicalEntry.kind == "charge",
            m.ClinicalEntry.encounter_id == encounter_id,
            m.ClinicalEntry.status == "active",
        )
        .order_by(m.ClinicalEntry.created_at, m.ClinicalEntry.id)
    ).scalars()
    kept = [rows.keep_row(session, e) for e in stored if not rows.created(session, m.ClinicalEntry, e.id)]
    return [*kept, *mine]


def _service_line(entry: m.ClinicalEntry, diagnoses: tuple[str, ...]) -> ServiceLineInput:
    if entry.price_cents is not None:
        charge = entry.price_cents
    elif entry.code in PROCEDURES_BY_CODE:
        charge = PROCEDURES_BY_CODE[entry.code].charge_cents * entry.quantity
    else:
        raise InvalidEvent(f"charge {entry.id}: {entry.code} is not in the fee schedule: send its price")
    pointers: tuple[int, ...]
    if entry.reason_codes:
        missing = [code for code in entry.reason_codes if code not in diagnoses]
        if missing:
            raise InvalidEvent(f"charge {entry.id}: its reason {missing[0]} is not a diagnosis of the encounter")
        pointers = tuple(diagnoses.index(code) + 1 for code in entry.reason_codes)
    else:
        pointers = tuple(range(1, min(len(diagnoses), 4) + 1))
    return ServiceLineInput(entry.code, charge, entry.quantity, tuple(entry.modifiers or ()), pointers)


# --- diagnoses and charges -------------------------------------------------------------------------------


def _open_encounter(ctx: UnitContext, ref: Ref | None, patient_id: str) -> str | None:
    if ref is None:
        return None
    encounter_id = records.resolve(ctx.session, Kind.ENCOUNTER, ref, m.Encounter)
    encounter = rows.get(ctx.session, m.Encounter, encounter_id)
    assert encounter is not None
    if encounter.patient_id != patient_id:
        raise IdentifierConflict(f"encounter {encounter_id} belongs to another patient")
    return encounter_id


def record_condition(ctx: UnitContext, cmd: RecordCondition) -> Outcome:
    session = ctx.session
    patient_id = records.resolve(session, Kind.PATIENT, cmd.patient, m.Patient)
    encounter_id = _open_encounter(ctx, cmd.encounter, patient_id)
    code = validate_icd10(cmd.code)
    natural = select(m.ClinicalEntry.id).where(
        m.ClinicalEntry.kind == "condition",
        m.ClinicalEntry.patient_id == patient_id,
        m.ClinicalEntry.encounter_id.is_(None)
        if encounter_id is None
        else m.ClinicalEntry.encounter_id == encounter_id,
        m.ClinicalEntry.code == code,
    )
    digest = records.content_hash(patient_id, encounter_id, code, cmd.active)

    def same(e: m.ClinicalEntry) -> bool:
        same_place = e.patient_id == patient_id and e.encounter_id == encounter_id
        return e.kind == "condition" and same_place and e.code == code

    return _record_entry(ctx, cmd, Kind.CONDITION, (natural, same), digest, patient_id, encounter_id, code=code)


def record_charge(ctx: UnitContext, cmd: RecordCharge) -> Outcome:
    session = ctx.session
    patient_id = records.resolve(session, Kind.PATIENT, cmd.patient, m.Patient)
    encounter_id = _open_encounter(ctx, cmd.encounter, patient_id)
    assert encounter_id is not None
    code = validate_hcpcs(cmd.code)
    modifiers = [validate_modifier(x) for x in cmd.modifiers]
    reasons = [validate_icd10(x) for x in cmd.reason_codes]
    if cmd.quantity <= 0 or cmd.quantity > 999:
        raise InvalidEvent("a charge's quantity must be a whole number from 1 to 999")
    if cmd.price_cents is not None and cmd.price_cents < 0:
        raise InvalidEvent("a charge's price must not be negative")
    natural = select(m.ClinicalEntry.id).where(
        m.ClinicalEntry.kind == "charge",
        m.ClinicalEntry.encounter_id == encounter_id,
        m.ClinicalEntry.code == code,
        m.ClinicalEntry.status == "active",
    )
    digest = records.content_hash(
        patient_id, encounter_id, code, modifiers, reasons, cmd.quantity, cmd.price_cents, cmd.active
    )

    def same(e: m.ClinicalEntry) -> bool:
        return e.kind == "charge" and e.encounter_id == encounter_id and e.code == code and e.status == "active"

    return _record_entry(
        ctx,
        cmd,
        Kind.CHARGE,
        (natural, same),
        digest,
        patient_id,
        encounter_id,
        code=code,
        modifiers=modifiers,
        reason_codes=reasons,
        quantity=cmd.quantity,
        price_cents=cmd.price_cents,
    )


def _record_entry(
    ctx: UnitContext,
    cmd: RecordCondition | RecordCharge,
    kind: Kind,
    natural: tuple[Select[str], Callable[[m.ClinicalEntry], bool]],
    digest: str,
    patient_id: str,
    encounter_id: str | None,
    **values: object,
) -> Outcome:
    session = ctx.session
    entry_id = records.existing(session, kind, cmd.identifier, cmd.target, m.ClinicalEntry)
    if entry_id is None and cmd.identifier is None:
        candidates = [
            row_id
            for row_id in _natural_matches(session, encounter_id, *natural)
            if kind is Kind.CONDITION or _same_charge(session, row_id, values)
        ]
        entry_id = candidates[0] if candidates else None
    if entry_id is not None:
        records.check_version(session, kind, entry_id, cmd.expected_version)
        early = keep_or_refuse(ctx, kind, entry_id, digest, cmd.if_exists)
        if early is not None:
            return early
    row = rows.get(session, m.ClinicalEntry, entry_id) if entry_id is not None else None
    if row is not None and row.patient_id != patient_id:
        raise IdentifierConflict(f"{kind.value} {row.id} belongs to another patient")
    record = records.record_of(session, kind, entry_id) if entry_id is not None else None
    unchanged = record is not None and record.content_hash == digest
    for touched in {encounter_id, row.encounter_id if row is not None else None} - {None}:
        if not unchanged and is_closed(session, str(touched)) and touched not in ctx.closing:
            raise AlreadyBilled(f"encounter {touched} was closed for billing: correct the claim instead")
    if row is None:
        entry_kind = "condition" if kind is Kind.CONDITION else "charge"
        row = rows.add(session, m.ClinicalEntry(kind=entry_kind, patient_id=patient_id, created_at=datetime.now(UTC)))
    if not unchanged:
        row.encounter_id = encounter_id
        row.status = "active" if cmd.active else "inactive"
        for name, value in values.items():
            setattr(row, name, value)
    if cmd.identifier is not None:
        records.link_identifier(session, kind, cmd.identifier, row.id)
    change, version = records.accept(session, kind, row.id, digest, ctx.actor.label, new=entry_id is None)
    if row.encounter_id is None or not ctx.closing or row.encounter_id not in ctx.closing:
        ctx.audit(kind, row.id, change, {"code": row.code} if kind is Kind.CHARGE else None)
    return Outcome(kind, row.id, change, version)


def _natural_matches(
    session: Session, encounter_id: str | None, query: Select[str], same: Callable[[m.ClinicalEntry], bool]
) -> list[str]:
    """Entries with the same natural key (no identifier sent): in the store (unless the encounter is this unit's),
    then among the ones this unit recorded."""
    mine = [e.id for e in rows.created_rows(session, m.ClinicalEntry) if same(e)]
    if rows.created(session, m.Encounter, encounter_id):
        return mine
    stored = [row_id for row_id in session.execute(query).scalars() if row_id not in mine]
    return [*stored, *mine]


def _same_charge(session: Session, entry_id: str, values: dict[str, object]) -> bool:
    row = rows.get(session, m.ClinicalEntry, entry_id)
    return (
        row is not None
        and list(row.modifiers or []) == values.get("modifiers")
        and list(row.reason_codes or []) == values.get("reason_codes")
    )
