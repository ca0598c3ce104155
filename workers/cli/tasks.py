"""`carecycle tasks ...`: the billers' work items (list, show, resolve through the workflow's Update)."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from domain.workitems import Action, WorkQueue
from workers.cli import tasks_resolve
from workers.cli.args import add_json, int_range, non_empty
from workers.cli.output import print_json, print_table

MAX_SLA_HOURS = 24 * 366 * 5  # five years: further than any work item's deadline

if TYPE_CHECKING:
    from domain import models as m
    from domain.store.uow import UnitOfWork


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    tasks = subparsers.add_parser("tasks", help="work items waiting for a person: list, show, resolve")
    commands = tasks.add_subparsers(dest="tasks_command", metavar="COMMAND")
    commands.required = True
    _add_list(commands)
    _add_show(commands)
    _add_open(commands)
    tasks_resolve.add_resolve(commands)
    _add_adopt(commands)


def _add_list(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    listing = commands.add_parser("list", help="open work items, most urgent first")
    listing.add_argument(
        "--queue",
        choices=[queue.value for queue in WorkQueue],
        metavar="QUEUE",
        help="only this work queue: " + ", ".join(queue.value for queue in WorkQueue),
    )
    listing.add_argument("--all", action="store_true", help="include resolved and cancelled items")
    listing.add_argument("--json", action="store_true", help="print as JSON")
    listing.set_defaults(handler=_list)


def _add_show(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    show = commands.add_parser(
        "show", help="one work item with its allowed actions and every field of each (required, optional, format)"
    )
    show.add_argument("id", help="work item id (or a unique prefix of at least 6 characters)")
    show.add_argument("--json", action="store_true", help="print as JSON")
    show.set_defaults(handler=_show)


def _add_open(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    opening = commands.add_parser("open", help="open a work item that no process waits on (idempotent)")
    opening.add_argument(
        "--reason", required=True, type=non_empty, help="a work item reason, e.g. manual_task, claim_denied"
    )
    opening.add_argument(
        "--entity-type", required=True, type=non_empty, help="claim, patient, coverage, remittance, ..."
    )
    opening.add_argument(
        "--entity-id", required=True, type=non_empty, help="the entity's opaque id (never a name or member id)"
    )
    opening.add_argument(
        "--summary", required=True, type=non_empty, help="codes and ids only: shown in lists and the Web UI"
    )
    opening.add_argument(
        "--sla-hours",
        type=int_range(1, MAX_SLA_HOURS),
        default=24,
        help=f"hours until it escalates (default 24, at most {MAX_SLA_HOURS})",
    )
    add_json(opening)
    opening.set_defaults(handler=_open)


def _add_adopt(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    adopting = commands.add_parser(
        "adopt",
        help="start the waiting workflow of every open posting item that has none (items of an older store)",
    )
    add_json(adopting)
    adopting.set_defaults(handler=_adopt)


def find_item(uow: UnitOfWork, ident: str) -> m.WorkItem:
    from domain.services.lookups import work_items_by_id_or_prefix
    from workers.cli import CommandFailed

    found = work_items_by_id_or_prefix(uow.session, ident)
    if len(found) == 1:
        return found[0]
    if len(found) > 1:
        raise CommandFailed(f"work item prefix {ident} is ambiguous: give more characters")
    raise CommandFailed(f"no work item {ident}")


def _posting_item(item: m.WorkItem) -> bool:
    from workers.temporal.posting_exceptions import adoptable

    return adoptable(item)


def applied_view(item: m.WorkItem) -> dict[str, Any] | None:
    """What carrying a posting item's resolution out did (None: not posting's, or not resolved)."""
    from workers.temporal.posting_exceptions import carried_out_by_workflow

    if not item.resolution_action or not carried_out_by_workflow(item):
        return None
    applied = (item.resolution or {}).get("applied")
    if isinstance(applied, dict):
        return applied
    return {"state": "applying", "outcome": "accepted; its workflow is carrying it out"}


def posting_outcome(view: dict[str, Any]) -> str | None:
    applied = view.get("applied")
    return None if applied is None else f"{applied['state']}: {applied['outcome']}"


def item_view(item: m.WorkItem, now: datetime) -> dict[str, Any]:
    due = item.sla_due_at if item.sla_due_at.tzinfo else item.sla_due_at.replace(tzinfo=UTC)
    return {
        "id": item.id,
        "queue": item.queue,
        "reason": item.reason_code,
        "state": item.state,
        "summary": item.summary,
        "entity_type": item.entity_type,
        "entity_id": item.entity_id,
        "workflow_id": item.workflow_id,
        "sla_due_at": due,
        "overdue": item.state in ("open", "claimed") and due < now,
        "escalation_level": item.escalation_level,
        "assignee": item.assignee,
        "created_at": item.created_at,
    }


def _list(args: argparse.Namespace) -> int:
    from domain.services.lookups import work_items
    from workers.composition import Container

    container = Container()
    try:
        container.require_schema()
        with container.uow() as uow:
            now = datetime.now(UTC)
            found = work_items(uow.session, include_closed=args.all, queue=args.queue)
            rows = [item_view(item, now) for item in found]
    finally:
        container.close()
    if args.json:
        print_json({"count": len(rows), "work_items": rows})
        return 0
    if not rows:
        print("no open work items" + (f" in queue {args.queue}" if args.queue else ""))
        return 0
    print_table(
        [
            [
                r["id"][:8],
                r["queue"],
                r["reason"],
                r["summary"][:40],
                r["sla_due_at"].strftime("%Y-%m-%d %H:%M"),
                ("OVERDUE" if r["overdue"] else "") + (f" esc{r['escalation_level']}" if r["escalation_level"] else ""),
                r["assignee"] or "",
            ]
            for r in rows
        ],
        ["ID", "QUEUE", "REASON", "SUMMARY", "SLA DUE (UTC)", "FLAGS", "ASSIGNEE"],
    )
    return 0


def _show(args: argparse.Namespace) -> int:
    from domain.workitems import allowed_actions
    from workers.cli.phi import record_phi_view
    from workers.composition import Container

    container = Container()
    try:
        container.require_schema()
        with container.uow() as uow:
            item = find_item(uow, args.id)
            view = item_view(item, datetime.now(UTC))
            view["context"] = dict(item.context or {})
            view["resolution_action"] = item.resolution_action
            view["resolution"] = item.resolution
            view["resolved_by"] = item.resolved_by
            view["resolved_at"] = item.resolved_at
            view["adopt_on_resolve"] = not item.workflow_id and _posting_item(item)
            view["applied"] = applied_view(item)
        # the item's context and resolution can hold patient data (member ids, dates, amounts)
        record_phi_view(container, "tasks show", "work_item", view["id"], workflow_id=view["workflow_id"])
    finally:
        container.close()
    actions = [action_view(Action(name)) for name in allowed_actions(view["reason"])]
    view["allowed_actions"] = actions
    if args.json:
        print_json(view)
        return 0
    for key in ("id", "queue", "reason", "state", "summary", "entity_type", "entity_id", "workflow_id"):
        print(f"{key:<18}{view[key]}")
    if view["adopt_on_resolve"]:
        print(f"{'':<18}(posting's item: `tasks resolve` starts the workflow that carries the resolution out)")
    print(f"{'sla_due_at':<18}{view['sla_due_at']:%Y-%m-%d %H:%M} UTC{'  OVERDUE' if view['overdue'] else ''}")
    print(f"{'escalation_level':<18}{view['escalation_level']}")
    print(f"{'assignee':<18}{view['assignee'] or '-'}")
    for key, value in sorted(view["context"].items()):
        print(f"  {key}: {value}")
    if view["resolution_action"]:
        print(f"resolved: {view['resolution_action']} by {view['resolved_by']} at {view['resolved_at']}")
        if posting_outcome(view) is not None:
            print(f"{'applied':<18}{posting_outcome(view)}")
    else:
        print(f"actions (carecycle tasks resolve {view['id'][:8]} --action ACTION --by USER ...):")
        for action in actions:
            print(f"  {action['action']}{'  (--note required)' if action['needs_note'] else ''}")
            if action["any_fields"]:
                print(f"    --set NAME=VALUE   optional   {action['any_fields']}")
            for entry in action["fields"]:
                need = "required" if entry["required"] else "optional"
                print(f"    --set {entry['field']}=...".ljust(34) + f"{need:<11}{entry['format']}")
    return 0


def action_view(action: Action) -> dict[str, Any]:
    """One action as `tasks show` lists it: every field it takes (required and optional) with its format."""
    from domain.workitem_fields import ANY_FIELD, action_fields
    from domain.workitems import ACTIONS

    spec = ACTIONS[action]
    fields = action_fields(action)
    return {
        "action": str(action),
        "fields": fields,
        "required_fields": [f["field"] for f in fields if f["required"]],
        "allowed_fields": None if spec.allowed_fields is None else sorted(spec.allowed_fields),
        "any_fields": ANY_FIELD if spec.allowed_fields is None else None,
        "at_least_one_field": spec.at_least_one_field,
        "needs_note": spec.needs_note,
        "ends_the_item": spec.terminal,
    }


def _open(args: argparse.Namespace) -> int:
    import asyncio
    from datetime import timedelta

    from domain.workitems import parse_reason
    from workers.cli.stack import temporal_errors
    from workers.settings import load_settings
    from workers.temporal.client import connect
    from workers.temporal.workitems import open_standalone_work_item

    parse_reason(args.reason)
    settings = load_settings()

    async def start() -> str:
        client = await connect(settings)
        handle = await open_standalone_work_item(
            client,
            reason=args.reason,
            entity_type=args.entity_type,
            entity_id=args.entity_id,
            summary=args.summary,
            sla=timedelta(hours=args.sla_hours),
        )
        return handle.id

    with temporal_errors():
        workflow_id = asyncio.run(start())
    if args.json:
        print_json({"workflow_id": workflow_id, "reason": args.reason, "sla_hours": args.sla_hours})
        return 0
    print(f"work item workflow {workflow_id} is running; `carecycle tasks list` shows the item once it is open")
    return 0


def _adopt(args: argparse.Namespace) -> int:
    import asyncio

    from workers.cli.stack import temporal_errors
    from workers.composition import Container
    from workers.remittances import business_policy
    from workers.settings import load_settings
    from workers.temporal.client import connect
    from workers.temporal.posting_exceptions import adopt, open_posting_items

    settings = load_settings()
    container = Container(settings)
    try:
        container.require_schema()
        item_ids = open_posting_items(container)
    finally:
        container.close()

    async def start() -> tuple[int, int]:
        client = await connect(settings)
        started = await adopt(client, item_ids, business_policy(settings))
        return started.started, started.already_started

    with temporal_errors():
        started, running = asyncio.run(start()) if item_ids else (0, 0)
    if args.json:
        print_json({"open_posting_items": len(item_ids), "started": started, "already_running": running})
        return 0
    print(f"{len(item_ids)} open posting item(s): {started} workflow(s) started, {running} already running")
    return 0
