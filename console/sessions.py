"""Signed session cookies, CSRF tokens and a per-address brake on failed sign-ins for the console.

The cookie is ``base64url(json) . base64url(HMAC-SHA256)``: it carries the user id, a random session id,
a stamp of the user's credential (a password change ends older sessions) and an expiry, nothing else,
and the server re-reads the user on every request (a disabled account is out at once). The CSRF token of
a form is an HMAC of the session id, so it needs no server-side state and a page from another origin
cannot know it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from collections import deque
from dataclasses import dataclass

COOKIE = "carecycle_console_session"
# Before sign-in there is no session: the sign-in form's CSRF token is tied to a random nonce in this cookie,
# so another site cannot sign a visitor in under the attacker's account.
LOGIN_COOKIE = "carecycle_console_login"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass(frozen=True)
class SessionData:
    user_id: str
    session_id: str
    expires_at: float
    credential_stamp: str = ""


class SessionSigner:
    def __init__(self, secret: bytes, ttl_seconds: int) -> None:
        if len(secret) < 16:
            raise ValueError("the console session secret must be at least 16 bytes")
        self._secret = secret
        self.ttl_seconds = ttl_seconds

    def _mac(self, purpose: bytes, message: bytes) -> bytes:
        return hmac.new(self._secret, purpose + b"\x00" + message, hashlib.sha256).digest()

    def issue(self, user_id: str, *, credential_stamp: str = "", now: float | None = None) -> tuple[str, SessionData]:
        data = SessionData(
            user_id, secrets.token_urlsafe(16), (now or time.time()) + self.ttl_seconds, credential_stamp
        )
        fields = {"u": data.user_id, "s": data.session_id, "e": data.expires_at, "p": data.credential_stamp}
        body = _b64(json.dumps(fields).encode())
        return f"{body}.{_b64(self._mac(b'session', body.encode()))}", data

    def read(self, cookie: str | None, *, now: float | None = None) -> SessionData | None:
        if not cookie or "." not in cookie:
            return None
        body, _, mac = cookie.partition(".")
        try:
            if not hmac.compare_digest(_unb64(mac), self._mac(b"session", body.encode())):
                return None
            fields = json.loads(_unb64(body))
            data = SessionData(str(fields["u"]), str(fields["s"]), float(fields["e"]), str(fields.get("p", "")))
        except (ValueError, KeyError, TypeError):
            return None
        return data if data.expires_at > (now or time.time()) else None

    def csrf_token(self, session: SessionData) -> str:
        return _b64(self._mac(b"csrf", session.session_id.encode()))

    def csrf_ok(self, session: SessionData, presented: str) -> bool:
        return bool(presented) and hmac.compare_digest(presented.encode(), self.csrf_token(session).encode())

    def login_token(self, nonce: str) -> str:
        return _b64(self._mac(b"login", nonce.encode()))

    def login_ok(self, nonce: str | None, presented: str) -> bool:
        return bool(nonce and presented) and hmac.compare_digest(
            presented.encode(), self.login_token(nonce or "").encode()
        )


class FailureBrake:
    """At most ``limit`` failed sign-ins per client address in ``window_seconds``, whatever the user names.

    The per-account lock (console.accounts) stops guessing one password; this stops one address from
    trying many names. In memory: each console instance keeps its own, which is enough for a brake."""

    def __init__(self, limit: int = 20, window_seconds: float = 900) -> None:
        self.limit = limit
        self.window_seconds = window_seconds
        self._failures: dict[str, deque[float]] = {}

    def _recent(self, address: str, now: float) -> deque[float]:
        failures = self._failures.setdefault(address, deque())
        while failures and failures[0] <= now - self.window_seconds:
            failures.popleft()
        return failures

    def blocked(self, address: str, *, now: float | None = None) -> bool:
        return len(self._recent(address, now or time.monotonic())) >= self.limit

    def failed(self, address: str, *, now: float | None = None) -> None:
        now = now or time.monotonic()
        self._recent(address, now).append(now)
        if len(self._failures) > 10_000:  # forget the quietest addresses rather than grow without bound
            for key in [k for k, v in self._failures.items() if not v][:5_000]:
                del self._failures[key]
