"""One session per payer-portal account across every worker machine: a lease in the domain store.

Portals end an account's earlier session when it signs in again, so two workers driving the same account
knock each other out. The asyncio lock in :mod:`activities.portals.session` keeps one process from doing
that to itself; this lease keeps the portal workers of every machine that share the store from doing it
to each other.

* **Acquire** is atomic on SQLite and PostgreSQL: ``INSERT ... ON CONFLICT DO NOTHING`` creates a free
  account's row, else one conditional ``UPDATE ... WHERE expires_at <= now`` takes over a released or
  expired lease; the row count says who won. Each acquisition has its own holder id (host:pid:uuid) and a
  fencing token one higher than the last, so a holder that lost its lease cannot renew or release its
  successor's.
* **Renew**: while the lease is held, a heartbeat task pushes ``expires_at`` one TTL ahead every TTL/3.
  If the lease was taken (the process stalled past the TTL) or cannot be renewed before it runs out, the
  session is cancelled and :class:`PortalLeaseLost` is raised: the work stops rather than share the account.
* **Release** (only by its holder) sets ``expires_at`` to now: the row stays, so the token keeps counting.
* A crashed holder's lease runs out after the TTL (``CARECYCLE_PORTAL_LEASE_TTL_SECONDS``) and the next
  worker takes it over.
* **Waiting** for a held account polls with exponential backoff up to ``wait`` and then raises
  :class:`PortalAccountBusy`, a ``portal_unavailable`` error: the activity's retry policy tries later
  instead of holding a worker slot.

Times come from each worker's clock (UTC); the hosts are expected to keep it by NTP, which is far tighter
than any sensible TTL. The account is stored as a sha256 of ``payer_id:username``: never the username.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import os
import random
import socket
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any, cast

from sqlalchemy import CursorResult, Table, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import OperationalError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from activities.portals.base import PortalAccount
from activities.portals.errors import PortalUnavailable
from domain.models import PortalSessionLease
from domain.store.uow import UnitOfWork

log = logging.getLogger("carecycle.portals")

Clock = Callable[[], datetime]

_LEASES = cast(Table, PortalSessionLease.__table__)


def utc_now() -> datetime:
    return datetime.now(UTC)


class PortalAccountBusy(PortalUnavailable):
    """Another worker holds the account's session and did not let go in time: try again later."""


class PortalLeaseLost(PortalUnavailable):
    """The lease ran out or was taken over while the session ran: the session was stopped."""


def account_hash(account_key: str) -> str:
    """The key the store knows an account by: a hash, so that usernames stay out of the table."""
    return hashlib.sha256(account_key.encode()).hexdigest()


def new_holder_id() -> str:
    """Who holds a lease: this host and process, plus a uuid that tells one acquisition from the next."""
    return f"{socket.gethostname()[:120]}:{os.getpid()}:{uuid.uuid4().hex}"


@dataclass(frozen=True)
class LeasePolicy:
    ttl: timedelta = timedelta(minutes=10)
    wait: timedelta = timedelta(minutes=2)  # how long to wait for a busy account before giving up
    first_poll: timedelta = timedelta(milliseconds=250)
    max_poll: timedelta = timedelta(seconds=10)

    def __post_init__(self) -> None:
        if self.ttl <= timedelta(0):
            raise ValueError("the lease TTL must be positive")
        if self.wait < timedelta(0) or self.first_poll <= timedelta(0) or self.max_poll < self.first_poll:
            raise ValueError("the lease wait must not be negative and the polls must grow from a positive start")

    @property
    def renew_every(self) -> timedelta:
        # Three chances to renew before the lease runs out: one slow store round trip does not lose it.
        return self.ttl / 3

    def poll_delays(self) -> Iterator[timedelta]:
        """The pauses between attempts to take a busy account: doubling from ``first_poll`` up to ``max_poll``."""
        delay = self.first_poll
        while True:
            yield delay
            delay = min(delay * 2, self.max_poll)


@dataclass(frozen=True)
class Lease:
    account_hash: str
    payer_id: str
    holder: str
    token: int
    acquired_at: datetime
    expires_at: datetime


def _describe(lease: Lease) -> str:
    # The log formatter keeps only allow-listed extra keys, so what an operator needs is in the text: the
    # start of the row's key (to find it in portal_session_leases), the token and the holder. No username.
    return f"account {lease.account_hash[:12]}, token {lease.token}, holder {lease.holder}"


