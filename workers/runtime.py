"""Running workers until told to stop: SIGTERM/SIGINT start a graceful shutdown (in-flight activities
get ``worker_graceful_shutdown_seconds`` to finish), then the process exits."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Sequence

from temporalio.worker import Worker

log = logging.getLogger("carecycle.worker")


class StopSignal:
    """SIGINT/SIGTERM handlers installed at once (before the slow imports and the event loop), so a Ctrl-C
    during start-up is never lost: the stack finishes starting and then stops in order."""

    def __init__(self) -> None:
        self.requested = False
        self._event: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, self._handle)

    def _handle(self, signum: int, frame: object) -> None:
        self.requested = True
        if self._loop is not None and self._event is not None:
            self._loop.call_soon_threadsafe(self._event.set)

    def event(self) -> asyncio.Event:
        """The event for the running loop; already set if a signal came before."""
        if self._event is None:
            self._loop = asyncio.get_running_loop()
            self._event = asyncio.Event()
            if self.requested:
                self._event.set()
        return self._event


async def run_workers_until(workers: Sequence[Worker], stop: asyncio.Event) -> None:
    tasks = [asyncio.create_task(worker.run(), name=f"worker-{worker.task_queue}") for worker in workers]
    for worker in workers:
        log.info("worker started", extra={"task_queue": worker.task_queue})
    stopper = asyncio.create_task(stop.wait())
    done, _ = await asyncio.wait([*tasks, stopper], return_when=asyncio.FIRST_COMPLETED)
    failures = [t.exception() for t in done if t is not stopper]
    log.info("workers shutting down", extra={"count": len(workers)})
    await asyncio.gather(*(worker.shutdown() for worker in workers), return_exceptions=True)
    await asyncio.gather(*tasks, return_exceptions=True)
    stopper.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await stopper
    log.info("workers stopped")
    for failure in failures:
        if failure is not None:
            raise failure
