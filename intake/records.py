"""The front door's own bookkeeping in the store: business identifiers, accepted versions, queued starts.

Everything here runs inside the caller's transaction (an ``IntakeUnit``'s session) and commits with it.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Iterable
from datetime import UTC, date, datetime
from enum import Enum
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from domain import models as m
from intake import rows
from intake.commands import BusinessId, Ref
from intake.errors import IdentifierConflict, InvalidEvent, UnknownReference, VersionConflict
from intake.outcomes import Change, Kind

MAX_SYSTEM = 255
MAX_VALUE = 100


def content_hash(*parts: Any) -> str:
    """A stable digest of what the sender said (dataclasses, dates, enums), to tell a repeat from a change."""

    def plain(value: Any) -> Any:
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            return {f.name: plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
        if isinstance(value, Enum):
            return value.value
        if isinstance(value, datetime):
            return value.astimezone(UTC).isoformat() if value.tzinfo else value.isoformat()
        if isinstance(value, date):
            return value.isoformat()
        if isinstance(value, tuple | list):
            return [plain(v) for v in value]
        return value

    text = json.dumps([plain(p) for p in parts], sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def check_identifier(identifier: BusinessId, what: str) -> BusinessId:
    system, value = identifier.system.strip(), identifier.value.strip()
    if not system or not value:
        raise InvalidEvent(f"{what}: an identifier needs a system and a value")
    if len(system) > MAX_SYSTEM or len(value) > MAX_VALUE:
        raise InvalidEvent(f"{what}: identifier system or value too long ({MAX_SYSTEM}/{MAX_VALUE} characters)")
    return BusinessId(system, value)


def check_lengths(model: type[m.Base], values: dict[str, Any], what: str) -> None:
    """Refuse a value longer than its column (every store the same: SQLite would keep it, PostgreSQL refuse it)."""
    columns = model.__table__.columns
    for name, value in values.items():
        length = getattr(columns[name].type, "length", None) if name in columns else None
        if isinstance(value, str) and length is not None and len(value) > length:
            raise InvalidEvent(f"{what}: {name} is longer than {length} characters")


def _known(session: Session) -> dict[tuple[str, str, str], str | None]:
    """The identifiers this transaction has looked up or linked (the session lives as long as the unit)."""
    known: dict[tuple[str, str, str], str | None] = session.info.setdefault("intake_identifiers", {})
    return known


def forget_identifiers(session: Session) -> None:
    """After a bulk change of identifiers (a merge), look them up in the store again."""
    session.info.pop("intake_identifiers", None)


def _key(kind: Kind, identifier: BusinessId) -> tuple[str, str, str]:
    return (kind.value, identifier.system.strip(), identifier.value.strip())


def find_identifier(session: Session, kind: Kind, identifier: BusinessId) -> str | None:
    key = _key(kind, identifier)
    known = _known(session)
    if key in known:
        return known[key]
    # No autoflush: every identifier this unit linked is in ``known`` already, so the pending rows need not be
    # written out before the lookup (a flush per lookup was a third of a Bundle's time).
    with session.no_autoflush:
        found: str | None = session.execute(
            select(m.ExternalIdentifier.entity_id).where(
                m.ExternalIdentifier.kind == key[0],
                m.ExternalIdentifier.system == key[1],
                m.ExternalIdentifier.value == key[2],
            )
        ).scalar_one_or_none()
    known[key] = found
    return found


def prefetch_identifiers(session: Session, wanted: Iterable[tuple[Kind, BusinessId]]) -> None:
    """Look up, in one query, every identifier a unit is about to ask for (``find_identifier`` then answers from
    memory, found or not). Identifiers that cannot be valid are left for the command to refuse."""
    known = _known(session)
    keys = {
        key
        for kind, identifier in wanted
        if (key := _key(kind, identifier)) not in known
        and key[1]
        and key[2]
        and len(key[1]) <= MAX_SYSTEM
        and len(key[2]) <= MAX_VALUE
    }
    if not keys:
        return
    found: dict[tuple[str, str, str], str] = {}
    values = sorted({key[2] for key in keys})
    with session.no_autoflush:
        for start in range(0, len(values), 500):
            rows = session.execute(
                select(
                    m.ExternalIdentifier.kind,
                    m.ExternalIdentifier.system,
                    m.ExternalIdentifier.value,
                    m.ExternalIdentifier.entity_id,
                ).where(m.ExternalIdentifier.value.in_(values[start : start + 500]))
            )
            for kind, system, value, entity_id in rows:
                found[(kind, system, value)] = entity_id
    for key in keys:
        known[key] = found.get(key)


def link_identifier(session: Session, kind: Kind, identifier: BusinessId, entity_id: str) -> None:
    """Map the sender's identifier to our row (idempotent; an identifier never moves to another row)."""
    identifier = check_identifier(identifier, kind.value)
    current = find_identifier(session, kind, identifier)
    if current == entity_id:
        return
    if current is not None:
        raise IdentifierConflict(f"that {kind.value} identifier already names {kind.value} {current}")
    rows.later(
        session,
        m.ExternalIdentifier(
            id=m.new_id(),
            kind=kind.value,
            system=identifier.system,
            value=identifier.value,
            entity_id=entity_id,
            created_at=datetime.now(UTC),
        ),
    )
    _known(session)[_key(kind, identifier)] = entity_id


