"""What an unfinished journey is doing when the demo stops waiting for it.

Each workflow of the journey still running, read from Temporal (``describe``): its stage and claim status (the
search attributes), the activities it has in flight (type, attempt, state), whether a workflow task is pending, and
the child workflows it waits on, followed down. A journey with nothing in flight waits on a timer or on a person.
Ids, type names and codes only: no PHI (the same fields the Temporal UI shows an operator).
"""

from __future__ import annotations

from typing import Any

from temporalio.api.enums.v1 import PendingActivityState
from temporalio.client import Client
from temporalio.service import RPCError

from flows.search_attributes import CLAIM_STATUS, STAGE

MAX_DESCRIBED = 10  # journeys described at most (a run that stopped with many waiting says the first ten)


async def describe_running(client: Client, workflow_ids: list[str], depth: int = 3) -> list[dict[str, Any]]:
    """What each of ``workflow_ids`` (running ones) has in flight, and its pending children down to ``depth``."""
    described: list[dict[str, Any]] = []
    for workflow_id in workflow_ids[:MAX_DESCRIBED]:
        try:
            description = await client.get_workflow_handle(workflow_id).describe()
        except RPCError:  # gone since (or the server is busy): nothing to say about it
            continue
        raw = description.raw_description
        attributes = description.typed_search_attributes
        children = [child.workflow_id for child in raw.pending_children]
        described.append(
            {
                "workflow_id": workflow_id,
                "stage": attributes.get(STAGE) or "",
                "claim_status": attributes.get(CLAIM_STATUS) or "",
                "activities": [
                    {
                        "type": pending.activity_type.name,
                        "attempt": pending.attempt,
                        "state": PendingActivityState.Name(pending.state).removeprefix("PENDING_ACTIVITY_STATE_"),
                    }
                    for pending in raw.pending_activities
                ],
                "workflow_task_pending": raw.HasField("pending_workflow_task"),
                "children": await describe_running(client, children, depth - 1) if depth > 1 else children,
            }
        )
    return described
