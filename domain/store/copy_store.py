"""Copying a whole store into another, empty one (``carecycle db copy``): SQLite to PostgreSQL, typically.

The target is migrated to the same revision first, then every table is copied in foreign-key order in one
transaction (all or nothing), rows of a table that refers to itself (a replacement claim to its original, a
reversal to the entry it reverses) parents first. The counts of both sides are compared before committing.
A target that holds any row of a carecycle table is refused (a copy never merges), except the rows the migrations
themselves put into a new store (the audit chain's head, say): those are replaced by the source's.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, Engine, Table, delete, func, insert, inspect, select, update

from domain.errors import DomainError
from domain.models import Base
from domain.store.migrate import current_revision, head_revision, upgrade

BATCH = 1000


class CopyRefused(DomainError):
    """The copy cannot be made (a non-empty target, a source not at the code's revision)."""


@dataclass
class CopyReport:
    revision: str | None
    counts: dict[str, int] = field(default_factory=dict)  # table -> rows copied (equal on both sides)

    @property
    def rows(self) -> int:
        return sum(self.counts.values())


def _count(connection: Connection, table: Table) -> int:
    return int(connection.execute(select(func.count()).select_from(table)).scalar_one())


def table_counts(engine: Engine) -> dict[str, int]:
    """Rows per carecycle table present in the store."""
    present = set(inspect(engine).get_table_names())
    with engine.connect() as connection:
        return {t.name: _count(connection, t) for t in Base.metadata.sorted_tables if t.name in present}


def migration_rows() -> dict[str, int]:
    """Rows per table that the migrations put into a new, empty store (measured on a throwaway SQLite file)."""
    import tempfile
    from pathlib import Path

    from domain.store.engine import make_engine

    with tempfile.TemporaryDirectory() as folder:
        engine = make_engine(f"sqlite:///{Path(folder) / 'fresh.db'}")
        try:
            upgrade(engine)
            return {name: rows for name, rows in table_counts(engine).items() if rows}
        finally:
            engine.dispose()


def occupied_tables(target: Engine) -> dict[str, int]:
    """carecycle tables of the target holding more than the migrations put there themselves."""
    seeded = migration_rows()
    return {name: rows for name, rows in table_counts(target).items() if rows > seeded.get(name, 0)}


def _parents_first(table: Table, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rows ordered so that a row a self-referencing foreign key points at comes before the row pointing at it."""
    self_refs = [(fk.parent.name, fk.column.name) for fk in table.foreign_keys if fk.column.table is table]
    if not self_refs:
        return rows
    placed: set[Any] = set()
    ordered: list[dict[str, Any]] = []
    waiting = rows
    while waiting:
        keys_of_all = {row[column] for row in waiting for _, column in self_refs}
        ready = [
            row
            for row in waiting
            if all(
                row[child] is None or row[child] in placed or row[child] not in keys_of_all for child, _ in self_refs
            )
        ]
        if not ready:  # a cycle of rows: the database will refuse it, as it refuses it in the source
            ready = waiting
        ordered += ready
        placed |= {row[column] for row in ready for _, column in self_refs}
        ready_ids = {id(row) for row in ready}
        waiting = [row for row in waiting if id(row) not in ready_ids]
    return ordered


def _replace_seeded(writing: Connection, table: Table, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The rows the target already holds (the migrations' own) become the source's: those the source has too take
    its values, the others go; returns the source rows still to insert."""
    keys = list(table.primary_key.columns)
    if not keys:
        return rows
    existing = {tuple(row) for row in writing.execute(select(*keys))}
    if not existing:
        return rows
    fresh = []
    for row in rows:
        key = tuple(row[column.name] for column in keys)
        if key in existing:
            existing.discard(key)
            writing.execute(update(table).where(*[c == row[c.name] for c in keys]).values(row))
        else:
            fresh.append(row)
    for key in existing:  # seeded in the target, absent from the source
        writing.execute(delete(table).where(*[c == value for c, value in zip(keys, key, strict=True)]))
    return fresh


def _batches(rows: list[dict[str, Any]]) -> Iterator[list[dict[str, Any]]]:
    for start in range(0, len(rows), BATCH):
        yield rows[start : start + BATCH]


def copy_store(source: Engine, target: Engine) -> CopyReport:
    source_revision, head = current_revision(source), head_revision(source)
    if source_revision != head:
        raise CopyRefused(f"the source store is at revision {source_revision}, the code's is {head}: upgrade it first")
    occupied = occupied_tables(target)
    if occupied:
        name, count = next(iter(occupied.items()))
        raise CopyRefused(f"the target store is not empty ({name} has {count} rows, {len(occupied)} tables in all)")
    revision = upgrade(target)
    report = CopyReport(revision)
    with source.connect() as reading, target.begin() as writing:
        for table in Base.metadata.sorted_tables:
            rows = [dict(row._mapping) for row in reading.execute(select(table))]
            for batch in _batches(_parents_first(table, _replace_seeded(writing, table, rows))):
                writing.execute(insert(table), batch)
            copied = _count(writing, table)
            if copied != len(rows):
                raise CopyRefused(f"{table.name}: {len(rows)} rows read, {copied} in the target; nothing was copied")
            report.counts[table.name] = copied
    return report


class InvalidCopyTarget(ValueError):
    """The target given is not a database URL, or is the store being copied."""


def copy_to_url(source: Engine, url: str) -> CopyReport:
    """:func:`copy_store` into the database at ``url`` (an engine made, used and disposed of here)."""
    from sqlalchemy.exc import ArgumentError

    from domain.store.engine import make_engine, redact_url

    try:
        target = make_engine(url)
    except ArgumentError:
        shown = redact_url(url) if "://" in url else "..."
        raise InvalidCopyTarget(f"is not a database URL: {shown}") from None
    try:
        if target.url.render_as_string(hide_password=False) == source.url.render_as_string(hide_password=False):
            raise InvalidCopyTarget("names the store being copied")
        return copy_store(source, target)
    finally:
        target.dispose()
