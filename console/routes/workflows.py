"""For auditors: browse running and closed workflows, read one's history in words, see the raw events, replay it,
export it.

The browser builds a Temporal visibility query from the filters (type, status, start and close dates, the
search attributes); every value is checked against a strict pattern first, so no text reaches the query
unquoted. A timeline or a raw event decodes payloads, which may hold PHI: each view is an audit event. The
export is the history as Temporal stores it (payloads still encrypted), what ``carecycle audit replay
--history`` and the Web UI read.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Any

from fastapi import Depends, FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from google.protobuf import json_format
from temporalio.api.history.v1 import HistoryEvent
from temporalio.client import WorkflowHistory
from temporalio.service import RPCError, RPCStatusCode

from console.accounts import ConsoleUserView, Permission
from console.format import dollars
from console.history import build_timeline, humanize
from console.web import BadRequest, Console
from domain.actors import (
    ForgedActor,
    SignedActor,
    header_scope,
    resolve_scope,
    signal_header_scopes,
    verify_actor,
)

STATUSES = ("Running", "Completed", "Failed", "Canceled", "Terminated", "ContinuedAsNew", "TimedOut")
ATTRIBUTES = ("Stage", "WorkQueue", "ClaimStatus", "PayerId", "EntityType", "EntityId")
VALUE = re.compile(r"^[A-Za-z0-9_.:-]{1,120}$")
TYPE = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,80}$")
ID = re.compile(r"^[A-Za-z0-9_.:@/-]{1,200}$")


def _date(text: str | None, what: str) -> date | None:
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise BadRequest(f"{what} must be a date (YYYY-MM-DD)") from None


def visibility_query(params: dict[str, str]) -> str:
    """The filters as a visibility query; raises BadRequest for a value that is not plain."""
    clauses = []
    kind = params.get("type", "")
    if kind:
        if not TYPE.match(kind):
            raise BadRequest("a workflow type is a name like Claim")
        clauses.append(f'WorkflowType = "{kind}"')
    status = params.get("status", "")
    if status:
        if status not in STATUSES:
            raise BadRequest("unknown status: choose one from the list")
        clauses.append(f'ExecutionStatus = "{status}"')
    for name, column, op in (
        ("started_from", "StartTime", ">="),
        ("started_to", "StartTime", "<"),
        ("closed_from", "CloseTime", ">="),
        ("closed_to", "CloseTime", "<"),
    ):
        day = _date(params.get(name), name.replace("_", " "))
        if day is not None:
            clauses.append(f'{column} {op} "{day.isoformat()}T00:00:00Z"')
    for attribute in ATTRIBUTES:
        value = params.get(attribute, "")
        if value:
            if not VALUE.match(value):
                raise BadRequest(f"{attribute} holds letters, digits and . _ : - only")
            clauses.append(f'{attribute} = "{value}"')
    return " AND ".join(clauses)


def _check_id(workflow_id: str, run_id: str | None) -> None:
    if not ID.match(workflow_id) or (run_id and not re.fullmatch(r"[0-9a-f-]{36}", run_id)):
        raise BadRequest("not a workflow id")


def register(app: FastAPI, console: Console) -> None:
    _register_browse(app, console)
    _register_history(app, console)
    _register_export(app, console)


async def _fetch(console: Console, workflow_id: str, run_id: str | None) -> WorkflowHistory | None:
    _check_id(workflow_id, run_id)
    try:
        return await console.client.get_workflow_handle(workflow_id, run_id=run_id or None).fetch_history()
    except RPCError as exc:
        if exc.status in (RPCStatusCode.NOT_FOUND, RPCStatusCode.INVALID_ARGUMENT):
            return None
        raise


# --- the browser ---------------------------------------------------------------------------------------------


def _register_browse(app: FastAPI, console: Console) -> None:
    auditor = Depends(console.require(Permission.AUDIT))

    @app.get("/workflows", response_class=HTMLResponse)
    async def browse(request: Request, user: ConsoleUserView = auditor) -> HTMLResponse:
        params = {k: v.strip() for k, v in request.query_params.items()}
        query = visibility_query(params)
        try:
            rows = await _workflow_rows(console, query)
        except RPCError as exc:
            return console.error(request, f"Temporal could not list the workflows: {exc.message}", 503)
        return console.render(
            request,
            "workflows.html",
            rows=rows,
            params=params,
            statuses=STATUSES,
            attributes=ATTRIBUTES,
            query=query,
        )


async def _workflow_rows(console: Console, query: str) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    async for execution in console.client.list_workflows(query or None, limit=200):
        attributes = {k: (v[0] if len(v) == 1 else v) for k, v in execution.search_attributes.items()}
        rows.append(
            {
                "id": execution.id,
                "run_id": execution.run_id,
                "type": execution.workflow_type,
                "status": execution.status.name.replace("_", " ").lower() if execution.status else "",
                "started": execution.start_time,
                "closed": execution.close_time,
                "stage": attributes.get("Stage", ""),
                "entity": f"{attributes.get('EntityType', '')} {attributes.get('EntityId', '')}".strip(),
            }
        )
    return rows


# --- one workflow: its timeline in words, a raw event --------------------------------------------------------


def _register_history(app: FastAPI, console: Console) -> None:
    auditor = Depends(console.require(Permission.AUDIT))

    @app.get("/workflows/{workflow_id}", response_class=HTMLResponse)
    async def timeline(
        request: Request, workflow_id: str, run_id: str | None = None, user: ConsoleUserView = auditor
    ) -> HTMLResponse:
        history = await _fetch(console, workflow_id, run_id)
        if history is None:
            return console.error(request, "there is no such workflow", 404)
        console.phi_view(user, "workflow_timeline", "workflow", workflow_id[:36], workflow_id=workflow_id)
        return await _timeline_page(console, request, history, workflow_id, run_id)

    @app.get("/workflows/{workflow_id}/events/{event_id}", response_class=HTMLResponse)
    async def raw_event(
        request: Request, workflow_id: str, event_id: int, run_id: str | None = None, user: ConsoleUserView = auditor
    ) -> HTMLResponse:
        history = await _fetch(console, workflow_id, run_id)
        event = next((e for e in history.events if e.event_id == event_id), None) if history else None
        if history is None or event is None:
            return console.error(request, "there is no such workflow event", 404)
        console.phi_view(user, "workflow_event", "workflow", workflow_id[:36], workflow_id=workflow_id)
        decoded = await _decoded_event(console, event)
        return console.render(
            request,
            "event.html",
            workflow_id=workflow_id,
            run_id=run_id or "",
            event_id=event_id,
            raw=decoded,
        )


async def _timeline_page(
    console: Console, request: Request, history: WorkflowHistory, workflow_id: str, run_id: str | None
) -> HTMLResponse:
    """The history in words, each actor marked signed, unsigned or forged, and the replay verdict."""
    entries = await build_timeline(history, console.client.data_converter)
    human = [humanize(e, dollars) for e in entries]
    verified = {h.event_id: _verified(console, workflow_id, h.entry.detail) for h in human}
    verdict = await console.replay(history) if console.replay is not None else None
    return console.render(
        request,
        "timeline.html",
        workflow_id=workflow_id,
        run_id=run_id or "",
        timeline=human,
        verified=verified,
        verdict=verdict,
    )


# --- the export, and the old audit page's address ------------------------------------------------------------


def _register_export(app: FastAPI, console: Console) -> None:
    auditor = Depends(console.require(Permission.AUDIT))

    @app.get("/workflows/{workflow_id}/export", response_model=None)
    async def export(
        request: Request, workflow_id: str, run_id: str | None = None, user: ConsoleUserView = auditor
    ) -> Response:
        history = await _fetch(console, workflow_id, run_id)
        if history is None:
            return console.error(request, "there is no such workflow", 404)
        console.audit(
            user.username,
            "workflow.export",
            entity_type="workflow",
            entity_id=workflow_id[:36],
            workflow_id=workflow_id,
            details={"via": "console", "encrypted": True},
        )
        name = re.sub(r"[^A-Za-z0-9._-]", "_", workflow_id)
        return Response(
            history.to_json(),
            media_type="application/json",
            headers={"Content-Disposition": f'attachment; filename="{name}.json"'},
        )

    @app.get("/audit/{workflow_id}", response_model=None)
    async def old_audit_page(workflow_id: str, user: ConsoleUserView = auditor) -> RedirectResponse:
        _check_id(workflow_id, None)
        return RedirectResponse(f"/workflows/{workflow_id}", status_code=303)


async def _decoded_event(console: Console, event: HistoryEvent) -> str:
    """The event as JSON with every payload decoded (the codec's job), as the Web UI shows it decoded."""
    copy = HistoryEvent()
    copy.CopyFrom(event)
    codec = console.client.data_converter.payload_codec
    if codec is not None:
        await _decode_payloads(copy, codec)
    return json_format.MessageToJson(copy, indent=2)


async def _decode_payloads(message: Any, codec: Any) -> None:
    from google.protobuf.message import Message
    from temporalio.api.common.v1 import Payload, Payloads

    for descriptor, value in message.ListFields():
        if descriptor.message_type is None:
            continue
        if isinstance(value, Message):
            items = [value]
        elif hasattr(value, "values") and callable(value.values):  # a map field: its values
            items = list(value.values())
        else:  # a repeated field
            items = list(value)
        for item in items:
            if not isinstance(item, Message):
                continue
            if isinstance(item, Payloads):
                decoded = await codec.decode(list(item.payloads))
                del item.payloads[:]
                item.payloads.extend(decoded)
            elif isinstance(item, Payload):
                [decoded_one] = await codec.decode([item])
                item.CopyFrom(decoded_one)
            else:
                await _decode_payloads(item, codec)


def _verified(console: Console, workflow_id: str, detail: dict[str, Any]) -> str:
    """Whether the actor of a resolve Update (in its request) or of a start, signal or other Update (in the
    ``carecycle-actor`` header) verifies here: 'signed', 'unsigned', 'forged'; '' when there is nothing to check."""
    args = detail.get("args")
    if not args or not isinstance(args[0], dict) or "work_item_id" not in args[0]:
        return _verified_header(console, workflow_id, detail)
    request = args[0]
    raw = request.get("actor")
    if not raw:
        return "unsigned"
    if console.actor_keys is None:
        return ""
    try:
        actor = SignedActor(**{k: str(raw.get(k, "")) for k in SignedActor.__dataclass_fields__})
        scope = resolve_scope(
            workflow_id, request["work_item_id"], request.get("action", ""), request.get("fields") or {},
            request.get("note", ""),
        )  # fmt: skip
        verify_actor(console.actor_keys, actor, scope=scope)
    except (ForgedActor, TypeError, AttributeError):
        return "forged"
    return "signed" if request.get("by") == actor.label else "forged"


def _verifies(console: Console, actor: SignedActor, scope: str) -> bool:
    assert console.actor_keys is not None
    try:
        verify_actor(console.actor_keys, actor, scope=scope)
    except (ForgedActor, TypeError, ValueError):
        return False
    return True


def _verified_header(console: Console, workflow_id: str, detail: dict[str, Any]) -> str:
    if "header_scope" not in detail:
        return ""
    what, name, *rest = detail["header_scope"]
    raw = detail.get("header_actor")
    if console.actor_keys is None:
        return ""
    if not isinstance(raw, dict):
        return "forged"  # a header that is not an actor
    scopes: tuple[str, ...] = (header_scope(what, workflow_id, name),)
    if what == "signal" and rest:  # a signal-with-start's signal carries the start's header
        scopes = signal_header_scopes(str(rest[0]), workflow_id, name)
    try:
        actor = SignedActor(**raw)
    except (TypeError, ValueError):
        return "forged"
    if not any(_verifies(console, actor, scope) for scope in scopes):
        return "forged"
    args = detail.get("args") or []
    by = args[0].get("by") if what == "update" and args and isinstance(args[0], dict) else None
    return "forged" if isinstance(by, str) and by not in actor.names else "signed"
