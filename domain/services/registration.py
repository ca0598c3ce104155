"""Registering a patient with coverage: validation, duplicate detection, and one transaction."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any, cast

from sqlalchemy import Table, func, insert, select, text
from sqlalchemy.orm import Session

from domain import audit
from domain import models as m
from domain.duplicates import DUPLICATE_RULE, PersonFacts, find_duplicate_patients
from domain.enums import CoverageRank, PayerKind, SubscriberRelationship
from domain.errors import DuplicatePatient, UnknownPayer, ValidationError


@dataclass(frozen=True)
class CoverageInput:
    payer_code: str  # Payer.payer_id, e.g. "SBXBM"
    member_id: str
    rank: CoverageRank = CoverageRank.PRIMARY
    relationship: SubscriberRelationship = SubscriberRelationship.SELF
    group_number: str | None = None
    effective_from: date | None = None
    effective_to: date | None = None
    subscriber_first_name: str | None = None
    subscriber_last_name: str | None = None
    subscriber_birth_date: date | None = None


@dataclass(frozen=True)
class PatientInput:
    first_name: str
    last_name: str
    birth_date: date
    sex: str
    address_line: str
    city: str
    state: str
    postal_code: str
    phone: str
    email: str | None = None
    coverages: tuple[CoverageInput, ...] = field(default=())


@dataclass(frozen=True)
class RegisteredPatient:
    patient_id: str
    guarantor_id: str
    coverage_ids: tuple[str, ...]
    account_number: str


def validate_registration(data: PatientInput, today: date) -> None:
    """A patient's own rules (names, birth date, sex, state) and their coverages' (ranks, member ids, dates)."""
    if not data.first_name.strip() or not data.last_name.strip():
        raise ValidationError("first and last name are required")
    if data.birth_date > today:
        raise ValidationError("birth date is in the future")
    if data.sex not in ("F", "M", "U"):
        raise ValidationError(f"sex must be F, M or U, got {data.sex!r}")
    if len(data.state) != 2 or not data.state.isalpha():
        raise ValidationError(f"state must be a two-letter code, got {data.state!r}")
    ranks = [c.rank for c in data.coverages]
    if len(ranks) != len(set(ranks)):
        raise ValidationError("two coverages have the same rank")
    for coverage in data.coverages:
        validate_coverage(coverage)


def validate_coverage(coverage: CoverageInput) -> None:
    """A coverage's own rule: a member id; the subscriber named when it is not the patient; dates in order."""
    if not coverage.member_id.strip():
        raise ValidationError(f"coverage with payer {coverage.payer_code} has no member id")
    if coverage.relationship is not SubscriberRelationship.SELF and not (
        coverage.subscriber_first_name and coverage.subscriber_last_name and coverage.subscriber_birth_date
    ):
        raise ValidationError(
            f"coverage with payer {coverage.payer_code}: subscriber name and birth date are required "
            "when the patient is not the subscriber"
        )
    if coverage.effective_from and coverage.effective_to and coverage.effective_to < coverage.effective_from:
        raise ValidationError(f"coverage with payer {coverage.payer_code} ends before it starts")


def find_duplicates(session: Session, data: PatientInput) -> list[str]:
    """Ids of stored patients that are the same person as ``data`` by the duplicate rule (:mod:`domain.duplicates`)."""
    person = PersonFacts.of(data.first_name, data.last_name, data.birth_date, (c.member_id for c in data.coverages))
    return find_duplicate_patients(session, person)


# Registrations of one PostgreSQL store take turns from the duplicate check to their commit (a transaction-level
# advisory lock): two writers checked each other's patient as absent and took the same next account number, one of
# them then failing on the unique constraint and running its whole transaction again. SQLite has one writer anyway.
REGISTRATION_LOCK = 0x43435247  # "CCRG"


