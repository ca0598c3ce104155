"""`carecycle up` (the embedded stack) and `carecycle worker --queue NAME` (one task queue's worker)."""

from __future__ import annotations

import argparse
import contextlib
import sys
from collections.abc import Iterator


@contextlib.contextmanager
def temporal_errors() -> Iterator[None]:
    """Turn the infrastructure's expected failures into one line and exit code 1."""
    from workers.cli import CommandFailed
    from workers.hl7 import ListenerStartError
    from workers.security.codec import PayloadDecryptionError
    from workers.security.keys import CodecKeyError
    from workers.security.secrets import SecretFileError
    from workers.stack import ServerStartError
    from workers.temporal.client import TemporalUnavailable
    from workers.temporal.dev_server import DevServerError

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
    ) as exc:
        raise CommandFailed(str(exc)) from None
    except OSError as exc:
        if exc.errno == 98:  # EADDRINUSE from a web server
            raise CommandFailed(f"a port is already in use: {exc.strerror}") from None
        raise


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    up = subparsers.add_parser(
        "up",
        help="start the embedded stack (Temporal, store, workers, sandbox, console, FHIR API); Ctrl-C stops it",
        description="Without TEMPORAL_ADDRESS: everything on this machine, state under CARECYCLE_HOME. "
        "With TEMPORAL_ADDRESS (and a PostgreSQL CARECYCLE_DATABASE_URL): only the workers, against them.",
    )
    up.set_defaults(handler=_up)
    worker = subparsers.add_parser("worker", help="run the worker of one or more task queues until SIGTERM/SIGINT")
    worker.add_argument(
        "--queue",
        action="append",
        required=True,
        metavar="NAME",
        help="task queue to serve (repeatable): revenue, edi, portal, documents, collections, or all",
    )
    worker.set_defaults(handler=_worker)


def _up(args: argparse.Namespace) -> int:
    from workers.runtime import StopSignal

    stop_signal = StopSignal()
    import asyncio

    from workers.logging import configure_logging
    from workers.settings import load_settings
    from workers.stack import StackInfo, run_stack

    settings = load_settings()
    settings.logs_dir.mkdir(parents=True, exist_ok=True)
    configure_logging("stack", settings.log_level)

    def ready(info: StackInfo) -> None:
        print(f"carecycle is up (home {settings.home})")
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
    print("carecycle stopped")
    return 0


def _worker(args: argparse.Namespace) -> int:
    from workers.runtime import StopSignal

    stop_signal = StopSignal()
    import asyncio

    from activities.contracts.queues import TaskQueue, parse_task_queue
    from workers.cli import UsageError
    from workers.composition import Container
    from workers.logging import configure_logging
    from workers.registry import build_workers
    from workers.runtime import run_workers_until
    from workers.settings import load_settings
    from workers.temporal.client import connect

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
    container = Container(settings)
    container.require_schema()

    async def main() -> None:
        stop = stop_signal.event()
        client = await connect(settings)
        workers = build_workers(client, container, sorted(set(names)))
        await run_workers_until(workers, stop)

    try:
        with temporal_errors():
            asyncio.run(main())
    finally:
        container.close()
    return 0
