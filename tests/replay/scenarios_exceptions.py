"""Replay scenarios of posting's work items worked for real (PostingException, and PaymentPosting's patched path
that starts one per item it opened).

Run by ``scripts/refresh-replay-histories --only <name>``; the histories replay in tests/replay/test_replay.py.
The activities are the fake store of tests/workflows/test_posting_exceptions.py (the rule is the real one).
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime

from temporalio.client import WorkflowUpdateFailedError
from temporalio.worker import Worker

from activities.contracts import posting_exceptions as xc
from activities.contracts import revenue as c
from activities.contracts import workitems as wi
from flows.revenue import WORKFLOWS, PaymentPostingWorkflow
from flows.workitems import ResolveRequest
from tests.replay.scenarios import ReplayRun, Scenario
from tests.replay.scenarios_revenue import _Env
from tests.workflows.test_posting_exceptions import Exceptions, _target
from tests.workflows.test_revenue_cycle import POLICY, Harness, World
from workers.registry import workflow_runner


@asynccontextmanager
async def _posting_desk(run: ReplayRun, store: Exceptions) -> AsyncIterator[tuple[Harness, str]]:
    """A worker with the fake posting store, and one item posting opened (no workflow yet)."""
    world = World(claim_id=str(uuid.uuid4()))
    item_id = f"item-{uuid.uuid4()}"
    world.work_items[item_id] = wi.OpenWorkItemInput(
        "unmatched_remittance", "posting", "s", "remittance", "rem-1", "", f"posting:SBX:{item_id}:0:claim_payment",
        datetime.now(UTC),
    )  # fmt: skip
    queue = f"replay-exceptions-{uuid.uuid4()}"
    async with Worker(
        run.client,
        task_queue=queue,
        workflows=list(WORKFLOWS),
        activities=store.activities(world),
        workflow_runner=workflow_runner(),
    ):
        yield Harness(_Env(run), queue, world), item_id  # type: ignore[arg-type]


async def _post(harness: Harness, item_id: str) -> str:
    """PaymentPosting of a remittance whose one claim payment matched nothing: it starts the item's workflow."""
    key = f"era-{uuid.uuid4()}"
    harness.world.outcomes[key] = c.PostingResult(key, False, "SBX", 0, (), exception_items=(item_id,))
    workflow_id = f"posting-{key}"
    await harness.env.client.execute_workflow(
        PaymentPostingWorkflow.run, c.PostingInput(key, POLICY), id=workflow_id, task_queue=harness.queue
    )
    return workflow_id


async def payment_posting_starts_exceptions(run: ReplayRun) -> str:
    """PaymentPosting's patched path: one activity starts the PostingException of the item posting opened."""
    store = Exceptions()
    async with _posting_desk(run, store) as (harness, item_id):
        workflow_id = await _post(harness, item_id)
        handle = run.client.get_workflow_handle(xc.posting_exception_workflow_id(item_id))
        await harness.resolve(handle, "unmatched_remittance", "complete", note="returned to the payer")
        await handle.result()
        return workflow_id


async def posting_exception_posted_manually(run: ReplayRun) -> str:
    """A claim the workflow knows nothing of is read and refused; the right one is posted; its claim hears it."""
    store = Exceptions()
    async with _posting_desk(run, store) as (harness, item_id):
        claim_id = harness.world.claim_id
        store.claims = {claim_id: _target(claim_id)}
        claim = await harness.start_claim()
        await harness.wait_stage(claim, "awaiting_remittance")
        await _post(harness, item_id)
        handle = run.client.get_workflow_handle(xc.posting_exception_workflow_id(item_id))
        opened = await harness.open_item(handle, "unmatched_remittance")
        try:
            unknown = ResolveRequest(opened, "post_manually", "biller.ann", {"claim_id": str(uuid.uuid4())})
            await handle.execute_update("resolve", unknown)
        except WorkflowUpdateFailedError:
            pass  # unknown claim: refused by the rule, nothing recorded
        await harness.resolve(handle, "unmatched_remittance", "post_manually", claim_id=claim_id)
        await handle.result()
        await claim.result()
        return handle.id


async def posting_exception_refused_asked_again(run: ReplayRun) -> str:
    """The store refuses a resolution the rule passed: one new item says why; the next resolution ends it."""
    store = Exceptions(refuse_resolutions=1)
    async with _posting_desk(run, store) as (harness, item_id):
        target = str(uuid.uuid4())
        store.claims = {target: _target(target)}
        await _post(harness, item_id)
        handle = run.client.get_workflow_handle(xc.posting_exception_workflow_id(item_id))
        await harness.resolve(handle, "unmatched_remittance", "post_manually", claim_id=target)
        for _ in range(200):
            if any(i.dedupe_key.endswith(":refused:1") for i in harness.world.work_items.values()):
                break
            await harness.skip()
        await harness.resolve(handle, "unmatched_remittance", "complete", note="returned to the payer")
        await handle.result()
        return handle.id


SCENARIOS: dict[str, Scenario] = {
    "exceptions_payment_posting_starts_exceptions": payment_posting_starts_exceptions,
    "exceptions_payment_posting_one_marker_starts_exceptions": payment_posting_starts_exceptions,  # posting-one-marker
    "exceptions_posting_exception_posted_manually": posting_exception_posted_manually,
    "exceptions_posting_exception_refused_asked_again": posting_exception_refused_asked_again,
}