def _utc(moment: datetime) -> datetime:
    # SQLite hands timestamps back without their zone; the store only ever holds UTC.
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _rowcount(result: Any) -> int:
    return cast(CursorResult[Any], result).rowcount


class LeaseStore:
    """The lease's three atomic statements against the store (blocking: call them from a thread)."""

    def __init__(self, session_factory: sessionmaker[Session], clock: Clock = utc_now) -> None:
        self._session_factory = session_factory
        self._clock = clock

    def try_acquire(self, account_key: str, payer_id: str, ttl: timedelta, holder: str) -> Lease | None:
        """Take the account's lease if it is free, released or expired; ``None`` if someone holds it."""
        now = self._clock()
        digest = account_hash(account_key)
        values = {"payer_id": payer_id, "holder": holder, "acquired_at": now, "expires_at": now + ttl}
        with UnitOfWork(self._session_factory) as uow:
            session = uow.session
            dialect = session.get_bind().dialect.name
            if dialect == "postgresql":
                insert: Any = postgresql.insert(_LEASES)
            elif dialect == "sqlite":
                insert = sqlite.insert(_LEASES)
            else:  # pragma: no cover - the store supports these two only (domain/store/engine.py)
                raise NotImplementedError(f"portal leases need SQLite or PostgreSQL, not {dialect}")
            created = session.execute(
                insert.values(account_hash=digest, token=1, **values)
                .on_conflict_do_nothing(index_elements=[_LEASES.c.account_hash])
                .returning(_LEASES.c.token)  # a row only if this INSERT made one (rowcount is not kept for INSERTs)
            ).scalar_one_or_none()
            if created is not None:
                uow.commit()
                return Lease(digest, payer_id, holder, 1, now, now + ttl)
            # The row exists: take it over only if its lease has run out. On PostgreSQL a concurrent taker
            # waits for the row lock and then sees the new expires_at, so exactly one of them updates it.
            token = session.execute(
                update(_LEASES)
                .where(_LEASES.c.account_hash == digest, _LEASES.c.expires_at <= now)
                .values(token=_LEASES.c.token + 1, **values)
                .returning(_LEASES.c.token)
            ).scalar_one_or_none()
            if token is None:
                return None
            uow.commit()
            return Lease(digest, payer_id, holder, int(token), now, now + ttl)

    def renew(self, lease: Lease, ttl: timedelta) -> Lease | None:
        """Push the lease's expiry one TTL ahead; ``None`` if it is no longer this holder's.

        A lease that ran out but that nobody took since is still this holder's (no one else held the account
        in between), so it is renewed too.
        """
        now = self._clock()
        with UnitOfWork(self._session_factory) as uow:
            result = uow.session.execute(update(_LEASES).where(*self._owned(lease)).values(expires_at=now + ttl))
            if _rowcount(result) != 1:
                return None
            uow.commit()
        return replace(lease, expires_at=now + ttl)

    def release(self, lease: Lease) -> bool:
        """Free the account at once if this holder still has it; a lease someone else took is left alone."""
        with UnitOfWork(self._session_factory) as uow:
            result = uow.session.execute(update(_LEASES).where(*self._owned(lease)).values(expires_at=self._clock()))
            released = _rowcount(result) == 1
            uow.commit()
        return released

    def current(self, account_key: str) -> Lease | None:
        """The account's lease row as the store has it (held, released or expired), for checks and operators."""
        with UnitOfWork(self._session_factory) as uow:
            row = uow.session.get(PortalSessionLease, account_hash(account_key))
            if row is None:
                return None
            return Lease(
                row.account_hash, row.payer_id, row.holder, row.token, _utc(row.acquired_at), _utc(row.expires_at)
            )

    @staticmethod
    def _owned(lease: Lease) -> tuple[Any, ...]:
        return (
            _LEASES.c.account_hash == lease.account_hash,
            _LEASES.c.holder == lease.holder,
            _LEASES.c.token == lease.token,
        )


@dataclass
class _Holding:
    lease: Lease
    owner: asyncio.Task[Any]
    in_body: bool = True
    lost: bool = False
    cancelled_owner: bool = False


