"""The store on SQLite and on a real PostgreSQL server: seeding, integrity, rollback, locking, audit."""

from __future__ import annotations

from datetime import date

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine, func, select, text, update
from sqlalchemy.exc import DBAPIError

from domain import models as m
from domain.claim_status import ClaimStatus
from domain.enums import CoverageRank, SubscriberRelationship
from domain.errors import (
    ConcurrencyConflict,
    DuplicatePatient,
    IllegalTransition,
    InvalidAmount,
    InvalidCode,
    InvalidNPI,
    UnknownPayer,
    ValidationError,
)
from domain.services.encounters import (
    EncounterInput,
    ServiceLineInput,
    create_claim,
    record_encounter,
    transition_claim,
)
from domain.services.registration import CoverageInput, PatientInput, register_patient
from domain.store.integrity import check_store
from domain.store.uow import UnitOfWork
from workers.synthetic import seed_practice

AS_OF = date(2026, 3, 2)


def _count(uow: UnitOfWork, model: type[m.Base]) -> int:
    with uow:
        return int(uow.session.execute(select(func.count()).select_from(model)).scalar_one())


@pytest.fixture
def seeded(uow: UnitOfWork) -> UnitOfWork:
    with uow:
        seed_practice(uow.session, patients=40, seed=5, as_of=AS_OF)
        uow.commit()
    return uow


def _patient(member_id: str = "BM123456789", payer: str = "SBXBM") -> PatientInput:
    return PatientInput(
        first_name="Ada",
        last_name="Testcase",
        birth_date=date(1980, 5, 17),
        sex="F",
        address_line="1 Test Way",
        city="Springfield",
        state="OR",
        postal_code="97477",
        phone="5415550100",
        coverages=(CoverageInput(payer_code=payer, member_id=member_id, effective_from=date(2025, 1, 1)),),
    )


def test_migration_matches_the_models(engine: Engine) -> None:
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), m.Base.metadata)
    assert diff == []


def test_seed_then_check_is_consistent(seeded: UnitOfWork) -> None:
    with seeded:
        report = check_store(seeded.session)
    assert report.ok, report.as_dict()
    assert _count(seeded, m.Patient) == 40
    assert _count(seeded, m.Claim) > 0


def test_check_finds_an_unbalanced_entry_and_a_claim_total_off(seeded: UnitOfWork) -> None:
    with seeded:
        session = seeded.session
        # Its own account: the seeded claims' history already uses the ledger's (revenue, insurance AR...).
        account = m.Account(code="test_unbalanced", name="Unbalanced", kind="revenue")
        entry = m.JournalEntry(idempotency_key="bad-1", kind="charge")
        session.add_all([account, entry])
        session.flush()
        session.add_all(
            [
                m.JournalLine(entry_id=entry.id, account_id=account.id, debit_cents=100),
                m.JournalLine(entry_id=entry.id, account_id=account.id, credit_cents=90),
            ]
        )
        claim = session.execute(select(m.Claim).limit(1)).scalar_one()
        session.execute(update(m.Claim).where(m.Claim.id == claim.id).values(total_charge_cents=1))
        seeded.commit()
    with seeded:
        report = {c.name: c for c in check_store(seeded.session).checks}
    assert not report["ledger_balanced"].ok and report["ledger_balanced"].examples == [entry.id]
    assert not report["claim_totals"].ok


def test_register_patient_and_duplicate_is_refused_without_writing(seeded: UnitOfWork) -> None:
    with seeded:
        registered = register_patient(seeded.session, _patient(), actor="frontdesk", today=AS_OF)
        seeded.commit()
    assert registered.account_number == "P00000041"
    before = (_count(seeded, m.Patient), _count(seeded, m.Guarantor), _count(seeded, m.Coverage))
    with seeded, pytest.raises(DuplicatePatient, match="same name, birth date and member id"):
        register_patient(seeded.session, _patient(), actor="frontdesk", today=AS_OF)
    assert (_count(seeded, m.Patient), _count(seeded, m.Guarantor), _count(seeded, m.Coverage)) == before
    # The same person with another member id is a different registration (e.g. a new plan): allowed.
    with seeded:
        register_patient(seeded.session, _patient(member_id="SM999"), actor="frontdesk", today=AS_OF)


@pytest.mark.parametrize(
    ("patient", "error"),
    [
        (_patient(payer="NOPE"), UnknownPayer),
        (PatientInput(**{**_patient().__dict__, "birth_date": date(2099, 1, 1)}), ValidationError),
        (
            PatientInput(
                **{
                    **_patient().__dict__,
                    "coverages": (
                        CoverageInput(
                            payer_code="SBXBM",
                            member_id="X1",
                            rank=CoverageRank.PRIMARY,
                            relationship=SubscriberRelationship.CHILD,
                        ),
                    ),
                }
            ),
            ValidationError,
        ),
    ],
)
def test_bad_registration_writes_nothing(seeded: UnitOfWork, patient: PatientInput, error: type[Exception]) -> None:
    before = _count(seeded, m.Patient), _count(seeded, m.Guarantor), _count(seeded, m.AuditEvent)
    with seeded, pytest.raises(error):
        register_patient(seeded.session, patient, actor="frontdesk", today=AS_OF)
        seeded.commit()
    assert (_count(seeded, m.Patient), _count(seeded, m.Guarantor), _count(seeded, m.AuditEvent)) == before


