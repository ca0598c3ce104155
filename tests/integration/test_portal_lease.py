"""The portal account lease on both stores: exclusion across engines, threads and processes; take-over of an
expired lease; renewal; release by its holder only; a lost lease stops the session.

Each "worker" has its own engine, as worker processes on different machines would.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from activities.portals.base import PortalAccount
from activities.portals.lease import (
    Lease,
    LeasePolicy,
    LeaseStore,
    PortalAccountBusy,
    PortalLeaseLost,
    PortalLeases,
    account_hash,
    new_holder_id,
)
from domain.store.engine import make_engine, make_session_factory

ACCOUNT = PortalAccount("SBXCC", "cascade", "http://portal.invalid", "cc-biller", "secret")
OTHER = PortalAccount("SBXCC", "cascade", "http://portal.invalid", "cc-second", "secret")
TTL = timedelta(minutes=10)
T0 = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)


class FakeClock:
    def __init__(self, now: datetime = T0) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def worker_factories(store_url: str) -> Iterator[list[sessionmaker[Session]]]:
    """Session factories on two engines of the same store: two workers that share nothing but the store."""
    engines: list[Engine] = [make_engine(store_url), make_engine(store_url)]
    yield [make_session_factory(engine) for engine in engines]
    for engine in engines:
        engine.dispose()


def test_a_held_account_is_refused_to_another_holder_until_released(
    worker_factories: list[sessionmaker[Session]],
) -> None:
    clock = FakeClock()
    first, second = (LeaseStore(factory, clock) for factory in worker_factories)
    held = first.try_acquire(ACCOUNT.lock_key, "SBXCC", TTL, new_holder_id())
    assert held is not None and held.token == 1
    assert second.try_acquire(ACCOUNT.lock_key, "SBXCC", TTL, new_holder_id()) is None
    # Another account of the same payer is a different lease.
    assert second.try_acquire(OTHER.lock_key, "SBXCC", TTL, new_holder_id()) is not None

    clock.now += timedelta(seconds=5)
    assert first.release(held)
    taken = second.try_acquire(ACCOUNT.lock_key, "SBXCC", TTL, new_holder_id())
    assert taken is not None and taken.token == 2 and taken.holder != held.holder

    stored = second.current(ACCOUNT.lock_key)
    assert stored is not None and stored.holder == taken.holder and stored.token == 2
    assert stored.account_hash == account_hash(ACCOUNT.lock_key)
    assert "cc-biller" not in repr(stored)  # the store knows the account by its hash only


def test_release_or_renewal_by_anyone_but_the_holder_does_nothing(
    worker_factories: list[sessionmaker[Session]],
) -> None:
    clock = FakeClock()
    first, second = (LeaseStore(factory, clock) for factory in worker_factories)
    held = first.try_acquire(ACCOUNT.lock_key, "SBXCC", TTL, new_holder_id())
    assert held is not None
    stranger = Lease(held.account_hash, "SBXCC", new_holder_id(), held.token, T0, T0 + TTL)
    stale_token = Lease(held.account_hash, "SBXCC", held.holder, held.token + 1, T0, T0 + TTL)
    for impostor in (stranger, stale_token):
        assert not second.release(impostor)
        assert second.renew(impostor, TTL * 10) is None
    assert second.try_acquire(ACCOUNT.lock_key, "SBXCC", TTL, new_holder_id()) is None
    stored = first.current(ACCOUNT.lock_key)
    assert stored is not None and stored.holder == held.holder
    assert stored.expires_at == T0 + TTL


def test_an_expired_lease_is_taken_over_and_the_old_holder_can_no_longer_touch_it(
    worker_factories: list[sessionmaker[Session]],
) -> None:
    clock = FakeClock()
    crashed, survivor = (LeaseStore(factory, clock) for factory in worker_factories)
    held = crashed.try_acquire(ACCOUNT.lock_key, "SBXCC", TTL, new_holder_id())
    assert held is not None  # ... and its process dies without releasing

    clock.now = T0 + TTL - timedelta(seconds=1)
    assert survivor.try_acquire(ACCOUNT.lock_key, "SBXCC", TTL, new_holder_id()) is None
    clock.now = T0 + TTL
    taken = survivor.try_acquire(ACCOUNT.lock_key, "SBXCC", TTL, new_holder_id())
    assert taken is not None and taken.token == held.token + 1

    # The old holder comes back (a stalled process): it may neither renew nor release its successor's lease.
    assert crashed.renew(held, TTL) is None
    assert not crashed.release(held)
    stored = survivor.current(ACCOUNT.lock_key)
    assert stored is not None and stored.holder == taken.holder


def test_renewal_pushes_the_expiry_one_ttl_ahead(worker_factories: list[sessionmaker[Session]]) -> None:
    clock = FakeClock()
    holder, contender = (LeaseStore(factory, clock) for factory in worker_factories)
    held = holder.try_acquire(ACCOUNT.lock_key, "SBXCC", TTL, new_holder_id())
    assert held is not None
    clock.now = T0 + timedelta(minutes=8)
    renewed = holder.renew(held, TTL)
    assert renewed is not None and renewed.expires_at == T0 + timedelta(minutes=18)
    assert renewed.token == held.token  # renewing is not changing hands
    clock.now = T0 + timedelta(minutes=11)  # the first expiry has passed, the renewed one has not
    assert contender.try_acquire(ACCOUNT.lock_key, "SBXCC", TTL, new_holder_id()) is None
    clock.now = T0 + timedelta(minutes=18)
    assert contender.try_acquire(ACCOUNT.lock_key, "SBXCC", TTL, new_holder_id()) is not None


def test_racing_threads_on_two_engines_never_both_win(worker_factories: list[sessionmaker[Session]]) -> None:
    """Six threads (three per engine) race for the account, round after round: exactly one wins each round."""
    stores = [LeaseStore(factory) for factory in worker_factories]
    racers = 6
    for round_number in range(4):  # round 0 races on the INSERT, the later ones on the take-over UPDATE
        barrier = threading.Barrier(racers)
        winners: list[Lease] = []
        errors: list[BaseException] = []

        def race(
            store: LeaseStore, barrier: threading.Barrier, winners: list[Lease], errors: list[BaseException]
        ) -> None:
            barrier.wait()
            try:
                lease = store.try_acquire(ACCOUNT.lock_key, "SBXCC", TTL, new_holder_id())
            except BaseException as exc:  # pragma: no cover - reported below
                errors.append(exc)
                return
            if lease is not None:
                winners.append(lease)

        threads = [threading.Thread(target=race, args=(stores[n % 2], barrier, winners, errors)) for n in range(racers)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert not errors
        assert len(winners) == 1, f"round {round_number}: {len(winners)} holders at once"
        assert winners[0].token == round_number + 1
        assert stores[0].release(winners[0])


async def test_holding_renews_in_the_background_and_releases_at_the_end(
    worker_factories: list[sessionmaker[Session]],
) -> None:
    # The hold outlasts the TTL by a second: only the heartbeat keeps the lease from running out. The TTL is
    # wide (renewals every 1 s, 2 s of slack) because a heartbeat stalled past its slack loses the lease by
    # design, and a loaded 2-core CI machine stalled a 1.2 s TTL's 0.8 s of slack (the contender took over).
    policy = LeasePolicy(ttl=timedelta(seconds=3), wait=timedelta(0))
    holder, contender = (PortalLeases(factory, policy) for factory in worker_factories)
    async with holder.hold(ACCOUNT) as lease:
        refusals = 0
        while datetime.now(UTC) < lease.expires_at + timedelta(seconds=1):
            with pytest.raises(PortalAccountBusy, match="SBXCC: the portal account is in use"):
                await contender.acquire(ACCOUNT)
            refusals += 1
            await asyncio.sleep(0.3)
        assert refusals >= 2
        renewed = contender.store.current(ACCOUNT.lock_key)
        assert renewed is not None and renewed.token == lease.token and renewed.expires_at > lease.expires_at
    stored = contender.store.current(ACCOUNT.lock_key)
    assert stored is not None and stored.holder == lease.holder
    assert stored.expires_at <= datetime.now(UTC)  # released, not left to run out
    taken = await contender.acquire(ACCOUNT)
    assert taken.token == lease.token + 1
    await contender.release(taken)


async def test_a_waiting_worker_gets_the_account_when_it_is_released(
    worker_factories: list[sessionmaker[Session]],
) -> None:
    holder = PortalLeases(worker_factories[0], LeasePolicy(ttl=timedelta(minutes=10)))
    waiter = PortalLeases(
        worker_factories[1], LeasePolicy(wait=timedelta(seconds=30), first_poll=timedelta(milliseconds=50))
    )
    released_at: list[float] = []

    async def hold_a_while() -> None:
        async with holder.hold(ACCOUNT):
            await asyncio.sleep(0.8)
            released_at.append(time.monotonic())

    holding = asyncio.create_task(hold_a_while())
    await asyncio.sleep(0.2)
    lease = await waiter.acquire(ACCOUNT)
    acquired_at = time.monotonic()
    await holding
    assert released_at and acquired_at >= released_at[0]
    assert lease.token == 2
    await waiter.release(lease)


async def test_a_crashed_holder_s_lease_runs_out_and_the_waiter_takes_it(
    worker_factories: list[sessionmaker[Session]],
) -> None:
    crashed = LeaseStore(worker_factories[0])
    held = crashed.try_acquire(ACCOUNT.lock_key, "SBXCC", timedelta(seconds=0.7), new_holder_id())
    assert held is not None  # never renewed, never released
    waiter = PortalLeases(
        worker_factories[1],
        LeasePolicy(ttl=timedelta(minutes=10), wait=timedelta(seconds=30), first_poll=timedelta(milliseconds=100)),
    )
    lease = await waiter.acquire(ACCOUNT)
    assert lease.token == held.token + 1
    assert datetime.now(UTC) >= held.expires_at


async def test_a_lost_lease_stops_the_session(worker_factories: list[sessionmaker[Session]]) -> None:
    """A holder whose lease was taken (it stalled past the TTL) is cancelled instead of sharing the account."""
    holder = PortalLeases(worker_factories[0], LeasePolicy(ttl=timedelta(seconds=0.9)))
    # The other worker's clock is an hour ahead: to it the lease has run out, as after a long stall.
    usurper = LeaseStore(worker_factories[1], clock=lambda: datetime.now(UTC) + timedelta(hours=1))
    session_ran_to_the_end = False
    taken: list[Lease] = []
    with pytest.raises(PortalLeaseLost, match="SBXCC: the portal session lost its account lease"):
        async with holder.hold(ACCOUNT):
            lease = await asyncio.to_thread(usurper.try_acquire, ACCOUNT.lock_key, "SBXCC", TTL, new_holder_id())
            assert lease is not None
            taken.append(lease)
            await asyncio.sleep(10)  # the heartbeat (every 0.3 s) finds the lease gone and cancels this
            session_ran_to_the_end = True
    assert not session_ran_to_the_end
    stored = usurper.current(ACCOUNT.lock_key)
    assert stored is not None and stored.holder == taken[0].holder  # the loser did not release the winner's
    assert asyncio.current_task() is not None and asyncio.current_task().cancelling() == 0  # type: ignore[union-attr]


async def test_a_lease_that_cannot_be_renewed_stops_the_session_before_it_runs_out(
    worker_factories: list[sessionmaker[Session]], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Renewals every 1 s: the first must start within 2 s (its slack) for a second one to be tried.
    holder = PortalLeases(worker_factories[0], LeasePolicy(ttl=timedelta(seconds=3)))
    renewals: list[datetime] = []

    def store_unreachable(lease: Lease, ttl: timedelta) -> Lease | None:
        renewals.append(datetime.now(UTC))
        raise OperationalError("UPDATE portal_session_leases ...", None, ConnectionError("the store went away"))

    monkeypatch.setattr(holder.store, "renew", store_unreachable)
    with pytest.raises(PortalLeaseLost):
        async with holder.hold(ACCOUNT) as lease:
            await asyncio.sleep(10)
    # It tried again while the lease still outlived the next attempt, and gave up before the lease ran out.
    assert len(renewals) >= 2
    assert renewals[-1] < lease.expires_at


async def test_an_outside_cancellation_stays_a_cancellation_and_releases(
    worker_factories: list[sessionmaker[Session]],
) -> None:
    leases = PortalLeases(worker_factories[0], LeasePolicy(ttl=timedelta(minutes=10)))

    async def session() -> None:
        async with leases.hold(ACCOUNT):
            await asyncio.sleep(10)

    task = asyncio.create_task(session())
    await asyncio.sleep(0.3)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    other = LeaseStore(worker_factories[1])
    assert other.try_acquire(ACCOUNT.lock_key, "SBXCC", TTL, new_holder_id()) is not None


HOLDER_SCRIPT = """
import asyncio, sys, time
from datetime import timedelta
from activities.portals.base import PortalAccount
from activities.portals.lease import LeasePolicy, PortalLeases
from domain.store.engine import make_engine, make_session_factory