class PortalLeases:
    """Waits for, holds (renewing it in the background) and releases an account's lease."""

    def __init__(
        self,
        session_factory: sessionmaker[Session],
        policy: LeasePolicy | None = None,
        *,
        clock: Clock = utc_now,
    ) -> None:
        self.policy = policy or LeasePolicy()
        self.store = LeaseStore(session_factory, clock)
        self._clock = clock
        self._jitter = random.Random()

    async def acquire(self, account: PortalAccount) -> Lease:
        """The account's lease, waiting with backoff while another worker holds it; else PortalAccountBusy."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.policy.wait.total_seconds()
        holder = new_holder_id()
        for delay in self.policy.poll_delays():
            try:
                lease = await asyncio.to_thread(
                    self.store.try_acquire, account.lock_key, account.payer_id, self.policy.ttl, holder
                )
            except OperationalError:  # a locked SQLite file or a store that blinked: as good as busy, for now
                log.warning("portal lease %s: the store did not answer", account.payer_id)
                lease = None
            if lease is not None:
                log.info("portal lease %s acquired: %s", account.payer_id, _describe(lease))
                return lease
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise PortalAccountBusy(
                    f"{account.payer_id}: the portal account is in use by another worker; try again later"
                )
            # Jitter, so that workers that found the account busy together do not all come back together.
            await asyncio.sleep(min(delay.total_seconds() * self._jitter.uniform(0.8, 1.2), remaining))
        raise AssertionError("unreachable")  # poll_delays never ends

    async def release(self, lease: Lease) -> bool:
        released = await asyncio.to_thread(self.store.release, lease)
        if not released:
            log.warning("portal lease %s was no longer ours to release: %s", lease.payer_id, _describe(lease))
        return released

    @contextlib.asynccontextmanager
    async def hold(self, account: PortalAccount) -> AsyncIterator[Lease]:
        """Hold the account's lease for the body, renewing it; the body is cancelled if the lease is lost."""
        lease = await self.acquire(account)
        owner = asyncio.current_task()
        if owner is None:  # pragma: no cover - an async context manager always runs in a task
            raise RuntimeError("portal leases are held from within a task")
        holding = _Holding(lease, owner)
        heartbeat = asyncio.create_task(self._heartbeat(holding), name=f"portal-lease-{account.payer_id}")
        try:
            yield lease
        except asyncio.CancelledError:
            holding.in_body = False
            if holding.cancelled_owner:
                holding.cancelled_owner = False
                if owner.uncancel() == 0:  # the cancellation was only ours, not the worker's
                    raise PortalLeaseLost(
                        f"{account.payer_id}: the portal session lost its account lease and was stopped"
                    ) from None
            raise
        finally:
            holding.in_body = False
            if holding.cancelled_owner:
                owner.uncancel()  # the body swallowed our cancellation: do not leave it pending on the task
            heartbeat.cancel()
            await asyncio.wait([heartbeat])  # its own outcome must not replace the session's
            if not heartbeat.cancelled() and heartbeat.exception() is not None:
                log.error("portal lease %s: the heartbeat failed", account.payer_id, exc_info=heartbeat.exception())
            if not holding.lost:
                try:
                    await self.release(holding.lease)
                except SQLAlchemyError:  # not released, it runs out after its TTL
                    log.warning("portal lease %s: release failed: %s", account.payer_id, _describe(holding.lease))

    async def _heartbeat(self, holding: _Holding) -> None:
        every = self.policy.renew_every
        while True:
            await asyncio.sleep(every.total_seconds())
            lease = holding.lease
            try:
                renewed = await asyncio.to_thread(self.store.renew, lease, self.policy.ttl)
            except Exception:  # whatever the cause, an unrenewed lease runs out: treat every failure alike
                log.warning("portal lease %s: renewal failed: %s", lease.payer_id, _describe(lease), exc_info=True)
                if self._clock() + every < lease.expires_at:
                    continue  # it still outlives the next attempt
                renewed = None  # it would run out before the next try: stop before someone else may start
            if renewed is None:
                holding.lost = True
                log.warning("portal lease %s lost, stopping the session: %s", lease.payer_id, _describe(lease))
                if holding.in_body:
                    holding.cancelled_owner = True
                    holding.owner.cancel()
                return
            holding.lease = renewed
