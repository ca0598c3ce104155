"""`carecycle batch ...`: the batch plane (Prefect): list the flows, run one now, or serve them on their schedules.

`carecycle batch serve` serves every flow of workers.batch_plane as a Prefect deployment with its cron schedule
(against PREFECT_API_URL, or a local Prefect server it starts); `carecycle up` does the same beside the rest of
the stack. `carecycle batch run NAME` runs one flow now, in this process, recorded in the same Prefect history.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from typing import Any

from workers.cli import CommandFailed, at_exit
from workers.cli.args import int_range, iso_date
from workers.cli.output import print_json, print_table


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from workers.batch_plane import BATCH_PLANE

    batch = subparsers.add_parser("batch", help="the batch flows (sweeps, reports, intake, archive): list, run, serve")
    commands = batch.add_subparsers(dest="batch_command", metavar="COMMAND")
    commands.required = True

    listing = commands.add_parser("list", help="the batch flows and their schedules")
    listing.add_argument("--json", action="store_true", help="print as JSON")
    listing.set_defaults(handler=_list)

    run = commands.add_parser("run", help="run one batch flow now (recorded in the Prefect run history)")
    run.add_argument("name", choices=[f.name for f in BATCH_PLANE], metavar="NAME", help="a flow from `batch list`")
    run.add_argument("--as-of", type=iso_date, help="the day to report on (default today, UTC)")
    run.add_argument(
        "--within-days",
        type=int_range(0, 3660),
        help="credential-expiry-sweep: the look-ahead window in days (default 60, at most 3660)",
    )
    run.add_argument("--oig", metavar="FILE", help="exclusion-screening: the OIG LEIE file (UPDATED.csv)")
    run.add_argument("--sam", metavar="FILE", help="exclusion-screening: the SAM exclusions extract")
    run.add_argument("--json", action="store_true", help="print the flow's summary as JSON")
    run.set_defaults(handler=_run)

    serve = commands.add_parser(
        "serve",
        help="serve every batch flow as a Prefect deployment on its schedule, until SIGTERM/SIGINT",
        description="Against PREFECT_API_URL (a Prefect server or Prefect Cloud); without it, a local Prefect server "
        "is started too (UI and API on CARECYCLE_PREFECT_PORT, history under CARECYCLE_HOME/prefect).",
    )
    serve.set_defaults(handler=_serve, serves=True)

    server = commands.add_parser(
        "server",
        help="run a Prefect server (API and UI) in the foreground, for a deployment's batch plane",
        description="The Prefect server as a service of its own (production: prefect_mode = server) on "
        "CARECYCLE_BIND_HOST:CARECYCLE_PREFECT_PORT. On a PostgreSQL store its state goes to a database of its own "
        "beside the store (CARECYCLE_PREFECT_DATABASE, created on first start); otherwise under CARECYCLE_HOME.",
    )
    server.set_defaults(handler=_server, serves=True)


def _list(args: argparse.Namespace) -> int:
    from workers.batch_plane import BATCH_PLANE
    from workers.settings import load_settings

    timezone = load_settings().batch_timezone
    rows = [
        {
            "name": f.name,
            "schedule": f.cron,
            "timezone": timezone if f.cron else None,
            "description": f.info.description,
        }
        for f in BATCH_PLANE
    ]
    if args.json:
        print_json({"flows": rows})
    else:
        print_table(
            [
                (r["name"], f"{r['schedule']} ({timezone})" if r["schedule"] else "on demand", r["description"])
                for r in rows
            ],
            ["flow", "schedule", "what it does"],
        )
    return 0


def _run(args: argparse.Namespace) -> int:
    from workers import batch
    from workers.batch import BatchPaths, prefect_local
    from workers.batch_plane import BatchContext, batch_flow, flow_parameters
    from workers.composition import Container
    from workers.prefect_server import api_for_command

    container = Container()
    try:
        container.require_schema()
        settings = container.settings
    finally:
        container.close()
    flow = batch_flow(args.name).build(BatchContext(settings))
    if flow is None:
        raise CommandFailed(f"{args.name} cannot run in this build (a part it needs is not installed)")
    parameters = flow_parameters(
        flow, as_of=args.as_of, within_days=args.within_days, oig_file=args.oig, sam_file=args.sam
    )
    api_url = api_for_command(settings)
    with prefect_local(BatchPaths.of(settings), settings.log_level, api_url):
        try:
            summary = flow(**parameters)
        except (CommandFailed, KeyboardInterrupt):
            raise
        except Exception as exc:
            raise CommandFailed(f"batch flow {args.name} failed: {type(exc).__name__}: {exc}") from exc
        finally:
            if api_url is None:  # Prefect's ephemeral server: stopped when the process ends
                at_exit(batch.stop_prefect_local)
    payload: dict[str, Any] = {"flow": args.name, **dataclasses.asdict(summary)}
    if args.json:
        print_json(payload)
        return 0
    for key, value in payload.items():
        if key != "files":
            print(f"{key}: {value}")
    for outcome in payload.get("files", []):
        state = "posted" if outcome["posted"] else f"FAILED ({outcome['error']})"
        print(f"  {outcome['file']}: {state} -> {outcome['filed_as']}")
    return 0


def _serve(args: argparse.Namespace) -> int:
    from workers.batch_plane import run_serve
    from workers.composition import Container
    from workers.logs import configure_logging
    from workers.prefect_server import PrefectServerError

    container = Container()
    try:
        container.require_schema()
    finally:
        container.close()
    settings = container.settings
    configure_logging("batch", settings.log_level)

    def ready(where: str) -> None:
        print(f"serving the batch flows as Prefect deployments ({where})")
        sys.stdout.flush()

    try:
        run_serve(settings, on_ready=ready)
    except PrefectServerError as exc:
        raise CommandFailed(str(exc)) from None
    except KeyboardInterrupt:
        pass
    return 0


def _server(args: argparse.Namespace) -> int:
    import os

    from workers.prefect_server import ensure_prefect_database, server_command
    from workers.settings import load_settings

    settings = load_settings()
    if ensure_prefect_database(settings):
        print(f"created the Prefect database {settings.prefect_database} beside the store")
    command, env = server_command(settings)
    print(f"Prefect server on http://{settings.bind_host}:{settings.prefect_port} (UI and API)")
    sys.stdout.flush()
    # The server takes this process over (signals reach it directly); the command is ours, not user input.
    os.execve(command[0], command, env)  # noqa: S606
