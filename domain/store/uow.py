"""The unit of work: one transaction, committed explicitly, rolled back on any error or when not committed."""

from __future__ import annotations

import time
from collections.abc import Callable
from types import TracebackType
from typing import Self, TypeVar

from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.orm.exc import StaleDataError

from domain.errors import ConcurrencyConflict

T = TypeVar("T")


class UnitOfWork:
    def __init__(self, session_factory: sessionmaker[Session]) -> None:
        self._session_factory = session_factory
        self._session: Session | None = None

    @property
    def session(self) -> Session:
        if self._session is None:
            raise RuntimeError("the unit of work is not open: use it as a context manager")
        return self._session

    def __enter__(self) -> Self:
        self._session = self._session_factory()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        # Closing rolls back whatever was not committed; loaded objects stay readable (detached).
        self.session.close()
        self._session = None

    def flush(self) -> None:
        try:
            self.session.flush()
        except StaleDataError as exc:
            raise ConcurrencyConflict("the record was changed by someone else; reload and try again") from exc

    def commit(self) -> None:
        try:
            self.session.commit()
        except StaleDataError as exc:
            self.session.rollback()
            raise ConcurrencyConflict("the record was changed by someone else; reload and try again") from exc


def retry_when_busy(work: Callable[[], T], *, attempts: int = 5, pause_seconds: float = 0.2) -> T:
    """Run ``work`` (one whole unit of work) again when SQLite refused it with "database is locked".

    A deferred transaction that read before it wrote fails at once, without waiting, when another writer
    committed in between (engine.py); an activity is retried by Temporal, a command runs its transaction again
    here. Nothing was written by the failed attempt: its transaction was rolled back. Anything else is raised.
    """
    for attempt in range(1, attempts + 1):
        try:
            return work()
        except OperationalError as exc:
            if attempt == attempts or "locked" not in str(exc.orig):
                raise
            time.sleep(pause_seconds * attempt)
    raise AssertionError("unreachable")
