"""Recording who did what: an append-only, hash-chained audit trail.

Every ``AuditEvent`` row carries a sequence number, the hash of the row before it and its own hash
(SHA-256 over the previous hash and the row's canonical content), so an edited, deleted or inserted row
breaks the chain and :func:`verify_chain` says where. The database refuses UPDATE and DELETE on the table
(triggers, see the migrations); the chain makes tampering by someone who got around them evident.

Concurrent writers never fork the chain: :func:`record` takes the chain's head row (``audit_chain``, one row)
with an ``UPDATE ... RETURNING`` before it computes the new hash. On PostgreSQL that row lock is held until the
writer's transaction ends, so a second writer waits and then reads the first one's committed head; on SQLite
the UPDATE takes the database's write lock, which serialises writers the same way. A writer that rolls back
leaves no trace (its head update rolls back with it). Keep the time between ``record`` and the commit short.

A unit of work that records several events can append them as one: inside :func:`batched`, ``record`` keeps the
session's events and they are chained when the block ends (one head update for all of them, the rows inserted
together, in the order they were recorded), so the head is held only from then to the commit. The rows are the
same as one ``record`` at a time would have written: each with its own number, link and hash.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import Table, insert, select, text
from sqlalchemy.orm import Session

from domain.models import AuditChain, AuditEvent, new_id

# A claim-status inquiry (276/277 or a portal search) and what the payer answered: route, category, status.
STATUS_INQUIRY_ACTION = "claim.status_inquiry"
# A person looked at (or a command printed) patient data: patient, claim, account, a decoded history.
PHI_VIEW_ACTION = "phi.view"
# A person's resolution of a work item, as the workflow recorded it.
RESOLUTION_ACTION = "work_item.resolve"

GENESIS_HASH = "0" * 64
CHAIN_HEAD_ID = 1
_BATCH = "audit_batch"  # Session.info key: the events ``record`` keeps inside ``batched``
_TABLE = cast(Table, AuditEvent.__table__)
_COLUMNS = tuple(c.key for c in _TABLE.columns)


def canonical_time(value: datetime) -> str:
    """UTC, microseconds, ``Z``: the same text for a naive SQLite value and an aware PostgreSQL one."""
    aware = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    return aware.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def row_hash(
    prev_hash: str,
    *,
    seq: int,
    occurred_at: datetime,
    actor: str,
    action: str,
    entity_type: str,
    entity_id: str,
    workflow_id: str | None,
    details: dict[str, Any] | None,
) -> str:
    """Version 1 of the chain hash. Never change it: stored rows were hashed with it (add a version instead)."""
    content = [
        seq,
        canonical_time(occurred_at),
        actor,
        action,
        entity_type,
        entity_id,
        workflow_id or "",
        details or {},
    ]
    body = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=True, default=str)
    return hashlib.sha256(f"{prev_hash}\n{body}".encode()).hexdigest()


def event_hash(event: AuditEvent, prev_hash: str) -> str:
    return row_hash(
        prev_hash,
        seq=event.seq,
        occurred_at=event.occurred_at,
        actor=event.actor,
        action=event.action,
        entity_type=event.entity_type,
        entity_id=event.entity_id,
        workflow_id=event.workflow_id,
        details=event.details,
    )


def _take_head(session: Session, count: int = 1) -> tuple[int, str]:
    """Lock the chain's head, reserve ``count`` sequence numbers and return (the first of them, the previous hash)."""
    taken = session.execute(
        text("UPDATE audit_chain SET last_seq = last_seq + :n WHERE id = :id RETURNING last_seq, last_hash"),
        {"n": count, "id": CHAIN_HEAD_ID},
    ).one_or_none()
    if taken is None:  # a store made before the chain (tests that build the schema from the models)
        session.add(AuditChain(id=CHAIN_HEAD_ID, last_seq=0, last_hash=GENESIS_HASH))
        session.flush()
        return _take_head(session, count)
    return int(taken[0]) - count + 1, str(taken[1])


def _append(session: Session, events: list[AuditEvent]) -> None:
    """Chain ``events`` (in order) after the head, move the head to the last of them, add them to the session."""
    seq, prev_hash = _take_head(session, len(events))
    now = datetime.now(UTC)  # taken with the head: times never go back along the chain
    rows = []
    for event in events:
        event.id = event.id or new_id()
        event.seq, event.prev_hash, event.occurred_at = seq, prev_hash, now
        event.row_hash = event_hash(event, prev_hash)
        seq, prev_hash = seq + 1, event.row_hash
        rows.append({column: getattr(event, column) for column in _COLUMNS})
    session.execute(
        text("UPDATE audit_chain SET last_hash = :hash WHERE id = :id"), {"hash": prev_hash, "id": CHAIN_HEAD_ID}
    )
    session.execute(insert(_TABLE), rows)  # one statement for the batch, in this transaction


@contextmanager
def batched(session: Session) -> Iterator[None]:
    """Events recorded in ``session`` inside the block are appended to the chain together when it ends without an
    error (nothing is appended when it raises: the caller's transaction is to roll back). Nested blocks join the
    outer one."""
    if _BATCH in session.info:
        yield
        return
    session.info[_BATCH] = []
    try:
        yield
        events: list[AuditEvent] = session.info[_BATCH]
        if events:
            _append(session, events)
    finally:
        session.info.pop(_BATCH, None)


