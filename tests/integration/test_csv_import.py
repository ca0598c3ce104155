"""`carecycle import` on SQLite and PostgreSQL with the example files of docs/examples/import: every row through
the intake module, a report per row (row, column, reason), each row all or nothing, a re-run imports nothing
twice, a dry run writes nothing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import func, select

from domain import models as m
from domain.store.engine import make_engine, make_session_factory
from workers.cli import run

EXAMPLES = Path(__file__).resolve().parents[2] / "docs" / "examples" / "import"


@pytest.fixture
def practice(store_url: str, carecycle_home: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    from workers.synthetic import seed_practice

    monkeypatch.setenv("CARECYCLE_DATABASE_URL", store_url)
    monkeypatch.setenv("CARECYCLE_TEMPORAL_PORT", "1")  # no workflow engine: starts stay queued
    engine = make_engine(store_url)
    with make_session_factory(engine)() as session:
        seed_practice(session, patients=1, seed=0, ledger_history=False)  # the NPIs the examples name
        session.commit()
    engine.dispose()
    return store_url


def _import(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, dict[str, object], str]:
    code = run(["import", *args, "--json"])
    out, err = capsys.readouterr()
    return code, json.loads(out) if out.strip() else {}, err


def _count(url: str, model: type[m.Base]) -> int:
    engine = make_engine(url)
    try:
        with make_session_factory(engine)() as session:
            return int(session.execute(select(func.count()).select_from(model)).scalar_one())
    finally:
        engine.dispose()


def test_the_example_files_import_once(practice: str, capsys: pytest.CaptureFixture[str]) -> None:
    patients = _count(practice, m.Patient)
    code, report, _ = _import(capsys, "patients", str(EXAMPLES / "patients.csv"), "--dry-run")
    assert code == 0 and report["created"] == 3 and report["dry_run"] is True
    assert _count(practice, m.Patient) == patients  # a dry run writes nothing

    code, report, _ = _import(capsys, "patients", str(EXAMPLES / "patients.csv"))
    assert code == 0 and (report["created"], report["failed"]) == (3, 0), report
    assert report["processes"] == {"queued": 3, "started": 0, "pending": 3}  # type: ignore[comparison-overlap]
    assert _count(practice, m.Patient) == patients + 3
    code, report, _ = _import(capsys, "coverages", str(EXAMPLES / "coverages.csv"))
    assert code == 0 and report["created"] == 2, report
    code, report, _ = _import(capsys, "appointments", str(EXAMPLES / "appointments.csv"))
    assert code == 0 and report["created"] == 3, report

    for kind in ("patients", "coverages", "appointments"):  # the same files again: nothing new
        code, report, _ = _import(capsys, kind, str(EXAMPLES / f"{kind}.csv"))
        assert code == 0 and report["unchanged"] == report["rows"], report
    assert _count(practice, m.Patient) == patients + 3
    engine = make_engine(practice)
    with make_session_factory(engine)() as session:
        statuses = sorted(
            str(a.status)
            for a in session.execute(select(m.Appointment).where(m.Appointment.duration_minutes.in_([20, 30])))
            .scalars()
            .all()
            if a.starts_at.year == 2026 and a.starts_at.month == 3 and a.starts_at.day in (2, 3)
        )
        assert statuses.count("cancelled") == 1 and statuses.count("booked") >= 2
    engine.dispose()


def test_bad_rows_are_reported_and_the_good_ones_go_in(
    practice: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    patients = _count(practice, m.Patient)
    bad = tmp_path / "patients.csv"
    bad.write_text(
        "mrn,first_name,last_name,birth_date,sex,state,payer_id,member_id\n"
        "B-1,Good,Row,1980-01-01,F,IL,SBXBM,M1\n"
        "B-2,Bad,Date,1980-13-01,F,IL,,\n"
        "B-3,No,Payer,1980-01-01,M,IL,NOPE,M3\n"
        "B-4,Half,Coverage,1980-01-01,M,IL,SBXBM,\n"
        ",No,Mrn,1980-01-01,F,IL,,\n"
        "B-6,Bad,Sex,1980-01-01,X,IL,,\n"
    )
    code, report, _ = _import(capsys, "patients", str(bad))
    assert code == 1 and (report["created"], report["failed"]) == (1, 5), report
    failures = {r["row"]: (r.get("column"), r["reason"]) for r in report["results"] if r["status"] == "failed"}  # type: ignore[attr-defined]
    assert failures[3] == ("birth_date", "not a date (YYYY-MM-DD)")
    assert failures[4][0] == "payer_id" and failures[4][1].startswith("unknown_payer")
    assert failures[5] == ("member_id", "required with a payer id")
    assert failures[6] == ("mrn", "required, empty")
    assert failures[7][0] == "sex"
    assert "Date" not in json.dumps(report) and "1980-13-01" not in json.dumps(report)  # no values, only columns
    assert _count(practice, m.Patient) == patients + 1  # the bad rows wrote nothing, not even half

    code = run(["import", "patients", str(bad)])
    out, _ = capsys.readouterr()
    assert code == 1 and "row 3, column birth_date: not a date (YYYY-MM-DD)" in out
    assert "6 rows: 0 created, 0 updated, 1 unchanged, 5 failed" in out


def test_a_file_that_cannot_be_imported_is_one_line(
    practice: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    wrong = tmp_path / "wrong.csv"
    wrong.write_text("mrn,first_name,nickname\nA,B,C\n")
    assert run(["import", "patients", str(wrong)]) == 1
    assert capsys.readouterr().err == (
        "error: unknown column 'nickname' for patients; columns: mrn, first_name, last_name, birth_date, sex, "
        "address_line, city, state, postal_code, phone, email, payer_id, member_id, group_number, rank, relationship, "
        "effective_from, effective_to, subscriber_first_name, subscriber_last_name, subscriber_birth_date\n"
    )
    missing = tmp_path / "missing.csv"
    missing.write_text("mrn,first_name,state\nA,B,IL\n")
    assert run(["import", "patients", str(missing)]) == 1
    assert capsys.readouterr().err == "error: the patients file needs the column 'last_name'\n"
    binary = tmp_path / "binary.csv"
    binary.write_bytes(b"\xff\xfe\x00garbage")
    assert run(["import", "appointments", str(binary)]) == 1
    assert capsys.readouterr().err.count("\n") == 1
    assert run(["import", "patients", str(tmp_path / "none.csv")]) == 1
    assert "no such file" in capsys.readouterr().err
    assert run(["import", "visits", str(missing)]) == 2


@pytest.mark.temporal
async def test_imported_patients_are_registered_by_their_workflows(tmp_path: Path, sqlite_url: str) -> None:
    import asyncio

    from tests.support.dev_stack import dev_stack, run_cli
    from workers.synthetic import seed_practice

    engine = make_engine(sqlite_url)
    with make_session_factory(engine)() as session:
        seed_practice(session, patients=1, seed=0, ledger_history=False)
        session.commit()
    engine.dispose()
    async with dev_stack(tmp_path / "home", sqlite_url) as stack:
        result = await asyncio.to_thread(
            run_cli, stack.env, "import", "patients", str(EXAMPLES / "patients.csv"), "--json"
        )
        assert result.returncode == 0, result.stderr
        report = json.loads(result.stdout)
        assert report["processes"] == {"queued": 3, "started": 3, "pending": 0}
        query = "WorkflowType = 'PatientRegistration'"
        registrations = [w.id async for w in stack.client.list_workflows(query)]
        for _ in range(60):  # the list is Temporal's visibility store: it catches up after the starts
            if len(registrations) >= 3:
                break
            await asyncio.sleep(0.5)
            registrations = [w.id async for w in stack.client.list_workflows(query)]
        assert len(registrations) == 3
