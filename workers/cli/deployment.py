"""`carecycle deployment ...`: the worker deployment's versions (worker versioning): see them, promote one.

A release: start workers of the new build (CARECYCLE_BUILD_ID) beside the old ones, `promote BUILD --ramp 10`
to send it a tenth of new work, then `promote BUILD` to make it current; roll back by promoting the old build.
See docs/deployment.md ("Rolling out a release").
"""

from __future__ import annotations

import argparse
import dataclasses

from workers.cli.args import float_range
from workers.cli.output import print_json


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    deployment = subparsers.add_parser("deployment", help="worker versions (worker versioning): status, promote")
    commands = deployment.add_subparsers(dest="deployment_command", metavar="COMMAND")
    commands.required = True
    status = commands.add_parser("status", help="the current and ramping build ids and every version seen")
    status.add_argument("--deployment", help="deployment name (default CARECYCLE_WORKER_DEPLOYMENT, or carecycle)")
    status.add_argument("--json", action="store_true", help="print as JSON")
    status.set_defaults(handler=_status)
    promote = commands.add_parser("promote", help="make a build current (or ramp it to a share of new work)")
    promote.add_argument("build_id", metavar="BUILD_ID", help="the build id its workers run with (CARECYCLE_BUILD_ID)")
    promote.add_argument(
        "--ramp",
        type=float_range(0.01, 99.99, "percent of new work"),
        metavar="PERCENT",
        help="send only this share of new work (0.01 to 99.99; promote without --ramp for all)",
    )
    promote.add_argument("--deployment", help="deployment name (default CARECYCLE_WORKER_DEPLOYMENT, or carecycle)")
    promote.add_argument(
        "--wait",
        type=float_range(0, 3600, "seconds"),
        default=30.0,
        metavar="SECONDS",
        help="how long to wait for the build's workers to have polled (default 30; a version exists only then)",
    )
    promote.add_argument("--json", action="store_true", help="print the result as JSON")
    promote.set_defaults(handler=_promote)


def _name(args: argparse.Namespace) -> str:
    from workers.settings import load_settings
    from workers.versioning import EMBEDDED_DEPLOYMENT

    return str(args.deployment or load_settings().worker_deployment or EMBEDDED_DEPLOYMENT)


def _status(args: argparse.Namespace) -> int:
    import asyncio

    from workers.cli.stack import temporal_errors
    from workers.settings import load_settings
    from workers.temporal.client import connect
    from workers.versioning import DeploymentState, describe

    async def run() -> DeploymentState:
        return await describe(await connect(load_settings()), _name(args))

    with temporal_errors():
        state = asyncio.run(run())
    if args.json:
        print_json(dataclasses.asdict(state))
        return 0
    print(f"deployment {state.name}: current {state.current_build_id or '(none)'}")
    if state.ramping_build_id:
        print(f"  ramping {state.ramping_build_id} at {state.ramping_percentage:g} %")
    for build_id in state.build_ids:
        print(f"  version {build_id}")
    return 0


def _promote(args: argparse.Namespace) -> int:
    import asyncio

    from workers.cli.stack import temporal_errors
    from workers.settings import load_settings
    from workers.temporal.client import connect
    from workers.versioning import promote

    name = _name(args)

    async def run() -> None:
        await promote(
            await connect(load_settings()), name, args.build_id, ramp_percentage=args.ramp, wait_seconds=args.wait
        )

    with temporal_errors():
        asyncio.run(run())
    if args.json:
        print_json({"deployment": name, "build_id": args.build_id, "ramp_percentage": args.ramp})
        return 0
    share = f"ramping at {args.ramp:g} %" if args.ramp else "current"
    print(f"deployment {name}: build {args.build_id} is {share}")
    return 0
