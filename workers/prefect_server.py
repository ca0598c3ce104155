"""Prefect for the batch plane: the long-lived local Prefect server of the embedded stack, the Prefect server as
a service of its own (``carecycle batch server``), and which API a command talks to.

Embedded (no ``PREFECT_API_URL``): ``prefect server start`` as a child process on ``CARECYCLE_PREFECT_PORT``
(default 4200, UI and API), its state in SQLite under ``$CARECYCLE_HOME/prefect`` (so the run history survives
restarts), started in its own session and stopped (its whole process group) with the stack. Production sets
``PREFECT_API_URL`` to a Prefect server service or Prefect Cloud (with ``PREFECT_API_KEY``) and starts none.

``carecycle batch server`` (the production Prefect server, infra/terraform ``prefect_mode = server``) keeps
Prefect's state beside the store: on a PostgreSQL store, in a database of its own on the same server
(``CARECYCLE_PREFECT_DATABASE``, created on first start, reached with the store's credentials); on SQLite, under
``$CARECYCLE_HOME/prefect``.

A one-off command (``carecycle batch run``) uses, in this order: the configured API, the local server when it is
answering, or Prefect's ephemeral in-process server over the same SQLite file (the history is the same).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import IO

from workers.settings import Settings

STARTUP_TIMEOUT_SECONDS = 180.0  # its first start migrates a new database: slow on a busy machine


class PrefectServerError(Exception):
    """The local Prefect server did not start (the message says where its log is)."""


def prefect_home(settings: Settings) -> Path:
    return settings.home / "prefect"


def local_api_url(settings: Settings) -> str:
    return f"http://{settings.bind_host}:{settings.prefect_port}/api"


def local_ui_url(settings: Settings) -> str:
    return f"http://{settings.bind_host}:{settings.prefect_port}"


def prefect_environment(settings: Settings, api_url: str | None) -> dict[str, str]:
    """The variables a Prefect process of this installation runs with (its home under CARECYCLE_HOME, no
    analytics, this API); the caller's own PREFECT_API_KEY and the like pass through."""
    env = {
        "PREFECT_HOME": str(prefect_home(settings)),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_LOGGING_LEVEL": settings.log_level.upper(),
        "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": str(int(STARTUP_TIMEOUT_SECONDS)),
    }
    if api_url:
        env["PREFECT_API_URL"] = api_url
    return env


def answering(api_url: str, timeout: float = 1.0) -> bool:
    try:
        with urllib.request.urlopen(f"{api_url}/health", timeout=timeout) as response:  # noqa: S310 (our own URL)
            return bool(response.status == 200)
    except OSError:
        return False


def api_for_command(settings: Settings) -> str | None:
    """The API a one-off command records its runs in; None: the ephemeral server over the local database."""
    if settings.prefect_api_url:
        return settings.prefect_api_url
    local = local_api_url(settings)
    # A busy machine answers slowly: a missed answer would record the run through the ephemeral server instead.
    return local if answering(local, timeout=5.0) else None


async def wait_answering(api_url: str, timeout: float = STARTUP_TIMEOUT_SECONDS) -> bool:
    """Wait until the API answers (a server started beside this process may still be migrating)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if await asyncio.to_thread(answering, api_url):
            return True
        await asyncio.sleep(1.0)
    return False


class LocalPrefectServer:
    """``prefect server start`` as a child process in its own session."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.api_url = local_api_url(settings)
        self.ui_url = local_ui_url(settings)
        self.log_file = settings.logs_dir / "prefect-server.log"
        self._process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    def command(self) -> list[str]:
        return server_command(self.settings)[0]

    def start(self) -> None:
        prefect_home(self.settings).mkdir(parents=True, exist_ok=True)
        self.log_file.parent.mkdir(parents=True, exist_ok=True)
        if answering(self.api_url):
            raise PrefectServerError(f"a Prefect server already answers on {self.api_url}: is the port taken?")
        self._log = self.log_file.open("ab")
        env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
        env.update(prefect_environment(self.settings, None))
        self._process = subprocess.Popen(
            self.command(),
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,  # Ctrl-C reaches the stack first; the stack stops it
        )

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process else None

    async def wait_ready(self, timeout: float = STARTUP_TIMEOUT_SECONDS) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._process is not None and self._process.poll() is not None:
                raise PrefectServerError(
                    f"the Prefect server exited with code {self._process.returncode}; see {self.log_file}"
                )
            if await asyncio.to_thread(answering, self.api_url):
                return
            await asyncio.sleep(0.5)
        raise PrefectServerError(f"the Prefect server did not answer on {self.api_url} within {timeout:.0f}s")

    def stop(self, grace: float = 15.0) -> None:
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            # The server runs uvicorn and its services in child processes: stop the whole group.
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(grace)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        if self._log is not None:
            self._log.close()
            self._log = None


