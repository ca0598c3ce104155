"""A long activity says it is alive while it runs, so a lost worker is noticed in seconds, not at the timeout.

Posting a payer's large ERA or a browser session on a payer's portal may rightly run for minutes, so their
start-to-close timeouts are long. Without a heartbeat, a worker killed in the middle of one leaves the activity
unretried until that timeout runs out (ten minutes for a posting), and the claims waiting on it wait with it. The
workflows schedule these activities with a heartbeat timeout (``flows.revenue._common.ActivityOptions.heartbeat``),
and the activities are wrapped in :func:`kept_alive`, which heartbeats beside the work for as long as its process
lives: a heartbeat that stops means the worker is gone, and Temporal retries the activity on another one.

The beat carries no details: an activity that resumes from its heartbeat details (``posting.tell``) heartbeats
its own progress instead of being wrapped.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import inspect
import logging
import threading
from collections.abc import Awaitable, Callable
from typing import ParamSpec, TypeVar, cast

from temporalio import activity

log = logging.getLogger(__name__)

P = ParamSpec("P")
R = TypeVar("R")

# How often the beat is sent at most; the SDK sends at most one per 0.8 of the activity's heartbeat timeout.
BEAT_EVERY_SECONDS = 5.0


def beat_interval() -> float:
    """Seconds between beats: a third of the activity's heartbeat timeout, at most :data:`BEAT_EVERY_SECONDS`."""
    timeout = activity.info().heartbeat_timeout
    if timeout is None:
        return BEAT_EVERY_SECONDS
    return max(0.05, min(BEAT_EVERY_SECONDS, timeout.total_seconds() / 3))


def is_kept_alive(fn: object) -> bool:
    """Whether ``fn`` (an activity, perhaps wrapped again above) beats while it runs."""
    return bool(getattr(fn, "_kept_alive", False))


def kept_alive(fn: Callable[P, R]) -> Callable[P, R]:
    """Heartbeat while ``fn`` (an activity, synchronous or async) runs; put it under ``@activity.defn``."""
    if inspect.iscoroutinefunction(fn):
        coroutine = cast(Callable[P, Awaitable[object]], fn)

        @functools.wraps(fn)
        async def running(*args: P.args, **kwargs: P.kwargs) -> object:
            if not activity.in_activity():  # called directly (a test, a tool): nobody to beat to
                return await coroutine(*args, **kwargs)
            beating = asyncio.create_task(_beat_async(beat_interval()), name="activity-keep-alive")
            try:
                return await coroutine(*args, **kwargs)
            finally:
                beating.cancel()
                await asyncio.wait([beating])

        running._kept_alive = True  # type: ignore[attr-defined]
        return cast(Callable[P, R], running)

    @functools.wraps(fn)
    def running_in_thread(*args: P.args, **kwargs: P.kwargs) -> R:
        if not activity.in_activity():
            return fn(*args, **kwargs)
        stop = threading.Event()
        context = contextvars.copy_context()  # the activity's context, so the beat is this activity's
        beat = threading.Thread(
            target=context.run, args=(_beat_thread, stop, beat_interval()), name="activity-keep-alive", daemon=True
        )
        beat.start()
        try:
            return fn(*args, **kwargs)
        finally:
            stop.set()
            beat.join()

    running_in_thread._kept_alive = True  # type: ignore[attr-defined]
    return running_in_thread


async def _beat_async(every: float) -> None:
    while True:
        await asyncio.sleep(every)
        activity.heartbeat()


def _beat_thread(stop: threading.Event, every: float) -> None:
    while not stop.wait(every):
        try:
            activity.heartbeat()
        except Exception as exc:  # a busy event loop or a finishing activity: the next beat tries again
            log.debug("activity keep-alive beat not sent: %s", type(exc).__name__)