async def main() -> None:
    engine = make_engine(sys.argv[1])
    leases = PortalLeases(make_session_factory(engine), LeasePolicy(ttl=timedelta(seconds=3)))
    account = PortalAccount("SBXCC", "cascade", "http://portal.invalid", "cc-biller", "secret")
    async with leases.hold(account):
        print(f"held {time.time()}", flush=True)
        await asyncio.sleep(4)  # past the TTL: the heartbeat (every 1 s, 2 s of slack) keeps it
        print(f"releasing {time.time()}", flush=True)
    engine.dispose()

asyncio.run(main())
"""


async def test_another_process_holding_the_account_keeps_this_one_out(
    store_url: str, worker_factories: list[sessionmaker[Session]], tmp_path: Path
) -> None:
    script = tmp_path / "hold.py"
    script.write_text(HOLDER_SCRIPT)
    root = Path(__file__).parents[2]
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        str(script),
        store_url,
        stdout=subprocess.PIPE,
        cwd=root,
        env={**os.environ, "PYTHONPATH": str(root)},
    )
    assert process.stdout is not None
    first_line = (await asyncio.wait_for(process.stdout.readline(), timeout=60)).decode()
    assert first_line.startswith("held"), first_line
    # Polls every 0.2 s at most: an unrenewed lease (out after 3 s, a second before the release) would be taken.
    polls = {"first_poll": timedelta(milliseconds=100), "max_poll": timedelta(milliseconds=200)}
    leases = PortalLeases(worker_factories[0], LeasePolicy(wait=timedelta(seconds=60), **polls))
    lease = await leases.acquire(ACCOUNT)
    acquired = time.time()
    rest = (await process.stdout.read()).decode()
    assert await process.wait() == 0
    released = float(rest.split()[1])
    assert acquired >= released  # the other process's session had ended before this one could start
    await leases.release(lease)


def test_the_composition_root_gives_portal_workers_the_store_lease(tmp_path: Path, sqlite_url: str) -> None:
    from workers.composition import Container
    from workers.settings import Settings, SettingsError

    settings = Settings(
        home=tmp_path, database_url=sqlite_url, portal_lease_ttl_seconds=90, portal_lease_wait_seconds=7
    )
    container = Container(settings)
    leases = container.portal_sessions.leases
    assert leases is not None
    assert leases.policy.ttl == timedelta(seconds=90) and leases.policy.wait == timedelta(seconds=7)
    container.close()
    with pytest.raises(SettingsError, match="CARECYCLE_PORTAL_LEASE_TTL_SECONDS"):
        _ = Container(Settings(home=tmp_path, database_url=sqlite_url, portal_lease_ttl_seconds=0)).portal_sessions
