"""The domain store: engine, unit of work and migrations."""

from domain.store.engine import make_engine, make_session_factory
from domain.store.uow import UnitOfWork

__all__ = ["UnitOfWork", "make_engine", "make_session_factory"]
