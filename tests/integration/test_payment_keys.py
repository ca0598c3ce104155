"""Idempotency keys are honest: the same key with the same payment reports that one payment; the same key with
another patient, amount or method is a conflict (exit 1) that names the payment holding the key, and records
nothing; on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import func, select

from domain import models as m
from domain.errors import IdempotencyConflict
from domain.ledger.payments import record_patient_payment
from domain.store.engine import make_engine, make_session_factory
from domain.store.uow import UnitOfWork
from tests.unit.posting.factory import make_patient, make_practice
from workers.cli import run


def _payments(url: str) -> int:
    engine = make_engine(url)
    with make_session_factory(engine)() as session:
        count = session.execute(select(func.count()).select_from(m.PatientPayment)).scalar_one()
    engine.dispose()
    return int(count)


def test_a_reused_key_with_other_content_is_a_conflict(
    store_url: str, carecycle_home: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("CARECYCLE_DATABASE_URL", store_url)
    engine = make_engine(store_url)
    with UnitOfWork(make_session_factory(engine)) as uow:
        practice = make_practice(uow.session)
        first, second = make_patient(uow.session, practice), make_patient(uow.session, practice)
        uow.commit()
    engine.dispose()

    record = ["payments", "record", "--key", "k1", "--json"]
    assert run([*record, "--patient", first.patient_id, "--amount", "5.00", "--method", "cash"]) == 0
    held = json.loads(capsys.readouterr().out)
    assert held["already_posted"] is False

    # The same payment again: reported as the one already recorded (its own id and amount).
    assert run([*record, "--patient", first.patient_id, "--amount", "5.00", "--method", "cash"]) == 0
    again = json.loads(capsys.readouterr().out)
    assert again["already_posted"] is True and again["payment_id"] == held["payment_id"]

    # Another patient, amount and method under the same key: a conflict naming the payment that holds it.
    code = run([*record, "--patient", second.patient_id, "--amount", "9.00", "--method", "card"])
    err = capsys.readouterr().err
    assert code == 1 and err.count("\n") == 1
    assert "k1" in err and held["payment_id"] in err and "5.00 by cash" in err
    for changed in (["--amount", "5.01", "--method", "cash"], ["--amount", "5.00", "--method", "check"]):
        assert run([*record, "--patient", first.patient_id, *changed]) == 1
        assert held["payment_id"] in capsys.readouterr().err
    assert _payments(store_url) == 1


def test_the_ledger_rule_refuses_the_conflict(store_url: str) -> None:
    engine = make_engine(store_url)
    with UnitOfWork(make_session_factory(engine)) as uow:
        practice = make_practice(uow.session)
        patient = make_patient(uow.session, practice)
        record_patient_payment(uow.session, patient.patient_id, 500, "cash", recorded_by="desk", key="k1")
        with pytest.raises(IdempotencyConflict, match="already holds payment"):
            record_patient_payment(uow.session, patient.patient_id, 900, "cash", recorded_by="desk", key="k1")
    engine.dispose()
