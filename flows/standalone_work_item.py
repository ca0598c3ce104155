"""StandaloneWorkItem: one work item with no business process around it (opened by a batch sweep, the console or
by hand); the workflow owns the item's SLA and escalation until a person resolves it."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from flows.search_attributes import STAGE
    from flows.workitems import WorkItemRequest, WorkItemsMixin


@dataclass(frozen=True)
class StandaloneWorkItemInput:
    """A work item with no process around it (opened by a batch sweep, the console or by hand)."""

    reason: str
    entity_type: str
    entity_id: str
    summary: str
    sla_seconds: int
    context: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class StandaloneWorkItemResult:
    action: str
    by: str
    fields: dict[str, str]


@workflow.defn(name="StandaloneWorkItem")
class StandaloneWorkItemWorkflow(WorkItemsMixin):
    """Owns one work item's SLA and escalation when no business process waits on it.

    Workflow id: ``workitem-<entity_type>-<entity_id>-<reason>``, so opening twice is idempotent.
    """

    @workflow.run
    async def run(self, job: StandaloneWorkItemInput) -> StandaloneWorkItemResult:
        workflow.upsert_search_attributes([STAGE.value_set("work_item")])
        resolution = await self.work_items.open_and_wait(
            WorkItemRequest(
                reason=job.reason,
                entity_type=job.entity_type,
                entity_id=job.entity_id,
                summary=job.summary,
                sla=timedelta(seconds=job.sla_seconds),
                context=dict(job.context),
            )
        )
        await workflow.wait_condition(workflow.all_handlers_finished)
        return StandaloneWorkItemResult(action=resolution.action, by=resolution.by, fields=dict(resolution.fields))
