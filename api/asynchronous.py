"""Transaction Bundles answered later: the asynchronous request pattern (FHIR R4 async.html, R5's
"Asynchronous Interaction Request Pattern") for ``POST /fhir`` with ``Prefer: respond-async``.

The request is authenticated, scoped, rate-limited, parsed and validated exactly as a synchronous one (a refusal
is answered at once and nothing is kept); then the Bundle, as sent, is journaled (``fhir_async_requests``,
sealed with the payload codec keys and bound to the row's id: it is PHI) in the same transaction as the call's
audit event, and answered ``202 Accepted`` with ``Content-Location: <base>/fhir/_async/<id>`` (an opaque id).

The applier (a task of every API process, started with it) applies queued Bundles oldest first through the same
function as a synchronous POST (``api.batch.run_transaction``): the row is claimed (locked, still queued) and
finished with its answer inside the Bundle's own intake unit, so a Bundle is applied exactly once, all or nothing,
whatever the number of API processes and restarts. A refusal of the Bundle's content (the sync path's 409/412/422)
rolls the unit back and is kept as the OperationOutcome with that status; a busy or unreachable store leaves the
row queued for the next pass. The sealed Bundle is dropped once its row is finished.

The queue is bounded (api.queue_limit, counted in the journal transaction): a Bundle beyond its client's or the
overall limit of queued Bundles is refused (``429`` / ``503`` with ``Retry-After``) and nothing of it is kept.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TypeVar, cast

from fastapi import Request
from fastapi.responses import Response
from sqlalchemy import CursorResult, Engine, Update, func, insert, select, text, update
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from api import batch
from api.app import FHIR_JSON, audit_call
from api.clients import Principal
from api.fhir import parse
from api.fhir.json_out import dumps
from api.outcome import FhirError, from_domain, operation_outcome, outcome_of
from domain import audit
from domain import models as m
from domain.errors import DomainError
from domain.store.engine import one_writer, sqlite_write_lock_first
from domain.store.uow import UnitOfWork
from intake import Actor
from intake.outcomes import Outcome
from intake.processes import PendingStart

if TYPE_CHECKING:
    from api.app import ApiState

log = logging.getLogger("carecycle.api")
QUEUED, DONE, FAILED, CANCELLED = "queued", "done", "failed", "cancelled"
STATUS_PATH = "_async"
BATCH = 100  # queued rows read per pass
QUIET_SECONDS = 0.1  # no 202 for this long: nobody is waiting for an answer, the applier goes full speed
DEFER_SECONDS = 2.0  # the longest the queue's head waits for a pause in the accepts
JOURNAL_LOCK = 0x43434151  # "CCAQ": PostgreSQL's journal transactions take turns while the queue is bounded
T = TypeVar("T")


def wanted(request: Request) -> bool:
    """The client asked for the asynchronous pattern (``Prefer: respond-async``)."""
    prefer = request.headers.get("prefer", "")
    return any(token.strip().lower() == "respond-async" for token in prefer.split(","))


def status_url(base: str, request_id: str) -> str:
    return f"{base}/{STATUS_PATH}/{request_id}"


def accepted(base: str, request_id: str) -> Response:
    headers = {"Content-Location": status_url(base, request_id)}
    body = operation_outcome(
        "accepted: poll Content-Location for the outcome", code="informational", severity="information"
    )
    return Response(dumps(body), status_code=202, media_type=FHIR_JSON, headers=headers)


def _sealed_key(request_id: str) -> str:
    return f"fhir-async/{request_id}"


@contextlib.contextmanager
def _writer(state: ApiState) -> Iterator[None]:
    bind = state.session_factory.kw.get("bind")
    with one_writer(bind) if isinstance(bind, Engine) else contextlib.nullcontext():
        yield


def _retried(work: Callable[[], T], attempts: int = 6) -> T:
    """``work`` again while the store says busy (SQLite's one writer, a PostgreSQL deadlock)."""
    for attempt in range(1, attempts + 1):
        try:
            return work()
        except OperationalError as error:
            text = str(error.orig).lower()
            if not any(word in text for word in ("locked", "busy", "deadlock")) or attempt == attempts:
                raise
            time.sleep(0.02 * attempt * attempt)
    raise AssertionError("unreachable")


# --- the door: accept, status, cancel ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Accepted:
    """A validated Bundle waiting for its journal transaction (and the 202 waiting for that commit)."""

    who: Principal
    request_id: str
    sealed: bytes
    base: str
    entries: int
    committed: asyncio.Future[None]


async def accept(state: ApiState, who: Principal, raw: bytes, entries: int, base: str) -> str:
    """Journal a validated Bundle (sealed) with the call's audit event; returns the request's id once committed.

    Accepts arriving while a journal transaction runs are committed together by the next one (group commit: one
    INSERT of their rows, their audit events appended to the chain at once), so a burst costs one transaction per
    group, not per Bundle; each is answered only after the commit that holds it. One the queue has no room for
    raises its refusal (api.queue_limit: 429 or 503) and is not kept."""
    assert state.sealer is not None
    request_id = m.new_id()
    sealed = state.sealer.seal(_sealed_key(request_id), raw)
    committed: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    state.journal_waiting.append(Accepted(who, request_id, sealed, base[:255], entries, committed))
    if not state.journal_writing:
        state.journal_writing = True
        state.spawn(_write_journal(state))
    await committed
    state.last_async_accept = time.monotonic()
    state.async_wake.set()
    return request_id


async def _write_journal(state: ApiState) -> None:
    """Commit the waiting accepts, group after group, until none waits."""
    try:
        while state.journal_waiting:
            await asyncio.sleep(0)  # let the accepts of this turn of the loop join
            group, state.journal_waiting = state.journal_waiting, []
            refusals: list[Exception | None]
            try:
                refusals = await asyncio.to_thread(_retried, functools.partial(journal, state, group))
            except Exception as error:  # each accept answers it (503 when the store refused)
                refusals = [error for _ in group]
            for item, refusal in zip(group, refusals, strict=True):
                if item.committed.done():  # a request whose client went away
                    continue
                if refusal is None:
                    item.committed.set_result(None)
                else:
                    item.committed.set_exception(refusal)
    finally:
        state.journal_writing = False


def journal(state: ApiState, group: list[Accepted]) -> list[Exception | None]:
    """Journal the accepts the queue has room for, in one transaction; for each accept, its refusal or None."""
    now = datetime.now(UTC)
    # The write lock from BEGIN (SQLite): the transaction writes anyway, and the queue's count must not go stale
    with _writer(state), sqlite_write_lock_first(), UnitOfWork(state.session_factory) as uow:
        refusals = journal_refusals(uow.session, state, group)
        kept = [item for item, refusal in zip(group, refusals, strict=True) if refusal is None]
        if kept:
            _insert(uow.session, kept, now)
            uow.commit()
    return list(refusals)


def journal_refusals(session: Session, state: ApiState, group: list[Accepted]) -> list[FhirError | None]:
    """The queue limit's refusals of a group (api.queue_limit), judged on the queued rows counted in the journal
    transaction (``session``) once it is the store's only journal writer: SQLite's write lock taken at BEGIN,
    PostgreSQL's transaction-level advisory lock ``JOURNAL_LOCK``, both held to the commit. So no two groups, of
    one API process or of several, can both count the same free place, and within a group each accept that fits
    takes its place before the next is judged. The applier and cancellations only free places: a count they race
    with is at worst too full for a moment (a refusal its client sends again), never too empty."""
    limit = state.queue_limit
    if not limit.active:
        return [None] * len(group)
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": JOURNAL_LOCK})
    request = m.FhirAsyncRequest
    counted = session.execute(
        select(request.client_id, func.count()).where(request.status == QUEUED).group_by(request.client_id)
    )
    queued = {client_id: int(count) for client_id, count in counted}
    return limit.refusals(queued, [item.who.client_id for item in group])


def _insert(session: Session, group: list[Accepted], now: datetime) -> None:
    """The group's rows (sealed) and its audit events."""
    rows = [
        {
            "id": item.request_id,
            "client_id": item.who.client_id,
            "status": QUEUED,
            "sealed_body": item.sealed,
            "base_url": item.base,
            "entries": item.entries,
            "attempts": 0,
            "received_at": now,
        }
        for item in group
    ]
    session.execute(insert(m.FhirAsyncRequest), rows)  # plain INSERTs: no ORM unit of work for them
    with audit.batched(session):
        for item in group:
            details = {"entries": item.entries}
            audit_call(session, item.who, "transaction-async", "Bundle", item.request_id, 202, details)


@dataclass(frozen=True)
class Status:
    status: str
    http_status: int | None
    answer: str | None


def status_of(state: ApiState, who: Principal, request_id: str) -> Status | None:
    """The request's state, or None when it is unknown, not this client's, or cancelled."""
    with UnitOfWork(state.session_factory) as uow:
        row = uow.session.execute(
            select(m.FhirAsyncRequest.status, m.FhirAsyncRequest.http_status, m.FhirAsyncRequest.answer).where(
                m.FhirAsyncRequest.id == request_id, m.FhirAsyncRequest.client_id == who.client_id
            )
        ).one_or_none()
    if row is None or row.status == CANCELLED:
        return None
    return Status(row.status, row.http_status, row.answer)


def status_response(found: Status) -> Response:
    if found.status == QUEUED:
        return Response(status_code=202, headers={"X-Progress": "queued", "Retry-After": "1"})
    assert found.answer is not None and found.http_status is not None
    return Response(found.answer, status_code=found.http_status, media_type=FHIR_JSON)


def cancel(state: ApiState, who: Principal, request_id: str) -> int:
    """Cancel a queued request: 202 (also when it was cancelled already; audited in the same transaction), 404
    unknown or another client's, 409 already applied or refused."""

    def write() -> int:
        with _writer(state), UnitOfWork(state.session_factory) as uow:
            session = uow.session
            changed = _rows(
                update(m.FhirAsyncRequest)
                .where(
                    m.FhirAsyncRequest.id == request_id,
                    m.FhirAsyncRequest.client_id == who.client_id,
                    m.FhirAsyncRequest.status == QUEUED,
                )
                .values(status=CANCELLED, sealed_body=None, finished_at=datetime.now(UTC)),
                session,
            )
            if changed:
                code = 202
            else:
                now = session.execute(
                    select(m.FhirAsyncRequest.status).where(
                        m.FhirAsyncRequest.id == request_id, m.FhirAsyncRequest.client_id == who.client_id
                    )
                ).scalar_one_or_none()
                code = 404 if now is None else 202 if now == CANCELLED else 409
            if code == 202:  # a refusal is audited by the route, as every refused call is
                audit_call(session, who, "transaction-async-cancel", "Bundle", request_id, code)
            uow.commit()
            return code

    return _retried(write)


# --- the applier ------------------------------------------------------------------------------------------------


class _NotQueued(Exception):
    """The row was finished or cancelled meanwhile (another API process, a DELETE): nothing to apply."""


@dataclass(frozen=True)
class Finished:
    actor: Actor
    starts: tuple[PendingStart, ...]


def queued(state: ApiState, limit: int = BATCH) -> list[tuple[str, datetime]]:
    """The queued requests, oldest first: (id, received at)."""
    with UnitOfWork(state.session_factory) as uow:
        rows = uow.session.execute(
            select(m.FhirAsyncRequest.id, m.FhirAsyncRequest.received_at)
            .where(m.FhirAsyncRequest.status == QUEUED)
            .order_by(m.FhirAsyncRequest.received_at, m.FhirAsyncRequest.id)
            .limit(limit)
        ).all()
    return [
        (row.id, row.received_at if row.received_at.tzinfo else row.received_at.replace(tzinfo=UTC)) for row in rows
    ]


def apply_one(state: ApiState, request_id: str) -> Finished | None:
    """Apply one queued Bundle through the synchronous path's function; None when there was nothing to do or it
    was refused (its row then holds the OperationOutcome). A busy or unreachable store raises: the row stays
    queued."""
    assert state.sealer is not None
    with UnitOfWork(state.session_factory) as uow:
        found = uow.session.execute(
            select(m.FhirAsyncRequest, m.ApiClient)
            .join(m.ApiClient, m.ApiClient.id == m.FhirAsyncRequest.client_id)
            .where(m.FhirAsyncRequest.id == request_id)
        ).one_or_none()
        if found is None or found[0].status != QUEUED or found[0].sealed_body is None:
            return None
        row, client = found
        who = Principal(client.id, client.name, frozenset(client.scopes))
        sealed, base = bytes(found[0].sealed_body), row.base_url
    try:
        entries = batch.entries_of(parse.load_json(state.sealer.open(_sealed_key(request_id), sealed)))

        def claim(session: Session) -> None:
            status = session.execute(
                select(m.FhirAsyncRequest.status)
                .where(m.FhirAsyncRequest.id == request_id)
                .with_for_update(skip_locked=True)  # PostgreSQL: another process's applier has it
            ).scalar_one_or_none()
            if status != QUEUED:
                raise _NotQueued(request_id)

        def finish(session: Session, results: dict[int, Outcome]) -> None:
            _finish(session, request_id, DONE, 200, dumps(batch.response(entries, results, base)).decode())

        applied = batch.run_transaction(state.intake, who, entries, request_id=request_id, before=claim, after=finish)
        return Finished(Actor("api", who.name), applied.starts)
    except _NotQueued:
        return None
    except FhirError as error:
        _refused(state, who, request_id, error)
    except DomainError as error:
        if getattr(error, "code", "") == "busy":  # the store stayed busy: the next pass tries again
            raise
        _refused(state, who, request_id, from_domain(error))
    except OperationalError:
        raise
    except Exception as error:  # never retried forever: answered as the sync path's unexpected error
        log.error("async transaction failed", extra={"reason": type(error).__name__, "request": request_id})
        _refused(state, who, request_id, FhirError(500, "internal error", code="exception"))
    return None


def _finish(session: Session, request_id: str, status: str, http_status: int, answer: str) -> int:
    return _rows(
        update(m.FhirAsyncRequest)
        .where(m.FhirAsyncRequest.id == request_id, m.FhirAsyncRequest.status == QUEUED)
        .values(
            status=status,
            http_status=http_status,
            answer=answer,
            sealed_body=None,
            finished_at=datetime.now(UTC),
            attempts=m.FhirAsyncRequest.attempts + 1,
        ),
        session,
    )


def _rows(statement: Update, session: Session) -> int:
    """Run an UPDATE; the number of rows it changed."""
    result = session.execute(statement.execution_options(synchronize_session=False))
    return int(cast(CursorResult[Any], result).rowcount)


def _refused(state: ApiState, who: Principal, request_id: str, error: FhirError) -> None:
    """The Bundle's refusal kept as the sync path would have answered it, audited as that call would have been."""

    def write() -> None:
        with _writer(state), UnitOfWork(state.session_factory) as uow:
            if _finish(uow.session, request_id, FAILED, error.status, dumps(outcome_of(error)).decode()):
                details = {"status": error.status, "issue": error.code}
                audit_call(uow.session, who, "transaction", "Bundle", request_id, error.status, details)
            uow.commit()

    _retried(write)
    log.info("api:%s transaction Bundle %s -> %d", who.name, request_id, error.status)


async def run_applier(state: ApiState) -> None:
    """Apply what is queued (at start: whatever a stop left queued), then wait for the next accept or
    ``async_poll_seconds``; the processes each Bundle queued are dispatched as a synchronous write's are."""
    while True:
        state.async_wake.clear()
        try:
            applied = await apply_queued(state)
        except Exception as exc:  # the store is away or busy: the rows stay queued
            log.warning("async transactions not applied yet", extra={"reason": type(exc).__name__})
            applied = 0
        if applied:
            continue
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(state.async_wake.wait(), state.async_poll_seconds)


async def apply_queued(state: ApiState) -> int:
    """One pass over the queued rows, oldest first; returns how many were looked at."""
    rows = await asyncio.to_thread(queued, state)
    for request_id, received_at in rows:
        await _wait_turn(state, received_at)
        finished = await asyncio.to_thread(apply_one, state, request_id)
        if finished is not None:
            state.dispatch_soon(finished.starts, finished.actor)
    return len(rows)


async def _wait_turn(state: ApiState, received_at: datetime) -> None:
    """While Bundles are being accepted (a 202 in the last ``QUIET_SECONDS``), wait for a pause, as long as the
    oldest queued Bundle (this one) has waited less than ``DEFER_SECONDS``: a burst is taken in at the accept
    path's own speed (the applier's unit would hold the process's write turn and interpreter), and under a
    sustained stream the queue's head soon passes that age, so the applier runs back to back and the accepts
    slow down with it instead of the queue growing without end."""
    while (
        time.monotonic() - state.last_async_accept < QUIET_SECONDS
        and (datetime.now(UTC) - received_at).total_seconds() < DEFER_SECONDS
    ):
        await asyncio.sleep(QUIET_SECONDS / 2)
