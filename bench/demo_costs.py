"""What a finished demo's practice cost, per claim: Temporal (executions, workflow tasks, history events, Temporal
Cloud's billable Actions, by workflow type), the domain store (rows by table, bytes) and the documents it wrote.

    .venv/bin/carecycle demo --patients 100 --auto-resolve --home /tmp/demo100
    .venv/bin/python bench/demo_costs.py --home /tmp/demo100 [--json]

It copies the demo's Temporal state file, starts a dev server on the copy (no workers: nothing moves), reads every
workflow's history through bench/_costs.py, and reads the store's SQLite file read-only. These are the measured
inputs of docs/capacity.md. Not a benchmark of speed: no ratio here, counts only.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sqlite3
import sys
import tempfile
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from temporalio.client import Client

from bench._costs import history_costs
from workers.temporal.dev_server import DevServer


async def temporal_costs(home: Path) -> dict[str, Counter[str]]:
    """Costs by workflow type over every workflow in the demo's Temporal state (a copy of it)."""
    from tests.support.dev_stack import free_port

    by_type: dict[str, Counter[str]] = defaultdict(Counter)
    with tempfile.TemporaryDirectory() as tmp:
        copy = Path(tmp) / "temporal.db"
        source = sqlite3.connect(f"file:{home / 'temporal.db'}?mode=ro", uri=True)
        target = sqlite3.connect(copy)
        source.backup(target)  # the WAL's pages too
        source.close()
        target.close()
        async with DevServer(db_file=copy, port=free_port(), ui_port=None) as server:
            client = await Client.connect(server.target)
            executions = [(e.id, e.run_id, e.workflow_type) async for e in client.list_workflows()]
            gate = asyncio.Semaphore(16)

            async def one(workflow_id: str, run_id: str | None, kind: str) -> None:
                async with gate:
                    history = await client.get_workflow_handle(workflow_id, run_id=run_id).fetch_history()
                costs = history_costs(list(history.events))
                costs["executions"] += 1
                by_type[kind] += costs

            await asyncio.gather(*(one(*execution) for execution in executions))
    return dict(by_type)


