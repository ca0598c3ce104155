"""Issue 11, item 2: the PatientCollections cycle is decided by the stored collections policy at every step (the
domain's next_step), so a new version reaches a running cycle at its next step; statements are due when the
policy says; the hand-off follows the policy (bad debt below the agency's minimum); a settlement forgives the rest;
a plan the store refuses asks again, saying why. Before, the workflow had its own copy of the cycle and took the
policy from its input, once."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from datetime import date, timedelta
from typing import Any

import pytest
from temporalio.client import WorkflowHandle, WorkflowUpdateFailedError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from activities.contracts import revenue as c
from flows.revenue import WORKFLOWS, PatientCollectionsWorkflow
from flows.workitems import ResolveRequest
from tests.workflows.test_revenue_cycle import POLICY, Harness, World

pytestmark = pytest.mark.temporal


@pytest.fixture
async def harness(time_skipping_env: WorkflowEnvironment) -> AsyncIterator[Harness]:
    world = World()
    queue = f"revenue-{uuid.uuid4()}"
    async with Worker(
        time_skipping_env.client, task_queue=queue, workflows=list(WORKFLOWS), activities=world.activities()
    ):
        yield Harness(time_skipping_env, queue, world)


async def _start(harness: Harness) -> WorkflowHandle[Any, c.CollectionsResult]:
    return await harness.env.client.start_workflow(
        PatientCollectionsWorkflow.run,
        c.CollectionsInput(f"g-{uuid.uuid4()}", POLICY),
        id=f"collections-{uuid.uuid4()}",
        task_queue=harness.queue,
    )


async def _until(harness: Harness, done: Callable[[], bool]) -> None:
    for _ in range(400):
        if done():
            return
        await harness.skip()
    raise AssertionError("it never happened")


def _statements(world: World) -> list[c.StatementRequest]:
    return list(world.called(c.COLLECTIONS_SEND_STATEMENT))


async def test_a_new_policy_version_reaches_a_running_cycle_at_its_next_step(harness: Harness) -> None:
    world = harness.world
    world.balance_cents = [8000]
    handle = await _start(harness)
    await _until(harness, lambda: len(_statements(world)) == 1)
    first = _statements(world)[0]
    assert first.kind == "first" and first.due_on  # due when the policy says: 30 days by the defaults
    opened = date.fromisoformat(first.statement_on)
    assert date.fromisoformat(first.due_on) == opened + timedelta(days=30)
    world.policies.append({"statement_interval_days": 5})  # `carecycle policy set statement_interval_days=5`
    await harness.env.sleep(timedelta(days=8))  # the cycle looks again within a week; the old version: day 30
    await _until(harness, lambda: len(_statements(world)) == 2)
    reminder = _statements(world)[1]
    assert reminder.kind == "reminder"
    assert date.fromisoformat(reminder.due_on) == opened + timedelta(days=10)  # the schedule of the new version
    await handle.terminate()


async def test_a_balance_below_the_agencys_minimum_is_bad_debt(harness: Harness) -> None:
    world = harness.world
    world.balance_cents = [2000]  # above the small balance (500), below the agency's minimum (2500)
    handle = await _start(harness)
    await harness.resolve(handle, "patient_balance_overdue", "send_to_agency", note="no answer")
    result = await handle.result()
    assert result.outcome == "written_off" and not world.called(c.COLLECTIONS_AGENCY)
    assert [(w.amount_cents, w.reason) for w in world.called(c.COLLECTIONS_WRITE_OFF)] == [(2000, "bad_debt")]
    overdue = next(item for item in world.work_items.values() if item.reason == "patient_balance_overdue")
    assert overdue.context["policy_proposes"] == "bad_debt" and overdue.context["policy_version"] == "0"
    assert [s.kind for s in _statements(world)] == ["first", "reminder", "final"]


async def test_a_settlement_forgives_the_rest_and_a_new_cycle_sends_its_own_statements(harness: Harness) -> None:
    world = harness.world
    world.balance_cents = [8000]
    handle = await _start(harness)
    item_id = await harness.open_item(handle, "patient_balance_overdue")
    with pytest.raises(WorkflowUpdateFailedError) as refused:
        await handle.execute_update(
            "resolve", ResolveRequest(item_id, "settle", "biller.ann", {"amount_cents": "9000"}, "agreed")
        )
    assert "less than the balance" in str(getattr(refused.value.cause, "message", ""))
    await handle.execute_update(
        "resolve", ResolveRequest(item_id, "settle", "biller.ann", {"amount_cents": "5000"}, "agreed by phone")
    )
    await _until(harness, lambda: bool(world.called(c.COLLECTIONS_WRITE_OFF)))
    assert [(w.amount_cents, w.reason) for w in world.called(c.COLLECTIONS_WRITE_OFF)] == [(3000, "administrative")]
    world.balance_cents = [5000]
    await _until(harness, lambda: len(_statements(world)) == 4)
    again = _statements(world)[3]
    assert again.kind == "first" and again.cycle_key.endswith("/cycle1/1")  # not the first cycle's statement
    await handle.terminate()


async def test_a_plan_the_store_refuses_asks_again_saying_why(harness: Harness) -> None:
    world = harness.world
    world.balance_cents = [8000]
    world.refuse_plans = 1
    handle = await _start(harness)
    await harness.resolve(handle, "patient_balance_overdue", "payment_plan", installments="2")
    await _until(harness, lambda: sum(i.reason == "patient_balance_overdue" for i in world.work_items.values()) == 2)
    again = [i for i in world.work_items.values() if i.reason == "patient_balance_overdue"][1]
    assert again.context["refused"] == "invalid" and "below the minimum" in again.context["refused_because"]
    await harness.resolve(handle, "patient_balance_overdue", "send_to_agency", note="no plan after all")
    result = await handle.result()
    assert result.outcome == "agency" and len(world.called(c.COLLECTIONS_CREATE_PLAN)) == 1
