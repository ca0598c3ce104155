"""Replay scenarios of the portal workflows (see tests/replay/scenarios.py for how they are run)."""

from __future__ import annotations

import asyncio

from activities.contracts.portal import PortalEobIntakeInput, PortalEobIntakeResult
from flows.portal.eob_intake import PortalEobIntakeWorkflow, portal_eob_intake_id
from flows.workitems import ResolveRequest
from tests.replay.scenarios import ReplayRun, Scenario


async def portal_eob_intake_gave_up(run: ReplayRun) -> str:
    """The download fails for good (the payer is unknown to this store): a person is asked, and cancels."""
    handle = await run.client.start_workflow(
        PortalEobIntakeWorkflow.run,
        PortalEobIntakeInput(payer_id="SBXCC", work_item_sla_hours=24.0),
        id=portal_eob_intake_id("SBXCC"),
        task_queue="portal",
    )
    for _ in range(400):
        views = await handle.query(PortalEobIntakeWorkflow.open_work_items)
        if views:
            break
        await asyncio.sleep(0.05)
    else:
        raise RuntimeError("the portal intake opened no work item")
    await handle.execute_update(
        PortalEobIntakeWorkflow.resolve,
        ResolveRequest(work_item_id=views[0].work_item_id, action="cancel", by="ann", note="no portal account yet"),
    )
    result: PortalEobIntakeResult = await handle.result()
    if not result.gave_up:
        raise RuntimeError("expected the intake to give up")
    return handle.id


SCENARIOS: dict[str, Scenario] = {"portal_eob_intake_gave_up": portal_eob_intake_gave_up}