def store_costs(home: Path) -> tuple[Counter[str], int, int, int]:
    """Rows by table, the file's bytes (with its WAL), claims, patients."""
    path = home / "carecycle.db"
    connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    tables = [name for (name,) in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
    rows = Counter({t: connection.execute(f'SELECT count(*) FROM "{t}"').fetchone()[0] for t in tables})
    claims = connection.execute("SELECT count(*) FROM claims").fetchone()[0]
    patients = connection.execute("SELECT count(*) FROM patients").fetchone()[0]
    connection.close()
    size = sum(p.stat().st_size for p in home.glob("carecycle.db*"))
    return rows, size, claims, patients


def postgres_costs(home: Path) -> tuple[int, dict[str, int]]:
    """The demo's store copied into a throwaway PostgreSQL 15 (migrated schema, every row, then VACUUM ANALYZE):
    the bytes the rows added to a migrated empty database, and each table's (with its indexes and TOAST)."""
    from sqlalchemy import create_engine, insert, select, text

    from domain.models import Base
    from domain.store.engine import make_engine
    from domain.store.migrate import upgrade
    from tests.support import postgres

    server = postgres.start()
    try:
        with create_engine(server.admin_url, isolation_level="AUTOCOMMIT").connect() as admin:
            admin.execute(text("CREATE DATABASE capacity"))
            admin.execute(text("CREATE DATABASE migrated_empty"))
        empty_engine = make_engine(server.url("migrated_empty"))
        upgrade(empty_engine)
        empty_engine.dispose()
        source = make_engine(f"sqlite:///{home / 'carecycle.db'}")
        target = make_engine(server.url("capacity"))
        upgrade(target)
        with source.connect() as reading, target.begin() as writing:
            for table in Base.metadata.sorted_tables:
                writing.execute(table.delete())  # rows a migration seeded come again from the source
            for table in Base.metadata.sorted_tables:
                rows = [dict(row._mapping) for row in reading.execute(select(table))]
                if rows:
                    writing.execute(insert(table), rows)
        with create_engine(server.url("capacity"), isolation_level="AUTOCOMMIT").connect() as connection:
            connection.execute(text("VACUUM ANALYZE"))
            total = int(connection.execute(text("SELECT pg_database_size('capacity')")).scalar_one())
            empty = int(connection.execute(text("SELECT pg_database_size('migrated_empty')")).scalar_one())
            tables = {
                name: int(size)
                for name, size in connection.execute(
                    text(
                        "SELECT relname, pg_total_relation_size(relid) FROM pg_stat_user_tables "
                        "ORDER BY 2 DESC LIMIT 12"
                    )
                )
            }
        source.dispose()
        target.dispose()
        return total - empty, tables
    finally:
        server.stop()


def document_costs(home: Path) -> tuple[Counter[str], int]:
    """Documents by top folder (their metadata sidecars left out) and their bytes."""
    root = home / "documents"
    kinds: Counter[str] = Counter()
    size = 0
    for path in root.rglob("*") if root.exists() else []:
        if path.is_file() and ".meta" not in path.relative_to(root).parts:
            kinds[path.relative_to(root).parts[0]] += 1
            size += path.stat().st_size
    return kinds, size


def report(home: Path, as_json: bool, postgres: bool) -> dict[str, Any]:
    by_type = asyncio.run(temporal_costs(home))
    rows, store_bytes, claims, patients = store_costs(home)
    documents, document_bytes = document_costs(home)
    pg_bytes, pg_tables = postgres_costs(home) if postgres else (0, {})
    total: Counter[str] = Counter()
    for costs in by_type.values():
        total += costs
    result = {
        "claims": claims,
        "patients": patients,
        "temporal_total": dict(total),
        "temporal_by_type": {kind: dict(costs) for kind, costs in sorted(by_type.items())},
        "store_rows": sum(rows.values()),
        "store_rows_by_table": dict(rows.most_common()),
        "store_bytes": store_bytes,
        "documents": dict(documents),
        "document_bytes": document_bytes,
        "postgres_bytes": pg_bytes,
        "postgres_bytes_by_table": pg_tables,
    }
    if as_json:
        print(json.dumps(result, indent=2))
        return result
    print(f"{patients} patients, {claims} claims (primary and secondary)")
    print(f"{'per claim':<40}{'value':>10}")
    for key in ["executions", "workflow_tasks", "events", "history_bytes", "actions"]:
        print(f"  temporal {key:<31}{total[key] / claims:>10.1f}")
    for key in sorted(k for k in total if k.startswith("action.")):
        print(f"    {key:<36}{total[key] / claims:>10.1f}")
    print(f"  store rows{'':<30}{sum(rows.values()) / claims:>10.1f}")
    print(f"  store bytes (SQLite file){'':<15}{store_bytes / claims:>10.0f}")
    if postgres:
        print(f"  PostgreSQL bytes (tables, indexes){'':<6}{pg_bytes / claims:>10.0f}")
    print(f"  documents{'':<31}{sum(documents.values()) / claims:>10.2f}")
    print(f"  document bytes{'':<26}{document_bytes / claims:>10.0f}")
    print("actions by workflow type (all of them, per claim):")
    for kind, costs in sorted(by_type.items(), key=lambda kv: -kv[1]["actions"]):
        print(f"  {kind:<38}{costs['actions'] / claims:>10.1f}   ({costs['executions']} executions)")
    print("store rows by table (per claim, largest first):")
    for table, count in rows.most_common(12):
        print(f"  {table:<38}{count / claims:>10.2f}")
    if postgres:
        print("PostgreSQL bytes by table (per claim, largest first):")
        for table, size in pg_tables.items():
            print(f"  {table:<38}{size / claims:>10.0f}")
    return result


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--home", type=Path, required=True, help="a finished demo's home (carecycle demo --home)")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--postgres", action="store_true", help="also copy the store into PostgreSQL and size it")
    arguments = parser.parse_args()
    report(arguments.home.resolve(), arguments.json, arguments.postgres)
