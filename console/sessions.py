"""Server-side console sessions, CSRF tokens and the known-device cookie.

The session cookie holds 32 random bytes and nothing else; the store keeps their SHA-256 (``console_sessions``)
with the user, the last request's time and an absolute expiry. Every request looks the row up: a session ended
by sign-out, a password change, a disable or an admin's revoke is refused at once (a copied cookie is worth
nothing afterwards), one idle longer than the idle limit (HIPAA's automatic logoff, 15 minutes by default) or
past its absolute lifetime is ended then and there.

The CSRF token of a form is an HMAC of the session's id under the console's secret: no more server state, and
a page of another origin cannot know it. The sign-in form has none yet: its token is tied to a nonce cookie.
The device cookie (the user name and a random device id, signed) marks a browser that signed in as that user
before: the per-account sign-in lock, which a stranger can trip, does not apply to it (console.throttle).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from domain import models as m

COOKIE = "carecycle_console_session"
# Before sign-in there is no session: the sign-in form's CSRF token is tied to a random nonce in this cookie,
# so another site cannot sign a visitor in under the attacker's account.
LOGIN_COOKIE = "carecycle_console_login"
DEVICE_COOKIE = "carecycle_console_device"
DEVICE_LIFETIME = timedelta(days=90)

IDLE_DEFAULT = timedelta(minutes=15)
LIFETIME_DEFAULT = timedelta(hours=8)
# last_seen_at is written at most this often per session: not a write per page, still minute-exact idling.
TOUCH_EVERY = timedelta(seconds=30)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def token_id(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


@dataclass(frozen=True)
class SessionData:
    id: str  # sha256 of the cookie's token
    user_id: str
    created_at: datetime
    expires_at: datetime


@dataclass(frozen=True)
class SessionPolicy:
    idle: timedelta = IDLE_DEFAULT
    lifetime: timedelta = LIFETIME_DEFAULT


class SessionEnded(Exception):
    """The cookie names no open session; ``reason`` says why (for the sign-in page's message)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def start_session(
    session: Session, user_id: str, *, policy: SessionPolicy, now: datetime, client_address: str = ""
) -> tuple[str, SessionData]:
    """A new session row; returns the cookie's token (shown once, never stored) and the session."""
    token = secrets.token_urlsafe(32)
    row = m.ConsoleSession(
        id=token_id(token),
        user_id=user_id,
        created_at=now,
        last_seen_at=now,
        expires_at=now + policy.lifetime,
        client_address=client_address[:64],
    )
    session.add(row)
    return token, SessionData(row.id, user_id, now, row.expires_at)


def resume_session(session: Session, token: str | None, *, policy: SessionPolicy, now: datetime) -> SessionData:
    """The open session behind a cookie, touched; raises :class:`SessionEnded` (and ends it if it timed out)."""
    if not token:
        raise SessionEnded("none")
    row = session.get(m.ConsoleSession, token_id(token))
    if row is None:
        raise SessionEnded("unknown")
    if row.ended_at is not None:
        raise SessionEnded(row.end_reason or "ended")
    if now >= _aware(row.expires_at):
        _end(row, now, "expired")
        raise SessionEnded("expired")
    if now - _aware(row.last_seen_at) >= policy.idle:
        _end(row, now, "idle")
        raise SessionEnded("idle")
    if now - _aware(row.last_seen_at) >= TOUCH_EVERY:
        row.last_seen_at = now
    return SessionData(row.id, row.user_id, _aware(row.created_at), _aware(row.expires_at))


def _end(row: m.ConsoleSession, now: datetime, reason: str) -> None:
    row.ended_at, row.end_reason = now, reason


def end_session(session: Session, session_id: str, *, reason: str = "signed_out", now: datetime | None = None) -> None:
    row = session.get(m.ConsoleSession, session_id)
    if row is not None and row.ended_at is None:
        _end(row, now or datetime.now(UTC), reason)


def end_user_sessions(session: Session, user_id: str, *, reason: str, now: datetime | None = None) -> int:
    """End every open session of a user; returns how many were open."""
    result = session.execute(
        update(m.ConsoleSession)
        .where(m.ConsoleSession.user_id == user_id, m.ConsoleSession.ended_at.is_(None))
        .values(ended_at=now or datetime.now(UTC), end_reason=reason)
        .execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0) or 0)


def open_session_count(session: Session, user_id: str, *, now: datetime | None = None) -> int:
    now = now or datetime.now(UTC)
    return int(
        session.execute(
            select(func.count())
            .select_from(m.ConsoleSession)
            .where(
                m.ConsoleSession.user_id == user_id,
                m.ConsoleSession.ended_at.is_(None),
                m.ConsoleSession.expires_at > now,
            )
        ).scalar_one()
    )


class Signer:
    """HMACs under the console's secret: CSRF tokens, the sign-in form's token, the device cookie."""

    def __init__(self, secret: bytes) -> None:
        if len(secret) < 16:
            raise ValueError("the console session secret must be at least 16 bytes")
        self._secret = secret

    def mac(self, purpose: bytes, message: bytes) -> bytes:
        return hmac.new(self._secret, purpose + b"\x00" + message, hashlib.sha256).digest()

    def csrf_token(self, session: SessionData) -> str:
        return _b64(self.mac(b"csrf", session.id.encode()))

    def csrf_ok(self, session: SessionData | None, presented: str) -> bool:
        if session is None or not presented:
            return False
        return hmac.compare_digest(presented.encode(), self.csrf_token(session).encode())

    def login_token(self, nonce: str) -> str:
        return _b64(self.mac(b"login", nonce.encode()))

    def login_ok(self, nonce: str | None, presented: str) -> bool:
        return bool(nonce and presented) and hmac.compare_digest(
            presented.encode(), self.login_token(nonce or "").encode()
        )

    def device_cookie(self, username: str, *, now: datetime) -> str:
        body = _b64(json.dumps({"u": username, "d": secrets.token_urlsafe(12), "t": int(now.timestamp())}).encode())
        return f"{body}.{_b64(self.mac(b'device', body.encode()))}"

    def device_of(self, cookie: str | None, username: str, *, now: datetime) -> str | None:
        """The device id of a valid device cookie issued to ``username``, else None."""
        if not cookie or "." not in cookie:
            return None
        body, _, mac = cookie.partition(".")
        try:
            if not hmac.compare_digest(_unb64(mac), self.mac(b"device", body.encode())):
                return None
            fields = json.loads(_unb64(body))
            issued = datetime.fromtimestamp(int(fields["t"]), UTC)
            if fields["u"] != username or now - issued > DEVICE_LIFETIME:
                return None
            return str(fields["d"])
        except (ValueError, KeyError, TypeError):
            return None
