"""`carecycle batch ...`: the scheduled batch flows (Prefect), listed or run once now.

In production a scheduler runs `carecycle batch run NAME` (infra/terraform: one EventBridge schedule per
flow); on one machine, cron or a person does.
"""

from __future__ import annotations

import argparse
import dataclasses
from typing import Any

from workers.cli import CommandFailed
from workers.cli.args import int_range, iso_date
from workers.cli.output import print_json, print_table


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from flows.batch import BATCH_FLOWS

    batch = subparsers.add_parser("batch", help="scheduled batch flows (sweeps, reports, file intake): list, run")
    commands = batch.add_subparsers(dest="batch_command", metavar="COMMAND")
    commands.required = True

    listing = commands.add_parser("list", help="the batch flows")
    listing.add_argument("--json", action="store_true", help="print as JSON")
    listing.set_defaults(handler=_list)

    run = commands.add_parser("run", help="run one batch flow now, on Prefect's local server")
    run.add_argument("name", choices=[f.name for f in BATCH_FLOWS], metavar="NAME", help="a flow from `batch list`")
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


def _list(args: argparse.Namespace) -> int:
    from flows.batch import BATCH_FLOWS

    if args.json:
        print_json({"flows": [dataclasses.asdict(f) for f in BATCH_FLOWS]})
    else:
        print_table([(f.name, f.description) for f in BATCH_FLOWS], ["flow", "what it does"])
    return 0


def _run(args: argparse.Namespace) -> int:
    from workers import batch
    from workers.batch import BatchPaths, build_flows, flow_parameters, prefect_local, remittance_poster
    from workers.composition import Container

    container = Container()
    try:
        container.require_schema()
        paths = BatchPaths.of(container.settings)
        from workers.visit_eligibility import wiring

        flows = build_flows(container.session_factory, paths, remittance_poster(), wiring(container))
        parameters = flow_parameters(
            args.name, as_of=args.as_of, within_days=args.within_days, oig_file=args.oig, sam_file=args.sam
        )
        with prefect_local(paths, container.settings.log_level):
            try:
                summary = flows[args.name](**parameters)
            except (CommandFailed, KeyboardInterrupt):
                raise
            except Exception as exc:
                raise CommandFailed(f"batch flow {args.name} failed: {type(exc).__name__}: {exc}") from exc
            finally:
                batch.stop_prefect_local()
    finally:
        container.close()
    payload: dict[str, Any] = {"flow": args.name, **dataclasses.asdict(summary)}
    if args.json:
        print_json(payload)
    else:
        for key, value in payload.items():
            if key != "files":
                print(f"{key}: {value}")
        for outcome in payload.get("files", []):
            state = "posted" if outcome["posted"] else f"FAILED ({outcome['error']})"
            print(f"  {outcome['file']}: {state} -> {outcome['filed_as']}")
    return 0
