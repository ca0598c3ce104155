"""`carecycle claims export --format 837p` on SQLite and PostgreSQL: a pyx12-valid file, persisted control numbers."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from domain import models as m
from domain.claim_status import ClaimStatus
from domain.store.control_numbers import next_numbers, reserve
from domain.store.engine import make_engine, make_session_factory
from domain.store.uow import UnitOfWork
from domain.x12.claim837 import parse_837p
from domain.x12.envelope import read_envelope
from tests.unit.x12.pyx12_check import pyx12_errors
from workers.cli import run
from workers.synthetic import seed_practice

AS_OF = date(2026, 3, 2)


@pytest.fixture
def seeded(store_url: str, carecycle_home: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[sessionmaker[Session]]:
    monkeypatch.setenv("CARECYCLE_DATABASE_URL", store_url)
    engine = make_engine(store_url)
    factory = make_session_factory(engine)
    with UnitOfWork(factory) as uow:
        seed_practice(uow.session, patients=30, seed=11, as_of=AS_OF)
        uow.commit()
    yield factory
    engine.dispose()


def _ready_ids(factory: sessionmaker[Session]) -> list[str]:
    with factory() as session:
        return list(session.execute(select(m.Claim.id).where(m.Claim.status == ClaimStatus.READY)).scalars())


def test_export_ready_claims_validates_under_pyx12(
    seeded: sessionmaker[Session], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ready = _ready_ids(seeded)
    assert ready, "the synthetic practice has claims ready to submit"
    out = tmp_path / "batch.837"
    assert run(["claims", "export", "--format", "837p", "--out", str(out), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert sorted(result["claim_ids"]) == sorted(ready)
    text = out.read_text()
    assert pyx12_errors(text) == []
    claims = parse_837p(text)
    assert sorted(c.claim_id for c in claims) == sorted(ready)
    with seeded() as session:
        for claim in claims:
            row = session.get(m.Claim, claim.claim_id)
            assert row is not None and claim.total_charge_cents == row.total_charge_cents
            line_ids = set(session.execute(select(m.ClaimLine.id).where(m.ClaimLine.claim_id == row.id)).scalars())
            assert {line.line_control_number for line in claim.lines} == line_ids


def test_control_numbers_are_persisted_and_unique(
    seeded: sessionmaker[Session], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    numbers = []
    for n in range(3):
        out = tmp_path / f"b{n}.837"
        assert run(["claims", "export", "--format", "837p", "--out", str(out), "--json"]) == 0
        capsys.readouterr()
        (interchange,) = read_envelope(out.read_text()).interchanges
        numbers.append((interchange.control_number, interchange.groups[0].control_number))
    assert numbers == [("000000001", "1"), ("000000002", "2"), ("000000003", "3")]
    with seeded() as session:
        stored = dict(session.execute(select(m.ControlNumber.name, m.ControlNumber.last_value)).all())
    assert stored == {"isa13": 3, "gs06": 3, "st02": 3}


def test_export_named_claims_and_errors(
    seeded: sessionmaker[Session], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    first = _ready_ids(seeded)[0]
    out = tmp_path / "one.837"
    assert run(["claims", "export", "--format", "837p", "--claim", first, "--out", str(out)]) == 0
    assert "wrote 1 claims" in capsys.readouterr().out
    assert [c.claim_id for c in parse_837p(out.read_text())] == [first]
    assert run(["claims", "export", "--format", "837p", "--claim", "no-such-claim", "--out", str(out)]) == 1
    assert capsys.readouterr().err.strip() == "error: no claim with id no-such-claim"
    assert run(["claims", "export", "--format", "x12", "--out", str(out)]) == 2
    with seeded() as session:
        session.execute(update(m.Claim).where(m.Claim.status == ClaimStatus.READY).values(status=ClaimStatus.DRAFT))
        session.commit()
    assert run(["claims", "export", "--format", "837p", "--out", str(out)]) == 1
    assert "no claims to export" in capsys.readouterr().err


def test_scrub_reports_edits(seeded: sessionmaker[Session], capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["claims", "scrub", "--as-of", AS_OF.isoformat(), "--json"]) in (0, 1)
    report = json.loads(capsys.readouterr().out)
    assert report["claims"] >= 1
    first = report["results"][0]["claim_id"]
    with seeded() as session:
        line = session.execute(select(m.ClaimLine).where(m.ClaimLine.claim_id == first)).scalars().first()
        assert line is not None
        line.procedure_code = "9921"
        session.commit()
    assert run(["claims", "scrub", "--claim", first, "--as-of", AS_OF.isoformat()]) == 1
    out = capsys.readouterr().out
    assert f"{first}: PX_FORMAT procedure '9921' is not a well-formed CPT/HCPCS code" in out


def test_concurrent_reservations_never_share_a_number(store_url: str) -> None:
    engine = make_engine(store_url)
    factory = make_session_factory(engine)
    results: list[int] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def worker() -> None:
        try:
            for _ in range(10):
                with factory() as session:
                    value = reserve(session, "isa13")
                    session.commit()
                with lock:
                    results.append(value)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    engine.dispose()
    if errors and store_url.startswith("sqlite"):
        pytest.skip(f"SQLite refused a concurrent writer: {errors[0]}")
    assert not errors
    assert sorted(results) == list(range(1, 41))


def test_next_numbers_blocks_and_wrap(store_url: str) -> None:
    engine = make_engine(store_url)
    factory = make_session_factory(engine)
    with factory() as session:
        first = next_numbers(session, transactions=3)
        second = next_numbers(session, transactions=3)
        session.commit()
    assert (first.interchange, first.group, first.first_transaction) == (1, 1, 1)
    assert (second.interchange, second.group, second.first_transaction) == (2, 2, 4)
    with factory() as session:
        session.execute(update(m.ControlNumber).where(m.ControlNumber.name == "isa13").values(last_value=999_999_999))
        assert reserve(session, "isa13") == 1
        assert reserve(session, "isa13") == 2
        session.rollback()
    with factory() as session:
        assert reserve(session, "isa13") == 3  # the rolled-back reservations were not used up
    engine.dispose()
