"""The composition root: the one place that turns settings into engines, sessions and adapters."""

from __future__ import annotations

from functools import cached_property

from sqlalchemy import Engine, inspect
from sqlalchemy.orm import Session, sessionmaker

from domain.store.engine import make_engine, make_session_factory, redact_url
from domain.store.uow import UnitOfWork
from workers.settings import Settings, load_settings


class StoreNotReady(Exception):
    """The store has no schema yet, or an older one."""


class Container:
    def __init__(self, settings: Settings | None = None) -> None:
        self.settings = settings or load_settings()

    @cached_property
    def engine(self) -> Engine:
        if self.settings.database_url.startswith("sqlite"):
            self.settings.home.mkdir(parents=True, exist_ok=True)
        return make_engine(self.settings.database_url)

    @cached_property
    def session_factory(self) -> sessionmaker[Session]:
        return make_session_factory(self.engine)

    def uow(self) -> UnitOfWork:
        return UnitOfWork(self.session_factory)

    def require_schema(self) -> None:
        """Fail with one clear line when the store was never upgraded."""
        from domain.store.migrate import current_revision, head_revision

        if not inspect(self.engine).has_table("alembic_version"):
            raise StoreNotReady(
                f"the store at {redact_url(self.settings.database_url)} has no schema: run `carecycle db upgrade`"
            )
        current, head = current_revision(self.engine), head_revision(self.engine)
        if current != head:
            raise StoreNotReady(
                f"the store is at revision {current}, the code needs {head}: run `carecycle db upgrade`"
            )

    def close(self) -> None:
        if "engine" in self.__dict__:
            self.engine.dispose()
