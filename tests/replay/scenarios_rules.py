"""Replay scenarios of issue 11's new paths (one rule, one path): a refused resolution asks again, saying why.

Run by ``scripts/refresh-replay-histories --only <name>``; the histories replay in tests/replay/test_replay.py.
"""

from __future__ import annotations

import uuid

from activities.contracts import revenue as c
from flows.revenue import EligibilityCheckWorkflow, PatientCollectionsWorkflow
from tests.replay.scenarios import ReplayRun, Scenario
from tests.replay.scenarios_revenue import _harness
from tests.workflows.test_revenue_cycle import POLICY, World, _paid


async def claim_correction_refused(run: ReplayRun) -> str:
    """A correction the store refuses: the rejection is asked again with the reason; the next correction passes."""
    world = World(ack_answers=["rejected", "accepted"], refuse_corrections=1)
    async with _harness(run, world) as harness:
        handle = await harness.start_claim()
        await harness.resolve(handle, "claim_rejected", "correct_and_resubmit", payer_id="ZZZ")
        for _ in range(200):  # the second item (the first is resolved): the refusal asked again
            if sum(item.reason == "claim_rejected" for item in world.work_items.values()) == 2:
                break
            await harness.skip()
        await harness.resolve(handle, "claim_rejected", "correct_and_resubmit", diagnosis_codes="I10")
        await harness.wait_stage(handle, "awaiting_remittance")
        await harness.post(f"era-{uuid.uuid4()}", _paid(world))
        await handle.result()
        return handle.id


async def claim_ack_item_written_off(run: ReplayRun) -> str:
    """No 999/277CA: the person writes the claim off from the follow-up item, and it is written off."""
    world = World(ack_answers=["pending"] * 200)
    async with _harness(run, world) as harness:
        handle = await harness.start_claim()
        await harness.resolve(handle, "no_payer_response", "write_off", reason_code="administrative")
        await handle.result()
        return handle.id


async def claim_write_off_refused(run: ReplayRun) -> str:
    """A write-off the store refuses: the item is asked again saying why (CLOSE_REFUSED_PATCH); the next passes."""
    world = World(ack_answers=["pending"] * 200, refuse_adjustments=1)
    async with _harness(run, world) as harness:
        handle = await harness.start_claim()
        await harness.resolve(handle, "no_payer_response", "write_off", reason_code="administrative")
        for _ in range(200):
            if sum(item.reason == "no_payer_response" for item in world.work_items.values()) == 2:
                break
            await harness.skip()
        await harness.resolve(handle, "no_payer_response", "write_off", reason_code="small_balance")
        await handle.result()
        return handle.id


async def eligibility_update_refused(run: ReplayRun) -> str:
    """A coverage update the store refuses: the eligibility item is asked again, saying why; then a good one."""
    world = World(eligibility="inactive", refuse_coverage_updates=1)
    async with _harness(run, world) as harness:
        handle = await run.client.start_workflow(
            EligibilityCheckWorkflow.run,
            c.EligibilityInput(f"cov-{uuid.uuid4()}", POLICY),
            id=f"eligibility-{uuid.uuid4()}",
            task_queue=harness.queue,
        )
        await harness.resolve(handle, "eligibility_inactive", "update_coverage", payer_id="ZZZ")
        for _ in range(200):
            if sum(item.reason == "eligibility_inactive" for item in world.work_items.values()) == 2:
                break
            await harness.skip()
        await harness.resolve(handle, "eligibility_inactive", "update_coverage", member_id="NEW123")
        await handle.result()
        return handle.id


async def collections_policy_agency(run: ReplayRun) -> str:
    """The cycle by the stored policy: a new version mid-cycle, then the agency hand-off after the final notice."""
    world = World(balance_cents=[8000])
    async with _harness(run, world) as harness:
        handle = await run.client.start_workflow(
            PatientCollectionsWorkflow.run,
            c.CollectionsInput(f"g-{uuid.uuid4()}", POLICY),
            id=f"collections-{uuid.uuid4()}",
            task_queue=harness.queue,
        )
        for _ in range(200):
            if world.called(c.COLLECTIONS_SEND_STATEMENT):
                break
            await harness.skip()
        world.policies.append({"statement_interval_days": 10})
        await harness.resolve(handle, "patient_balance_overdue", "send_to_agency", note="no answer")
        await handle.result()
        return handle.id


async def collections_policy_plan(run: ReplayRun) -> str:
    """A plan the store refuses is asked again; the next one is kept to the end."""
    world = World(balance_cents=[8000], plan_paid_cents=[4000, 8000], refuse_plans=1)
    async with _harness(run, world) as harness:
        handle = await run.client.start_workflow(
            PatientCollectionsWorkflow.run,
            c.CollectionsInput(f"g-{uuid.uuid4()}", POLICY),
            id=f"collections-{uuid.uuid4()}",
            task_queue=harness.queue,
        )
        await harness.resolve(handle, "patient_balance_overdue", "payment_plan", installments="2")
        for _ in range(200):
            if sum(item.reason == "patient_balance_overdue" for item in world.work_items.values()) == 2:
                break
            await harness.skip()
        await harness.resolve(handle, "patient_balance_overdue", "payment_plan", installments="2")
        await handle.result()
        return handle.id


SCENARIOS: dict[str, Scenario] = {
    "rules_claim_correction_refused": claim_correction_refused,
    "rules_claim_ack_item_written_off": claim_ack_item_written_off,
    "rules_claim_write_off_refused": claim_write_off_refused,
    "rules_eligibility_update_refused": eligibility_update_refused,
    "rules_collections_policy_agency": collections_policy_agency,
    "rules_collections_policy_plan": collections_policy_plan,
}
