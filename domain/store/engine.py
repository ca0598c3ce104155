"""Engines for the two supported stores: a SQLite file (WAL, foreign keys on) and PostgreSQL (psycopg 3)."""

from __future__ import annotations

import sqlite3
import threading
import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, TypeVar

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import ExceptionContext, make_url
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import ConnectionPoolEntry

from domain.store.bulk import BulkWriter, with_bulk_writer


def _sqlite_pragmas(dbapi_connection: Any, _record: ConnectionPoolEntry) -> None:
    # pysqlite's own transaction handling is turned off so that SQLAlchemy's BEGIN is the one that counts.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


_T = TypeVar("_T")

# Set (by :func:`sqlite_write_lock_first`) for a unit that already lost a write race once: its transactions take the
# write lock when they begin, so they queue on busy_timeout instead of losing again.
_WRITE_LOCK_FIRST: ContextVar[bool] = ContextVar("carecycle_sqlite_write_lock_first", default=False)


@contextmanager
def sqlite_write_lock_first() -> Iterator[None]:
    """Within this context (and the threads it hands its context to), SQLite transactions begin IMMEDIATE."""
    token = _WRITE_LOCK_FIRST.set(True)
    try:
        yield
    finally:
        _WRITE_LOCK_FIRST.reset(token)


def is_sqlite_busy(exc: BaseException) -> bool:
    """SQLite refused a unit because another writer held or had just taken the write lock ("database is locked")."""
    original = getattr(exc, "orig", None)
    return original is not None and type(original).__module__.startswith("sqlite3") and "locked" in str(original)


def recorded_after_side_effect(record: Callable[[], _T]) -> _T:
    """Run ``record``, a unit that records what an outside system already did (a claim file the clearinghouse
    took): when it loses a SQLite write race it runs again at once with the write lock first, here, so the
    activity is not run again from its start (``workers.store_retry``), which would do the outside call twice."""
    try:
        return record()
    except Exception as exc:
        if not is_sqlite_busy(exc):
            raise
    with sqlite_write_lock_first():
        return record()


def _sqlite_begin(conn: Any) -> None:
    # A deferred BEGIN: in WAL mode readers never wait for a writer, so a transaction that only reads (or
    # that calls an outside system before it writes) never holds the write lock. Two writers still queue on
    # busy_timeout; a read-then-write that lost the race fails with "database is locked" before writing
    # anything, and the unit is run again (workers.store_retry: with the write lock taken first).
    conn.exec_driver_sql("BEGIN IMMEDIATE" if _WRITE_LOCK_FIRST.get() else "BEGIN")


def _redact_server_detail(context: ExceptionContext) -> BaseException | None:
    # PostgreSQL explains constraint failures with the row's values ("Failing row contains (...)", "Key
    # (member_id)=(...) already exists"): PHI that would reach logs and tracebacks. Keep the primary message
    # (and the SQLSTATE on the driver error), drop the detail from the driver error's own text.
    original = context.original_exception
    diag = getattr(original, "diag", None)
    if diag is not None and getattr(diag, "message_detail", None):
        primary = diag.message_primary or type(original).__name__
        original.args = (f"{primary} (detail withheld: it may hold patient data)",)
        wrapped = context.sqlalchemy_exception
        if isinstance(wrapped, DBAPIError):  # its text was formatted before this hook: format it again
            return type(wrapped)(context.statement, None, original, hide_parameters=True)
    return None


def make_engine(url: str, **kwargs: Any) -> Engine:
    # Statement parameters are PHI (names, birth dates, member ids): keep them out of every error message,
    # which may end up in a log or a Temporal failure.
    kwargs.setdefault("hide_parameters", True)
    parsed = make_url(url)
    if parsed.drivername == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")
    if parsed.get_backend_name() == "sqlite":
        engine = create_engine(parsed, connect_args={"timeout": 30}, **kwargs)
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin)
        return engine
    engine = create_engine(parsed, pool_pre_ping=True, **kwargs)
    event.listen(engine, "handle_error", _redact_server_detail)
    return engine


def make_session_factory(engine: Engine, *, bulk_writer: BulkWriter | None = None) -> sessionmaker[Session]:
    """Sessions of ``engine``; ``bulk_writer`` is how they write many rows at once (domain.store.bulk: the
    composition root passes the one for the engine's dialect; without it the portable writer is used)."""
    return with_bulk_writer(sessionmaker(bind=engine, expire_on_commit=False), bulk_writer)


def redact_url(url: str) -> str:
    """The URL without its password, for printing."""
    return make_url(url).render_as_string(hide_password=True)


_WRITERS: weakref.WeakKeyDictionary[Engine, threading.Lock] = weakref.WeakKeyDictionary()
_WRITERS_GUARD = threading.Lock()
WRITER_WAIT_SECONDS = 30.0  # as long as the busy timeout


@contextmanager
def one_writer(engine: Engine) -> Iterator[None]:
    """Hold this process's turn to write to a SQLite store for the block (PostgreSQL: nothing to do).

    SQLite takes one writer at a time, and a writer that finds the database locked waits in SQLite's busy
    handler, which polls with sleeps growing to 100 ms: the database sits idle after each commit until the next
    writer wakes up. Writers of one process that take their turn here queue on a lock instead and start the
    moment the one before them is done; writers of other processes still meet on the busy handler. Take it before
    the transaction begins and keep it until it has ended (committed or rolled back). Not reentrant: a block
    must not wait for a second write transaction of its own (SQLite would refuse that one anyway)."""
    if engine.dialect.name != "sqlite":
        yield
        return
    with _WRITERS_GUARD:
        lock = _WRITERS.setdefault(engine, threading.Lock())
    if not lock.acquire(timeout=WRITER_WAIT_SECONDS):
        raise OperationalError(
            "(waiting for this process's turn to write)", None, sqlite3.OperationalError("database is locked")
        )
    try:
        yield
    finally:
        lock.release()
