"""A real Temporal dev server (free ports, tmp files) with the carecycle workers in-process, for
integration tests of the CLI, the codec and the auditors. Sub-processes get ``env`` to reach the same
server, store and codec keys."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from temporalio.client import Client

from tests.support.environ import OURS, environ_without_ours
from tests.support.ports import free_port as free_port  # the tests and benches take it from here
from workers.composition import Container
from workers.registry import build_workers
from workers.runtime import run_workers_until
from workers.security.keys import new_key_entry
from workers.settings import Settings
from workers.temporal import embedded_stack


@dataclass
class DevStack:
    settings: Settings
    client: Client
    container: Container
    env: dict[str, str] = field(default_factory=dict)


def stack_settings(home: Path, database_url: str, codec_keys: str | None = None, ui: bool = False) -> Settings:
    return Settings(
        home=home,
        database_url=database_url,
        temporal_port=free_port(),
        temporal_ui_port=free_port() if ui else 0,
        codec_keys=codec_keys or new_key_entry("test1"),
        codec_server_port=free_port(),
        console_port=free_port(),
        api_port=free_port(),
        sandbox_port=free_port(),
        hl7_port=free_port(),
        webhooks_port=free_port(),
        metrics_port=free_port(),
        prefect_port=free_port(),
        batch_serve=False,  # Prefect and `batch serve`: tests/integration/test_batch_plane.py
        worker_graceful_shutdown_seconds=2,
    )


def env_for(settings: Settings) -> dict[str, str]:
    env = environ_without_ours()
    env.update(
        CARECYCLE_HOME=str(settings.home),
        CARECYCLE_DATABASE_URL=settings.database_url,
        CARECYCLE_TEMPORAL_PORT=str(settings.temporal_port),
        CARECYCLE_CODEC_KEYS=settings.codec_keys or "",
        CARECYCLE_HL7_PORT=str(settings.hl7_port),
        CARECYCLE_WEBHOOKS_PORT=str(settings.webhooks_port),
        CARECYCLE_METRICS_PORT=str(settings.metrics_port),
        CARECYCLE_PREFECT_PORT=str(settings.prefect_port),
        CARECYCLE_BATCH_SERVE="0",
    )
    return env


@asynccontextmanager
async def dev_stack(home: Path, database_url: str, *, workers: bool = True) -> AsyncIterator[DevStack]:
    settings = stack_settings(home, database_url)
    container = Container(settings)
    async with embedded_stack(settings, ui=False) as temporal:
        stop = asyncio.Event()
        task = None
        if workers:
            task = asyncio.create_task(run_workers_until(build_workers(temporal.client, container), stop))
        try:
            yield DevStack(settings=settings, client=temporal.client, container=container, env=env_for(settings))
        finally:
            stop.set()
            if task is not None:
                await task
            container.close()


@dataclass(frozen=True)
class CliResult:
    returncode: int
    stdout: str
    stderr: str


def run_cli(env: dict[str, str], *args: str) -> CliResult:
    """Run one `carecycle` command in this process (fast; no interpreter start-up) with ``env``'s
    CARECYCLE_/TEMPORAL_ variables. Call it through ``asyncio.to_thread`` from async tests. Exit codes of the
    real executable are covered by the subprocess tests."""
    import contextlib
    import io

    from workers.cli import run

    ours = {k: v for k, v in env.items() if k.startswith(OURS)}
    out, err = io.StringIO(), io.StringIO()
    with _python_environ(ours), contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = run(list(args))
    return CliResult(code, out.getvalue(), err.getvalue())


@contextmanager
def _python_environ(ours: dict[str, str]) -> Iterator[None]:
    """``os.environ`` with ``ours`` as its CARECYCLE_/TEMPORAL_ variables, for as long as the block runs, changed in
    Python's mapping only. ``os.environ[k] = v`` also calls libc's setenv, which may move the process's environment
    while a thread of the Temporal SDK's native core reads it (getenv is not synchronized with a setenv from
    Python): run_cli runs in a thread beside the stack's workers, and a CI run died of SIGSEGV there. What the
    command reads goes through ``os.environ``; the subprocesses the stack starts are given their env explicitly."""
    data = os.environ._data  # type: ignore[attr-defined]  # CPython's mapping behind os.environ, no putenv
    encode, decode = os.environ.encodekey, os.environ.decodekey
    saved = {k: data.pop(k) for k in [k for k in data if decode(k).startswith(OURS)]}
    for key, value in ours.items():
        data[encode(key)] = os.environ.encodevalue(value)
    try:
        yield
    finally:
        for key in [k for k in data if decode(k).startswith(OURS)]:
            del data[key]
        data.update(saved)
