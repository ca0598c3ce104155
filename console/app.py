"""The operations console: work queues, a work item with its resolve form, processes by stage, audit.

Server-rendered (FastAPI + Jinja2, no JS build). It is handed a Temporal client and a session factory by
the composition root (``workers.stack``); it never imports workers, activities or flows. A resolution goes
through the same ``resolve`` Update as the CLI, so the workflow's validator has the last word.

Every page but ``/login`` and ``/health`` needs a signed-in console user (console.accounts); what a user may
do follows their role: operations see, billers also resolve, auditors also audit, admins do everything. A
resolution is sent as the signed-in user, so the workflow's audit trail names exactly who acted. Forms that
change something carry a CSRF token (console.sessions).
"""

from __future__ import annotations

import hmac
import logging
import secrets
from collections import Counter
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote

from fastapi import Depends, FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker
from temporalio.client import Client, WorkflowHistory, WorkflowUpdateFailedError
from temporalio.service import RPCError, RPCStatusCode

from console.accounts import (
    LOCKOUT,
    MAX_FAILED_ATTEMPTS,
    ConsoleUserView,
    Permission,
    SignInRefused,
    SignInThrottled,
    active_user,
    authenticate,
)
from console.history import build_timeline, format_value
from console.sessions import COOKIE, LOGIN_COOKIE, FailureBrake, SessionData, SessionSigner
from domain import models as m
from domain.errors import InvalidResolution
from domain.workitems import (
    ACTIONS,
    RESOLVE_UPDATE,
    Action,
    ResolveOutcome,
    ResolveRequest,
    WorkQueue,
    allowed_actions,
    parse_assignments,
    parse_reason,
    validate_resolution,
)

log = logging.getLogger("carecycle.console")

OPEN_STATES = ("open", "claimed")
SESSION_TTL = timedelta(hours=8)
Replay = Callable[[WorkflowHistory], Awaitable[tuple[bool, str | None]]]

TEMPLATES = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))
TEMPLATES.env.filters["value"] = format_value


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


class _SignInRequired(Exception):
    pass


class _Forbidden(Exception):
    pass


def _safe_next(target: str) -> str:
    """Only a path on this console: never another host (``//evil``, ``/\\evil``) after signing in."""
    if target.startswith("/") and not target.startswith(("//", "/\\")) and "\r" not in target and "\n" not in target:
        return target
    return "/queues"


