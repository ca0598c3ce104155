"""Concurrent postings of the same or overlapping remittances: the one that meets the other's writes runs again.

Two deliveries carrying one payment can post at the same moment (two ``remit post`` of overlapping files, the
835 intake beside the portal's EOB of the same check, a retried activity beside its first attempt). Their
transactions meet in the store: PostgreSQL refuses the second remittance row (``uq_remittances_payer_trace_key``,
after waiting for the first to commit), a claim changed meanwhile fails the optimistic lock
(``ConcurrencyConflict``), a deadlock or serialization failure is reported, or SQLite refuses a writer whose
snapshot went stale ("database is locked"). Nothing of the refused attempt is written (its transaction is rolled
back); run again in a new transaction it reads what the other committed, so the same payment says
``already_posted`` (or ``same_payment``), and an overlapping one posts its other claims against the balances as
they are now. Anything else is raised as it is.
"""

from __future__ import annotations

import time
from contextlib import nullcontext

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from domain.errors import ConcurrencyConflict
from domain.posting.results import PostingResult
from domain.posting.service import post_remittance
from domain.remittance import Remittance
from domain.store.engine import is_sqlite_busy, sqlite_write_lock_first
from domain.store.uow import UnitOfWork

ATTEMPTS = 6
PAUSE_SECONDS = 0.1
# PostgreSQL: unique violation, serialization failure, deadlock detected.
_CONFLICT_STATES = frozenset({"23505", "40001", "40P01"})


def post_remittance_retrying(
    session_factory: sessionmaker[Session],
    remittance: Remittance,
    *,
    source_document_key: str | None = None,
    actor: str = "system:posting",
    attempts: int = ATTEMPTS,
    pause_seconds: float = PAUSE_SECONDS,
) -> PostingResult:
    """``post_remittance`` in a unit of work of its own, committed; run again when it met a concurrent posting
    (on SQLite the attempts after the first take the write lock when they begin, so they queue instead of racing)."""
    for attempt in range(1, attempts + 1):
        try:
            with sqlite_write_lock_first() if attempt > 1 else nullcontext(), UnitOfWork(session_factory) as uow:
                result = post_remittance(uow.session, remittance, source_document_key=source_document_key, actor=actor)
                uow.commit()
            return result
        except Exception as exc:
            if attempt == attempts or not is_concurrent_write(exc):
                raise
        time.sleep(pause_seconds * attempt)
    raise AssertionError("unreachable")


def is_concurrent_write(exc: BaseException) -> bool:
    """The store refused a write because another transaction wrote the same rows first."""
    if isinstance(exc, ConcurrencyConflict):
        return True
    original = getattr(exc, "orig", None) or exc
    state = getattr(original, "sqlstate", None) or getattr(original, "pgcode", None)
    if state in _CONFLICT_STATES:
        return True
    if isinstance(exc, IntegrityError):
        return "UNIQUE constraint failed" in str(original)  # SQLite
    return is_sqlite_busy(exc)