def identifiers_of(session: Session, kind: Kind, entity_id: str) -> list[BusinessId]:
    rows = session.execute(
        select(m.ExternalIdentifier.system, m.ExternalIdentifier.value)
        .where(m.ExternalIdentifier.kind == kind.value, m.ExternalIdentifier.entity_id == entity_id)
        .order_by(m.ExternalIdentifier.created_at, m.ExternalIdentifier.id)
    ).all()
    return [BusinessId(system, value) for system, value in rows]


def resolve(session: Session, kind: Kind, ref: Ref, model: type[m.Base]) -> str:
    """Our id for a reference (our id or the sender's identifier); UnknownReference when there is none."""
    if ref.id is not None:
        if not rows.exists(session, model, ref.id):
            raise UnknownReference(f"unknown {kind.value} {ref.id}")
        return ref.id
    if ref.identifier is None:
        raise InvalidEvent(f"a {kind.value} reference needs an id or an identifier")
    found = find_identifier(session, kind, check_identifier(ref.identifier, kind.value))
    if found is None:
        raise UnknownReference(f"no {kind.value} has that identifier")
    return found


def existing(
    session: Session, kind: Kind, identifier: BusinessId | None, target: str | None, model: type[m.Base]
) -> str | None:
    """The row a command is about: the target id it names, else the one its identifier names, else None."""
    by_identifier = find_identifier(session, kind, check_identifier(identifier, kind.value)) if identifier else None
    if target is None:
        return by_identifier
    if rows.get(session, model, target) is None:
        raise UnknownReference(f"unknown {kind.value} {target}")
    if by_identifier is not None and by_identifier != target:
        raise IdentifierConflict(f"that {kind.value} identifier names {kind.value} {by_identifier}, not {target}")
    return target


def record_of(session: Session, kind: Kind, entity_id: str) -> m.IntakeRecord | None:
    records: dict[tuple[str, str], m.IntakeRecord | None] = session.info.setdefault("intake_records", {})
    key = (kind.value, entity_id)
    if key not in records:
        records[key] = session.get(m.IntakeRecord, key)
    return records[key]


def version_of(session: Session, kind: Kind, entity_id: str) -> int:
    record = record_of(session, kind, entity_id)
    return record.version if record is not None else 1


def check_version(session: Session, kind: Kind, entity_id: str, expected: int | None) -> None:
    if expected is not None and version_of(session, kind, entity_id) != expected:
        raise VersionConflict(
            f"{kind.value} {entity_id} is at version {version_of(session, kind, entity_id)}, not {expected}"
        )


def accept(
    session: Session, kind: Kind, entity_id: str, digest: str, actor: str, *, new: bool, status: str | None = None
) -> tuple[Change, int]:
    """Remember what was accepted for a row: created (version 1), updated (version + 1) or unchanged.

    A row made before intake knew it (seeded, or by another path) is at version 1 until its first update."""
    record = None if new else record_of(session, kind, entity_id)
    now = datetime.now(UTC)
    if record is None:
        version = 1 if new else 2
        record = m.IntakeRecord(
            entity_type=kind.value,
            entity_id=entity_id,
            version=version,
            content_hash=digest,
            source_status=status,
            updated_at=now,
            updated_by=actor,
        )
        rows.later(session, record)
        session.info.setdefault("intake_records", {})[(kind.value, entity_id)] = record
        return (Change.CREATED if new else Change.UPDATED), version
    if record.content_hash == digest and (status is None or record.source_status == status):
        return Change.UNCHANGED, record.version
    record.version += 1
    record.content_hash = digest
    record.source_status = status if status is not None else record.source_status
    record.updated_at = now
    record.updated_by = actor
    return Change.UPDATED, record.version


def queue_start(session: Session, process: str, entity_id: str, workflow_id: str, detail: str = "") -> m.ProcessStart:
    """A process to start once this transaction commits (see ``ProcessStart``)."""
    row = m.ProcessStart(
        id=m.new_id(),
        process=process,
        entity_id=entity_id,
        workflow_id=workflow_id,
        detail=detail,
        created_at=datetime.now(UTC),
        attempts=0,
    )
    rows.later(session, row)
    return row


def unqueue_start(session: Session, row_id: str) -> None:
    """Take back a start queued in this unit (``queue_start``): dropped before it is written, or deleted if a step in
    the middle of the unit wrote it already (the booking rule writes the unit's rows so far)."""
    if not rows.forget_later(session, m.ProcessStart, row_id):  # written already (a step mid-unit wrote it)
        session.execute(delete(m.ProcessStart).where(m.ProcessStart.id == row_id))