def create_app(
    client: Client,
    session_factory: sessionmaker[Session],
    *,
    session_secret: bytes,
    replay: Replay | None = None,
    secure_cookies: bool = False,
    session_ttl: timedelta = SESSION_TTL,
    max_failed_sign_ins: int = MAX_FAILED_ATTEMPTS,
    lockout: timedelta = LOCKOUT,
    brake: FailureBrake | None = None,
) -> FastAPI:
    app = FastAPI(title="carecycle console", docs_url=None, redoc_url=None, openapi_url=None)
    signer = SessionSigner(session_secret, int(session_ttl.total_seconds()))
    brake = brake or FailureBrake()

    def render(request: Request, name: str, status_code: int = 200, **context: Any) -> HTMLResponse:
        user: ConsoleUserView | None = getattr(request.state, "user", None)
        session: SessionData | None = getattr(request.state, "session", None)
        context.setdefault("user", user)
        context.setdefault("csrf", signer.csrf_token(session) if session is not None else "")
        context.setdefault("Permission", Permission)
        return TEMPLATES.TemplateResponse(request, name, context, status_code=status_code)

    @app.middleware("http")
    async def security_headers(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        response = await call_next(request)
        # No framing (a resolve button under someone else's page), no caching of work data, no referrer leaks.
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("Content-Security-Policy", "frame-ancestors 'none'")
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        response.headers.setdefault("Cache-Control", "no-store")
        return response

    @app.exception_handler(_SignInRequired)
    async def sign_in_required(request: Request, exc: _SignInRequired) -> Response:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        response = RedirectResponse(f"/login?next={quote(target, safe='')}", status_code=303)
        response.delete_cookie(COOKIE)
        return response

    @app.exception_handler(_Forbidden)
    async def forbidden(request: Request, exc: _Forbidden) -> Response:
        return render(request, "error.html", status_code=403, message=str(exc))

    def signed_in(request: Request) -> ConsoleUserView:
        session = signer.read(request.cookies.get(COOKIE))
        if session is None:
            raise _SignInRequired()
        with session_factory() as db:
            user = active_user(db, session.user_id)
        if user is None or not hmac.compare_digest(user.credential_stamp, session.credential_stamp):
            raise _SignInRequired()
        request.state.user, request.state.session = user, session
        return user

    def allowed(permission: Permission) -> Callable[[Request], ConsoleUserView]:
        def check(request: Request) -> ConsoleUserView:
            user = signed_in(request)
            if not user.can(permission):
                raise _Forbidden(f"your role ({user.role.value}) may not {permission.value}")
            return user

        return check

    # Dependencies as defaults: the annotations are strings (postponed), which FastAPI resolves in this
    # module's globals, where a local Annotated alias would not be found.
    viewer = Depends(allowed(Permission.VIEW))
    resolver = Depends(allowed(Permission.RESOLVE))
    auditor = Depends(allowed(Permission.AUDIT))

    async def posted_form(request: Request) -> dict[str, str]:
        # A plain urlencoded form, parsed here: no multipart dependency for a few text fields.
        posted = parse_qs((await request.body()).decode(errors="replace"), keep_blank_values=True)
        return {name: values[0] for name, values in posted.items()}

    def client_address(request: Request) -> str:
        return request.client.host if request.client else "unknown"

    def login_page(
        request: Request, *, next: str, username: str = "", error: str | None = None, status_code: int = 200
    ) -> HTMLResponse:
        nonce = request.cookies.get(LOGIN_COOKIE) or secrets.token_urlsafe(16)
        page = render(
            request,
            "login.html",
            status_code=status_code,
            error=error,
            next=next,
            username=username,
            csrf=signer.login_token(nonce),
        )
        page.set_cookie(LOGIN_COOKIE, nonce, max_age=3600, httponly=True, samesite="lax", secure=secure_cookies)
        return page

    @app.get("/login", response_class=HTMLResponse)
    async def login_form(request: Request, next: str = "/queues") -> HTMLResponse:
        return login_page(request, next=_safe_next(next))

    @app.post("/login", response_model=None)
    async def login(request: Request) -> Response:
        form = await posted_form(request)
        username = form.get("username", "").strip().lower()
        target = _safe_next(form.get("next", "/queues"))
        address = client_address(request)

        def refused(message: str, status_code: int) -> HTMLResponse:
            return login_page(request, next=target, username=username, error=message, status_code=status_code)

        if not signer.login_ok(request.cookies.get(LOGIN_COOKIE), form.get("csrf", "")):
            return refused("the sign-in form has expired; please sign in again", 403)
        if brake.blocked(address):
            log.warning("console sign-in refused: too many failures from one address")
            return refused("too many failed sign-ins; try again later", 429)
        with session_factory() as db:
            try:
                user = authenticate(
                    db, username, form.get("password", ""), max_failures=max_failed_sign_ins, lockout=lockout
                )
            except SignInThrottled as exc:
                db.commit()
                log.warning("console sign-in refused: account %s is locked", username)
                return refused(str(exc), 429)
            except SignInRefused as exc:
                db.commit()
                brake.failed(address)
                # not the typed name: people type passwords into the name field
                log.warning("console sign-in failed")
                return refused(str(exc), 401)
            db.commit()
        cookie, _ = signer.issue(user.id, credential_stamp=user.credential_stamp)
        log.info("console sign-in: %s (%s)", user.username, user.role.value)
        response = RedirectResponse(target, status_code=303)
        response.delete_cookie(LOGIN_COOKIE)
        response.set_cookie(
            COOKIE,
            cookie,
            max_age=signer.ttl_seconds,
            httponly=True,
            samesite="lax",
            secure=secure_cookies,
        )
        return response

    @app.post("/logout", response_model=None)
    async def logout(request: Request, user: ConsoleUserView = viewer) -> Response:
        form = await posted_form(request)
        if not signer.csrf_ok(request.state.session, form.get("csrf", "")):
            return render(request, "error.html", status_code=403, message="the form has expired; reload the page")
        response = RedirectResponse("/login", status_code=303)
        response.delete_cookie(COOKIE)
        return response

    @app.get("/health")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/")
    async def home() -> RedirectResponse:
        return RedirectResponse("/queues", status_code=303)

    @app.get("/queues", response_class=HTMLResponse)
    async def queues(request: Request, user: ConsoleUserView = viewer, queue: str | None = None) -> HTMLResponse:
        now = datetime.now(UTC)
        with session_factory() as session:
            query = select(m.WorkItem).where(m.WorkItem.state.in_(OPEN_STATES)).order_by(m.WorkItem.sla_due_at)
            if queue:
                query = query.where(m.WorkItem.queue == queue)
            items = list(session.execute(query.limit(500)).scalars())
            totals = session.execute(
                select(m.WorkItem.queue, func.count())
                .where(m.WorkItem.state.in_(OPEN_STATES))
                .group_by(m.WorkItem.queue)
            ).all()
            overdue = session.execute(
                select(m.WorkItem.queue, func.count())
                .where(m.WorkItem.state.in_(OPEN_STATES), m.WorkItem.sla_due_at < now.replace(tzinfo=None))
                .group_by(m.WorkItem.queue)
            ).all()
            escalated = session.execute(
                select(m.WorkItem.queue, func.count())
                .where(m.WorkItem.state.in_(OPEN_STATES), m.WorkItem.escalation_level > 0)
                .group_by(m.WorkItem.queue)
            ).all()
        counts = {q: {"open": 0, "overdue": 0, "escalated": 0} for q in (w.value for w in WorkQueue)}
        for rows, key in ((totals, "open"), (overdue, "overdue"), (escalated, "escalated")):
            for name, count in rows:
                counts.setdefault(name, {"open": 0, "overdue": 0, "escalated": 0})[key] = count
        return render(
            request,
            "queues.html",
            counts=counts,
            items=items,
            queue=queue,
            now=now,
            aware=_aware,
        )

    def _item_context(item: m.WorkItem) -> dict[str, Any]:
        actions = []
        try:
            parse_reason(item.reason_code)
            names = allowed_actions(item.reason_code)
        except InvalidResolution:
            names = []
        for name in names:
            spec = ACTIONS[Action(name)]
            actions.append(
                {
                    "name": name,
                    "required": sorted(spec.required_fields),
                    "allowed": None if spec.allowed_fields is None else sorted(spec.allowed_fields),
                    "note": spec.needs_note,
                }
            )
        return {"item": item, "actions": actions, "now": datetime.now(UTC), "aware": _aware}

    def _load(item_id: str) -> m.WorkItem | None:
        with session_factory() as session:
            item = session.get(m.WorkItem, item_id)
            if item is not None:
                session.expunge(item)
            return item

    @app.get("/work-items/{item_id}", response_class=HTMLResponse)
    async def work_item(
        request: Request, item_id: str, done: str | None = None, user: ConsoleUserView = viewer
    ) -> HTMLResponse:
        item = _load(item_id)
        if item is None:
            return render(request, "error.html", status_code=404, message=f"no work item {item_id}")
        return render(request, "work_item.html", done=done, error=None, form={}, **_item_context(item))

    @app.post("/work-items/{item_id}/resolve", response_model=None)
    async def resolve(request: Request, item_id: str, user: ConsoleUserView = resolver) -> Response:
        posted = await posted_form(request)
        if not signer.csrf_ok(request.state.session, posted.get("csrf", "")):
            return render(request, "error.html", status_code=403, message="the form has expired; reload the page")
        action, fields, note = (posted.get(name, "") for name in ("action", "fields", "note"))
        item = _load(item_id)
        if item is None:
            return render(request, "error.html", status_code=404, message=f"no work item {item_id}")
        form = {"action": action, "fields": fields, "note": note}

        def rejected(message: str) -> HTMLResponse:
            assert item is not None
            return render(
                request, "work_item.html", status_code=422, done=None, error=message, form=form, **_item_context(item)
            )

        if item.state not in OPEN_STATES:
            return rejected(f"work item is already {item.state}")
        if not item.workflow_id:
            return rejected("work item has no waiting workflow")
        try:
            pairs = [line for line in fields.splitlines() if line.strip()]
            request_value = ResolveRequest(
                work_item_id=item.id,
                action=action,
                by=user.username,  # who is signed in, never what a form says
                fields=parse_assignments(pairs),
                note=note.strip(),
            )
            validate_resolution(item.reason_code, request_value.resolution())
        except InvalidResolution as exc:
            return rejected(str(exc))
        try:
            outcome = await client.get_workflow_handle(item.workflow_id).execute_update(
                RESOLVE_UPDATE, request_value, result_type=ResolveOutcome
            )
        except WorkflowUpdateFailedError as exc:
            return rejected(f"resolution rejected: {getattr(exc.cause, 'message', None) or exc.cause}")
        except RPCError as exc:
            if exc.status == RPCStatusCode.NOT_FOUND:
                return rejected("the waiting workflow is no longer running")
            return rejected(f"Temporal refused the update: {exc.message}")
        return RedirectResponse(f"/work-items/{item.id}?done={outcome.action}", status_code=303)

    @app.get("/processes", response_class=HTMLResponse)
    async def processes(request: Request, user: ConsoleUserView = viewer, stage: str | None = None) -> HTMLResponse:
        query = 'ExecutionStatus = "Running"'
        if stage:
            query += f' AND Stage = "{stage.replace(chr(34), "")}"'
        rows: list[dict[str, Any]] = []
        stages: Counter[str] = Counter()
        async for execution in client.list_workflows('ExecutionStatus = "Running"', limit=2000):
            value = execution.search_attributes.get("Stage")
            stages[str(value[0]) if value else "(none)"] += 1
        async for execution in client.list_workflows(query, limit=200):
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
        return render(request, "processes.html", rows=rows, stages=sorted(stages.items()), stage=stage)

    @app.get("/audit", response_model=None)
    async def audit_search(workflow_id: str = "", user: ConsoleUserView = auditor) -> RedirectResponse:
        return RedirectResponse(
            f"/audit/{workflow_id.strip()}" if workflow_id.strip() else "/processes", status_code=303
        )

    @app.get("/audit/{workflow_id}", response_class=HTMLResponse)
    async def audit(request: Request, workflow_id: str, user: ConsoleUserView = auditor) -> HTMLResponse:
        try:
            history = await client.get_workflow_handle(workflow_id).fetch_history()
        except RPCError as exc:
            if exc.status == RPCStatusCode.NOT_FOUND:
                return render(request, "error.html", status_code=404, message=f"no workflow {workflow_id}")
            raise
        timeline = await build_timeline(history, client.data_converter)
        verdict = await replay(history) if replay is not None else None
        return render(request, "audit.html", workflow_id=workflow_id, timeline=timeline, verdict=verdict)

    return app
