"""Issue 11, item 1: a resolution is accepted only when the process will apply it, and a resolution that still fails
later asks once, saying why, and never loops. Each test failed on the code before the change:

- ``add_codes`` with ``diagnosis_codes=XYZ``, a ``payment_plan`` of 100 installments and a correction to place of
  service 99 were accepted by the Update ("resolved") and failed inside the workflow;
- a correction the store refused opened a manual task whose ``complete`` or ``cancel`` ran the same correction
  again and opened an identical task, for ever;
- a person's answer to the no-acknowledgment item other than ``retry_now`` was recorded and ignored.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from temporalio.client import WorkflowHandle, WorkflowUpdateFailedError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from activities.contracts import revenue as c
from activities.contracts import workitems as wi
from flows.revenue import WORKFLOWS, PatientCollectionsWorkflow, PatientRegistrationWorkflow, registration_workflow_id
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


async def _refused(harness: Harness, handle: WorkflowHandle[Any, Any], reason: str, action: str, **fields: str) -> str:
    """Send a resolution the Update must refuse; returns the refusal's message."""
    item_id = await harness.open_item(handle, reason)
    with pytest.raises(WorkflowUpdateFailedError) as refused:
        await handle.execute_update("resolve", ResolveRequest(item_id, action, "biller.ann", fields, "n"))
    cause = refused.value.cause
    return str(getattr(cause, "message", cause))


def _items(harness: Harness, reason: str) -> list[wi.OpenWorkItemInput]:
    return [item for item in harness.world.work_items.values() if item.reason == reason]


async def test_codes_the_activity_would_refuse_are_refused_by_the_update(harness: Harness) -> None:
    world = harness.world
    world.coded = False
    patient = f"p-{uuid.uuid4()}"
    registration = await harness.env.client.start_workflow(
        PatientRegistrationWorkflow.run,
        c.RegistrationInput(patient, POLICY),
        id=registration_workflow_id(patient),
        task_queue=harness.queue,
    )
    encounter = harness.env.client.get_workflow_handle(f"encounter-{world.appointment_id}")
    message = await _refused(
        harness, encounter, "missing_codes", "add_codes", procedure_code="99213", diagnosis_codes="XYZ"
    )
    assert "malformed ICD-10-CM code 'XYZ'" in message
    message = await _refused(
        harness, encounter, "missing_codes", "add_codes", procedure_code="12345", diagnosis_codes="I10"
    )
    assert "not in the practice's fee schedule" in message
    assert not world.called(c.ENCOUNTER_RECORD_CODES)  # nothing was accepted, nothing ran
    await harness.resolve(encounter, "missing_codes", "add_codes", procedure_code="99213", diagnosis_codes="I10")
    claim = harness.env.client.get_workflow_handle(f"claim-{world.claim_id}")
    await harness.wait_stage(claim, "awaiting_remittance")
    assert [call.diagnosis_codes for call in world.called(c.ENCOUNTER_RECORD_CODES)] == [("I10",)]
    await registration.terminate()


async def test_a_plan_the_rules_refuse_is_refused_by_the_update(harness: Harness) -> None:
    world = harness.world
    world.balance_cents = [8000]
    handle = await harness.env.client.start_workflow(
        PatientCollectionsWorkflow.run,
        c.CollectionsInput(f"g-{uuid.uuid4()}", POLICY),
        id=f"collections-g-{uuid.uuid4()}",
        task_queue=harness.queue,
    )
    message = await _refused(harness, handle, "patient_balance_overdue", "payment_plan", installments="100")
    assert "1 to 12 installments, not 100" in message
    message = await _refused(harness, handle, "patient_balance_overdue", "payment_plan", installments="4")
    assert "below the minimum 2500" in message and "at most 3 installment(s)" in message
    message = await _refused(
        harness, handle, "patient_balance_overdue", "payment_plan", installments="2", first_due="2001-01-01"
    )
    assert "in the past" in message
    assert not world.called(c.COLLECTIONS_CREATE_PLAN)
    await handle.terminate()


