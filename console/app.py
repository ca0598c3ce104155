"""The carecycle console: a page for each person who works the revenue cycle, behind a sign-in.

Server-rendered (FastAPI + Jinja2, no JS build, no external CDN; charts are SVG drawn on the server). It is
handed a Temporal client and a session factory by the composition root (``workers.stack``); it never imports
workers, activities or flows. A resolution goes through the same ``resolve`` Update as the CLI, signed as the
signed-in user (domain.actors), so the workflow's validator has the last word and the trail names who acted.

Pages (console.routes.*): sign-in and password (auth), dashboard, work queues and work items (work), claims
and patient accounts (records), workflows and their timelines (workflows), the audit log (audit_log), users
and API clients (admin), the Temporal Web UI's codec authorization (temporal_ui), the telehealth coordinator's
day of virtual visits (telehealth), the front desk's registration and booking through intake (front_desk).
Who may open what is the role x page matrix in docs/operations.md (console.accounts.PERMISSIONS). Every page but
``/login``, ``/health`` and ``/static`` needs a signed-in user; sessions are server-side with idle logoff
(console.sessions); forms that change something carry a CSRF token; the CSP allows nothing but this origin.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from sqlalchemy.orm import Session, sessionmaker
from starlette.exceptions import HTTPException as StarletteHTTPException
from temporalio.client import Client

from console.routes import (
    admin,
    api_clients,
    audit_log,
    auth,
    dashboard,
    front_desk,
    records,
    telehealth,
    temporal_ui,
    work,
    workflows,
)
from console.sessions import COOKIE
from console.web import BadRequest, Console, ConsoleOptions, Forbidden, Replay, SignInRequired
from domain.actors import ActorKeys

log = logging.getLogger("carecycle.console")

# Nothing but this origin: no inline script or style (the templates have none), no framing, forms post here.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
IDLE_MESSAGES = {
    "idle": "You were signed out after a period of inactivity.",
    "expired": "Your session reached its maximum length; please sign in again.",
    "password": "Your password was changed; please sign in again.",
    "revoked": "An administrator ended your session.",
    "disabled": "Your account is disabled.",
}


def create_app(
    client: Client,
    session_factory: sessionmaker[Session],
    *,
    session_secret: bytes,
    replay: Replay | None = None,
    secure_cookies: bool = False,
    options: ConsoleOptions | None = None,
    actor_keys: ActorKeys | None = None,
    clock: Callable[[], datetime] | None = None,
) -> FastAPI:
    options = options or ConsoleOptions()
    if secure_cookies:
        options.secure_cookies = True
    console = Console(
        client,
        session_factory,
        secret=session_secret,
        options=options,
        replay=replay,
        actor_keys=actor_keys,
        clock=clock or (lambda: datetime.now(UTC)),
    )
    app = FastAPI(title="carecycle console", docs_url=None, redoc_url=None, openapi_url=None)
    app.mount("/static", StaticFiles(directory=str(Path(__file__).parent / "static")), name="static")
    _install_handlers(app, console)
    for module in (
        auth,
        dashboard,
        work,
        records,
        workflows,
        audit_log,
        admin,
        api_clients,
        temporal_ui,
        telehealth,
        front_desk,
    ):
        module.register(app, console)

    @app.get("/health")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/")
    async def home() -> RedirectResponse:
        return RedirectResponse("/dashboard", status_code=303)

    return app


def _install_handlers(app: FastAPI, console: Console) -> None:
    @app.middleware("http")
    async def security_headers(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        response = await call_next(request)
        # No framing (a resolve button under someone else's page), no caching of work data, no referrer leaks.
        response.headers.setdefault("Content-Security-Policy", CSP)
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        response.headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
        if not request.url.path.startswith("/static/"):
            response.headers.setdefault("Cache-Control", "no-store")
        if console.options.secure_cookies:
            response.headers.setdefault("Strict-Transport-Security", "max-age=31536000")
        return response

    @app.exception_handler(SignInRequired)
    async def sign_in_required(request: Request, exc: SignInRequired) -> Response:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        reason = f"&reason={exc.reason}" if exc.reason in IDLE_MESSAGES else ""
        response = RedirectResponse(f"/login?next={quote(target, safe='')}{reason}", status_code=303)
        response.delete_cookie(COOKIE)
        return response

    @app.exception_handler(Forbidden)
    async def forbidden(request: Request, exc: Forbidden) -> Response:
        return console.error(request, str(exc), 403)

    @app.exception_handler(BadRequest)
    async def bad_request(request: Request, exc: BadRequest) -> Response:
        return console.error(request, str(exc), 400)

    @app.exception_handler(RequestValidationError)
    async def invalid_parameters(request: Request, exc: RequestValidationError) -> Response:
        names = sorted({str(error.get("loc", ("", "?"))[-1]) for error in exc.errors()})
        return console.error(request, f"this page cannot use the value of: {', '.join(names)}", 400)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        if exc.status_code == 404:
            return console.error(request, "there is no such page", 404)
        return HTMLResponse(str(exc.detail), status_code=exc.status_code)
