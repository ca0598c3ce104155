"""The duplicate-patient rule: when two patient records are the same person.

One rule for every door a patient comes in by (the front desk's registration, the intake module behind the FHIR
API, the HL7 feed and CSV import, the PatientRegistration workflow's check): callers use
:func:`find_duplicate_patients` (a store query) or, with the facts already in hand, :func:`same_person`.

Two records are the same person when the first and last names match (ignoring case and surrounding blanks),
the birth dates match, and they cannot be told apart by their insurance: they share a member id, or one of
them has no member id at all. The same name and birth date with different member ids on both sides are two
people (or a new plan: the front desk decides that, not this rule).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from domain import models as m

DUPLICATE_RULE = (
    "same first and last name, same birth date, and a shared member id (or no member id on one side to tell them apart)"
)


def normal_name(text: str) -> str:
    return " ".join(text.split()).casefold()


def normal_member_id(text: str) -> str:
    return "".join(text.split()).upper()


@dataclass(frozen=True)
class PersonFacts:
    """What the rule looks at; ``member_ids`` are the person's coverages' member ids (any payer)."""

    first_name: str
    last_name: str
    birth_date: date
    member_ids: frozenset[str] = frozenset()

    @classmethod
    def of(cls, first_name: str, last_name: str, birth_date: date, member_ids: Iterable[str] = ()) -> PersonFacts:
        ids = frozenset(normal_member_id(x) for x in member_ids if x and x.strip())
        return cls(normal_name(first_name), normal_name(last_name), birth_date, ids)


def same_person(a: PersonFacts, b: PersonFacts) -> bool:
    """The rule (see the module): names and birth date match, and the member ids do not tell them apart."""
    if normal_name(a.first_name) != normal_name(b.first_name) or normal_name(a.last_name) != normal_name(b.last_name):
        return False
    if a.birth_date != b.birth_date:
        return False
    if not a.member_ids or not b.member_ids:
        return True
    return bool({normal_member_id(x) for x in a.member_ids} & {normal_member_id(x) for x in b.member_ids})


def find_duplicate_patients(
    session: Session, person: PersonFacts, *, exclude_patient_id: str | None = None
) -> list[str]:
    """Ids (sorted) of the stored patients that are the same person as ``person`` by :func:`same_person`."""
    # Only the birth date narrows the query: the names are compared by the rule itself (case folding and blanks
    # in SQL differ between SQLite and PostgreSQL, the rule's do not).
    candidates = select(m.Patient.id, m.Patient.first_name, m.Patient.last_name, m.Patient.birth_date).where(
        m.Patient.birth_date == person.birth_date
    )
    if exclude_patient_id is not None:
        candidates = candidates.where(m.Patient.id != exclude_patient_id)
    rows = session.execute(candidates).all()
    if not rows:
        return []
    members: dict[str, set[str]] = {row.id: set() for row in rows}
    for patient_id, member_id in session.execute(
        select(m.Coverage.patient_id, m.Coverage.member_id).where(m.Coverage.patient_id.in_(list(members)))
    ):
        members[patient_id].add(member_id)
    return sorted(
        row.id
        for row in rows
        if same_person(person, PersonFacts.of(row.first_name, row.last_name, row.birth_date, members[row.id]))
    )


def patient_facts(patient: m.Patient) -> PersonFacts:
    """A stored patient's facts for the rule."""
    return PersonFacts.of(
        patient.first_name, patient.last_name, patient.birth_date, (c.member_id for c in patient.coverages)
    )