def _encounter(uow: UnitOfWork, **changes: object) -> EncounterInput:
    with uow:
        patient = uow.session.execute(select(m.Patient).order_by(m.Patient.account_number)).scalars().first()
        provider = uow.session.execute(select(m.Provider)).scalars().first()
        location = uow.session.execute(select(m.Location)).scalars().first()
        assert patient and provider and location
    values: dict[str, object] = {
        "patient_id": patient.id,
        "provider_id": provider.id,
        "location_id": location.id,
        "date_of_service": AS_OF,
        "place_of_service": "11",
        "diagnosis_codes": ("E11.9", "I10"),
        "service_lines": (ServiceLineInput("99213", 13500, diagnosis_pointers=(1, 2)), ServiceLineInput("83036", 4000)),
    }
    values.update(changes)
    return EncounterInput(**values)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("changes", "error"),
    [
        ({"diagnosis_codes": ("E11-9",)}, InvalidCode),
        ({"service_lines": (ServiceLineInput("9921", 100),)}, InvalidCode),
        ({"service_lines": (ServiceLineInput("99213", -100),)}, InvalidAmount),
        ({"service_lines": (ServiceLineInput("99213", 100, diagnosis_pointers=(3,)),)}, ValidationError),
        ({"place_of_service": "99"}, InvalidCode),
    ],
)
def test_bad_coding_is_a_typed_error_and_writes_nothing(
    seeded: UnitOfWork, changes: dict[str, object], error: type[Exception]
) -> None:
    data = _encounter(seeded, **changes)
    before = _count(seeded, m.Encounter), _count(seeded, m.ServiceLine)
    with seeded, pytest.raises(error):
        record_encounter(seeded.session, data, actor="coder")
        seeded.commit()
    assert (_count(seeded, m.Encounter), _count(seeded, m.ServiceLine)) == before


def test_invalid_provider_npi_is_refused(seeded: UnitOfWork) -> None:
    data = _encounter(seeded)
    with seeded:
        seeded.session.execute(update(m.Provider).where(m.Provider.id == data.provider_id).values(npi="1234567890"))
        seeded.commit()
    with seeded, pytest.raises(InvalidNPI):
        record_encounter(seeded.session, data, actor="coder")


def test_claim_lifecycle_and_illegal_transition(seeded: UnitOfWork) -> None:
    data = _encounter(seeded)
    with seeded:
        registered = register_patient(seeded.session, _patient(), actor="frontdesk", today=AS_OF)
        encounter_id = record_encounter(
            seeded.session, EncounterInput(**{**data.__dict__, "patient_id": registered.patient_id}), actor="coder"
        )
        claim_id = create_claim(seeded.session, encounter_id, actor="biller")
        transition_claim(seeded.session, claim_id, ClaimStatus.READY, actor="biller")
        seeded.commit()
    with seeded:
        claim = seeded.session.get(m.Claim, claim_id)
        assert claim is not None and claim.total_charge_cents == 17500 and len(claim.lines) == 2
    with seeded, pytest.raises(IllegalTransition, match="cannot go from ready to paid"):
        transition_claim(seeded.session, claim_id, ClaimStatus.PAID, actor="biller")
    with seeded:
        claim = seeded.session.get(m.Claim, claim_id)
        assert claim is not None and claim.status == ClaimStatus.READY


def test_optimistic_locking_refuses_a_lost_update(seeded: UnitOfWork) -> None:
    """A worker writes back a claim it read before someone else changed it: refused, not overwritten."""
    with seeded:
        stale = seeded.session.execute(select(m.Claim).where(m.Claim.status == "ready")).scalars().first()
        assert stale is not None
        claim_id = stale.id
    with seeded:
        fresh = seeded.session.get(m.Claim, claim_id)
        assert fresh is not None
        fresh.transition(ClaimStatus.SUBMITTED)
        seeded.commit()
    with seeded:
        seeded.session.add(stale)  # re-attach the copy read before the other change
        stale.transition(ClaimStatus.VOID)
        with pytest.raises(ConcurrencyConflict):
            seeded.commit()
    with seeded:
        current = seeded.session.get(m.Claim, claim_id)
        assert current is not None and current.status == ClaimStatus.SUBMITTED and current.version_id == 2


def test_audit_events_are_append_only(seeded: UnitOfWork, engine: Engine) -> None:
    with seeded:
        register_patient(seeded.session, _patient(), actor="frontdesk", today=AS_OF)
        seeded.commit()
    with pytest.raises(DBAPIError, match="append-only"), engine.begin() as conn:
        conn.execute(text("UPDATE audit_events SET actor = 'someone else'"))
    with pytest.raises(DBAPIError, match="append-only"), engine.begin() as conn:
        conn.execute(text("DELETE FROM audit_events"))
    assert _count(seeded, m.AuditEvent) == 1


def test_store_errors_never_carry_statement_parameters(engine: Engine) -> None:
    """A failing statement's message may reach a log or a workflow failure: it must not hold PHI."""
    with pytest.raises(DBAPIError) as failure, engine.begin() as conn:
        conn.execute(
            text("INSERT INTO patients (id, first_name) VALUES (:id, :first_name)"),
            {"id": "x", "first_name": "Zelda-Quimby-Secret"},
        )
    assert "Zelda-Quimby-Secret" not in str(failure.value)
