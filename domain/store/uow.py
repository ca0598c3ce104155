"""The unit of work: one transaction, committed explicitly, rolled back on any error or when not committed."""

from __future__ import annotations

from types import TracebackType
from typing import Self

from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.orm.exc import StaleDataError

from domain.errors import ConcurrencyConflict


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
