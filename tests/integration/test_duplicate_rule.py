"""One duplicate-patient rule (issue 11): the front desk's registration and the PatientRegistration workflow's
``registration.validate`` activity ask :mod:`domain.duplicates` and agree, on SQLite and PostgreSQL.

Before, the activity matched name and birth date only, so a namesake born the same day with another plan was
reported as a duplicate by the workflow while registration accepted them as a different person.
"""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy.orm import Session, sessionmaker

from activities.contracts import revenue as c
from activities.revenue import RegistrationActivities
from domain.duplicates import PersonFacts, find_duplicate_patients, same_person
from domain.errors import DuplicatePatient
from domain.services.registration import CoverageInput, PatientInput, register_patient
from domain.store.uow import UnitOfWork
from workers.synthetic import seed_practice

AS_OF = date(2026, 3, 2)
BORN = date(1980, 5, 17)


def _input(first: str = "Ada", last: str = "Testcase", *members: str) -> PatientInput:
    return PatientInput(
        first_name=first,
        last_name=last,
        birth_date=BORN,
        sex="F",
        address_line="1 Test Way",
        city="Springfield",
        state="IL",
        postal_code="62701",
        phone="555-0100",
        coverages=tuple(CoverageInput("SBXBM", member) for member in members),
    )


@pytest.fixture
def seeded(session_factory: sessionmaker[Session]) -> sessionmaker[Session]:
    with UnitOfWork(session_factory) as uow:
        seed_practice(uow.session, patients=5, seed=11, as_of=AS_OF)
        uow.commit()
    return session_factory


def _register(factory: sessionmaker[Session], data: PatientInput) -> str:
    with UnitOfWork(factory) as uow:
        registered = register_patient(uow.session, data, actor="frontdesk", today=AS_OF)
        uow.commit()
    return registered.patient_id


def _workflow_check(factory: sessionmaker[Session], patient_id: str) -> tuple[str, ...]:
    return RegistrationActivities(factory).validate(c.PatientRef(patient_id)).duplicate_of


def test_a_namesake_with_another_member_id_is_not_a_duplicate_anywhere(seeded: sessionmaker[Session]) -> None:
    first = _register(seeded, _input("Ada", "Testcase", "BM1"))
    second = _register(seeded, _input("ADA", " testcase ", "BM2"))  # registration accepts: another plan
    assert _workflow_check(seeded, second) == ()  # the workflow agrees (it flagged it before)
    assert _workflow_check(seeded, first) == ()


def test_a_shared_member_id_is_a_duplicate_everywhere(seeded: sessionmaker[Session]) -> None:
    first = _register(seeded, _input("Ada", "Testcase", "BM1"))
    with pytest.raises(DuplicatePatient, match="shared member id"):
        _register(seeded, _input("ada", "TESTCASE", "bm1"))
    with UnitOfWork(seeded) as uow:
        found = find_duplicate_patients(uow.session, PersonFacts.of("Ada", "Testcase", BORN, ["BM1", "X"]))
    assert found == [first]


def test_no_member_id_on_one_side_cannot_tell_them_apart(seeded: sessionmaker[Session]) -> None:
    insured = _register(seeded, _input("Ada", "Testcase", "BM1"))
    with UnitOfWork(seeded) as uow:
        found = find_duplicate_patients(uow.session, PersonFacts.of("Ada", "Testcase", BORN))
    assert found == [insured]
    with pytest.raises(DuplicatePatient):
        _register(seeded, _input("Ada", "Testcase"))


names = st.sampled_from(["Ada", "ada", "ADA ", "Bo", "Núñez", "NÚÑEZ"])
members = st.frozensets(st.sampled_from(["BM1", "bm1", "BM2", "CC9"]), max_size=2)
days = st.sampled_from([BORN, date(1980, 5, 18)])


@given(names, names, days, members, names, names, days, members)
def test_the_rule_is_symmetric_and_reads_names_and_ids_loosely(
    f1: str, l1: str, d1: date, m1: frozenset[str], f2: str, l2: str, d2: date, m2: frozenset[str]
) -> None:
    a, b = PersonFacts.of(f1, l1, d1, m1), PersonFacts.of(f2, l2, d2, m2)
    assert same_person(a, b) == same_person(b, a)
    assert same_person(a, a)
    if d1 != d2 or f1.strip().lower() != f2.strip().lower():
        assert not same_person(a, b)
