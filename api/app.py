"""The integration API: FHIR R4 under ``/fhir`` (OpenAPI at ``/docs``), bearer tokens with scopes.

``create_app`` gets its store and its intake injected (``workers`` wires them: ``carecycle up`` and
``carecycle api``). Writes go through intake in one transaction; the processes they queue are started after
the response by a background dispatch, and a sweep every few seconds starts whatever a crash left pending.
Every call is an audit event (client, action, resource type and id, status) and one log line, neither with
PHI: search parameters and bodies are never logged.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from fastapi import FastAPI, Request
from fastapi.responses import Response
from sqlalchemy import Engine
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker
from starlette.exceptions import HTTPException as StarletteHTTPException

from api.clients import Principal, RateLimit
from api.outcome import FhirError, from_domain, operation_outcome, outcome_of, throttled
from api.queue_limit import QueueLimit
from domain import audit
from domain.errors import DomainError
from domain.store.engine import one_writer
from domain.store.uow import UnitOfWork
from intake import Actor, Intake
from intake.processes import PendingStart

if TYPE_CHECKING:
    from api.asynchronous import Accepted

log = logging.getLogger("carecycle.api")
FHIR_JSON = "application/fhir+json"


class Sealer(Protocol):
    """Seals and opens bytes bound to a key (``activities.documents.sealed.SealedDocuments``, wired by workers)."""

    def seal(self, key: str, data: bytes) -> bytes: ...

    def open(self, key: str, blob: bytes) -> bytes: ...


@dataclass
class ApiState:
    session_factory: sessionmaker[Session]
    intake: Intake
    limit: RateLimit
    max_body_bytes: int
    sweep_seconds: float
    mark_seconds: float = 0.25
    # Prefer: respond-async (api.asynchronous): without a sealer the header is ignored and Bundles are answered
    # at once, as FHIR allows
    sealer: Sealer | None = None
    async_poll_seconds: float = 2.0
    # how many accepted Bundles may wait for the applier (api.queue_limit)
    queue_limit: QueueLimit = field(default_factory=lambda: QueueLimit(0, 0))
    async_wake: asyncio.Event = field(default_factory=asyncio.Event)
    last_async_accept: float = 0.0  # time.monotonic() of the last 202: the applier leaves room to accepts
    journal_waiting: list[Accepted] = field(default_factory=list)  # accepts waiting for their journal commit
    journal_writing: bool = False
    dispatches: set[asyncio.Task[Any]] = field(default_factory=set)
    # process starts queued by writes, not dispatched yet, by the API client whose write queued them
    waiting: dict[Actor, list[PendingStart]] = field(default_factory=dict)
    unmarked: list[str] = field(default_factory=list)  # outbox rows started, not marked started yet

    def dispatch_soon(self, starts: tuple[PendingStart, ...], actor: Actor) -> None:
        """Start what a write queued, after the response, signed as the API client that wrote (``actor``:
        intake.Actor.acting, workers.security.actor_headers). Writes arriving together are dispatched together; the
        starts are the unit's own (the outbox is not read again), and the rows started are marked together with
        those of the other dispatches of the next ``mark_seconds`` (one UPDATE, on SQLite one write turn, instead
        of one per dispatch). The sweep retries whatever fails; a row started but not marked yet (a crash in
        between) is started again by the sweep, which starts nothing new (business workflow ids)."""
        if not starts or self.intake.starter is None:
            return
        first = not self.waiting
        self.waiting.setdefault(actor, []).extend(starts)
        if first:
            self._spawn(self._dispatch())

    def spawn(self, work: Coroutine[Any, Any, None]) -> None:
        """Run ``work`` in the background; the app's shutdown waits for it."""
        self._spawn(work)

    def _spawn(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(work)
        self.dispatches.add(task)
        task.add_done_callback(self.dispatches.discard)

    async def _dispatch(self) -> None:
        await asyncio.sleep(0)  # let the writes answered in this turn of the loop join
        waiting, self.waiting = self.waiting, {}
        for actor, starts in waiting.items():
            try:
                with actor.acting():
                    report = await self.intake.dispatch(pending=tuple(starts), mark=False)
            except Exception as exc:  # the rows stay pending: the sweep starts them
                log.warning("dispatch after a write failed (%s); the sweep retries", type(exc).__name__)
                continue
            self._started(report.started_rows)

    def _started(self, started_rows: Sequence[str]) -> None:
        if started_rows:
            first = not self.unmarked
            self.unmarked.extend(started_rows)
            if first:
                self._spawn(self._mark_later())

    async def _mark_later(self) -> None:
        await asyncio.sleep(self.mark_seconds)
        await self.mark_now()

    async def mark_now(self) -> None:
        rows, self.unmarked = self.unmarked, []
        if not rows:
            return
        try:
            await asyncio.to_thread(self.intake.mark_started, rows)
        except Exception as exc:  # left pending: the sweep starts them again, which starts nothing new
            log.warning("marking started processes failed (%s); the sweep retries", type(exc).__name__)


def fhir_response(body: dict[str, Any], status: int = 200, headers: dict[str, str] | None = None) -> Response:
    from api.fhir.json_out import dumps

    return Response(dumps(body), status_code=status, media_type=FHIR_JSON, headers=headers)


def create_app(
    session_factory: sessionmaker[Session],
    intake: Intake,
    *,
    rate_per_minute: int = 1200,
    max_body_bytes: int = 5 * 1024 * 1024,
    sweep_seconds: float = 5.0,
    sealer: Sealer | None = None,
    async_poll_seconds: float = 2.0,
    async_queue_per_client: int = 1000,
    async_queue_overall: int = 10_000,
) -> FastAPI:
    """``sealer``: keeps Bundles accepted with ``Prefer: respond-async`` sealed until applied (api.asynchronous);
    None: that header is ignored. ``async_queue_per_client`` and ``async_queue_overall``: the most of those
    Bundles that may wait for the applier, per API client and in all (0: no limit; api.queue_limit)."""
    state = ApiState(
        session_factory,
        intake,
        RateLimit(rate_per_minute),
        max_body_bytes,
        sweep_seconds,
        sealer=sealer,
        async_poll_seconds=async_poll_seconds,
        queue_limit=QueueLimit(async_queue_per_client, async_queue_overall),
    )

    app = FastAPI(
        title="carecycle integration API",
        version="1",
        description="FHIR R4 (JSON) under /fhir: Patient, Coverage, Appointment, Encounter, Condition and "
        "ChargeItem in (single resources or a transaction Bundle at POST /fhir); the revenue cycle out (Claim, "
        "ClaimResponse, ExplanationOfBenefit, CoverageEligibilityResponse, Account, Task). Bearer tokens from "
        "`carecycle api-clients add`; scopes intake and read. GET /fhir/metadata lists exactly what is served.",
        lifespan=_lifespan(state),
    )
    app.state.api = state
    _errors(app)
    from api.operations import OPERATIONS
    from api.routes import router

    for operation in OPERATIONS:  # before the generic /{type}/{id} routes
        app.include_router(operation.router)
    app.include_router(router)
    return app


def _lifespan(state: ApiState) -> Callable[[FastAPI], contextlib.AbstractAsyncContextManager[None]]:
    """The API's background tasks (the rate-limit sweep, the async applier when a sealer is given), stopped with it;
    on the way out the process starts it handed on are awaited and the clock's mark is kept."""

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        from api.asynchronous import run_applier

        background = [asyncio.create_task(_sweep(state))]
        if state.sealer is not None:  # applies what was queued before this start, then each Bundle accepted
            background.append(asyncio.create_task(run_applier(state)))
        try:
            yield
        finally:
            for task in background:
                task.cancel()
            for task in background:
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            while state.dispatches:
                await asyncio.gather(*state.dispatches, return_exceptions=True)
            await state.mark_now()

    return lifespan


async def _sweep(state: ApiState) -> None:
    while True:
        await asyncio.sleep(state.sweep_seconds)
        try:
            await state.intake.dispatch(older_than=state.sweep_seconds)
        except Exception as exc:  # the store or Temporal is down: try again at the next sweep
            log.warning("dispatch sweep failed", extra={"reason": type(exc).__name__})


def _errors(app: FastAPI) -> None:
    @app.exception_handler(FhirError)
    async def fhir_error(request: Request, error: FhirError) -> Response:
        return fhir_response(outcome_of(error), error.status, error.headers)

    @app.exception_handler(DomainError)
    async def domain_error(request: Request, error: DomainError) -> Response:
        converted = from_domain(error)
        return fhir_response(outcome_of(converted), converted.status)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, error: StarletteHTTPException) -> Response:
        code = {404: "not-found", 405: "not-supported"}.get(error.status_code, "processing")
        text = "no such endpoint" if error.status_code == 404 else str(error.detail)
        return fhir_response(operation_outcome(text, code=code), error.status_code)

    @app.exception_handler(OperationalError)
    async def store_down(request: Request, error: OperationalError) -> Response:
        log.warning("the store refused a request", extra={"reason": type(error.orig).__name__})
        refusal = throttled(503, "the store is unavailable: try again", 5)
        return fhir_response(outcome_of(refusal), refusal.status, refusal.headers)

    @app.exception_handler(Exception)
    async def unexpected(request: Request, error: Exception) -> Response:
        log.error("unexpected error in the API", extra={"reason": type(error).__name__})
        return fhir_response(operation_outcome("internal error", code="exception"), 500)


