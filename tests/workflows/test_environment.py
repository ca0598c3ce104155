"""The time-skipping server from the wheel starts offline and skips a day in an instant."""

from __future__ import annotations

import uuid
from datetime import timedelta

from temporalio import workflow
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker


@workflow.defn
class SleepADay:
    @workflow.run
    async def run(self) -> str:
        await workflow.sleep(timedelta(days=1))
        return "woke"


async def test_time_skipping_server_skips_a_day(time_skipping_env: WorkflowEnvironment) -> None:
    queue = f"tq-{uuid.uuid4()}"
    async with Worker(time_skipping_env.client, task_queue=queue, workflows=[SleepADay]):
        result = await time_skipping_env.client.execute_workflow(
            SleepADay.run, id=f"sleep-{uuid.uuid4()}", task_queue=queue
        )
    assert result == "woke"
