"""The hash-chained audit trail on SQLite and on a real PostgreSQL: an edited, a deleted and an inserted row
are each found by the check (and by `carecycle audit verify-log`, exit 1); concurrent writers in many threads
never fork the chain; the migration chains the events a store already had; `carecycle audit log` reads it."""

from __future__ import annotations

import json
import threading
import uuid
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select, text
from sqlalchemy.orm import Session, sessionmaker

from domain import models as m
from domain.audit import GENESIS_HASH, record, verify_chain
from domain.store.engine import make_engine, make_session_factory
from domain.store.migrate import upgrade
from tests.support.dev_stack import run_cli
from tests.support.environ import environ_without_ours


def _write(factory: sessionmaker[Session], count: int, actor: str = "ann") -> None:
    for index in range(count):
        with factory() as session:
            record(
                session,
                actor=actor,
                action="phi.view",
                entity_type="claim",
                entity_id=str(uuid.uuid4()),
                details={"page": "claim", "n": index, "amount_cents": 1234},
            )
            session.commit()


def _unprotected(engine: Engine, statement: str) -> None:
    """Run ``statement`` with the append-only triggers out of the way, as someone with the database's keys could."""
    with engine.begin() as conn:
        if engine.dialect.name == "sqlite":
            conn.execute(text("DROP TRIGGER audit_events_no_update"))
            conn.execute(text("DROP TRIGGER audit_events_no_delete"))
            conn.execute(text(statement))
        else:
            conn.execute(text("ALTER TABLE audit_events DISABLE TRIGGER audit_events_append_only"))
            conn.execute(text(statement))
            conn.execute(text("ALTER TABLE audit_events ENABLE TRIGGER audit_events_append_only"))


def _verdict(factory: sessionmaker[Session]) -> list[str]:
    with factory() as session:
        return [b.problem for b in verify_chain(session).breaks]


def test_an_intact_chain_verifies(session_factory: sessionmaker[Session]) -> None:
    _write(session_factory, 5)
    with session_factory() as session:
        verdict = verify_chain(session)
        first = session.execute(select(m.AuditEvent).where(m.AuditEvent.seq == 1)).scalar_one()
        head = session.get(m.AuditChain, 1)
    assert verdict.ok and verdict.rows == 5 and verdict.head_seq == 5
    assert first.prev_hash == GENESIS_HASH and head is not None and head.last_hash == verdict.head_hash


def test_an_edited_row_is_found(session_factory: sessionmaker[Session], engine: Engine) -> None:
    _write(session_factory, 5)
    _unprotected(engine, "UPDATE audit_events SET actor = 'mallory' WHERE seq = 3")
    problems = _verdict(session_factory)
    assert problems == ["its content does not match its hash (edited)"]


def test_a_deleted_row_is_found(session_factory: sessionmaker[Session], engine: Engine) -> None:
    _write(session_factory, 5)
    _unprotected(engine, "DELETE FROM audit_events WHERE seq = 2")
    problems = _verdict(session_factory)
    assert "sequence number 3, expected 2" in problems and "does not link to the row before it" in problems


def test_rows_cut_off_the_end_are_found(session_factory: sessionmaker[Session], engine: Engine) -> None:
    _write(session_factory, 5)
    _unprotected(engine, "DELETE FROM audit_events WHERE seq >= 4")
    problems = _verdict(session_factory)
    assert len(problems) == 1 and "the chain ends at 3 but its head says 5" in problems[0]


def test_an_inserted_row_is_found(session_factory: sessionmaker[Session], engine: Engine) -> None:
    _write(session_factory, 3)
    with session_factory() as session:
        last = session.execute(select(m.AuditEvent).where(m.AuditEvent.seq == 3)).scalar_one()
        session.add(
            m.AuditEvent(
                seq=4,
                occurred_at=last.occurred_at,
                actor="mallory",
                action="console_user.add",
                entity_type="console_user",
                entity_id="x",
                details={},
                prev_hash=last.row_hash,
                row_hash="f" * 64,  # the hash an intruder without a recomputation would write
            )
        )
        session.commit()
    problems = _verdict(session_factory)
    assert "its content does not match its hash (edited)" in problems
    assert any("head says 3" in p for p in problems)