def state_of(request: Request) -> ApiState:
    found: ApiState = request.app.state.api
    return found


async def principal(request: Request, scope: str) -> Principal:
    """The calling client, checked: a valid bearer token (401), the scope (403), its rate (429)."""
    state = state_of(request)
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    challenge = {"WWW-Authenticate": 'Bearer realm="carecycle"'}
    if scheme.lower() != "bearer" or not token.strip():
        raise FhirError(401, "a bearer token is required (carecycle api-clients add)", headers=challenge)

    found, wait = await _admitted(state, token.strip())
    if found is None:
        raise FhirError(401, "the bearer token is unknown or revoked", headers=challenge)
    if scope not in found.scopes:
        raise FhirError(403, f"this client lacks the {scope} scope")
    if wait is not None:
        raise throttled(429, "too many requests for this client: slow down", wait)
    return found


async def _admitted(state: ApiState, token: str) -> tuple[Principal | None, float | None]:
    """The client of a token, looked up on every call (a revocation takes effect at once), and the call counted
    against its limit in the same transaction (on SQLite, this process's write turn: ``one_writer``)."""

    def lookup() -> tuple[Principal | None, float | None]:
        bind = state.session_factory.kw.get("bind")
        turn = one_writer(bind) if state.limit.active and isinstance(bind, Engine) else contextlib.nullcontext()
        with turn, UnitOfWork(state.session_factory) as uow:
            admitted = state.limit.admit(uow.session, token)
            uow.commit()
            return admitted

    return await asyncio.to_thread(lookup)


