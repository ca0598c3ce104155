"""The store's bulk writes (domain.store.bulk) through the writer the composition root wires per database:
the portable Core writer on SQLite, COPY on PostgreSQL. Below and above the COPY threshold, both the same."""

from __future__ import annotations

import pytest
from sqlalchemy import JSON, Column, Integer, MetaData, String, Table, func, select
from sqlalchemy.orm import Session, sessionmaker

from activities.storage import PostgresCopyWriter
from activities.storage.postgres import COPY_THRESHOLD
from domain import models as m
from domain.enums import AccountKind
from domain.store.bulk import PORTABLE, bulk_insert, bulk_insert_missing, bulk_update, bulk_writer


def _accounts(count: int, prefix: str) -> list[dict[str, object]]:
    return [
        {
            "id": m.new_id(),
            "code": f"{prefix}:{n}",
            "name": f"account {n}",
            "kind": AccountKind.ASSET.value,
            "owner_type": None,
            "owner_id": None,
        }
        for n in range(count)
    ]


def test_the_composition_root_wires_copy_on_postgres_only(session_factory: sessionmaker[Session]) -> None:
    with session_factory() as session:
        writer = bulk_writer(session)
        if session.get_bind().dialect.name == "postgresql":
            assert isinstance(writer, PostgresCopyWriter)
        else:
            assert writer is PORTABLE


@pytest.mark.parametrize("count", [3, COPY_THRESHOLD + 7])
def test_insert_missing_skips_taken_keys_and_counts(session_factory: sessionmaker[Session], count: int) -> None:
    first = _accounts(count, "bulk")
    with session_factory() as session:
        bulk_insert(session, m.Account, first[: count // 2])
        session.commit()
    with session_factory() as session:
        if session.get_bind().dialect.name != "postgresql":
            pytest.skip("the portable writer inserts every row and lets the unique key refuse the transaction")
        again = [dict(row, id=m.new_id()) for row in first]  # same codes: the first half is taken
        assert bulk_insert_missing(session, m.Account, again, ("code",)) == count - count // 2
        session.commit()
        codes = session.execute(select(func.count()).select_from(m.Account)).scalar_one()
        assert codes == count


@pytest.mark.parametrize("count", [3, COPY_THRESHOLD + 7])
def test_update_keeps_the_optimistic_lock(session_factory: sessionmaker[Session], count: int) -> None:
    rows = _accounts(count, "upd")
    with session_factory() as session:
        bulk_insert(session, m.Account, rows)
        # Every row matches on id and its current name but one, whose name was changed by someone else.
        changes = [(row["id"], row["name"], f"renamed {n}") for n, row in enumerate(rows)]
        changes[0] = (rows[0]["id"], "not what is stored", "lost")
        updated = bulk_update(session, m.Account, ("id", "name"), ("name",), changes)
        session.commit()
        assert updated in (count - 1, None)
        names = dict(session.execute(select(m.Account.id, m.Account.name)).all())
    assert names[str(rows[0]["id"])] == "account 0"
    assert all(names[str(row["id"])] == f"renamed {n}" for n, row in enumerate(rows) if n)


@pytest.mark.parametrize("count", [3, COPY_THRESHOLD + 7])
def test_insert_writes_json_columns_and_nulls_as_given(session_factory: sessionmaker[Session], count: int) -> None:
    """JSON cells (empty lists, lists, null) and plain columns in any order of the row's keys; COPY above the
    threshold on PostgreSQL, executemany below it and on SQLite."""
    table = Table(
        "bulk_json_probe",
        MetaData(),
        Column("id", String(36), primary_key=True),
        Column("codes", JSON),
        Column("note", String(40), nullable=True),
        Column("amount", Integer),
    )
    rows = [
        {
            "note": None if n % 3 == 0 else f"tab\there, back\\slash {n}",
            "codes": [] if n % 2 else [f"M{n}", "25"] if n % 3 else None,
            "amount": n * 100,
            "id": m.new_id(),
        }
        for n in range(count)
    ]
    with session_factory() as session:
        connection = session.connection()
        table.create(connection)
        try:
            bulk_writer(session).insert(connection, table, rows)
            stored = {r.id: r for r in connection.execute(select(table))}
            assert len(stored) == count
            for row in rows:
                got = stored[row["id"]]
                assert (got.codes, got.note, got.amount) == (row["codes"], row["note"], row["amount"])
        finally:
            session.rollback()
