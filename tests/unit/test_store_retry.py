"""domain.store.uow.retry_when_busy: a unit of work refused with "database is locked" runs again; others raise."""

from __future__ import annotations

import sqlite3

import pytest
from sqlalchemy.exc import OperationalError

from domain.store.uow import retry_when_busy


def _locked() -> OperationalError:
    return OperationalError("INSERT ...", {}, sqlite3.OperationalError("database is locked"))


def test_a_locked_attempt_runs_again_until_it_succeeds() -> None:
    attempts: list[int] = []

    def work() -> str:
        attempts.append(1)
        if len(attempts) < 3:
            raise _locked()
        return "done"

    assert retry_when_busy(work, pause_seconds=0) == "done" and len(attempts) == 3


def test_it_gives_up_and_other_errors_are_raised_at_once() -> None:
    calls: list[int] = []

    def always_locked() -> None:
        calls.append(1)
        raise _locked()

    with pytest.raises(OperationalError):
        retry_when_busy(always_locked, attempts=2, pause_seconds=0)
    assert len(calls) == 2

    def no_table() -> None:
        calls.append(1)
        raise OperationalError("SELECT ...", {}, sqlite3.OperationalError("no such table: x"))

    calls.clear()
    with pytest.raises(OperationalError):
        retry_when_busy(no_table, pause_seconds=0)
    assert len(calls) == 1
