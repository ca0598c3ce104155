"""API clients: who may call the integration API, with which scopes, at what rate.

A client's bearer token is shown once when it is added; the store keeps only its SHA-256 (a token is 256 random
bits, so a plain hash is enough to make the stored value useless to a reader of the database). Scopes:
``intake`` (create and update resources, post transaction Bundles) and ``read`` (read and search).
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy import select
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


def authenticate(session: Session, token: str) -> Principal | None:
    if not token.startswith(TOKEN_PREFIX) or len(token) > 200:
        return None
    digest = token_hash(token)
    client = session.execute(select(m.ApiClient).where(m.ApiClient.token_hash == digest)).scalar_one_or_none()
    if client is None or client.revoked_at is not None or not hmac.compare_digest(client.token_hash, digest):
        return None
    return Principal(client.id, client.name, frozenset(client.scopes or ()))


@dataclass
class RateLimiter:
    """A token bucket per client in this API process: ``per_minute`` requests a minute, bursts up to a minute's."""

    per_minute: int
    _buckets: dict[str, tuple[float, float]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def allow(self, client_id: str) -> float | None:
        """None when the request may go; otherwise the seconds to wait."""
        if self.per_minute <= 0:
            return None
        rate = self.per_minute / 60.0
        now = time.monotonic()
        with self._lock:
            tokens, at = self._buckets.get(client_id, (float(self.per_minute), now))
            tokens = min(float(self.per_minute), tokens + (now - at) * rate)
            if tokens < 1.0:
                self._buckets[client_id] = (tokens, now)
                return (1.0 - tokens) / rate
            self._buckets[client_id] = (tokens - 1.0, now)
            return None
