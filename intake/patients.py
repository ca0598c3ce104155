"""Patients and their coverages: a new or changed one is stored under the domain's rules, then registered.

The duplicate-patient rule is the domain's (``domain.duplicates``): a new patient goes through
``register_patient`` (which refuses a duplicate), a changed one through ``find_duplicate_patients``. Nothing
here decides who is a duplicate.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from domain import models as m
from domain.duplicates import DUPLICATE_RULE, PersonFacts, find_duplicate_patients
from domain.enums import CoverageRank, PayerKind, SubscriberRelationship
from domain.errors import DuplicatePatient, UnknownPayer, ValidationError
from domain.services.registration import (
    CoverageInput,
    KnownPayer,
    PatientInput,
    register_patient,
    validate_coverage,
    validate_registration,
)
from intake import records, reference, rows
from intake.commands import CoverageData, CoverageEntry, IfExists, PatientData, RecordCoverage, Ref, RegisterPatient
from intake.context import UnitContext
from intake.errors import IdentifierConflict
from intake.outcomes import Change, Kind, Outcome
from intake.reference import PayerRef


def _patient_input(data: PatientData, coverages: tuple[CoverageInput, ...] = ()) -> PatientInput:
    records.check_lengths(m.Patient, dict(vars(data)), "patient")
    return PatientInput(
        first_name=data.first_name.strip(),
        last_name=data.last_name.strip(),
        birth_date=data.birth_date,
        sex=data.sex,
        address_line=data.address_line.strip(),
        city=data.city.strip(),
        state=data.state.strip().upper(),
        postal_code=data.postal_code.strip(),
        phone=data.phone.strip(),
        email=(data.email or "").strip() or None,
        coverages=coverages,
    )


def _coverage_input(data: CoverageData) -> CoverageInput:
    records.check_lengths(
        m.Coverage,
        {
            "member_id": data.member_id.strip(),
            "group_number": data.group_number,
            "subscriber_first_name": data.subscriber_first_name,
            "subscriber_last_name": data.subscriber_last_name,
        },
        "coverage",
    )
    return CoverageInput(
        payer_code=data.payer_code.strip(),
        member_id=data.member_id.strip(),
        rank=data.rank,
        relationship=data.relationship,
        group_number=(data.group_number or "").strip() or None,
        effective_from=data.effective_from,
        effective_to=data.effective_to,
        subscriber_first_name=data.subscriber_first_name,
        subscriber_last_name=data.subscriber_last_name,
        subscriber_birth_date=data.subscriber_birth_date,
    )


def register(ctx: UnitContext, cmd: RegisterPatient) -> Outcome:
    session = ctx.session
    patient_id = records.existing(session, Kind.PATIENT, cmd.identifier, cmd.target, m.Patient)
    if patient_id is None:
        return _create(ctx, cmd)
    records.check_version(session, Kind.PATIENT, patient_id, cmd.expected_version)
    if cmd.if_exists is IfExists.KEEP:
        return Outcome(
            Kind.PATIENT, patient_id, Change.UNCHANGED, records.version_of(session, Kind.PATIENT, patient_id)
        )
    digest = records.content_hash(cmd.patient)
    record = records.record_of(session, Kind.PATIENT, patient_id)
    if cmd.if_exists is IfExists.REFUSE and (record is None or record.content_hash != digest):
        raise IdentifierConflict(f"patient {patient_id} already has that identifier: update it instead of creating")
    records.link_identifier(session, Kind.PATIENT, cmd.identifier, patient_id)
    change, version = records.accept(session, Kind.PATIENT, patient_id, digest, ctx.actor.label, new=False)
    if change is not Change.UNCHANGED:
        _update(ctx, patient_id, cmd.patient)
    related = tuple(
        record_coverage(ctx, RecordCoverage(Ref.to(patient_id), entry.data, entry.identifier), register_after=False)
        for entry in cmd.coverages
    )
    starts: tuple[str, ...] = ()
    if change is not Change.UNCHANGED or any(o.changed for o in related):
        starts = (ctx.queue_registration(patient_id),)
    ctx.audit(Kind.PATIENT, patient_id, change, {"coverages": len(related)})
    return Outcome(Kind.PATIENT, patient_id, change, version, starts, related)


def _create(ctx: UnitContext, cmd: RegisterPatient) -> Outcome:
    """A new patient: registered with their coverages in force (the duplicate rule sees the member ids); a
    coverage the sender already ended is recorded after."""
    session = ctx.session
    records.check_identifier(cmd.identifier, "patient")
    for entry in cmd.coverages:
        if entry.identifier is not None and records.find_identifier(session, Kind.COVERAGE, entry.identifier):
            raise IdentifierConflict("that coverage identifier already names a coverage of another patient")
    payers = {p.payer_id: KnownPayer(p.id, p.kind) for p in (_payer(session, e.data.payer_code) for e in cmd.coverages)}
    active = [e for e in cmd.coverages if e.data.active]
    data = _patient_input(cmd.patient, tuple(_coverage_input(e.data) for e in active))
    registered = register_patient(
        session,
        data,
        actor=ctx.actor.label,
        today=ctx.today,
        payers=payers,
        practice_id=reference.practice_id(session),
    )
    patient_id = registered.patient_id
    rows.known_to_exist(session, m.Patient, patient_id)
    for registered_coverage in registered.coverage_ids:
        rows.known_to_exist(session, m.Coverage, registered_coverage)
    records.link_identifier(session, Kind.PATIENT, cmd.identifier, patient_id)
    digest = records.content_hash(cmd.patient)
    _, version = records.accept(session, Kind.PATIENT, patient_id, digest, ctx.actor.label, new=True)
    created = dict(zip((id(e) for e in active), registered.coverage_ids, strict=True))
    related: list[Outcome] = []
    for entry in cmd.coverages:
        coverage_id = created.get(id(entry))
        if coverage_id is None:  # ended already: recorded as it was sent
            related.append(record_coverage(ctx, _ended(patient_id, entry), register_after=False))
            continue
        if entry.identifier is not None:
            records.link_identifier(session, Kind.COVERAGE, entry.identifier, coverage_id)
        records.accept(session, Kind.COVERAGE, coverage_id, _coverage_digest(entry.data), ctx.actor.label, new=True)
        related.append(Outcome(Kind.COVERAGE, coverage_id, Change.CREATED, 1))
    starts = (ctx.queue_registration(patient_id, new=True),)
    # register_patient recorded "patient.registered" by this actor, with the coverages' payers: no second event.
    return Outcome(Kind.PATIENT, patient_id, Change.CREATED, version, starts, tuple(related))


def _ended(patient_id: str, entry: CoverageEntry) -> RecordCoverage:
    return RecordCoverage(Ref.to(patient_id), entry.data, entry.identifier)


def _update(ctx: UnitContext, patient_id: str, data: PatientData) -> None:
    """Apply a change of demographics under the same rules as a registration: its validation, then the domain's
    one duplicate-patient rule (``domain.duplicates``) against every other patient."""
    session = ctx.session
    patient = rows.get(session, m.Patient, patient_id)
    assert patient is not None
    wanted = _patient_input(data)
    validate_registration(wanted, ctx.today)
    person = PersonFacts.of(
        wanted.first_name, wanted.last_name, wanted.birth_date, (c.member_id for c in patient.coverages)
    )
    others = find_duplicate_patients(session, person, exclude_patient_id=patient_id)
    if others:
        raise DuplicatePatient(
            f"a patient with the same name, birth date and member id exists: {others[0]} ({DUPLICATE_RULE})"
        )
    for name in ("first_name", "last_name", "birth_date", "sex", "address_line", "city", "state", "postal_code"):
        setattr(patient, name, getattr(wanted, name))
    patient.phone = wanted.phone
    patient.email = wanted.email


def _payer(session: Session, payer_code: str) -> PayerRef:
    payer = reference.payer(session, payer_code.strip())
    if payer is None:
        raise UnknownPayer(f"unknown payer {payer_code.strip()!r}")
    if payer.kind == PayerKind.SELF_PAY:
        raise ValidationError("self-pay is not a coverage: register the patient without one")
    return payer


def _coverage_digest(data: CoverageData) -> str:
    return records.content_hash(data)


def record_coverage(ctx: UnitContext, cmd: RecordCoverage, *, register_after: bool = True) -> Outcome:
    """Add or change a coverage of a known patient; a new or changed one is checked by PatientRegistration."""
    session = ctx.session
    patient_id = records.resolve(session, Kind.PATIENT, cmd.patient, m.Patient)
    payer = _payer(session, cmd.coverage.payer_code)
    validate_coverage(_coverage_input(cmd.coverage))
    coverage_id = records.existing(session, Kind.COVERAGE, cmd.identifier, cmd.target, m.Coverage)
    if coverage_id is None and cmd.identifier is None:
        coverage_id = session.execute(
            select(m.Coverage.id).where(
                m.Coverage.patient_id == patient_id,
                m.Coverage.payer_id == payer.id,
                m.Coverage.member_id == cmd.coverage.member_id.strip(),
            )
        ).scalar()
    digest = _coverage_digest(cmd.coverage)
    row: m.Coverage | None = None
    if coverage_id is not None:
        records.check_version(session, Kind.COVERAGE, coverage_id, cmd.expected_version)
        row = rows.get(session, m.Coverage, coverage_id)
        assert row is not None
        if row.patient_id != patient_id:
            raise IdentifierConflict(f"coverage {coverage_id} belongs to another patient")
        record = records.record_of(session, Kind.COVERAGE, coverage_id)
        same = record is not None and record.content_hash == digest
        if cmd.if_exists is IfExists.KEEP or same:
            version = records.version_of(session, Kind.COVERAGE, coverage_id)
            if same:
                ctx.audit(Kind.COVERAGE, coverage_id, Change.UNCHANGED, {"payer": payer.payer_id})
            return Outcome(Kind.COVERAGE, coverage_id, Change.UNCHANGED, version)
        if cmd.if_exists is IfExists.REFUSE:
            raise IdentifierConflict(f"coverage {coverage_id} already exists: update it instead of creating")
    new = row is None
    if row is None:
        row = rows.add(session, m.Coverage(patient_id=patient_id))
    change_row = _apply_coverage(ctx, row, payer, cmd.coverage)
    coverage_id = row.id
    if cmd.identifier is not None:
        records.link_identifier(session, Kind.COVERAGE, cmd.identifier, coverage_id)
    change, version = records.accept(session, Kind.COVERAGE, coverage_id, digest, ctx.actor.label, new=new)
    starts: tuple[str, ...] = ()
    if change is not Change.UNCHANGED and change_row:
        _check_rank(session, row)
        if register_after:
            starts = (ctx.queue_registration(patient_id),)
    ctx.audit(Kind.COVERAGE, coverage_id, change, {"payer": payer.payer_id})
    return Outcome(Kind.COVERAGE, coverage_id, change, version, starts)


def _apply_coverage(ctx: UnitContext, row: m.Coverage, payer: PayerRef, data: CoverageData) -> bool:
    """Write the sender's values on the row; True when anything differs. A cancelled coverage ends today."""
    given = _coverage_input(data)
    effective_from = given.effective_from or row.effective_from or ctx.today
    effective_to = given.effective_to
    if not data.active:
        effective_to = max(effective_from, min(effective_to or ctx.today, ctx.today))
    values = {
        "payer_id": payer.id,
        "rank": CoverageRank(given.rank),
        "relationship_to_subscriber": SubscriberRelationship(given.relationship),
        "member_id": given.member_id,
        "group_number": given.group_number,
        "subscriber_first_name": given.subscriber_first_name,
        "subscriber_last_name": given.subscriber_last_name,
        "subscriber_birth_date": given.subscriber_birth_date,
        "effective_from": effective_from,
        "effective_to": effective_to,
    }
    changed = False
    for name, value in values.items():
        if getattr(row, name, None) != value:
            setattr(row, name, value)
            changed = True
    return changed


def _check_rank(session: Session, row: m.Coverage) -> None:
    """Two coverages of one rank in force on the same day leave no way to tell which to bill: refused."""
    others = session.execute(
        select(m.Coverage).where(
            m.Coverage.patient_id == row.patient_id, m.Coverage.rank == row.rank, m.Coverage.id != row.id
        )
    ).scalars()
    for other in others:
        ends = other.effective_to or date.max
        row_ends = row.effective_to or date.max
        if other.effective_from <= row_ends and row.effective_from <= ends:
            raise ValidationError(
                f"the patient already has a {CoverageRank(row.rank).value} coverage ({other.id}) in force then: "
                "end it first or send this one with its identifier"
            )
