"""Bulk writes: the port the domain writes many rows through, and its portable implementation.

Posting an 835 writes tens of thousands of rows (journal entries and lines, remittance rows) and updates
thousands of claims in one transaction. The domain says *what* to write, a :class:`BulkWriter` says *how* for
its database: the portable writer here uses SQLAlchemy Core ``executemany`` (any dialect); the composition root
may give a session factory a faster one for its dialect (``activities.storage``: PostgreSQL's ``COPY`` through
the driver), kept outside the domain. A session without one uses the portable writer.

``update`` keeps optimistic locks: a row is updated only where its ``match`` columns still hold the values the
caller read, and the count of rows updated comes back (None when the driver cannot count an executemany).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from sqlalchemy import Connection, Table, bindparam, insert, update
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker

BULK_WRITER_KEY = "carecycle.bulk_writer"  # where a session factory keeps its writer (Session.info)


class BulkWriter(Protocol):
    def insert(self, connection: Connection, table: Table, rows: Sequence[dict[str, Any]]) -> None:
        """Insert rows (each a dict of every column written, the same keys in every row)."""
        ...

    def insert_missing(
        self, connection: Connection, table: Table, rows: Sequence[dict[str, Any]], unique: Sequence[str]
    ) -> int | None:
        """Insert the rows whose ``unique`` columns are not taken (by a committed row or, waiting for it, a
        concurrent transaction's); returns how many were inserted (None: unknown). A writer that cannot skip
        conflicts inserts them all and lets the unique constraint fail the transaction (it is then retried)."""
        ...

    def update(
        self,
        connection: Connection,
        table: Table,
        match: Sequence[str],
        values: Sequence[str],
        rows: Sequence[Sequence[Any]],
    ) -> int | None:
        """For each row (the ``match`` values, then the ``values``): set ``values`` where every ``match``
        column equals its value. Returns how many rows were updated (None: the driver cannot say)."""
        ...


class CoreBulkWriter:
    """Any dialect: one Core ``executemany`` per call (SQLAlchemy batches inserts into multi-row VALUES)."""

    def insert(self, connection: Connection, table: Table, rows: Sequence[dict[str, Any]]) -> None:
        if rows:
            connection.execute(insert(table), list(rows))

    def insert_missing(
        self, connection: Connection, table: Table, rows: Sequence[dict[str, Any]], unique: Sequence[str]
    ) -> int | None:
        self.insert(connection, table, rows)
        return len(rows)

    def update(
        self,
        connection: Connection,
        table: Table,
        match: Sequence[str],
        values: Sequence[str],
        rows: Sequence[Sequence[Any]],
    ) -> int | None:
        if not rows:
            return 0
        statement = (
            update(table)
            .where(*(table.c[name] == bindparam(f"m_{name}") for name in match))
            .values({name: bindparam(f"v_{name}") for name in values})
        )
        keys = [f"m_{name}" for name in match] + [f"v_{name}" for name in values]
        result = connection.execute(statement, [dict(zip(keys, row, strict=True)) for row in rows])
        return result.rowcount if connection.dialect.supports_sane_multi_rowcount else None


PORTABLE = CoreBulkWriter()


def bulk_writer(session: Session) -> BulkWriter:
    """The writer the session's factory was given, else the portable one."""
    writer = session.info.get(BULK_WRITER_KEY)
    return writer if writer is not None else PORTABLE


def with_bulk_writer(factory: sessionmaker[Session], writer: BulkWriter | None) -> sessionmaker[Session]:
    """Give every session of ``factory`` this writer (None: leave the portable one)."""
    if writer is not None:
        factory.configure(info={BULK_WRITER_KEY: writer})
    return factory


def table_of(target: Table | type[DeclarativeBase]) -> Table:
    if isinstance(target, Table):
        return target
    table = target.__table__
    assert isinstance(table, Table)
    return table


def bulk_insert(session: Session, target: Table | type[DeclarativeBase], rows: Sequence[dict[str, Any]]) -> None:
    """Insert many rows (each carrying its own id) in the session's transaction, no ORM bookkeeping per row."""
    if rows:
        bulk_writer(session).insert(session.connection(), table_of(target), rows)


def bulk_insert_missing(
    session: Session, target: Table | type[DeclarativeBase], rows: Sequence[dict[str, Any]], unique: Sequence[str]
) -> int | None:
    """See :meth:`BulkWriter.insert_missing`."""
    if not rows:
        return 0
    return bulk_writer(session).insert_missing(session.connection(), table_of(target), rows, unique)


def bulk_update(
    session: Session,
    target: Table | type[DeclarativeBase],
    match: Sequence[str],
    values: Sequence[str],
    rows: Sequence[Sequence[Any]],
) -> int | None:
    """See :meth:`BulkWriter.update`."""
    if not rows:
        return 0
    return bulk_writer(session).update(session.connection(), table_of(target), match, values, rows)