def record(
    session: Session,
    *,
    actor: str,
    action: str,
    entity_type: str,
    entity_id: str,
    workflow_id: str | None = None,
    details: dict[str, Any] | None = None,
) -> AuditEvent:
    """Append an audit event to the current transaction. Details hold codes, ids and amounts, never PHI.

    Inside :func:`batched` the event gets its number and hash when the block ends."""
    event = AuditEvent(
        actor=actor[:60],
        action=action[:60],
        entity_type=entity_type[:30],
        entity_id=entity_id[:36],
        workflow_id=workflow_id,
        details=dict(details or {}),
    )
    batch: list[AuditEvent] | None = session.info.get(_BATCH)
    if batch is not None:
        batch.append(event)
    else:
        _append(session, [event])
    return event


@dataclass(frozen=True)
class ChainBreak:
    seq: int | None
    event_id: str | None
    problem: str


@dataclass(frozen=True)
class ChainVerdict:
    rows: int
    head_seq: int
    head_hash: str
    breaks: tuple[ChainBreak, ...]

    @property
    def ok(self) -> bool:
        return not self.breaks


def verify_events(events: Iterable[AuditEvent], *, head_seq: int, head_hash: str) -> ChainVerdict:
    """Walk the rows in sequence order: every hash recomputed, every link and number checked, the head matched.

    An edited row fails its own hash; a deleted row leaves a gap in the numbers and a broken link; an inserted
    row either reuses a number, breaks a link or fails its hash; rows cut off the end no longer reach the head."""
    breaks: list[ChainBreak] = []
    expected_seq, prev = 1, GENESIS_HASH
    count = 0
    for event in events:
        count += 1
        if event.seq != expected_seq:
            breaks.append(ChainBreak(event.seq, event.id, f"sequence number {event.seq}, expected {expected_seq}"))
        if event.prev_hash != prev:
            breaks.append(ChainBreak(event.seq, event.id, "does not link to the row before it"))
        if event_hash(event, event.prev_hash) != event.row_hash:
            breaks.append(ChainBreak(event.seq, event.id, "its content does not match its hash (edited)"))
        expected_seq, prev = event.seq + 1, event.row_hash
    last_seq = expected_seq - 1
    if last_seq != head_seq or prev != head_hash:
        breaks.append(
            ChainBreak(None, None, f"the chain ends at {last_seq} but its head says {head_seq} (rows cut off or added)")
        )
    return ChainVerdict(rows=count, head_seq=head_seq, head_hash=head_hash, breaks=tuple(breaks))


def verify_chain(session: Session, *, batch: int = 5000) -> ChainVerdict:
    """Verify the whole audit trail of this store (read-only)."""
    head = session.get(AuditChain, CHAIN_HEAD_ID)
    head_seq, head_hash = (head.last_seq, head.last_hash) if head is not None else (0, GENESIS_HASH)

    def rows() -> Iterable[AuditEvent]:
        last = 0
        while True:
            page = list(
                session.execute(
                    select(AuditEvent).where(AuditEvent.seq > last).order_by(AuditEvent.seq).limit(batch)
                ).scalars()
            )
            if not page:
                return
            yield from page
            last = page[-1].seq
            session.expunge_all()

    return verify_events(rows(), head_seq=head_seq, head_hash=head_hash)


@dataclass(frozen=True)
class AuditFilter:
    """What to look for in the trail; every field optional. ``action`` matches a prefix (``console_user.``)."""

    actor: str | None = None
    action: str | None = None
    entity_type: str | None = None
    entity_id: str | None = None
    workflow_id: str | None = None
    since: datetime | None = None
    until: datetime | None = None


def search_events(
    session: Session, where: AuditFilter, *, limit: int = 200, offset: int = 0, newest_first: bool = True
) -> list[AuditEvent]:
    query = select(AuditEvent)
    if where.actor:
        query = query.where(AuditEvent.actor == where.actor)
    if where.action:
        query = query.where(AuditEvent.action.startswith(where.action, autoescape=True))
    if where.entity_type:
        query = query.where(AuditEvent.entity_type == where.entity_type)
    if where.entity_id:
        query = query.where(AuditEvent.entity_id == where.entity_id)
    if where.workflow_id:
        query = query.where(AuditEvent.workflow_id == where.workflow_id)
    if where.since:
        query = query.where(AuditEvent.occurred_at >= where.since)
    if where.until:
        query = query.where(AuditEvent.occurred_at < where.until)
    order = AuditEvent.seq.desc() if newest_first else AuditEvent.seq.asc()
    return list(session.execute(query.order_by(order).limit(limit).offset(offset)).scalars())


def event_row(event: AuditEvent) -> dict[str, Any]:
    """One event as plain values (CLI JSON, CSV export)."""
    return {
        "seq": event.seq,
        "occurred_at": canonical_time(event.occurred_at),
        "actor": event.actor,
        "action": event.action,
        "entity_type": event.entity_type,
        "entity_id": event.entity_id,
        "workflow_id": event.workflow_id or "",
        "details": dict(event.details or {}),
        "row_hash": event.row_hash,
    }