def test_concurrent_writers_never_fork_the_chain(session_factory: sessionmaker[Session]) -> None:
    errors: list[BaseException] = []

    def writer(name: str) -> None:
        try:
            _write(session_factory, 15, actor=name)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(f"w{i}",)) for i in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    with session_factory() as session:
        verdict = verify_chain(session)
        seqs = session.execute(select(m.AuditEvent.seq).order_by(m.AuditEvent.seq)).scalars().all()
    assert verdict.ok, verdict.breaks
    assert seqs == list(range(1, 91))


def test_the_migration_chains_the_events_a_store_already_had(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'old.db'}")
    upgrade(engine, "0001")
    with engine.begin() as conn:
        for index in range(4):
            conn.execute(
                text(
                    "INSERT INTO audit_events (id, occurred_at, actor, action, entity_type, entity_id, details) "
                    "VALUES (:id, :at, 'system', 'claim.submitted', 'claim', :entity, :details)"
                ),
                {
                    "id": str(uuid.uuid4()),
                    "at": f"2026-01-0{index + 1} 10:00:00.000000",
                    "entity": f"c{index}",
                    "details": json.dumps({"n": index}),
                },
            )
    upgrade(engine)
    factory = make_session_factory(engine)
    _write(factory, 2)
    with factory() as session:
        verdict = verify_chain(session)
        count = session.execute(select(func.count()).select_from(m.AuditEvent)).scalar_one()
    assert verdict.ok and verdict.rows == 6 == count
    with pytest.raises(Exception, match="append-only"), engine.begin() as conn:
        conn.execute(text("UPDATE audit_events SET actor = 'x'"))
    engine.dispose()


def test_audit_log_and_verify_log_commands(tmp_path: Path, sqlite_url: str) -> None:
    env = environ_without_ours()
    env.update(CARECYCLE_HOME=str(tmp_path / "home"), CARECYCLE_DATABASE_URL=sqlite_url)
    engine = make_engine(sqlite_url)
    factory = make_session_factory(engine)
    _write(factory, 3, actor="ann")
    _write(factory, 1, actor="aud")

    listed = run_cli(env, "audit", "log", "--actor", "ann", "--json")
    assert listed.returncode == 0, listed.stderr
    events = json.loads(listed.stdout)["events"]
    assert [e["seq"] for e in events] == [3, 2, 1] and {e["action"] for e in events} == {"phi.view"}
    table = run_cli(env, "audit", "log", "--action", "phi.")
    assert table.returncode == 0 and "aud" in table.stdout and "ann" in table.stdout

    patients = run_cli(env, "patients", "list", "--json")  # a command that prints PHI leaves a trace
    assert patients.returncode == 0, patients.stderr
    logged = run_cli(env, "audit", "log", "--action", "phi.view", "--entity-type", "patient", "--json")
    viewed = json.loads(logged.stdout)
    assert [e["details"]["command"] for e in viewed["events"]] == ["patients list"]
    assert viewed["events"][0]["actor"].startswith("cli:")

    ok = run_cli(env, "audit", "verify-log")
    assert ok.returncode == 0 and ok.stdout.startswith("OK: 5 audit events")
    _unprotected(engine, "UPDATE audit_events SET details = '{}' WHERE seq = 2")
    broken = run_cli(env, "audit", "verify-log", "--json")
    assert broken.returncode == 1
    verdict = json.loads(broken.stdout)
    assert verdict["ok"] is False and verdict["breaks"][0]["seq"] == 2
    assert "Traceback" not in broken.stderr
    engine.dispose()
