"""Scenarios whose histories the replay tests keep: each runs one workflow to the end on a real worker.

``scripts/refresh-replay-histories`` runs every scenario found in ``tests/replay/scenarios*.py`` (a
module-level ``SCENARIOS`` dict: file stem -> async function) and writes
``tests/replay/histories/<stem>.json``. Areas add their own ``scenarios_<area>.py``.

A scenario gets a :class:`ReplayRun` (client, store) and returns the workflow id it ran to completion.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from temporalio.client import Client

from flows.standalone_work_item import StandaloneWorkItemInput, StandaloneWorkItemWorkflow
from flows.workitems import ResolveRequest
from workers.composition import Container


@dataclass
class ReplayRun:
    client: Client
    container: Container
    skip_time: Callable[[timedelta], Awaitable[None]]  # the time-skipping server's clock
    # The server's time (ahead of the wall clock once time was skipped): what a signed actor must be signed at.
    current_time: Callable[[], Awaitable[datetime]] | None = None


Scenario = Callable[[ReplayRun], Awaitable[str]]


async def _wait_for_item(run: ReplayRun, workflow_id: str, escalations: int = 0) -> str:
    handle = run.client.get_workflow_handle_for(StandaloneWorkItemWorkflow.run, workflow_id)
    for _ in range(200):
        views = await handle.query(StandaloneWorkItemWorkflow.open_work_items)
        if views and views[0].escalation_level >= escalations:
            return views[0].work_item_id
        await asyncio.sleep(0.05)
    raise RuntimeError(f"no work item opened by {workflow_id}")


async def standalone_work_item_resolved(run: ReplayRun) -> str:
    """Opened, one rejected resolution, assigned, then resolved."""
    entity = str(uuid.uuid4())
    handle = await run.client.start_workflow(
        StandaloneWorkItemWorkflow.run,
        StandaloneWorkItemInput(
            reason="claim_denied", entity_type="claim", entity_id=entity, summary="CO-197", sla_seconds=86400
        ),
        id=f"workitem-claim-{entity}",
        task_queue="revenue",
    )
    item_id = await _wait_for_item(run, handle.id)
    try:
        await handle.execute_update(
            StandaloneWorkItemWorkflow.resolve, ResolveRequest(work_item_id=item_id, action="appeal", by="ann")
        )
    except Exception:  # rejected by the validator (no note): leaves no trace in history, by design
        pass
    await handle.execute_update(
        StandaloneWorkItemWorkflow.resolve,
        ResolveRequest(work_item_id=item_id, action="assign", by="lead", fields={"assignee": "ann"}),
    )
    await handle.execute_update(
        StandaloneWorkItemWorkflow.resolve,
        ResolveRequest(work_item_id=item_id, action="appeal", by="ann", note="authorization on file"),
    )
    await handle.result()
    return handle.id


async def standalone_work_item_escalated(run: ReplayRun) -> str:
    """Passed its SLA twice (two escalations through durable timers), then completed."""
    entity = str(uuid.uuid4())
    handle = await run.client.start_workflow(
        StandaloneWorkItemWorkflow.run,
        StandaloneWorkItemInput(
            reason="manual_task", entity_type="patient", entity_id=entity, summary="sweep", sla_seconds=3600
        ),
        id=f"workitem-patient-{entity}",
        task_queue="revenue",
    )
    await _wait_for_item(run, handle.id)
    await run.skip_time(timedelta(hours=2, minutes=30))
    item_id = await _wait_for_item(run, handle.id, escalations=2)
    await handle.execute_update(
        StandaloneWorkItemWorkflow.resolve, ResolveRequest(work_item_id=item_id, action="complete", by="bob")
    )
    await handle.result()
    return handle.id


SCENARIOS: dict[str, Scenario] = {
    "standalone_work_item_resolved": standalone_work_item_resolved,
    "standalone_work_item_escalated": standalone_work_item_escalated,
}
