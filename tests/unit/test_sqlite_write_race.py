"""An activity that lost a SQLite write race runs again at once with its transactions beginning IMMEDIATE
(domain.store.engine.sqlite_write_lock_first, workers.store_retry); other errors pass through untouched."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from domain.store.engine import _WRITE_LOCK_FIRST, is_sqlite_busy, make_engine, sqlite_write_lock_first
from workers.store_retry import _RetryBusyActivity


def _locked() -> OperationalError:
    return OperationalError("UPDATE ...", {}, sqlite3.OperationalError("database is locked"))


def test_a_stale_read_then_write_loses_deferred_and_queues_with_the_lock_first(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 's.db'}")
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE t (n INTEGER)"))
        conn.execute(text("INSERT INTO t VALUES (0)"))

    def read_then_write(read: threading.Event, written: threading.Event) -> None:
        with engine.begin() as conn:
            conn.execute(text("SELECT n FROM t")).all()  # the snapshot is taken here
            read.set()
            written.wait(5)
            conn.execute(text("UPDATE t SET n = n + 1"))

    def other_writer(read: threading.Event, written: threading.Event) -> None:
        read.wait(5)
        with engine.begin() as conn:
            conn.execute(text("UPDATE t SET n = n + 10"))
        written.set()

    def race(lock_first: bool) -> BaseException | None:
        read, written, failures = threading.Event(), threading.Event(), []

        def first() -> None:
            try:
                if lock_first:
                    with sqlite_write_lock_first():
                        read_then_write(read, written)
                else:
                    read_then_write(read, written)
            except OperationalError as exc:
                failures.append(exc)
                read.set()

        threads = [threading.Thread(target=first), threading.Thread(target=other_writer, args=(read, written))]
        for thread in threads:
            thread.start()
        if lock_first:  # the other writer queues behind the whole unit instead: let the unit finish first
            written.set()
        for thread in threads:
            thread.join(30)
        return failures[0] if failures else None

    lost = race(lock_first=False)
    assert lost is not None and is_sqlite_busy(lost)
    assert race(lock_first=True) is None
    with engine.connect() as conn:
        assert conn.execute(text("SELECT n FROM t")).scalar_one() == 10 + 1 + 10
    engine.dispose()


class _Next:
    def __init__(self, failures: list[BaseException]) -> None:
        self.failures = failures
        self.lock_first: list[bool] = []

    async def execute_activity(self, input: Any) -> str:
        self.lock_first.append(_WRITE_LOCK_FIRST.get())
        if self.failures:
            raise self.failures.pop(0)
        return "done"


def _run(next_: _Next) -> str:
    interceptor = _RetryBusyActivity(next_)  # type: ignore[arg-type]
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("workers.store_retry.activity.info", lambda: type("I", (), {"activity_type": "x.y"})())
        result: str = asyncio.run(interceptor.execute_activity(None))  # type: ignore[arg-type]
        return result


def test_the_interceptor_runs_a_lost_race_again_with_the_lock_first() -> None:
    next_ = _Next([_locked()])
    assert _run(next_) == "done"
    assert next_.lock_first == [False, True]


def test_other_errors_and_a_second_loss_are_left_to_temporal() -> None:
    other = OperationalError("SELECT ...", {}, sqlite3.OperationalError("no such table: x"))
    next_ = _Next([other])
    with pytest.raises(OperationalError):
        _run(next_)
    assert next_.lock_first == [False]
    twice = _Next([_locked(), _locked()])
    with pytest.raises(OperationalError):
        _run(twice)
    assert twice.lock_first == [False, True]
