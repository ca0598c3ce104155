"""Work queues (filters, sorting), a work item with a form per action, the resolve, running processes by stage.

A resolution is sent as the signed-in user, signed (domain.actors, scope: this resolution of this item in
this workflow); a form field cannot choose who acted. The form is checked with the workflow validator's rule
first, so a refusal is shown in the action's form without a round trip; the validator has the last word.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from fastapi import Depends, FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import Select, func, select
from temporalio.client import WorkflowUpdateFailedError
from temporalio.service import RPCError, RPCStatusCode

from console.accounts import ConsoleUserView, Permission
from console.forms import ActionForm, action_forms, read_resolution
from console.web import BadRequest, Console
from domain import models as m
from domain.actors import ForgedActor, resolve_scope, sign_actor
from domain.errors import InvalidResolution
from domain.workitems import REASONS, RESOLVE_UPDATE, Action, Reason, ResolveOutcome, ResolveRequest, WorkQueue

OPEN_STATES = ("open", "claimed")
SORTS = {
    "due": (m.WorkItem.sla_due_at,),
    "created": (m.WorkItem.created_at,),
    "escalation": (m.WorkItem.escalation_level, m.WorkItem.sla_due_at),
    "queue": (m.WorkItem.queue, m.WorkItem.sla_due_at),
    "reason": (m.WorkItem.reason_code, m.WorkItem.sla_due_at),
}
PAGE_SIZE = 100
NAME = re.compile(r"^[a-z0-9_.-]{1,60}$")


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def choice(value: str | None, allowed: set[str] | list[str] | tuple[str, ...], what: str) -> str | None:
    """A query parameter that must be one of ``allowed`` (empty means not given); anything else is a 400."""
    if value is None or value == "":
        return None
    if value not in allowed:
        raise BadRequest(f"unknown {what}: choose one from the list")
    return value


def age_bucket(created: datetime, now: datetime) -> str:
    days = (now - _aware(created)).days
    return "under 1 day" if days < 1 else "1-3 days" if days < 3 else "3-7 days" if days < 7 else "over 7 days"


def register(app: FastAPI, console: Console) -> None:
    _register_queues(app, console)
    _register_work_items(app, console)
    _register_processes(app, console)


# --- the work queues -----------------------------------------------------------------------------------------


def _register_queues(app: FastAPI, console: Console) -> None:
    viewer = Depends(console.require(Permission.VIEW))

    @app.get("/queues", response_class=HTMLResponse)
    async def queues(
        request: Request,
        user: ConsoleUserView = viewer,
        queue: str | None = None,
        reason: str | None = None,
        assignee: str | None = None,
        overdue: str | None = None,
        escalated: str | None = None,
        sort: str = "due",
        desc: str | None = None,
        page: int = 1,
    ) -> HTMLResponse:
        queue = choice(queue, [q.value for q in WorkQueue], "queue")
        reason = choice(reason, [r.value for r in Reason], "reason")
        sort = choice(sort, list(SORTS), "sort order") or "due"
        if assignee and not NAME.match(assignee):
            raise BadRequest("an assignee is a user name")
        filters = {
            "queue": queue or "",
            "reason": reason or "",
            "assignee": assignee or "",
            "overdue": bool(overdue),
            "escalated": bool(escalated),
            "sort": sort,
            "desc": bool(desc),
        }
        return _queues_page(console, request, filters, page=max(1, min(page, 10_000)))


def _queues_page(console: Console, request: Request, filters: dict[str, Any], *, page: int) -> HTMLResponse:
    """One page of the open work items the (checked) filters select, sorted, with the counts per queue."""
    now = console.now()
    naive_now = now.replace(tzinfo=None)
    with console.session_factory() as db:
        query = _open_items(filters, naive_now)
        total = db.execute(select(func.count()).select_from(query.subquery())).scalar_one()
        order = [c.desc() if filters["desc"] else c.asc() for c in SORTS[filters["sort"]]]
        items = list(
            db.execute(query.order_by(*order, m.WorkItem.id).limit(PAGE_SIZE).offset((page - 1) * PAGE_SIZE))
            .scalars()
            .all()
        )
        counts = _queue_counts(db, naive_now)
    return console.render(
        request,
        "queues.html",
        counts=counts,
        items=items,
        total=total,
        page=page,
        pages=max(1, -(-total // PAGE_SIZE)),
        filters=filters,
        queues=[q.value for q in WorkQueue],
        reasons=[r.value for r in Reason],
        sorts=list(SORTS),
        now=now,
        aware=_aware,
        age=lambda item: age_bucket(item.created_at, now),
    )


def _open_items(filters: dict[str, Any], naive_now: datetime) -> Select[m.WorkItem]:
    query = select(m.WorkItem).where(m.WorkItem.state.in_(OPEN_STATES))
    for column, value in ((m.WorkItem.queue, filters["queue"]), (m.WorkItem.reason_code, filters["reason"])):
        if value:
            query = query.where(column == value)
    if filters["assignee"]:
        query = query.where(m.WorkItem.assignee == filters["assignee"])
    if filters["overdue"]:
        query = query.where(m.WorkItem.sla_due_at < naive_now)
    if filters["escalated"]:
        query = query.where(m.WorkItem.escalation_level > 0)
    return query


# --- a work item and its resolve -----------------------------------------------------------------------------


def _register_work_items(app: FastAPI, console: Console) -> None:
    viewer = Depends(console.require(Permission.VIEW))
    resolver = Depends(console.require(Permission.RESOLVE))

    @app.get("/work-items/{item_id}", response_class=HTMLResponse)
    async def work_item(
        request: Request, item_id: str, done: str | None = None, user: ConsoleUserView = viewer
    ) -> HTMLResponse:
        item = _load(console, item_id)
        if item is None:
            return console.error(request, "there is no such work item", 404)
        done = choice(done, [a.value for a in Action], "action")
        return _item_page(console, request, item, forms=action_forms(item.reason_code), done=done)

    @app.post("/work-items/{item_id}/resolve", response_model=None)
    async def resolve(request: Request, item_id: str, user: ConsoleUserView = resolver) -> Response:
        posted = await console.form(request)
        if not console.csrf_ok(request, posted):
            return console.error(request, "the form has expired; reload the page", 403)
        item = _load(console, item_id)
        if item is None:
            return console.error(request, "there is no such work item", 404)
        return await _resolve(console, request, item, posted, user)


def _load(console: Console, item_id: str) -> m.WorkItem | None:
    if len(item_id) > 36:
        return None
    with console.session_factory() as db:
        item = db.get(m.WorkItem, item_id)
        if item is not None:
            db.expunge(item)
        return item


def _item_page(
    console: Console,
    request: Request,
    item: m.WorkItem,
    *,
    forms: list[ActionForm],
    done: str | None,
    status_code: int = 200,
) -> HTMLResponse:
    known = item.reason_code in {r.value for r in Reason}
    spec = REASONS[Reason(item.reason_code)] if known else None
    return console.render(
        request,
        "work_item.html",
        status_code=status_code,
        item=item,
        forms=forms,
        done=done,
        description=spec.description if spec else "",
        now=console.now(),
        aware=_aware,
        context_rows=_context_rows(item.context or {}),
    )


async def _resolve(
    console: Console, request: Request, item: m.WorkItem, posted: dict[str, str], user: ConsoleUserView
) -> Response:
    """Send the posted resolution to the waiting workflow as the signed-in user; a refusal (ours, the validator's,
    Temporal's) is shown in the action's form (422), a success goes back to the item's page."""
    forms = action_forms(item.reason_code)

    def rejected(message: str) -> HTMLResponse:
        return _rejected(console, request, item, forms, posted, message)

    if item.state not in OPEN_STATES:
        return rejected(f"work item is already {item.state}")
    if not item.workflow_id:
        return rejected("work item has no waiting workflow")
    try:
        request_value = _resolve_request(console, item, item.workflow_id, posted, user)
    except (InvalidResolution, ForgedActor) as exc:
        return rejected(str(exc))
    try:
        outcome = await console.client.get_workflow_handle(item.workflow_id).execute_update(
            RESOLVE_UPDATE, request_value, result_type=ResolveOutcome
        )
    except WorkflowUpdateFailedError as exc:
        return rejected(f"resolution rejected: {getattr(exc.cause, 'message', None) or exc.cause}")
    except RPCError as exc:
        if exc.status == RPCStatusCode.NOT_FOUND:
            return rejected("the waiting workflow is no longer running")
        return rejected(f"Temporal refused the update: {exc.message}")
    return RedirectResponse(f"/work-items/{item.id}?done={outcome.action}", status_code=303)


def _resolve_request(
    console: Console, item: m.WorkItem, workflow_id: str, posted: dict[str, str], user: ConsoleUserView
) -> ResolveRequest:
    """The posted form as the resolve Update's request, signed for this resolution of this item in this workflow;
    raises InvalidResolution (the validator's rule) or ForgedActor."""
    action, fields, note = read_resolution(item.reason_code, posted, by=user.username)
    actor = None
    if console.actor_keys is not None:
        scope = resolve_scope(workflow_id, item.id, action, fields, note)
        actor = sign_actor(console.actor_keys, "console", user.username, scope=scope)
    return ResolveRequest(
        work_item_id=item.id,
        action=action,
        by=actor.label if actor else user.username,  # who is signed in, never what a form says
        fields=fields,
        note=note,
        actor=actor,
    )


def _rejected(
    console: Console,
    request: Request,
    item: m.WorkItem,
    forms: list[ActionForm],
    posted: dict[str, str],
    message: str,
) -> HTMLResponse:
    """The item's page again (422) with the message in the posted action's form, or on top without one."""
    target = next((f for f in forms if f.action == posted.get("action")), None)
    if target is not None:
        target.error, target.values = message, posted
        return _item_page(console, request, item, forms=forms, done=None, status_code=422)
    return console.render(
        request, "work_item.html", status_code=422, item=item, forms=forms, done=None, error=message,
        description="", now=console.now(), aware=_aware, context_rows=_context_rows(item.context or {}),
    )  # fmt: skip


# --- running processes ---------------------------------------------------------------------------------------


def _register_processes(app: FastAPI, console: Console) -> None:
    viewer = Depends(console.require(Permission.VIEW))

    @app.get("/processes", response_class=HTMLResponse)
    async def processes(request: Request, user: ConsoleUserView = viewer, stage: str | None = None) -> HTMLResponse:
        if stage is not None and stage != "" and not re.fullmatch(r"[A-Za-z0-9_]{1,40}", stage):
            raise BadRequest("a stage is a word like claim or work_item")
        try:
            stages = await running_by_stage(console)
            rows = await _running_processes(console, stage)
        except RPCError as exc:
            return console.error(request, f"Temporal could not list the processes: {exc.message}", 503)
        return console.render(request, "processes.html", rows=rows, stages=sorted(stages.items()), stage=stage)


async def _running_processes(console: Console, stage: str | None) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    query = 'ExecutionStatus = "Running"' + (f' AND Stage = "{stage}"' if stage else "")
    async for execution in console.client.list_workflows(query, limit=200):
        attributes = {k: (v[0] if len(v) == 1 else v) for k, v in execution.search_attributes.items()}
        rows.append(
            {
                "id": execution.id,
                "type": execution.workflow_type,
                "started": execution.start_time,
                "stage": attributes.get("Stage", ""),
                "queue": attributes.get("WorkQueue", ""),
                "status": attributes.get("ClaimStatus", ""),
                "payer": attributes.get("PayerId", ""),
                "escalated": attributes.get("Escalated", False),
            }
        )
    return rows


async def running_by_stage(console: Console, limit: int = 5000) -> dict[str, int]:
    """Running workflows per ``Stage`` search attribute (visibility groups by ExecutionStatus only: counted here)."""
    stages: dict[str, int] = {}
    async for execution in console.client.list_workflows('ExecutionStatus = "Running"', limit=limit):
        value = execution.search_attributes.get("Stage")
        key = str(value[0]) if value else "(none)"
        stages[key] = stages.get(key, 0) + 1
    return stages


def _context_rows(context: dict[str, Any]) -> list[tuple[str, str]]:
    from console.format import dollars

    rows = []
    for key, value in sorted(context.items()):
        if key.endswith("_cents") and str(value).lstrip("-").isdigit():
            rows.append((key.removesuffix("_cents").replace("_", " "), dollars(int(value))))
        else:
            rows.append((key.replace("_", " "), str(value)))
    return rows


def _queue_counts(db: Any, naive_now: datetime) -> dict[str, dict[str, int]]:
    counts = {q.value: {"open": 0, "overdue": 0, "escalated": 0} for q in WorkQueue}
    for key, condition in (
        ("open", None),
        ("overdue", m.WorkItem.sla_due_at < naive_now),
        ("escalated", m.WorkItem.escalation_level > 0),
    ):
        query = select(m.WorkItem.queue, func.count()).where(m.WorkItem.state.in_(OPEN_STATES))
        if condition is not None:
            query = query.where(condition)
        for name, count in db.execute(query.group_by(m.WorkItem.queue)).all():
            counts.setdefault(name, {"open": 0, "overdue": 0, "escalated": 0})[key] = count
    return counts
