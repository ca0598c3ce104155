"""`carecycle up` (the embedded stack), `carecycle worker --queue NAME` (one task queue's worker), and the other
service processes: `carecycle console`, `carecycle codec-server`; `carecycle deployment` for worker versions."""

from __future__ import annotations

import argparse
import contextlib
import sys
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from workers.cli.args import seconds_per_day
from workers.clock import REAL_TIME

if TYPE_CHECKING:
    from workers.settings import Settings


@contextlib.contextmanager
def temporal_errors() -> Iterator[None]:
    """Turn the infrastructure's expected failures into one line and exit code 1."""
    from workers.cli import CommandFailed
    from workers.hl7 import ListenerStartError
    from workers.prefect_server import PrefectServerError
    from workers.security.codec import PayloadDecryptionError
    from workers.security.keys import CodecKeyError
    from workers.security.stack_secrets import SecretFileError
    from workers.services import ServiceUnavailable
    from workers.stack import ServerStartError
    from workers.temporal.client import TemporalUnavailable
    from workers.temporal.dev_server import DevServerError
    from workers.versioning import VersioningError

    try:
        yield
    except (
        TemporalUnavailable,
        CodecKeyError,
        SecretFileError,
        DevServerError,
        PayloadDecryptionError,
        ServerStartError,
        ListenerStartError,
        PrefectServerError,
        ServiceUnavailable,
        VersioningError,
    ) as exc:
        raise CommandFailed(str(exc)) from None
    except OSError as exc:
        if exc.errno == 98:  # EADDRINUSE from a web server
            raise CommandFailed(f"a port is already in use: {exc.strerror}") from None
        if exc.filename is not None:  # a file or folder that could not be written or read
            raise CommandFailed(f"cannot use {exc.filename}: {exc.strerror or exc}") from None
        raise


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    up = subparsers.add_parser(
        "up",
        help="start the embedded stack (Temporal, store, workers, sandbox, console, FHIR API); Ctrl-C stops it",
        description="Without TEMPORAL_ADDRESS: everything on this machine, state under CARECYCLE_HOME. "
        "With TEMPORAL_ADDRESS (and a PostgreSQL CARECYCLE_DATABASE_URL): only the workers, against them. "
        "A home whose business clock was compressed (by --time-scale) is served only at that speed, and only "
        "when --time-scale says it again (workers.clock); `carecycle demo` keeps its own home.",
    )
    up.add_argument(
        "--time-scale",
        type=seconds_per_day,
        default=None,
        metavar="SECONDS_PER_DAY",
        help="run the business clock and the sandbox compressed: real seconds per business day (as the demo's); "
        "recorded in the home, whose workflows keep that speed",
    )
    up.add_argument("--json", action="store_true", help="say it is up with one JSON object (home, addresses, notes)")
    up.set_defaults(handler=_up, serves=True)
    worker = subparsers.add_parser("worker", help="run the worker of one or more task queues until SIGTERM/SIGINT")
    worker.add_argument(
        "--queue",
        action="append",
        required=True,
        metavar="NAME",
        help="task queue to serve (repeatable): revenue, portal, documents, or all "
        "(edi and collections, merged into revenue, still select it)",
    )
    worker.set_defaults(handler=_worker, serves=True)
    console = subparsers.add_parser(
        "console",
        help="serve the operations console alone on CARECYCLE_CONSOLE_PORT until SIGTERM/SIGINT",
        description="The console as its own process (production: one service). Outside the embedded stack "
        "CARECYCLE_CONSOLE_SESSION_SECRET must be set (every instance signs sessions with it).",
    )
    console.set_defaults(handler=_console, serves=True)
    codec = subparsers.add_parser(
        "codec-server",
        help="serve the payload codec server alone on CARECYCLE_CODEC_SERVER_PORT until SIGTERM/SIGINT",
        description="Temporal's remote codec protocol for the Web UI and the temporal CLI. Outside the embedded stack "
        "CARECYCLE_CODEC_SERVER_TOKEN must be set; browser origins allowed: CARECYCLE_CODEC_CORS_ORIGINS.",
    )
    codec.set_defaults(handler=_codec_server, serves=True)


