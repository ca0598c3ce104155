"""Opening a work item that no process waits on (a batch sweep's finding, a task opened by hand).

The ``StandaloneWorkItem`` workflow owns its SLA and escalation; its id is a business key, so opening the
same item twice returns the running one.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio.client import Client, WorkflowHandle
from temporalio.common import SearchAttributePair, TypedSearchAttributes, WorkflowIDConflictPolicy

from activities.contracts.queues import TaskQueue
from domain.workitems import REASONS, parse_reason
from flows.search_attributes import ENTITY_ID, ENTITY_TYPE, STAGE
from flows.standalone_work_item import StandaloneWorkItemInput, StandaloneWorkItemResult, StandaloneWorkItemWorkflow


def standalone_workflow_id(entity_type: str, entity_id: str, reason: str) -> str:
    return f"workitem-{entity_type}-{entity_id}-{reason}"


async def open_standalone_work_item(
    client: Client,
    *,
    reason: str,
    entity_type: str,
    entity_id: str,
    summary: str,
    sla: timedelta,
    context: dict[str, str] | None = None,
) -> WorkflowHandle[StandaloneWorkItemWorkflow, StandaloneWorkItemResult]:
    """Start (or find) the standalone work item workflow. ``summary``/``context``: codes and opaque ids only."""
    spec = REASONS[parse_reason(reason)]
    return await client.start_workflow(
        StandaloneWorkItemWorkflow.run,
        StandaloneWorkItemInput(
            reason=reason,
            entity_type=entity_type,
            entity_id=entity_id,
            summary=summary,
            sla_seconds=int(sla.total_seconds()),
            context=dict(context or {}),
        ),
        id=standalone_workflow_id(entity_type, entity_id, reason),
        task_queue=TaskQueue.REVENUE.value,
        id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
        search_attributes=TypedSearchAttributes(
            [
                SearchAttributePair(STAGE, "work_item"),
                SearchAttributePair(ENTITY_TYPE, entity_type),
                SearchAttributePair(ENTITY_ID, entity_id),
            ]
        ),
        static_summary=f"Work item: {reason} ({spec.queue})",
        static_details=f"{spec.description}. Entity {entity_type} {entity_id}. Resolve with `carecycle tasks resolve`.",
    )