async def test_a_correction_to_an_unknown_place_of_service_is_refused_by_the_update(harness: Harness) -> None:
    world = harness.world
    world.ack_answers = ["rejected"]
    handle = await harness.start_claim()
    message = await _refused(harness, handle, "claim_rejected", "correct_and_resubmit", place_of_service="99")
    assert "unknown place of service '99'" in message
    message = await _refused(harness, handle, "claim_rejected", "correct_and_resubmit", billing_npi="1234567893")
    assert "does not take the field(s) billing_npi" in message
    assert not world.called(c.CLAIMS_CORRECT)
    await handle.terminate()


async def test_a_correction_the_store_refuses_asks_once_saying_why_and_never_loops(harness: Harness) -> None:
    world = harness.world
    world.ack_answers = ["rejected"]
    world.refuse_corrections = 1
    handle = await harness.start_claim()
    await harness.resolve(handle, "claim_rejected", "correct_and_resubmit", payer_id="ZZZ")
    # The same question again, once, with the rule and the value that failed; no manual task.
    for _ in range(100):
        if len(_items(harness, "claim_rejected")) == 2:
            break
        await harness.skip()
    _first, again = _items(harness, "claim_rejected")
    assert again.context["refused"] == "not_found"
    assert again.context["refused_because"] == "payer_id ZZZ: no such payer"
    assert "refused" in again.summary and "ZZZ" in again.summary
    assert not _items(harness, "manual_task")
    # Cancelling it ends the claim's process; the refused correction is not run again.
    await harness.resolve(handle, "claim_rejected", "cancel", note="handled by phone")
    result = await handle.result()
    assert result.status == "rejected"
    assert len(world.called(c.CLAIMS_CORRECT)) == 1
    assert len(_items(harness, "claim_rejected")) == 2 and not _items(harness, "manual_task")


async def test_an_answer_to_the_no_acknowledgment_item_is_carried_out(harness: Harness) -> None:
    world = harness.world
    world.ack_answers = ["pending"] * 100
    handle = await harness.start_claim()
    await harness.resolve(handle, "no_payer_response", "write_off", reason_code="administrative")
    result = await handle.result()
    assert [(a.kind, a.reason) for a in world.called(c.POSTING_ADJUST)] == [("write_off", "administrative")]
    assert result.status == "written_off"


async def test_a_write_off_the_store_refuses_asks_again_saying_why_and_never_loops(harness: Harness) -> None:
    """A person's write-off that posting.adjust refuses is that person's question again (with the reason), not a
    manual task that runs the same write-off again and again."""
    world = harness.world
    world.ack_answers = ["pending"] * 100
    world.refuse_adjustments = 1
    handle = await harness.start_claim()
    await harness.resolve(handle, "no_payer_response", "write_off", reason_code="administrative")
    for _ in range(100):
        if len(_items(harness, "no_payer_response")) == 2:
            break
        await harness.skip()
    _first, again = _items(harness, "no_payer_response")
    assert again.context["refused"] == "illegal_transition"
    assert "cannot become written_off" in again.context["refused_because"]
    assert "refused" in again.summary
    assert not _items(harness, "manual_task")
    assert len(world.called(c.POSTING_ADJUST)) == 1  # not run again by itself
    await harness.resolve(handle, "no_payer_response", "write_off", reason_code="small_balance")
    result = await handle.result()
    assert [a.reason for a in world.called(c.POSTING_ADJUST)] == ["administrative", "small_balance"]
    assert result.status == "written_off"


async def test_an_appeal_before_adjudication_is_refused_by_the_claim_lifecycle(harness: Harness) -> None:
    world = harness.world
    world.ack_answers = ["pending"] * 100
    handle = await harness.start_claim()
    message = await _refused(harness, handle, "no_payer_response", "appeal")
    assert "cannot go from submitted to appealed" in message
    await handle.terminate()


async def test_the_claims_status_is_the_stores(harness: Harness) -> None:
    """Issue 11, item 4: the Claim workflow keeps no status of its own; it takes the one the store answers with
    (here the 999 already acknowledged the claim: before, the workflow said "submitted")."""
    world = harness.world
    world.ack_answers = ["pending"] * 100
    world.status_after_submit = "acknowledged"
    handle = await harness.start_claim()
    await harness.wait_stage(handle, "awaiting_acknowledgment")
    assert (await handle.query("state"))["status"] == "acknowledged"
    await handle.terminate()
