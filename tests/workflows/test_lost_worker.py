"""A worker lost in the middle of a long activity is noticed by its missing heartbeat, not at the activity's timeout.

Posting a remittance may rightly run for minutes, so PaymentPosting gives ``posting.post_remittance`` ten minutes
to close. Before it was scheduled with a heartbeat timeout, a worker killed in the middle of a posting left the
payment unposted, and every Claim workflow waiting for it waiting, for those ten minutes (the killed-worker demo
in tests/e2e/test_demo.py ran out of its wait with a journey still waiting).

Here the first attempt behaves as a killed worker does to the server: it never finishes and never beats. The
second attempt is the real keep-alive (activities.heartbeats.kept_alive) around work that runs past the heartbeat
timeout, and must not be timed out for it.
"""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from temporalio import activity, workflow
from temporalio.api.enums.v1 import EventType, TimeoutType
from temporalio.client import Client
from temporalio.worker import Worker

with workflow.unsafe.imports_passed_through():
    from activities.contracts import revenue as c
    from activities.heartbeats import kept_alive
    from flows.revenue import PaymentPostingWorkflow
    from flows.revenue._common import LONG_ACTIVITY_HEARTBEAT
    from flows.revenue.posting import POSTING
    from workers.registry import workflow_runner

pytestmark = pytest.mark.temporal


@pytest.fixture
async def client(tmp_path: Path) -> AsyncIterator[Client]:
    """The product's dev server: heartbeat timeouts run on real time, as in production."""
    from tests.support.dev_stack import free_port
    from workers.temporal.dev_server import DevServer
    from workers.temporal.search_attributes import ensure_search_attributes

    server = DevServer(db_file=tmp_path / "temporal.db", port=free_port(), ui_port=None, log_file=tmp_path / "t.log")
    async with server:
        connected = await Client.connect(server.target)
        await ensure_search_attributes(connected)
        yield connected


async def test_a_posting_whose_worker_is_lost_is_retried_after_the_heartbeat_timeout(client: Client) -> None:
    assert POSTING.heartbeat == LONG_ACTIVITY_HEARTBEAT and POSTING.start_to_close.total_seconds() >= 600
    queue = f"revenue-{uuid.uuid4()}"
    key = f"era-{uuid.uuid4().hex[:8]}"
    lost = threading.Event()  # lets the "lost" first attempt's thread go at the end
    attempts: list[int] = []

    @kept_alive
    def _posting_that_outlives_the_heartbeat_timeout() -> None:
        time.sleep(LONG_ACTIVITY_HEARTBEAT.total_seconds() + 5)

    @activity.defn(name=c.POSTING_POST_REMITTANCE)
    def post_remittance(ref: c.RemittanceRef) -> c.PostingResult:
        attempts.append(activity.info().attempt)
        if activity.info().attempt == 1:
            lost.wait(POSTING.start_to_close.total_seconds())  # a killed worker: no result, no beat
            raise RuntimeError("the lost attempt's result is never heard")
        _posting_that_outlives_the_heartbeat_timeout()
        return c.PostingResult(ref.remittance_key, False, "60054", 0, ())

    with ThreadPoolExecutor(max_workers=4) as pool:
        async with Worker(
            client,
            task_queue=queue,
            workflows=[PaymentPostingWorkflow],
            activities=[post_remittance],
            activity_executor=pool,
            workflow_runner=workflow_runner(),
        ):
            began = time.monotonic()
            try:
                result = await asyncio.wait_for(
                    client.execute_workflow(
                        PaymentPostingWorkflow.run,
                        c.PostingInput(key, c.RevenuePolicy()),
                        id=f"posting-{key}",
                        task_queue=queue,
                    ),
                    timeout=5 * LONG_ACTIVITY_HEARTBEAT.total_seconds(),  # far sooner than the ten-minute timeout
                )
            finally:
                lost.set()  # the worker waits for its activities' threads when it shuts down
            took = time.monotonic() - began
    assert result.remittance_key == key
    assert attempts == [1, 2]  # the lost attempt was retried, and the kept-alive one was not timed out
    assert took < 5 * LONG_ACTIVITY_HEARTBEAT.total_seconds()
    started = [
        event.activity_task_started_event_attributes
        async for event in client.get_workflow_handle(f"posting-{key}").fetch_history_events()
        if event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED
    ]
    # Recorded once, for the attempt that closed: the second, after the first timed out for want of a heartbeat.
    assert [s.attempt for s in started] == [2]
    assert started[0].last_failure.timeout_failure_info.timeout_type == TimeoutType.TIMEOUT_TYPE_HEARTBEAT
