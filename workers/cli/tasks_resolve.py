"""`carecycle tasks resolve`: a person's resolution of a work item, signed and sent as the waiting workflow's
``resolve`` Update (posting's items: their PostingException workflow, started if they have none), and, for those
carried out afterwards, the outcome the store records."""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from workers.cli.args import add_json, non_empty
from workers.cli.output import print_json

if TYPE_CHECKING:
    from flows.workitems import ResolveOutcome, ResolveRequest
    from workers.settings import Settings


def add_resolve(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    resolve = commands.add_parser("resolve", help="resolve a work item: the waiting workflow validates and goes on")
    resolve.add_argument("id", help="work item id (or a unique prefix of at least 6 characters)")
    resolve.add_argument(
        "--action",
        required=True,
        type=non_empty,
        help="e.g. correct_and_resubmit, appeal, write_off, retry_now (`tasks show` lists the item's actions)",
    )
    resolve.add_argument(
        "--set", action="append", default=[], metavar="FIELD=VALUE", help="a field of the resolution (repeatable)"
    )
    resolve.add_argument("--note", default="", help="why (required by appeal, cancel, confirm_eligibility, ...)")
    resolve.add_argument(
        "--by",
        default="",
        help="a display note only (e.g. your name): the resolution is signed as the operating-system user running this",
    )
    resolve.add_argument(
        "--wait",
        type=_wait_seconds,
        default=30.0,
        metavar="SECONDS",
        help="posting's items: how long to wait for the workflow to carry the resolution out (default 30; "
        "0: do not wait, `tasks show` tells the outcome)",
    )
    add_json(resolve)
    resolve.set_defaults(handler=_resolve)


def _resolve(args: argparse.Namespace) -> int:
    import asyncio

    from domain.workitems import Resolution, parse_assignments, validate_resolution
    from workers.cli import CommandFailed
    from workers.cli.stack import temporal_errors
    from workers.settings import load_settings

    settings = load_settings()
    item = _item_to_resolve(settings, args.id)
    if item.state not in ("open", "claimed"):
        raise CommandFailed(f"work item {item.id} is already {item.state}")
    fields = parse_assignments(args.set)
    validate_resolution(item.reason, Resolution(action=args.action, by="cli", fields=fields, note=args.note))
    workflow_id, adopted = item.workflow_id, False
    if item.posting_item:  # posting's item: its PostingException workflow works it (started now if it has none)
        with temporal_errors():
            workflow_id, adopted = asyncio.run(_adopt_posting_item(settings, item.id))
    if not workflow_id:
        raise CommandFailed(f"work item {item.id} has no waiting workflow")
    request = _signed_request(settings, workflow_id, item.id, args, fields)
    outcome = _send_resolution(settings, workflow_id, request)
    later = item.carried_out_later and outcome.terminal
    applied = _await_applied(item.id, args.wait) if later else None
    told = "resolved" if outcome.terminal else "open"
    if later and (applied is None or applied["state"] != "applied"):
        # "resolved" only once the workflow carried it out (the store says so), never for nothing
        told = "refused" if applied is not None and applied["state"] == "refused" else "accepted"
    if args.json:
        print_json(
            {
                "work_item_id": item.id,
                "workflow_id": workflow_id,
                "action": outcome.action,
                "by": request.by,
                "state": told,
                "adopted": adopted,
                "applied": applied,
            }
        )
        return 1 if told == "refused" else 0
    if adopted:
        print(f"work item {item.id} had no waiting workflow: {workflow_id} now works it")
    return _tell(item.id, outcome.action, request.by, told, applied)


@dataclass(frozen=True)
class _ItemToResolve:
    id: str
    reason: str
    state: str
    workflow_id: str | None
    posting_item: bool  # posting's item: its PostingException workflow works it
    carried_out_later: bool  # its workflow carries an accepted resolution out afterwards


def _item_to_resolve(settings: Settings, ident: str) -> _ItemToResolve:
    from workers.cli.tasks import find_item
    from workers.composition import Container
    from workers.temporal.posting_exceptions import adoptable, carried_out_by_workflow

    container = Container(settings)
    try:
        container.require_schema()
        with container.uow() as uow:
            item = find_item(uow, ident)
            return _ItemToResolve(
                item.id, item.reason_code, item.state, item.workflow_id, adoptable(item), carried_out_by_workflow(item)
            )
    finally:
        container.close()


def _signed_request(
    settings: Settings, workflow_id: str, item_id: str, args: argparse.Namespace, fields: dict[str, str]
) -> ResolveRequest:
    """The resolution signed as the operating-system user running this (``--by`` is a display note only)."""
    from domain.actors import ForgedActor
    from domain.workitems import Resolution
    from flows.workitems import ResolveRequest
    from workers.cli import CommandFailed
    from workers.security.actors import ActorKeyError, load_actor_keys, sign_cli_resolution

    try:
        actor = sign_cli_resolution(
            load_actor_keys(settings), workflow_id, item_id, args.action, fields, args.note, by=args.by
        )
    except (ActorKeyError, ForgedActor) as exc:
        raise CommandFailed(str(exc)) from None
    resolution = Resolution(action=args.action, by=actor.label, fields=fields, note=args.note)
    return ResolveRequest(
        work_item_id=item_id,
        action=resolution.action,
        by=resolution.by,
        fields=dict(resolution.fields),
        note=resolution.note,
        actor=actor,
    )


def _send_resolution(settings: Settings, workflow_id: str, request: ResolveRequest) -> ResolveOutcome:
    """The ``resolve`` Update (its validator runs the activity's rule); a refusal is one line, exit 1."""
    import asyncio

    from temporalio.client import WorkflowUpdateFailedError
    from temporalio.service import RPCError, RPCStatusCode

    from flows.workitems import RESOLVE_UPDATE, ResolveOutcome
    from workers.cli import CommandFailed
    from workers.cli.stack import temporal_errors
    from workers.temporal.client import connect

    async def send() -> ResolveOutcome:
        client = await connect(settings)
        handle = client.get_workflow_handle(workflow_id)
        outcome: ResolveOutcome = await handle.execute_update(RESOLVE_UPDATE, request, result_type=ResolveOutcome)
        return outcome

    try:
        with temporal_errors():
            return asyncio.run(send())
    except WorkflowUpdateFailedError as exc:
        cause = exc.cause
        raise CommandFailed(f"resolution rejected: {getattr(cause, 'message', None) or cause}") from None
    except RPCError as exc:
        if exc.status == RPCStatusCode.NOT_FOUND:
            raise CommandFailed(f"the workflow {workflow_id} is no longer running") from None
        raise CommandFailed(f"Temporal refused the update: {exc.message}") from None


def _tell(item_id: str, action: str, by: str, told: str, applied: dict[str, Any] | None) -> int:
    from workers.cli import CommandFailed

    if told == "refused":
        raise CommandFailed(
            f"work item {item_id}: {action} was accepted but {applied['outcome'] if applied else ''}; "
            "a new work item asks again"
        )
    if told == "accepted":
        print(
            f"work item {item_id} accepted: {action} by {by} is being applied; "
            f"`carecycle tasks show {item_id[:8]}` tells the outcome"
        )
        return 0
    state_text = "resolved" if told == "resolved" else "updated (still open)"
    tail = f" ({applied['outcome']})" if applied is not None else ""
    print(f"work item {item_id} {state_text}: {action} by {by}{tail}")
    return 0


def _wait_seconds(text: str) -> float:
    try:
        seconds = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError("a number of seconds") from None
    if not 0 <= seconds <= 600:
        raise argparse.ArgumentTypeError("between 0 and 600 seconds")
    return seconds


def _await_applied(item_id: str, seconds: float) -> dict[str, Any] | None:
    """A posting item's outcome once its workflow carried the resolution out (the store says so), or None."""
    import time

    from domain.services.lookups import work_item_applied
    from workers.composition import Container

    container = Container()
    try:
        deadline = time.monotonic() + seconds
        while True:
            with container.uow() as uow:
                applied = work_item_applied(uow.session, item_id)
            if applied is not None or time.monotonic() >= deadline:
                return applied
            time.sleep(0.25)
    finally:
        container.close()


async def _adopt_posting_item(settings: Settings, item_id: str) -> tuple[str, bool]:
    """Start (or find) the item's PostingException workflow and wait until it waits on the item."""
    from activities.contracts.posting_exceptions import posting_exception_workflow_id
    from workers.cli import CommandFailed
    from workers.remittances import business_policy
    from workers.temporal.client import connect
    from workers.temporal.posting_exceptions import adopt, wait_until_waiting

    client = await connect(settings)
    started = await adopt(client, [item_id], business_policy(settings))
    if not await wait_until_waiting(client, item_id):
        raise CommandFailed(f"work item {item_id}: its workflow is not waiting on it (are the workers running?)")
    return posting_exception_workflow_id(item_id), started.started > 0
