"""What every console page shares: the templates, the signed-in user, permissions, forms, audit of PHI views.

One :class:`Console` per app, handed to each page module's ``register(app, console)``. A page asks for a user
with a permission through :meth:`Console.require` (a FastAPI dependency); the user and the session are read
from the store on every request (console.sessions), so a sign-out, revoke or disable is effective at once.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import parse_qs

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates
from sqlalchemy.orm import Session, sessionmaker
from temporalio.client import Client, WorkflowHistory

from console.accounts import ConsoleUserView, Permission, active_user
from console.desk import FrontDesk
from console.format import register_filters
from console.nav import NAV
from console.sessions import COOKIE, SessionData, SessionEnded, SessionPolicy, Signer, resume_session
from console.throttle import IpNetwork, SignInThrottle, ThrottlePolicy, client_address
from domain.actors import ActorKeys
from domain.audit import PHI_VIEW_ACTION, record

log = logging.getLogger("carecycle.console")

Replay = Callable[[WorkflowHistory], Awaitable[tuple[bool, str | None]]]
# (user name, path in the Web UI) -> the URL of a one-time grant the Web UI's proxy exchanges for a browser
# credential (workers.security.ui_proxy): the console's sign-in is the Web UI's.
CodecGrant = Callable[[str, str], str]

TEMPLATES = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))
register_filters(TEMPLATES.env)

MAX_FORM_BYTES = 64 * 1024


class SignInRequired(Exception):
    def __init__(self, reason: str = "none") -> None:
        super().__init__(reason)
        self.reason = reason


class Forbidden(Exception):
    pass


class BadRequest(Exception):
    """A query or form the page cannot use: answered 400 with the message, never a 500."""


class ApiClientView(Protocol):
    name: str
    scopes: tuple[str, ...]
    created_at: datetime
    revoked_at: datetime | None


class ApiClientAdmin(Protocol):
    """What the API clients page needs (implemented with ``api.clients`` by the composition root)."""

    scopes: tuple[str, ...]

    def list(self, session: Session) -> Sequence[ApiClientView]: ...

    def add(self, session: Session, name: str, scopes: tuple[str, ...], *, actor: str) -> str: ...

    def revoke(self, session: Session, name: str, *, actor: str) -> bool: ...


class TelehealthDesk(Protocol):
    """The telehealth coordinator's actions, the CLI's own (``workers.visit_desk``, handed over by the composition
    root): a cancel goes through intake, a resend and a reassignment are the VirtualVisit's validated Updates.
    ``user`` is the signed-in console user; a refusal is a ``domain.errors.DomainError`` with the reason."""

    async def cancel(self, user: str, appointment_id: str, reason: str) -> str: ...

    async def start(self, user: str, appointment_id: str) -> str: ...

    async def resend_invite(self, user: str, appointment_id: str) -> int: ...

    async def reassign(self, user: str, appointment_id: str, provider_id: str) -> str: ...


@dataclass
class ConsoleOptions:
    sessions: SessionPolicy = field(default_factory=SessionPolicy)
    throttle: ThrottlePolicy = field(default_factory=ThrottlePolicy)
    trusted_proxies: Sequence[IpNetwork] = ()
    secure_cookies: bool = False
    temporal_ui_url: str | None = None
    codec_url: str | None = None
    codec_grant: CodecGrant | None = None
    # Reads a stored document's bytes by key (the composition root's document store); None: no document links.
    read_document: Callable[[str], bytes] | None = None
    # The integration API's client management (api.clients, handed over by the composition root); None: no page.
    api_clients: ApiClientAdmin | None = None
    # The telehealth coordinator's actions (workers.visit_desk); None: the telehealth page shows, without actions.
    telehealth: TelehealthDesk | None = None
    # Registration and booking through intake (workers.front_desk); None: the front desk page shows, without forms.
    front_desk: FrontDesk | None = None


class Console:
    def __init__(
        self,
        client: Client,
        session_factory: sessionmaker[Session],
        *,
        secret: bytes,
        options: ConsoleOptions,
        replay: Replay | None,
        actor_keys: ActorKeys | None,
        clock: Callable[[], datetime],
    ) -> None:
        self.client = client
        self.session_factory = session_factory
        self.signer = Signer(secret)
        self.throttle = SignInThrottle(self.signer.mac(b"throttle-key", b""), options.throttle)
        self.options = options
        self.replay = replay
        self.actor_keys = actor_keys
        self.clock = clock

    def now(self) -> datetime:
        return self.clock()

    # --- pages -------------------------------------------------------------------------------------------

    def render(self, request: Request, name: str, status_code: int = 200, **context: Any) -> HTMLResponse:
        user: ConsoleUserView | None = getattr(request.state, "user", None)
        session: SessionData | None = getattr(request.state, "session", None)
        context.setdefault("user", user)
        context.setdefault("csrf", self.signer.csrf_token(session) if session is not None else "")
        context.setdefault("Permission", Permission)
        context.setdefault("nav", [entry for entry in NAV if user is not None and user.can(entry.permission)])
        context.setdefault("path", request.url.path)
        context.setdefault("temporal_ui", self.options.temporal_ui_url is not None)
        return TEMPLATES.TemplateResponse(request, name, context, status_code=status_code)

    def error(self, request: Request, message: str, status_code: int) -> HTMLResponse:
        return self.render(request, "error.html", status_code=status_code, message=message)

    # --- who is asking -----------------------------------------------------------------------------------

    def address(self, request: Request) -> str:
        peer = request.client.host if request.client else None
        return client_address(peer, request.headers.get("x-forwarded-for"), self.options.trusted_proxies)

    def signed_in(self, request: Request) -> ConsoleUserView:
        cached: ConsoleUserView | None = getattr(request.state, "user", None)
        if cached is not None:
            return cached
        now = self.now()
        with self.session_factory() as db:
            try:
                data = resume_session(db, request.cookies.get(COOKIE), policy=self.options.sessions, now=now)
            except SessionEnded as ended:
                db.commit()  # an idle or expired session is ended in the store, not only refused
                raise SignInRequired(ended.reason) from None
            user = active_user(db, data.user_id)
            db.commit()
        if user is None:
            raise SignInRequired("disabled")
        request.state.user, request.state.session = user, data
        return user

    def require(self, permission: Permission) -> Callable[[Request], ConsoleUserView]:
        def check(request: Request) -> ConsoleUserView:
            user = self.signed_in(request)
            if not user.can(permission):
                raise Forbidden(f"your role ({user.role.value}) may not use this page ({permission.value})")
            return user

        return check

    # --- forms ---------------------------------------------------------------------------------------------

    async def form(self, request: Request) -> dict[str, str]:
        """A plain urlencoded form, parsed here (no multipart dependency for a few text fields)."""
        body = await request.body()
        if len(body) > MAX_FORM_BYTES:
            raise BadRequest("the form is too large")
        posted = parse_qs(body.decode(errors="replace"), keep_blank_values=True)
        return {name: values[0] for name, values in posted.items()}

    def csrf_ok(self, request: Request, form: dict[str, str]) -> bool:
        return self.signer.csrf_ok(getattr(request.state, "session", None), form.get("csrf", ""))

    # --- the audit trail -------------------------------------------------------------------------------

    def audit(
        self,
        actor: str,
        action: str,
        *,
        entity_type: str,
        entity_id: str,
        workflow_id: str | None = None,
        details: dict[str, Any] | None = None,
    ) -> None:
        """One audit event in a transaction of its own, committed before the page shows anything."""
        with self.session_factory() as db:
            record(
                db,
                actor=actor,
                action=action,
                entity_type=entity_type,
                entity_id=entity_id,
                workflow_id=workflow_id,
                details=details,
            )
            db.commit()

    def phi_view(
        self, user: ConsoleUserView, page: str, entity_type: str, entity_id: str, workflow_id: str | None = None
    ) -> None:
        self.audit(
            user.username,
            PHI_VIEW_ACTION,
            entity_type=entity_type,
            entity_id=entity_id,
            workflow_id=workflow_id,
            details={"via": "console", "page": page},
        )


def utcnow() -> datetime:
    return datetime.now(UTC)
