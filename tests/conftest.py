"""Shared fixtures: a fresh, migrated store per test on SQLite and on a real PostgreSQL server."""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session, sessionmaker
from temporalio.testing import WorkflowEnvironment

from domain.store.engine import make_engine, make_session_factory
from domain.store.migrate import upgrade
from domain.store.uow import UnitOfWork
from tests.support import postgres

BACKENDS = ["sqlite", "postgres"]


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """The pure unit tests run first, before any test starts a server, a worker or a Prefect client.

    They fail fast that way, and their property tests stay undisturbed: Hypothesis checks the global ``random``
    state around every draw and calls a change "random used inside a strategy", a change that a background thread
    left behind by an integration test (a client reconnecting with jitter) makes at any moment (seen once in a
    full run, in tests/unit/x12/test_fuzz.py). The order within each group is kept.
    """
    unit = [item for item in items if item.nodeid.startswith("tests/unit/")]
    if unit and len(unit) < len(items):
        rest = [item for item in items if not item.nodeid.startswith("tests/unit/")]
        items[:] = unit + rest


@pytest.fixture(scope="session")
def pg_server() -> Iterator[postgres.PostgresServer | None]:
    if os.environ.get("CARECYCLE_SKIP_POSTGRES") == "1" or not postgres.available():
        if os.environ.get("CI"):
            pytest.fail("PostgreSQL 15 is not installed: the test command must install it")
        yield None
        return
    server = postgres.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def _sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "template.db"
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    engine.dispose()
    return path


@pytest.fixture(scope="session")
def _pg_template(pg_server: postgres.PostgresServer | None) -> str | None:
    if pg_server is None:
        return None
    admin = make_engine(pg_server.admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text("CREATE DATABASE carecycle_template"))
    admin.dispose()
    engine = make_engine(pg_server.url("carecycle_template"))
    upgrade(engine)
    engine.dispose()
    return "carecycle_template"


def _fresh_url(
    backend: str,
    tmp_path: Path,
    sqlite_template: Path,
    pg_server: postgres.PostgresServer | None,
    pg_template: str | None,
) -> str:
    if backend == "sqlite":
        path = tmp_path / "store.db"
        shutil.copy(sqlite_template, path)
        return f"sqlite:///{path}"
    if pg_server is None or pg_template is None:
        pytest.skip("PostgreSQL is not available here")
    return _new_pg_database(pg_server, template=pg_template)


def _new_pg_database(pg_server: postgres.PostgresServer, template: str | None = None) -> str:
    """The URL of a new database on the test server: a copy of ``template``, or empty (no schema) without one."""
    name = f"t_{uuid.uuid4().hex[:12]}"
    copy_of = f" TEMPLATE {template}" if template else ""
    admin = make_engine(pg_server.admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"{copy_of}'))
    admin.dispose()
    return pg_server.url(name)


@pytest.fixture(params=BACKENDS)
def store_url(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    _sqlite_template: Path,
    pg_server: postgres.PostgresServer | None,
    _pg_template: str | None,
) -> str:
    """The URL of a fresh, migrated, empty store: each test runs once on SQLite and once on PostgreSQL."""
    return _fresh_url(request.param, tmp_path, _sqlite_template, pg_server, _pg_template)


@pytest.fixture(params=BACKENDS)
def engine_at_revision(
    request: pytest.FixtureRequest, tmp_path: Path, pg_server: postgres.PostgresServer | None
) -> Iterator[Callable[[str], Engine]]:
    """A factory of stores migrated only up to an older alembic revision, for a migration's carry-over tests.

    ``engine_at_revision("0001")`` is an engine on a new store at revision 0001: the test writes rows the old way,
    upgrades, and looks. Each test runs once on SQLite and once on PostgreSQL; the engines are disposed after it."""
    backend = request.param
    if backend == "postgres" and pg_server is None:
        pytest.skip("PostgreSQL is not available here")
    engines: list[Engine] = []

    def at(revision: str) -> Engine:
        if pg_server is not None and backend == "postgres":
            url = _new_pg_database(pg_server)
        else:
            url = f"sqlite:///{tmp_path / f'old-{len(engines)}.db'}"
        engine = make_engine(url)
        engines.append(engine)
        upgrade(engine, revision)
        return engine

    yield at
    for engine in engines:
        engine.dispose()


@pytest.fixture
def sqlite_url(tmp_path: Path, _sqlite_template: Path) -> str:
    """A fresh, migrated SQLite store only (for tests that are about something else than the store)."""
    path = tmp_path / "store.db"
    shutil.copy(_sqlite_template, path)
    return f"sqlite:///{path}"


@pytest.fixture
def engine(store_url: str) -> Iterator[Engine]:
    eng = make_engine(store_url)
    yield eng
    eng.dispose()


@pytest.fixture
def session_factory(engine: Engine) -> sessionmaker[Session]:
    from activities.storage import bulk_writer_for

    return make_session_factory(engine, bulk_writer=bulk_writer_for(engine))


@pytest.fixture
def uow(session_factory: sessionmaker[Session]) -> UnitOfWork:
    return UnitOfWork(session_factory)


@pytest.fixture
def carecycle_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty CARECYCLE_HOME for CLI tests; the database URL is left to each test."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("CARECYCLE_HOME", str(home))
    monkeypatch.delenv("CARECYCLE_DATABASE_URL", raising=False)
    return home


@pytest.fixture
async def time_skipping_env() -> AsyncIterator[WorkflowEnvironment]:
    """A time-skipping test server per test (it starts in about 0.1 s).

    One server for the whole session let every test's leftover timers (reminders, polls, escalations of the
    workflows a test leaves running) pull the shared clock forward: decades ahead by the end, and the server fails
    past 2106, when its seconds leave 32 bits. A fresh clock per test keeps each test at today's date."""
    from tests.support.temporal import start_time_skipping_server
    from workers.temporal.search_attributes import ensure_search_attributes

    env = await start_time_skipping_server()
    await ensure_search_attributes(env.client)  # workflows upsert Stage, WorkQueue, ...: register them all
    yield env
    await env.shutdown()
