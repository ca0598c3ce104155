"""`carecycle staff ...`: start the StaffCredentialing and TrainingRenewal workflows for every active staff
member (idempotent: a running one is left alone), and tell them that credentials or training records changed."""

from __future__ import annotations

import argparse

from workers.cli import staff_enrollment, staff_records, staff_screening
from workers.cli.args import add_json, non_empty
from workers.cli.output import print_json, print_table
from workers.staff import TrackingStarted, start_tracking, tracked_staff


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    staff = subparsers.add_parser(
        "staff",
        help="credentialing and training renewals, payer enrollments, exclusion screening",
        description="StaffCredentialing (credentialing-<staff id>) opens a credential_expiring work item before "
        "each credential expires and marks it lapsed at expiry; TrainingRenewal (training-<staff id>) opens a "
        "training_due item before each required training is due. Resolve them with `carecycle tasks resolve`.",
    )
    commands = staff.add_subparsers(dest="staff_command", metavar="COMMAND")
    commands.required = True

    start = commands.add_parser(
        "start-tracking",
        help="start both workflows for every active staff member (or one); running ones are left alone",
    )
    start.add_argument("--staff-id", type=non_empty, help="only this staff member")
    start.add_argument("--json", action="store_true", help="print as JSON")
    start.set_defaults(handler=_start_tracking)

    changed = commands.add_parser(
        "changed",
        help="tell a staff member's workflows to read credentials and training again (after adding or editing)",
    )
    changed.add_argument("staff_id", type=non_empty, help="the staff member's id")
    add_json(changed)
    changed.set_defaults(handler=_changed)

    staff_records.register(commands)
    staff_enrollment.register(commands)
    staff_screening.register(commands)


def _start_tracking(args: argparse.Namespace) -> int:
    import asyncio
    from dataclasses import asdict

    from activities.contracts.staff import StaffPolicy
    from workers.cli import CommandFailed
    from workers.cli.stack import temporal_errors
    from workers.composition import Container
    from workers.settings import load_settings
    from workers.temporal.client import connect

    settings = load_settings()
    container = Container(settings)
    try:
        container.require_schema()
        if args.staff_id is not None and not tracked_staff(container.session_factory, args.staff_id):
            raise CommandFailed(f"no active staff member {args.staff_id}")

        async def run() -> TrackingStarted:
            client = await connect(settings)
            policy = StaffPolicy(day_seconds=settings.business_day_seconds)  # the home's clock (workers.clock)
            return await start_tracking(client, container.session_factory, staff_id=args.staff_id, policy=policy)

        with temporal_errors():
            outcome = asyncio.run(run())
    finally:
        container.close()
    if args.json:
        print_json(asdict(outcome))
        return 0
    rows = [[wid, "started"] for wid in outcome.started] + [[wid, "running"] for wid in outcome.already_running]
    if rows:
        print_table(rows, ["WORKFLOW", "STATE"])
    print(f"{len(outcome.started)} started, {len(outcome.already_running)} already running")
    return 0


def _changed(args: argparse.Namespace) -> int:
    import asyncio

    from temporalio.service import RPCError, RPCStatusCode

    from activities.contracts.staff import (
        CREDENTIALS_CHANGED_SIGNAL,
        TRAINING_CHANGED_SIGNAL,
        credentialing_workflow_id,
        training_workflow_id,
    )
    from workers.cli import CommandFailed
    from workers.cli.stack import temporal_errors
    from workers.settings import load_settings
    from workers.temporal.client import connect

    settings = load_settings()
    targets = (
        (credentialing_workflow_id(args.staff_id), CREDENTIALS_CHANGED_SIGNAL),
        (training_workflow_id(args.staff_id), TRAINING_CHANGED_SIGNAL),
    )

    async def send() -> list[str]:
        client = await connect(settings)
        signalled = []
        for workflow_id, signal in targets:
            try:
                await client.get_workflow_handle(workflow_id).signal(signal)
            except RPCError as exc:
                if exc.status != RPCStatusCode.NOT_FOUND:
                    raise CommandFailed(f"Temporal refused the signal: {exc.message}") from None
            else:
                signalled.append(workflow_id)
        return signalled

    from domain.actors import acting_as
    from workers.security.actors import os_user

    with temporal_errors(), acting_as("cli", os_user()):  # the signals signed as the OS user
        signalled = asyncio.run(send())
    if not signalled:
        raise CommandFailed(
            f"no staff workflow runs for {args.staff_id} (`carecycle staff start-tracking` starts them)"
        )
    if args.json:
        print_json({"staff_id": args.staff_id, "signalled": signalled})
        return 0
    for workflow_id in signalled:
        print(f"signalled {workflow_id}")
    return 0
