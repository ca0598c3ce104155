"""Failed sign-ins: throttles per client address, per typed user name and per known device, in the store.

- **Address**: at most ``address_limit`` failures in ``window`` from one client address; then every sign-in from
  it waits out the lock, the right password too.
- **Account**: at most ``account_limit`` failures in ``window`` for one typed name, *whether or not it exists*,
  so the answers never tell which names exist; then sign-ins under that name wait out the lock, except from:
- **Device**: a browser that signed in as that user before (a signed device cookie, console.sessions) is
  throttled on its own counter instead. A stranger can therefore slow down new browsers for a while, never lock
  the user out of the browsers they use (OWASP's "device cookies"). Locks always end after ``lock``.

The client address is the TCP peer unless the peer is a trusted proxy (``CARECYCLE_TRUSTED_PROXIES``): then the
right-most X-Forwarded-For address that is not itself a trusted proxy. A header from anyone else is ignored.
Keys are HMACs of scope and value (typed names may be passwords typed into the wrong field). Shared through the
store, so several console instances throttle together.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, insert, or_
from sqlalchemy.orm import Session

from domain import models as m

IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True)
class ThrottlePolicy:
    address_limit: int = 20
    account_limit: int = 5
    device_limit: int = 10
    window: timedelta = timedelta(minutes=15)
    lock: timedelta = timedelta(minutes=15)


@dataclass(frozen=True)
class ThrottleKey:
    scope: str  # address, account, device
    key: str
    limit: int


def parse_proxies(text: str | None) -> tuple[IpNetwork, ...]:
    """``"10.0.0.0/8, 127.0.0.1"`` -> networks; raises ValueError on a malformed entry."""
    networks = []
    for entry in filter(None, (e.strip() for e in (text or "").split(","))):
        networks.append(ipaddress.ip_network(entry, strict=False))
    return tuple(networks)


def _ip(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(text.strip())
    except ValueError:
        return None


def client_address(peer: str | None, forwarded_for: str | None, trusted: Sequence[IpNetwork]) -> str:
    """Who is really asking: the peer, or (only behind a trusted proxy) the nearest untrusted forwarded address."""
    peer_ip = _ip(peer or "")
    if peer_ip is None:
        return peer or "unknown"
    if not forwarded_for or not any(peer_ip in net for net in trusted):
        return str(peer_ip)
    for hop in reversed(forwarded_for.split(",")):
        hop_ip = _ip(hop)
        if hop_ip is None:
            return str(peer_ip)  # a malformed chain: trust nothing beyond the proxy itself
        if not any(hop_ip in net for net in trusted):
            return str(hop_ip)
    return str(peer_ip)


def _aware(value: datetime | None) -> datetime | None:
    return value if value is None or value.tzinfo else value.replace(tzinfo=UTC)


class SignInThrottle:
    def __init__(self, secret: bytes, policy: ThrottlePolicy | None = None) -> None:
        self._secret = secret
        self.policy = policy or ThrottlePolicy()

    def _key(self, scope: str, value: str) -> str:
        return hmac.new(self._secret, f"throttle\x00{scope}\x00{value}".encode(), hashlib.sha256).hexdigest()

    def keys(self, *, address: str, username: str, device: str | None) -> list[ThrottleKey]:
        p = self.policy
        keys = [ThrottleKey("address", self._key("address", address), p.address_limit)]
        if device is not None:
            keys.append(ThrottleKey("device", self._key("device", f"{username}\x00{device}"), p.device_limit))
        else:
            keys.append(ThrottleKey("account", self._key("account", username[:200]), p.account_limit))
        return keys

    def account_key(self, username: str) -> str:
        return self._key("account", username[:200])

    def locked_until(self, session: Session, keys: Sequence[ThrottleKey], now: datetime) -> datetime | None:
        until: datetime | None = None
        for k in keys:
            row = session.get(m.SignInThrottle, k.key)
            locked = _aware(row.locked_until) if row is not None else None
            if locked is not None and locked > now and (until is None or locked > until):
                until = locked
        return until

    def failed(self, session: Session, keys: Sequence[ThrottleKey], now: datetime) -> list[str]:
        """Count a failure under each key; returns the scopes that became locked by it."""
        tripped = []
        for k in keys:
            row = self._row(session, k, now)
            if now - (_aware(row.window_started_at) or now) >= self.policy.window:
                row.failures, row.window_started_at = 0, now
            row.failures += 1
            if row.failures >= k.limit:
                row.locked_until, row.failures, row.window_started_at = now + self.policy.lock, 0, now
                tripped.append(k.scope)
        self._forget_stale(session, now)
        return tripped

    def succeeded(self, session: Session, keys: Sequence[ThrottleKey]) -> None:
        """A right password clears the account's or device's count (not the address's: one valid account must not
        reset an address that is guessing at others)."""
        cleared = [k.key for k in keys if k.scope != "address"]
        if cleared:
            session.execute(
                delete(m.SignInThrottle)
                .where(m.SignInThrottle.key.in_(cleared))
                .execution_options(synchronize_session=False)
            )

    def clear_account(self, session: Session, username: str) -> None:
        session.execute(
            delete(m.SignInThrottle)
            .where(m.SignInThrottle.key == self.account_key(username))
            .execution_options(synchronize_session=False)
        )

    def _row(self, session: Session, k: ThrottleKey, now: datetime) -> m.SignInThrottle:
        row = session.get(m.SignInThrottle, k.key, with_for_update=True)
        if row is not None:
            return row
        dialect = session.get_bind().dialect.name
        values = {"key": k.key, "scope": k.scope, "failures": 0, "window_started_at": now, "locked_until": None}
        if dialect == "postgresql":
            from sqlalchemy.dialects.postgresql import insert as pg_insert

            session.execute(pg_insert(m.SignInThrottle).values(values).on_conflict_do_nothing())
        elif dialect == "sqlite":
            from sqlalchemy.dialects.sqlite import insert as sqlite_insert

            session.execute(sqlite_insert(m.SignInThrottle).values(values).on_conflict_do_nothing())
        else:
            session.execute(insert(m.SignInThrottle).values(values))
        found = session.get(m.SignInThrottle, k.key, with_for_update=True, populate_existing=True)
        assert found is not None
        return found

    def _forget_stale(self, session: Session, now: datetime) -> None:
        horizon = now - max(self.policy.window, self.policy.lock) - timedelta(hours=1)
        session.execute(
            delete(m.SignInThrottle)
            .where(
                m.SignInThrottle.window_started_at < horizon,
                or_(m.SignInThrottle.locked_until.is_(None), m.SignInThrottle.locked_until < horizon),
            )
            .execution_options(synchronize_session=False)
        )
