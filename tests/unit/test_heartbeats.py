"""activities.heartbeats.kept_alive: a long activity beats while it runs, and stops beating when it returns."""

from __future__ import annotations

import asyncio
import inspect
import threading
import time
from dataclasses import replace
from datetime import timedelta

import pytest
from temporalio.testing import ActivityEnvironment

from activities.heartbeats import is_kept_alive, kept_alive
from activities.portals.activities import EobActivities, PortalActivities
from activities.revenue.posting import PostingActivities

BEAT_TIMEOUT = timedelta(seconds=0.3)  # a beat every 0.1 s


def _environment(beats: list[str]) -> ActivityEnvironment:
    environment = ActivityEnvironment()
    environment.info = replace(environment.info, heartbeat_timeout=BEAT_TIMEOUT)
    environment.on_heartbeat = lambda *details: beats.append(threading.current_thread().name)
    return environment


def test_a_synchronous_activity_beats_from_beside_its_thread_until_it_returns() -> None:
    beats: list[str] = []

    @kept_alive
    def slow(seconds: float) -> str:
        time.sleep(seconds)
        return "done"

    assert _environment(beats).run(slow, 0.8) == "done"
    assert len(beats) >= 2 and set(beats) == {"activity-keep-alive"}
    count = len(beats)
    time.sleep(0.4)
    assert len(beats) == count  # the beat stopped with the activity


async def test_an_async_activity_beats_until_it_returns_and_keeps_its_errors() -> None:
    beats: list[str] = []

    @kept_alive
    async def slow(seconds: float) -> str:
        await asyncio.sleep(seconds)
        return "done"

    @kept_alive
    async def failing() -> None:
        await asyncio.sleep(0.4)
        raise ValueError("the activity's own error")

    assert inspect.iscoroutinefunction(slow)  # activity.defn must still see an async activity
    assert await _environment(beats).run(slow, 0.8) == "done"
    assert len(beats) >= 2
    count = len(beats)
    with pytest.raises(ValueError, match="own error"):
        await _environment(beats).run(failing)
    await asyncio.sleep(0.4)
    after = len(beats)
    await asyncio.sleep(0.4)
    assert after > count and len(beats) == after  # it beat while failing, and not after


def test_called_outside_an_activity_it_just_runs() -> None:
    @kept_alive
    def plain(value: int) -> int:
        return value + 1

    assert plain(1) == 2


@pytest.mark.parametrize(
    "method",
    [
        PostingActivities.post_remittance,
        PortalActivities.check_eligibility,
        PortalActivities.claim_status,
        PortalActivities.download_eobs,
        EobActivities.read,
    ],
)
def test_the_activities_scheduled_with_a_heartbeat_timeout_are_kept_alive(method: object) -> None:
    """flows schedule these with a heartbeat timeout (POSTING, PORTAL, the EOB intake): unwrapped, a long one would
    be timed out for want of a beat while it is still working."""
    assert is_kept_alive(method)


def test_a_plain_activity_is_not_taken_for_a_kept_alive_one() -> None:
    assert not is_kept_alive(PostingActivities.fetch_remittances)
