"""`carecycle schedules ...`: the Temporal Schedules that fetch each portal payer's EOBs (apply, list, trigger,
pause, unpause). ID is a schedule id (``carecycle-portal-eobs-SBXCC``) or the payer id it is named after."""

from __future__ import annotations

import argparse
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, TypeVar

from workers.cli.args import add_json, non_empty
from workers.cli.output import print_json, print_table

if TYPE_CHECKING:
    from temporalio.client import Client

    from workers.settings import Settings

T = TypeVar("T")


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    schedules = subparsers.add_parser(
        "schedules",
        help="the Temporal Schedules that fetch each portal payer's EOBs: apply, list, trigger, pause, unpause",
        description="One schedule per payer whose routing is portal starts PortalEobIntake every "
        "CARECYCLE_PORTAL_EOB_INTERVAL_MINUTES (default 240; 0: none), one run at a time per payer. "
        "`carecycle up` applies them; ID is a schedule id or the payer id it is named after.",
    )
    commands = schedules.add_subparsers(dest="schedules_command", metavar="COMMAND")
    commands.required = True

    apply = commands.add_parser(
        "apply", help="create, update and delete schedules to match the portal payers and the interval (idempotent)"
    )
    apply.add_argument("--json", action="store_true", help="print as JSON")
    apply.set_defaults(handler=_apply)

    listing = commands.add_parser("list", help="carecycle's schedules with their interval, state and runs")
    listing.add_argument("--json", action="store_true", help="print as JSON")
    listing.set_defaults(handler=_list)

    trigger = commands.add_parser("trigger", help="start the schedule's PortalEobIntake now (not if one is running)")
    trigger.add_argument("id", type=non_empty, help="schedule id or payer id")
    add_json(trigger)
    trigger.set_defaults(handler=_trigger)

    pause = commands.add_parser("pause", help="stop a schedule from starting runs until it is unpaused")
    pause.add_argument("id", type=non_empty, help="schedule id or payer id")
    pause.add_argument("--note", help="why (shown in `schedules list` and the Web UI)")
    add_json(pause)
    pause.set_defaults(handler=_pause)

    unpause = commands.add_parser("unpause", help="let a paused schedule start runs again")
    unpause.add_argument("id", type=non_empty, help="schedule id or payer id")
    unpause.add_argument("--note", help="why (shown in `schedules list` and the Web UI)")
    add_json(unpause)
    unpause.set_defaults(handler=_unpause)


def _with_client(settings: Settings, action: Callable[[Client], Awaitable[T]]) -> T:
    """Connect, run ``action``, and turn Temporal's expected refusals into one line (exit 1)."""
    import asyncio

    from temporalio.service import RPCError

    from workers.cli import CommandFailed
    from workers.cli.stack import temporal_errors
    from workers.temporal.client import connect
    from workers.temporal.schedules import ScheduleBusy, ScheduleNotFound

    async def run() -> T:
        client = await connect(settings)
        return await action(client)

    try:
        with temporal_errors():
            return asyncio.run(run())
    except (ScheduleNotFound, ScheduleBusy) as exc:
        raise CommandFailed(str(exc)) from None
    except RPCError as exc:
        raise CommandFailed(f"Temporal refused the request: {exc.message}") from None


def _apply(args: argparse.Namespace) -> int:
    from dataclasses import asdict

    from workers.composition import Container
    from workers.settings import load_settings
    from workers.temporal.schedules import apply_schedules, interval_from

    settings = load_settings()
    interval_from(settings)  # a malformed interval is the user's mistake before anything is touched
    container = Container(settings)
    try:
        container.require_schema()
        changes = _with_client(settings, lambda client: apply_schedules(client, container.session_factory, settings))
    finally:
        container.close()
    if args.json:
        print_json({"interval_minutes": settings.portal_eob_interval_minutes, **asdict(changes)})
        return 0
    for label, ids in (
        ("created", changes.created),
        ("updated", changes.updated),
        ("deleted", changes.deleted),
        ("unchanged", changes.unchanged),
    ):
        for sid in ids:
            print(f"{label:<10} {sid}")
    total = len(changes.created) + len(changes.updated) + len(changes.unchanged)
    print(f"{total} portal EOB schedule(s), every {settings.portal_eob_interval_minutes} min")
    return 0


def _when(value: Any) -> str:
    return value.strftime("%Y-%m-%d %H:%M") if value is not None else "-"


def _list(args: argparse.Namespace) -> int:
    from dataclasses import asdict

    from workers.settings import load_settings
    from workers.temporal.schedules import list_schedules

    views = _with_client(load_settings(), list_schedules)
    if args.json:
        print_json({"count": len(views), "schedules": [asdict(view) for view in views]})
        return 0
    if not views:
        print("no schedules (`carecycle schedules apply` creates them for the portal payers)")
        return 0
    print_table(
        [
            [
                view.schedule_id,
                view.workflow_type,
                view.interval_minutes if view.interval_minutes is not None else "-",
                "paused" if view.paused else "active",
                _when(view.next_run_at),
                _when(view.last_run_at),
                ", ".join(view.running_workflow_ids) or "-",
            ]
            for view in views
        ],
        ["SCHEDULE", "WORKFLOW", "EVERY (MIN)", "STATE", "NEXT RUN (UTC)", "LAST RUN (UTC)", "RUNNING"],
    )
    return 0


def _trigger(args: argparse.Namespace) -> int:
    from workers.settings import load_settings
    from workers.temporal.schedules import trigger_schedule

    view = _with_client(load_settings(), lambda client: trigger_schedule(client, args.id))
    if args.json:
        print_json(
            {
                "schedule_id": view.schedule_id,
                "triggered": True,
                "workflow_type": view.workflow_type,
                "task_queue": view.task_queue,
            }
        )
        return 0
    print(f"schedule {view.schedule_id} triggered: a {view.workflow_type} run is starting on queue {view.task_queue}")
    return 0


def _pause(args: argparse.Namespace) -> int:
    from workers.settings import load_settings
    from workers.temporal.schedules import pause_schedule

    sid = _with_client(load_settings(), lambda client: pause_schedule(client, args.id, args.note))
    if args.json:
        print_json({"schedule_id": sid, "paused": True})
        return 0
    print(f"schedule {sid} paused")
    return 0


def _unpause(args: argparse.Namespace) -> int:
    from workers.settings import load_settings
    from workers.temporal.schedules import unpause_schedule

    sid = _with_client(load_settings(), lambda client: unpause_schedule(client, args.id, args.note))
    if args.json:
        print_json({"schedule_id": sid, "paused": False})
        return 0
    print(f"schedule {sid} unpaused")
    return 0