def _serve_until_signal(component: str, serve: Callable[..., Any], what: str) -> int:
    """Run one service coroutine (settings, stop event, on_ready) until SIGTERM/SIGINT."""
    from workers.runtime import StopSignal

    stop_signal = StopSignal()
    import asyncio

    from workers.logs import configure_logging
    from workers.settings import load_settings

    settings = load_settings()
    configure_logging(component, settings.log_level)

    def ready(url: str) -> None:
        print(f"{what} at {url} (/health, /ready); Ctrl-C or SIGTERM stops it")
        sys.stdout.flush()

    async def main() -> None:
        await serve(settings, stop_signal.event(), ready)

    with temporal_errors():
        asyncio.run(main())
    return 0


def _console(args: argparse.Namespace) -> int:
    from workers.services import run_console

    return _serve_until_signal("console", run_console, "the console")


def _codec_server(args: argparse.Namespace) -> int:
    from workers.services import run_codec_server

    return _serve_until_signal("codec-server", run_codec_server, "the codec server")


def _up(args: argparse.Namespace) -> int:
    from workers.runtime import StopSignal

    stop_signal = StopSignal()
    import asyncio

    from workers.logs import configure_logging
    from workers.settings import load_settings, prepare_home
    from workers.stack import StackInfo, run_stack

    settings = _up_settings(load_settings(), args.time_scale)
    prepare_home(settings, settings.logs_dir)
    configure_logging("stack", settings.log_level)

    def ready(info: StackInfo) -> None:
        if args.json:
            from workers.cli.output import print_json

            print_json(
                {
                    "up": True,
                    "home": str(settings.home),
                    "temporal": info.temporal_target,
                    "urls": info.urls,
                    "notes": info.notes,
                    "business_day_seconds": settings.business_day_seconds,
                }
            )
            sys.stdout.flush()
            return
        print(f"carecycle is up (home {settings.home})")
        if settings.business_day_seconds != REAL_TIME:
            print(f"  business clock {settings.business_day_seconds:g} s per business day (compressed)")
        print(f"  temporal       {info.temporal_target}")
        for name, url in info.urls.items():
            print(f"  {name.replace('_', ' '):<14} {url}")
        for note in info.notes:
            print(f"  {note}")
        print("Press Ctrl-C to stop.")
        sys.stdout.flush()

    async def main() -> None:
        await run_stack(settings, stop_signal.event(), ready)

    with temporal_errors():
        asyncio.run(main())
    if not args.json:
        print("carecycle stopped")
    return 0


def _up_settings(settings: Settings, time_scale: float | None) -> Settings:
    """The settings `up` serves with: the home's business clock checked (workers.clock) and applied."""
    from dataclasses import replace

    from workers.cli import UsageError
    from workers.clock import clock_for_up
    from workers.settings import prepare_home

    if not settings.embedded_temporal:
        if time_scale is not None:
            raise UsageError("--time-scale is for the embedded stack only (TEMPORAL_ADDRESS is set)")
        return settings
    prepare_home(settings)
    day = clock_for_up(settings, time_scale)
    if day == REAL_TIME:
        return replace(settings, business_day_seconds=day)
    return replace(settings, business_day_seconds=day, sandbox_time_scale=day)


def _worker(args: argparse.Namespace) -> int:
    from workers.runtime import StopSignal

    stop_signal = StopSignal()
    import asyncio

    from activities.contracts.queues import TaskQueue, parse_task_queue
    from workers.cli import UsageError
    from workers.composition import Container
    from workers.logs import configure_logging
    from workers.observability import configure_telemetry, serve_worker_observability
    from workers.registry import build_workers
    from workers.runtime import run_workers_until
    from workers.settings import load_settings
    from workers.temporal.client import connect
    from workers.versioning import deployment_config

    names: list[str] = []
    for raw in args.queue:
        if raw == "all":
            names += [q.value for q in TaskQueue]
            continue
        try:
            names.append(parse_task_queue(raw).value)
        except ValueError as exc:
            raise UsageError(str(exc)) from None
    settings = load_settings()
    configure_logging("worker", settings.log_level)
    telemetry = configure_telemetry(settings, "worker")
    container = Container(settings)
    container.require_schema()

    async def main() -> None:
        stop = stop_signal.event()
        client = await connect(settings)
        workers = build_workers(client, container, sorted(set(names)), deployment=deployment_config(settings))
        queues = [w.task_queue for w in workers]
        async with serve_worker_observability(settings, telemetry, client, container, queues):
            await run_workers_until(workers, stop)

    try:
        with temporal_errors():
            asyncio.run(main())
    finally:
        container.close()
    return 0
