"""The bare ceiling of bench/revenue_cycle.py: a workflow running N no-op activities one after the other.

In its own module so that the workflow sandbox can import it (a workflow defined in ``__main__`` cannot be).
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import activity, workflow


@activity.defn(name="bench.noop")
async def noop(step: int) -> int:
    return step


@workflow.defn(name="BareActivities")
class BareWorkflow:
    @workflow.run
    async def run(self, count: int) -> int:
        for step in range(count):
            await workflow.execute_activity("bench.noop", step, start_to_close_timeout=timedelta(seconds=30))
        return count
