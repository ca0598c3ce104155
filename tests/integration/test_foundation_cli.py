"""The foundation's commands as a user runs them: real processes, exit codes, one-line errors, both stores."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support import postgres

CARECYCLE = str(Path(sys.executable).parent / "carecycle")


def run(home: Path, *args: str, database_url: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "CARECYCLE_HOME": str(home)}
    env.pop("CARECYCLE_DATABASE_URL", None)
    if database_url:
        env["CARECYCLE_DATABASE_URL"] = database_url
    return subprocess.run([CARECYCLE, *args], env=env, capture_output=True, text=True, timeout=300, check=False)


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest, pg_server: postgres.PostgresServer | None) -> str | None:
    if request.param == "sqlite":
        return None
    if pg_server is None:
        pytest.skip("PostgreSQL is not available here")
    import uuid

    from sqlalchemy import text

    from domain.store.engine import make_engine

    name = f"cli_{uuid.uuid4().hex[:10]}"
    admin = make_engine(pg_server.admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return pg_server.url(name)


def test_help_lists_the_commands(tmp_path: Path) -> None:
    result = run(tmp_path, "--help")
    assert result.returncode == 0
    for command in ("db", "patients"):
        assert command in result.stdout


def test_upgrade_seed_check_list(tmp_path: Path, database_url: str | None) -> None:
    assert run(tmp_path, "db", "upgrade", database_url=database_url).returncode == 0
    seeded = run(
        tmp_path,
        "db",
        "seed",
        "--patients",
        "25",
        "--seed",
        "3",
        "--as-of",
        "2026-02-01",
        "--json",
        database_url=database_url,
    )
    assert seeded.returncode == 0, seeded.stderr
    summary = json.loads(seeded.stdout)
    assert summary["patients"] == 25 and summary["seed"] == 3 and summary["claims"] > 0
    check = run(tmp_path, "db", "check", "--json", database_url=database_url)
    assert check.returncode == 0, check.stdout
    assert json.loads(check.stdout)["ok"] is True
    listing = run(tmp_path, "patients", "list", "--json", "--limit", "10", database_url=database_url)
    assert listing.returncode == 0
    body = json.loads(listing.stdout)
    assert body["total"] == 25 and len(body["patients"]) == 10
    assert body["patients"][0]["account_number"] == "P00000001"
    text_listing = run(tmp_path, "patients", "list", "--limit", "3", database_url=database_url)
    assert text_listing.returncode == 0 and "3 of 25 patients" in text_listing.stdout
    # Seeding again into the same store is refused with one line, and changes nothing.
    again = run(tmp_path, "db", "seed", "--patients", "5", database_url=database_url)
    assert again.returncode == 1
    assert again.stderr.count("\n") == 1 and "already holds a practice" in again.stderr
    assert json.loads(run(tmp_path, "patients", "list", "--json", database_url=database_url).stdout)["total"] == 25


def test_same_seed_gives_the_same_patients(tmp_path: Path) -> None:
    lists = []
    for name in ("a", "b"):
        home = tmp_path / name
        assert run(home, "db", "upgrade").returncode == 0
        assert run(home, "db", "seed", "--patients", "8", "--seed", "42", "--as-of", "2026-02-01").returncode == 0
        patients = json.loads(run(home, "patients", "list", "--json").stdout)["patients"]
        lists.append(patients)
    assert lists[0] == lists[1]


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["db", "seed", "--patients", "-5"], 2, "must be a whole number from 0 to 100000"),
        (["db", "seed", "--patients", "many"], 2, "not a whole number"),
        (["db", "frobnicate"], 2, "invalid choice"),
        (["nonsense"], 2, "invalid choice"),
        (["patients", "list"], 1, "run `carecycle db upgrade`"),
        (["db", "check"], 1, "run `carecycle db upgrade`"),
    ],
)
def test_user_mistakes_get_one_line_and_an_exit_code(tmp_path: Path, args: list[str], code: int, message: str) -> None:
    result = run(tmp_path, *args)
    assert result.returncode == code
    assert message in result.stderr
    assert result.stderr.count("\n") == 1, result.stderr
    assert "Traceback" not in result.stderr


def test_unreachable_postgres_is_one_line(tmp_path: Path) -> None:
    result = run(tmp_path, "db", "upgrade", database_url="postgresql://nobody@127.0.0.1:1/none")
    assert result.returncode == 1
    assert result.stderr.startswith("error: the store cannot be used")
    assert result.stderr.count("\n") == 1
