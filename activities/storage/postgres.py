"""PostgreSQL's own bulk path for the domain's bulk writes: ``COPY ... FROM STDIN`` through the driver.

Inserts are one COPY per table. Updates COPY the new values into a temporary table (dropped at commit) and apply
them with one ``UPDATE ... FROM``, matching on the caller's columns, so an optimistic lock (``version_id``) holds
as it does row by row. Small batches go through the portable writer: below ``COPY_THRESHOLD`` rows a plain
executemany is as quick.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from operator import itemgetter
from typing import Any

from sqlalchemy import JSON, Connection, Table
from sqlalchemy.dialects import postgresql

from domain.store.bulk import PORTABLE

COPY_THRESHOLD = 50


def _driver(connection: Connection) -> Any:
    driver = connection.connection.driver_connection
    if driver is None:  # pragma: no cover - a pooled connection always has one
        raise RuntimeError("the connection has no driver connection")
    return driver


class PostgresCopyWriter:
    def insert(self, connection: Connection, table: Table, rows: Sequence[dict[str, Any]]) -> None:
        if len(rows) < COPY_THRESHOLD:
            PORTABLE.insert(connection, table, rows)
            return
        with _driver(connection).cursor() as cursor:
            self._copy(cursor, table.name, table, list(rows[0]), rows)

    @staticmethod
    def _copy(cursor: Any, target: str, table: Table, columns: list[str], rows: Sequence[dict[str, Any]]) -> None:
        as_json = [position for position, name in enumerate(columns) if isinstance(table.c[name].type, JSON)]
        values = itemgetter(*columns) if len(columns) > 1 else (lambda row: (row[columns[0]],))
        with cursor.copy(f"COPY {target} ({', '.join(columns)}) FROM STDIN") as copy:
            write_row = copy.write_row
            if as_json:
                for row in rows:
                    cells = list(values(row))
                    for position in as_json:
                        if (cell := cells[position]) is not None:
                            cells[position] = "[]" if cell == [] else json.dumps(cell)
                    write_row(cells)
            else:
                for row in rows:
                    write_row(values(row))

    def insert_missing(
        self, connection: Connection, table: Table, rows: Sequence[dict[str, Any]], unique: Sequence[str]
    ) -> int | None:
        if not rows:
            return 0
        if len(rows) < COPY_THRESHOLD:
            statement = postgresql.insert(table).on_conflict_do_nothing(index_elements=list(unique))
            return len(connection.execute(statement.returning(table.c[unique[0]]), list(rows)).all())
        columns = list(rows[0])
        scratch = f"bulk_insert_{table.name}"
        with _driver(connection).cursor() as cursor:
            cursor.execute(f"DROP TABLE IF EXISTS {scratch}")
            cursor.execute(f"CREATE TEMPORARY TABLE {scratch} (LIKE {table.name} INCLUDING DEFAULTS) ON COMMIT DROP")
            self._copy(cursor, scratch, table, columns, rows)
            names = ", ".join(columns)
            cursor.execute(
                f"INSERT INTO {table.name} ({names}) SELECT {names} FROM {scratch} "
                f"ON CONFLICT ({', '.join(unique)}) DO NOTHING"
            )
            return int(cursor.rowcount)

    def update(
        self,
        connection: Connection,
        table: Table,
        match: Sequence[str],
        values: Sequence[str],
        rows: Sequence[Sequence[Any]],
    ) -> int | None:
        if len(rows) < COPY_THRESHOLD:
            return PORTABLE.update(connection, table, match, values, rows)
        dialect = connection.dialect
        scratch = f"bulk_update_{table.name}"
        names = [f"m_{name}" for name in match] + [f"v_{name}" for name in values]
        types = [table.c[name].type.compile(dialect=dialect) for name in [*match, *values]]
        columns = ", ".join(f"{name} {kind}" for name, kind in zip(names, types, strict=True))
        assignments = ", ".join(f"{name} = u.v_{name}" for name in values)
        conditions = " AND ".join(f"{table.name}.{name} = u.m_{name}" for name in match)
        with _driver(connection).cursor() as cursor:
            cursor.execute(f"DROP TABLE IF EXISTS {scratch}")
            cursor.execute(f"CREATE TEMPORARY TABLE {scratch} ({columns}) ON COMMIT DROP")
            with cursor.copy(f"COPY {scratch} ({', '.join(names)}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
            cursor.execute(f"UPDATE {table.name} SET {assignments} FROM {scratch} u WHERE {conditions}")
            return int(cursor.rowcount)