def take_registration_turn(session: Session) -> None:
    """Wait for this store's registrations in progress to end (PostgreSQL; held until this transaction ends)."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": REGISTRATION_LOCK})


_GUARANTORS = cast(Table, m.Guarantor.__table__)
_PATIENTS = cast(Table, m.Patient.__table__)
_COVERAGES = cast(Table, m.Coverage.__table__)
# Both last account numbers in one statement, built once (plain Core: no ORM compile per registration).
_LAST_NUMBERS = select(
    select(func.max(_GUARANTORS.c.account_number)).scalar_subquery(),
    select(func.max(_PATIENTS.c.account_number)).scalar_subquery(),
)


def _next_number(current: str | None, prefix: str) -> str:
    number = int(current[1:]) + 1 if current and current[1:].isdigit() else 1
    return f"{prefix}{number:08d}"


def _next_account_numbers(session: Session) -> tuple[str, str]:
    """The next guarantor and patient account numbers."""
    guarantor, patient = session.execute(_LAST_NUMBERS).one()
    return _next_number(guarantor, "G"), _next_number(patient, "P")


@dataclass(frozen=True)
class KnownPayer:
    """A payer as a caller that looked it up already knows it (its row id and kind)."""

    id: str
    kind: PayerKind


def register_patient(
    session: Session,
    data: PatientInput,
    *,
    actor: str,
    today: date | None = None,
    payers: Mapping[str, KnownPayer] | None = None,
    practice_id: str | None = None,
) -> RegisteredPatient:
    """Create the patient (as their own guarantor) with coverages. Raises before writing on any problem.

    A caller that has the coverages' payers (by payer id) and the practice's id at hand passes them (intake keeps
    them for every event); the same checks apply to them."""
    today = today or date.today()
    validate_registration(data, today)
    take_registration_turn(session)
    duplicates = find_duplicates(session, data)
    if duplicates:
        raise DuplicatePatient(
            f"a patient with the same name, birth date and member id exists: {duplicates[0]} ({DUPLICATE_RULE})"
        )
    payers = _coverage_payers(session, data, payers)
    if practice_id is None:
        practice_id = session.execute(select(m.Practice.id).limit(1)).scalar_one_or_none()
    if practice_id is None:
        raise ValidationError("the store has no practice yet: seed or create one first")
    guarantor_number, patient_number = _next_account_numbers(session)
    guarantor_id, patient_id = m.new_id(), m.new_id()
    _insert_person(session, data, practice_id, (guarantor_id, guarantor_number), (patient_id, patient_number))
    coverage_ids = _insert_coverages(session, data, patient_id, payers, today)
    audit.record(
        session,
        actor=actor,
        action="patient.registered",
        entity_type="patient",
        entity_id=patient_id,
        details={"coverages": [c.payer_code for c in data.coverages]},
    )
    return RegisteredPatient(patient_id, guarantor_id, coverage_ids, patient_number)


def _coverage_payers(
    session: Session, data: PatientInput, payers: Mapping[str, KnownPayer] | None
) -> Mapping[str, KnownPayer]:
    """The payers of the coverages (those the caller has at hand, else the store's); each must be known and none
    self-pay."""
    if payers is None:
        payers = {
            p.payer_id: KnownPayer(p.id, PayerKind(p.kind))
            for p in session.execute(
                select(m.Payer).where(m.Payer.payer_id.in_([c.payer_code for c in data.coverages]))
            ).scalars()
        }
    for coverage in data.coverages:
        payer = payers.get(coverage.payer_code)
        if payer is None:
            raise UnknownPayer(f"unknown payer {coverage.payer_code!r}")
        if payer.kind == PayerKind.SELF_PAY:
            raise ValidationError("self-pay is not a coverage: register the patient without one")
    return payers


# Plain INSERTs (guarantor, patient, coverages: foreign-key order) instead of the ORM's unit of work, which cost more
# than the rest of a registration; the rows are read back through the session like any other.


def _insert_person(
    session: Session,
    data: PatientInput,
    practice_id: str,
    guarantor: tuple[str, str],
    patient: tuple[str, str],
) -> None:
    """The guarantor and the patient (their own guarantor): ``guarantor`` and ``patient`` are (id, account number)."""
    (guarantor_id, guarantor_number), (patient_id, patient_number) = guarantor, patient
    person = {
        "first_name": data.first_name.strip(),
        "last_name": data.last_name.strip(),
        "birth_date": data.birth_date,
        "address_line": data.address_line,
        "city": data.city,
        "state": data.state.upper(),
        "postal_code": data.postal_code,
        "phone": data.phone,
        "email": data.email,
    }
    session.execute(insert(_GUARANTORS), [{"id": guarantor_id, "account_number": guarantor_number, **person}])
    session.execute(
        insert(_PATIENTS),
        [
            {
                "id": patient_id,
                "practice_id": practice_id,
                "account_number": patient_number,
                "sex": data.sex,
                "guarantor_id": guarantor_id,
                **person,
            }
        ],
    )


def _insert_coverages(
    session: Session, data: PatientInput, patient_id: str, payers: Mapping[str, KnownPayer], today: date
) -> tuple[str, ...]:
    coverage_rows: list[dict[str, Any]] = [
        {
            "id": m.new_id(),
            "patient_id": patient_id,
            "payer_id": payers[coverage.payer_code].id,
            "rank": coverage.rank,
            "relationship_to_subscriber": coverage.relationship,
            "member_id": coverage.member_id.strip(),
            "group_number": coverage.group_number,
            "subscriber_first_name": coverage.subscriber_first_name,
            "subscriber_last_name": coverage.subscriber_last_name,
            "subscriber_birth_date": coverage.subscriber_birth_date,
            "effective_from": coverage.effective_from or today,
            "effective_to": coverage.effective_to,
        }
        for coverage in data.coverages
    ]
    if coverage_rows:
        session.execute(insert(_COVERAGES), coverage_rows)
    return tuple(row["id"] for row in coverage_rows)