# --- the Prefect server as a service ---------------------------------------------------------------------------


def server_database_environment(settings: Settings) -> dict[str, str]:
    """Where ``carecycle batch server`` keeps Prefect's state: beside a PostgreSQL store, or SQLite under home."""
    from sqlalchemy.engine import make_url

    url = make_url(settings.database_url)
    if url.get_backend_name() != "postgresql":
        return {}
    ssl = url.query.get("sslmode") in ("require", "verify-ca", "verify-full")
    prefect_url = url.set(drivername="postgresql+asyncpg", database=settings.prefect_database, query={})
    env = {"PREFECT_SERVER_DATABASE_CONNECTION_URL": prefect_url.render_as_string(hide_password=False)}
    if ssl:
        env["PREFECT_SERVER_DATABASE_SQLALCHEMY_CONNECT_ARGS_TLS_ENABLED"] = "true"
    return env


def ensure_prefect_database(settings: Settings) -> bool:
    """Create Prefect's database beside a PostgreSQL store when it is missing; True when one was created."""
    from sqlalchemy import text
    from sqlalchemy.engine import make_url

    from domain.store.engine import make_engine

    if make_url(settings.database_url).get_backend_name() != "postgresql":
        return False
    engine = make_engine(settings.database_url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as connection:
            exists = connection.execute(
                text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": settings.prefect_database}
            ).first()
            if exists:
                return False
            quoted = connection.dialect.identifier_preparer.quote(settings.prefect_database)
            connection.execute(text(f"CREATE DATABASE {quoted}"))
            return True
    finally:
        engine.dispose()


def server_command(settings: Settings) -> tuple[list[str], dict[str, str]]:
    """``prefect server start`` on CARECYCLE_BIND_HOST:CARECYCLE_PREFECT_PORT, and its environment."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CARECYCLE_")}
    env.update(prefect_environment(settings, None))
    env.pop("PREFECT_API_URL", None)  # the server is the API; a URL set for clients must not confuse it
    env.update(server_database_environment(settings))
    command = [
        sys.executable,
        "-m",
        "prefect",
        "server",
        "start",
        "--host",
        settings.bind_host,
        "--port",
        str(settings.prefect_port),
    ]
    return command, env


class BatchServeProcess:
    """``carecycle batch serve`` as a child process of the embedded stack, against its local Prefect server, with
    the stack's settings (the ones a child must share: home, store, Temporal, codec keys) and no probes of its own
    (the stack's are the ones); stopped with its whole process group (its flow runs are processes too)."""

    def __init__(self, settings: Settings, api_url: str) -> None:
        self.settings = settings
        self.api_url = api_url
        self._process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    def environment(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update(
            CARECYCLE_HOME=str(self.settings.home),
            CARECYCLE_DATABASE_URL=self.settings.database_url,
            CARECYCLE_BIND_HOST=self.settings.bind_host,
            CARECYCLE_TEMPORAL_PORT=str(self.settings.temporal_port),
            CARECYCLE_METRICS_PORT="0",
            PREFECT_API_URL=self.api_url,
        )
        if self.settings.codec_keys:
            env["CARECYCLE_CODEC_KEYS"] = self.settings.codec_keys
        return env

    def start(self) -> None:
        self.settings.logs_dir.mkdir(parents=True, exist_ok=True)
        self._log = (self.settings.logs_dir / "batch.log").open("ab")
        self._process = subprocess.Popen(
            [sys.executable, "-c", "from workers.cli import main; main()", "batch", "serve"],
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            env=self.environment(),
            start_new_session=True,
        )

    def stop(self, grace: float = 20.0) -> None:
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(grace)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        if self._log is not None:
            self._log.close()
            self._log = None
