"""API clients: who may call the integration API, with which scopes, at what rate (counted in the store, so that
the limit holds across API processes: ``RateLimit``).

A client's bearer token is shown once when it is added; the store keeps only its SHA-256 (a token is 256 random
bits, so a plain hash is enough to make the stored value useless to a reader of the database). Scopes:
``intake`` (create and update resources, post transaction Bundles) and ``read`` (read and search).
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import re
import secrets
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import BigInteger, Integer, Table, bindparam, delete, literal, select, text
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from domain import audit
from domain import models as m
from domain.errors import DomainError, NotFound, ValidationError

SCOPES = ("intake", "read")
TOKEN_PREFIX = "ccapi_"
_NAME = re.compile(r"^[a-z0-9][a-z0-9._-]{0,59}$")


class DuplicateClient(DomainError):
    code = "duplicate_client"


@dataclass(frozen=True)
class ApiClientView:
    name: str
    scopes: tuple[str, ...]
    created_at: datetime
    revoked_at: datetime | None

    @property
    def active(self) -> bool:
        return self.revoked_at is None


@dataclass(frozen=True)
class Principal:
    """An authenticated client: its name (the audit actor is ``api:<name>``) and scopes."""

    client_id: str
    name: str
    scopes: frozenset[str]


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def parse_scopes(text: str) -> tuple[str, ...]:
    scopes = tuple(dict.fromkeys(s.strip() for s in text.split(",") if s.strip()))
    unknown = [s for s in scopes if s not in SCOPES]
    if not scopes or unknown:
        raise ValidationError(f"scopes are a comma-separated list of {', '.join(SCOPES)}")
    return scopes


def add_client(session: Session, name: str, scopes: tuple[str, ...], *, actor: str) -> str:
    """Create a client; returns its token (the only time it is seen)."""
    if not _NAME.match(name):
        raise ValidationError("a client name is 1-60 lower-case letters, digits, '.', '_' or '-'")
    parse_scopes(",".join(scopes))
    if session.execute(select(m.ApiClient.id).where(m.ApiClient.name == name)).first() is not None:
        raise DuplicateClient(f"an API client named {name!r} exists (revoke it, or choose another name)")
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    client = m.ApiClient(name=name, token_hash=token_hash(token), scopes=list(scopes))
    session.add(client)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="api_client.added",
        entity_type="api_client",
        entity_id=client.id,
        details={"name": name, "scopes": list(scopes)},
    )
    return token


def list_clients(session: Session) -> list[ApiClientView]:
    rows = session.execute(select(m.ApiClient).order_by(m.ApiClient.name)).scalars()
    return [ApiClientView(r.name, tuple(r.scopes or ()), r.created_at, r.revoked_at) for r in rows]


def revoke_client(session: Session, name: str, *, actor: str) -> bool:
    """Revoke a client's token at once; False when it was already revoked."""
    client = session.execute(select(m.ApiClient).where(m.ApiClient.name == name)).scalar_one_or_none()
    if client is None:
        raise NotFound(f"no API client named {name!r}")
    if client.revoked_at is not None:
        return False
    client.revoked_at = datetime.now(UTC)
    audit.record(
        session,
        actor=actor,
        action="api_client.revoked",
        entity_type="api_client",
        entity_id=client.id,
        details={"name": name},
    )
    return True


def _well_formed(token: str) -> bool:
    return token.startswith(TOKEN_PREFIX) and len(token) <= 200


def authenticate(session: Session, token: str) -> Principal | None:
    if not _well_formed(token):
        return None
    digest = token_hash(token)
    c = m.ApiClient
    # Columns, not the entity: on every call, the ORM's object (identity map, attribute events) is pure cost.
    found = session.execute(
        select(c.id, c.name, c.scopes, c.token_hash).where(c.token_hash == digest, c.revoked_at.is_(None))
    ).first()
    if found is None or not hmac.compare_digest(found.token_hash, digest):
        return None
    return Principal(found.id, found.name, frozenset(found.scopes or ()))


WINDOW_SECONDS = 60


@dataclass(frozen=True)
class RateLimit:
    """``per_minute`` calls per client in each minute (a fixed window), counted in the store: every API process
    sharing the store adds to the same count, so the limit is the client's whatever the number of processes.
    0 or less: no limit. At a window's edge a client may make up to twice its limit within a minute (the end of
    one window and the start of the next); the count of a window is exact across processes."""

    per_minute: int

    @property
    def active(self) -> bool:
        return self.per_minute > 0

    def admit(self, session: Session, token: str, now: float | None = None) -> tuple[Principal | None, float | None]:
        """The token's client, with this call counted in its window (in the caller's transaction, which the
        caller commits), and the seconds to wait when the call is beyond the limit (None: it may go).

        The count comes first: on SQLite the transaction then holds the write lock from its first statement (it
        cannot lose a write race after a read). An unknown or revoked token counts nothing."""
        if not _well_formed(token):
            return None, None
        if not self.active:
            return authenticate(session, token), None
        at = time.time() if now is None else now
        window = int(at // WINDOW_SECONDS) * WINDOW_SECONDS
        dialect = session.get_bind().dialect.name
        if dialect == "postgresql":  # a count lost in a crash is harmless: no WAL flush to wait for on each call
            session.execute(text("SET LOCAL synchronous_commit TO OFF"))
        statement = _count_call(dialect)
        counted = session.execute(statement, {"digest": token_hash(token), "window": window}).first()
        found = authenticate(session, token)
        if counted is None or found is None:
            return found, None
        client_id, calls = counted
        if calls == 1:  # the client's first call of this window: its past windows go
            session.execute(
                delete(m.ApiRateWindow).where(
                    m.ApiRateWindow.client_id == client_id, m.ApiRateWindow.window_start < window
                )
            )
        if calls > self.per_minute:
            return found, max(1.0, window + WINDOW_SECONDS - at)
        return found, None


@functools.cache
def _count_call(dialect: str) -> Any:
    """``INSERT .. SELECT`` the active client of a token hash (``digest``) into its ``window``, or add one to the
    window's count; ``RETURNING`` the client and the count (SQLite 3.35+ and PostgreSQL). Built once per dialect."""
    windows = m.ApiRateWindow.__table__
    clients = m.ApiClient.__table__
    assert isinstance(windows, Table)
    insert = postgresql_insert if dialect == "postgresql" else sqlite_insert
    source = select(clients.c.id, bindparam("window", type_=BigInteger), literal(1, Integer)).where(
        clients.c.token_hash == bindparam("digest"), clients.c.revoked_at.is_(None)
    )
    statement = insert(windows).from_select(["client_id", "window_start", "calls"], source)
    return statement.on_conflict_do_update(
        index_elements=[windows.c.client_id, windows.c.window_start], set_={"calls": windows.c.calls + 1}
    ).returning(windows.c.client_id, windows.c.calls)
