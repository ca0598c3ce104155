"""What a workflow's history costs: events, workflow tasks, and Temporal Cloud's billable Actions.

The Actions are counted from the history as Temporal Cloud's "Actions" page describes them (docs.temporal.io
/cloud/actions; temporalio/documentation docs/evaluate/cloud/actions.mdx, read 2026-12-05): a workflow started by a
client (1; a child's start is counted on its parent as 2), each search-attribute upsert (1), each activity scheduled
(1) and each retry of it (attempt - 1), all the local activities of one workflow task (1), each timer started (1),
each signal received (1), each update accepted (1). Queries and rejected updates leave no trace in a history and
are not counted (the bench sends none).
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from temporalio.api.enums.v1 import EventType

_E = EventType


def history_costs(events: list[Any]) -> Counter[str]:
    """Events (and their bytes), workflow tasks and billable Actions (by kind, ``actions`` in all) of a history."""
    # history_bytes: the events as the server keeps them (protobuf), the base of Temporal Cloud's storage.
    costs: Counter[str] = Counter(events=len(events), history_bytes=sum(e.ByteSize() for e in events))
    local_activity_tasks: set[int] = set()
    for event in events:
        kind = event.event_type
        if kind == _E.EVENT_TYPE_WORKFLOW_TASK_COMPLETED:
            costs["workflow_tasks"] += 1
        elif kind == _E.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED:
            if not event.workflow_execution_started_event_attributes.HasField("parent_workflow_execution"):
                costs["action.start_workflow"] += 1
        elif kind == _E.EVENT_TYPE_START_CHILD_WORKFLOW_EXECUTION_INITIATED:
            costs["action.start_child_workflow"] += 2
        elif kind == _E.EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES:
            costs["action.upsert_search_attributes"] += 1
        elif kind == _E.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
            costs["action.schedule_activity"] += 1
        elif kind == _E.EVENT_TYPE_ACTIVITY_TASK_STARTED:
            costs["action.retry_activity"] += max(0, event.activity_task_started_event_attributes.attempt - 1)
        elif kind == _E.EVENT_TYPE_MARKER_RECORDED:
            attributes = event.marker_recorded_event_attributes
            if "local_activity" in attributes.marker_name.lower():
                local_activity_tasks.add(attributes.workflow_task_completed_event_id)
        elif kind == _E.EVENT_TYPE_TIMER_STARTED:
            costs["action.start_timer"] += 1
        elif kind == _E.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED:
            costs["action.signal"] += 1
        elif kind == _E.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED:
            costs["action.update"] += 1
    costs["action.local_activities"] += len(local_activity_tasks)
    costs["actions"] = sum(v for k, v in costs.items() if k.startswith("action."))
    return costs


async def workflow_costs(client: Any, workflow_ids: list[str]) -> Counter[str]:
    """The costs of these workflows' histories added up, with ``executions`` (how many histories)."""
    total: Counter[str] = Counter()
    for workflow_id in workflow_ids:
        history = await client.get_workflow_handle(workflow_id).fetch_history()
        total += history_costs(list(history.events))
        total["executions"] += 1
    return total
