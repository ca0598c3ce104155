"""Two tiny workflows for the actor tests: one signals another, starts a child and signals it (a workflow's own
signals and child starts must carry the system's signed actor)."""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow


@workflow.defn(name="ActorTestListener")
class ListenerWorkflow:
    def __init__(self) -> None:
        self.pokes = 0

    @workflow.run
    async def run(self) -> int:
        await workflow.wait_condition(lambda: self.pokes > 0, timeout=timedelta(minutes=1))
        return self.pokes

    @workflow.signal(name="poke")
    def poke(self) -> None:
        self.pokes += 1


@workflow.defn(name="ActorTestSender")
class SenderWorkflow:
    @workflow.run
    async def run(self, listener_id: str) -> int:
        await workflow.get_external_workflow_handle(listener_id).signal(ListenerWorkflow.poke)
        child = await workflow.start_child_workflow(ListenerWorkflow.run, id=f"{listener_id}-child")
        await child.signal(ListenerWorkflow.poke)
        return await child