def audit_call(
    session: Session,
    who: Principal | None,
    action: str,
    resource_type: str,
    resource_id: str | None,
    status: int,
    details: dict[str, Any] | None = None,
) -> None:
    """The call's audit event, in the caller's transaction (a write records it in its own unit)."""
    actor = f"api:{who.name}" if who else "api:anonymous"
    audit.record(
        session,
        actor=actor,
        action=f"api.{action}",
        entity_type=resource_type[:30],
        entity_id=(resource_id or "-")[:36],
        details={"status": status, **(details or {})},
    )


async def record_call(
    state: ApiState,
    who: Principal | None,
    action: str,
    resource_type: str,
    resource_id: str | None,
    status: int,
    details: dict[str, Any] | None = None,
    *,
    audited: bool = False,
) -> None:
    """The call's audit event (unless its own transaction ``audited`` it already) and log line: client, action,
    resource type and id, status; never PHI."""
    actor = f"api:{who.name}" if who else "api:anonymous"
    log.info("%s %s %s %s -> %d", actor, action, resource_type, resource_id or "-", status)
    if audited:
        return

    def write() -> None:
        with UnitOfWork(state.session_factory) as uow:
            audit_call(uow.session, who, action, resource_type, resource_id, status, details)
            uow.commit()

    try:
        await asyncio.to_thread(write)
    except OperationalError as exc:  # the call's own answer stands; the store said busy
        log.warning("api call not audited: the store was busy", extra={"reason": type(exc).__name__})


Audited = Callable[[], Awaitable[Response]]
