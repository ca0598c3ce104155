"""RemittanceIntake confirms the 835s to the clearinghouse only once each PaymentPosting is started (time-skipping
server, activities mocked by name: tests/workflows/test_revenue_cycle.World).

Before, the fetch activity confirmed them itself: a worker lost after the clearinghouse's confirm and before the
activity's completion reached Temporal left the 835s stored, never posted and never fetched again, so their
claims waited for ever. Now the fetch only stores and hands back the clearinghouse's ids; a lost attempt fetches
the same 835s again, and the confirm comes after the postings' starts are recorded in the history.
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import replace

import pytest
from temporalio.api.enums.v1 import EventType
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from activities.contracts import revenue as c
from flows.revenue import WORKFLOWS, RemittanceIntakeWorkflow
from tests.workflows.test_revenue_cycle import POLICY, World

pytestmark = pytest.mark.temporal


async def test_the_835s_are_confirmed_after_their_postings_are_started(time_skipping_env: WorkflowEnvironment) -> None:
    world = World()
    keys = ("era-a", "era-b")
    world.mailbox = [c.FetchedRemittances(keys, ("doc-1", "doc-2", "doc-3"))]  # doc-3: a re-delivery of era-b
    for key in keys:
        world.outcomes[key] = c.PostingResult(key, False, "SBXBM", 0, (), (), ())
    queue = f"intake-{uuid.uuid4()}"
    async with Worker(
        time_skipping_env.client, task_queue=queue, workflows=list(WORKFLOWS), activities=world.activities()
    ):
        handle = await time_skipping_env.client.start_workflow(
            RemittanceIntakeWorkflow.run,
            c.IntakeInput(replace(POLICY, remittance_poll_days=1.0), iterations_left=2),
            id=f"remittance-intake-{uuid.uuid4()}",
            task_queue=queue,
        )
        assert await asyncio.wait_for(handle.result(), 60) == 2
        history = await handle.fetch_history()
    assert world.called(c.POSTING_FETCH_REMITTANCES) == [c.FetchRemittances(confirm=False)] * 2
    assert world.called(c.POSTING_CONFIRM_REMITTANCES) == [c.ConfirmRemittances(("doc-1", "doc-2", "doc-3"))]
    # In the history, both postings were started before the confirm was scheduled (and the empty poll confirms
    # nothing).
    order = [
        "start" if event.event_type == EventType.EVENT_TYPE_START_CHILD_WORKFLOW_EXECUTION_INITIATED else "confirm"
        for event in history.events
        if event.event_type == EventType.EVENT_TYPE_START_CHILD_WORKFLOW_EXECUTION_INITIATED
        or (
            event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED
            and event.activity_task_scheduled_event_attributes.activity_type.name == c.POSTING_CONFIRM_REMITTANCES
        )
    ]
    assert order == ["start", "start", "confirm"]
