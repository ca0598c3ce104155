"""`carecycle db copy --to postgresql://...`: a practice's SQLite store into an empty PostgreSQL database, in one
transaction, counts compared; `db check` passes on the copy; a non-empty target is refused."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import func, select, text

from domain.models import Base
from domain.store.engine import make_engine
from tests.support.dev_stack import run_cli

pytestmark = pytest.mark.postgres


@pytest.fixture
def empty_postgres(pg_server: object) -> str:
    import uuid

    if pg_server is None:
        pytest.skip("PostgreSQL is not available here")
    name = f"copy_{uuid.uuid4().hex[:10]}"
    admin = make_engine(pg_server.admin_url, isolation_level="AUTOCOMMIT")  # type: ignore[attr-defined]
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return str(pg_server.url(name))  # type: ignore[attr-defined]


def table_counts(url: str) -> dict[str, int]:
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            return {
                t.name: int(connection.execute(select(func.count()).select_from(t)).scalar_one())
                for t in Base.metadata.sorted_tables
            }
    finally:
        engine.dispose()


def test_a_seeded_store_is_copied_whole_and_checks_out(tmp_path: Path, sqlite_url: str, empty_postgres: str) -> None:
    env = {"CARECYCLE_HOME": str(tmp_path / "home"), "CARECYCLE_DATABASE_URL": sqlite_url}
    assert run_cli(env, "db", "seed", "--patients", "40", "--seed", "4").returncode == 0
    # A target migrated already (`db upgrade`) counts as empty: the rows the migrations put there are replaced.
    assert run_cli({**env, "CARECYCLE_DATABASE_URL": empty_postgres}, "db", "upgrade").returncode == 0
    with_password = empty_postgres.replace("postgres@", "postgres:s3cret-pw@")  # the test server trusts local users
    copied = run_cli(env, "db", "copy", "--to", with_password, "--json")
    assert copied.returncode == 0, copied.stderr
    report = json.loads(copied.stdout)
    assert "s3cret-pw" not in copied.stdout + copied.stderr and ":***@" in report["target"]
    source, target = table_counts(sqlite_url), table_counts(empty_postgres)
    assert source == target == report["tables"] and report["rows"] == sum(source.values()) > 100
    checked = run_cli({**env, "CARECYCLE_DATABASE_URL": empty_postgres}, "db", "check", "--json")
    assert checked.returncode == 0, checked.stdout
    assert json.loads(checked.stdout)["ok"] is True

    again = run_cli(env, "db", "copy", "--to", empty_postgres)  # the target now holds the practice
    assert again.returncode == 1
    assert again.stderr.startswith("error: the target store is not empty (") and again.stderr.count("\n") == 1
    assert table_counts(empty_postgres) == target


def test_copy_refuses_its_own_store_and_a_bad_url(tmp_path: Path, sqlite_url: str) -> None:
    env = {"CARECYCLE_HOME": str(tmp_path / "home"), "CARECYCLE_DATABASE_URL": sqlite_url}
    same = run_cli(env, "db", "copy", "--to", sqlite_url)
    assert (same.returncode, same.stderr) == (2, "error: --to names the store being copied\n")
    bad = run_cli(env, "db", "copy", "--to", "not a url")
    assert bad.returncode == 2 and bad.stderr.startswith("error: --to is not a database URL")


def test_rows_that_point_at_rows_of_their_own_table_go_parents_first() -> None:
    from domain.models import Claim
    from domain.store.copy_store import _parents_first

    table = Claim.__table__
    rows = [
        {"id": "c3", "original_claim_id": "c2", "primary_claim_id": None},
        {"id": "c2", "original_claim_id": "c1", "primary_claim_id": None},
        {"id": "c1", "original_claim_id": None, "primary_claim_id": None},
        {"id": "s1", "original_claim_id": None, "primary_claim_id": "c3"},
    ]
    ordered = [row["id"] for row in _parents_first(table, rows)]  # type: ignore[arg-type]
    assert ordered.index("c1") < ordered.index("c2") < ordered.index("c3") < ordered.index("s1")
