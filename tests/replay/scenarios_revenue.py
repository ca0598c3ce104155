"""Replay scenarios of the revenue-cycle workflows: one history per workflow type and notable path.

Each scenario runs the real workflow code on its own task queue with the activities of the workflow tests'
fake world (tests/workflows/test_revenue_cycle.py): a history records the workflow's commands and the
activities' results, so what replays is exactly the workflow code, whoever answered the activities.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import Any

from temporalio.client import WorkflowExecutionStatus
from temporalio.worker import Worker

from activities.contracts import revenue as c
from flows.revenue import (
    WORKFLOWS,
    ClaimWorkflow,
    EligibilityCheckWorkflow,
    EncounterWorkflow,
    PatientCollectionsWorkflow,
    PatientRegistrationWorkflow,
    PaymentPostingWorkflow,
    RemittanceIntakeWorkflow,
    claim_workflow_id,
    encounter_workflow_id,
    registration_workflow_id,
)
from flows.revenue.names import ENCOUNTER_STARTS_AT
from flows.revenue.registration import REGISTRATION_STARTS_AT
from tests.replay.scenarios import ReplayRun, Scenario
from tests.workflows.test_revenue_cycle import POLICY, Harness, World, _paid
from workers.registry import workflow_runner


@dataclass
class _Env:
    """The part of a WorkflowEnvironment the workflow tests' harness uses."""

    run: ReplayRun

    @property
    def client(self) -> Any:
        return self.run.client

    async def sleep(self, duration: timedelta) -> None:
        await self.run.skip_time(duration)


@asynccontextmanager
async def _harness(run: ReplayRun, world: World | None = None) -> AsyncIterator[Harness]:
    world = world or World()
    queue = f"replay-revenue-{uuid.uuid4()}"
    async with Worker(
        run.client,
        task_queue=queue,
        workflows=list(WORKFLOWS),
        activities=world.activities(),
        workflow_runner=workflow_runner(),
    ):
        yield Harness(_Env(run), queue, world)  # type: ignore[arg-type]


async def registration_journey(run: ReplayRun) -> str:
    """Registration -> eligibility -> encounter (coded at the desk) -> claim paid -> posting."""
    async with _harness(run) as harness:
        patient = f"p-{uuid.uuid4()}"
        handle = await run.client.start_workflow(
            PatientRegistrationWorkflow.run,
            c.RegistrationInput(patient, POLICY),
            id=registration_workflow_id(patient),
            task_queue=harness.queue,
        )
        claim = run.client.get_workflow_handle(claim_workflow_id(harness.world.claim_id))
        await harness.wait_stage(claim, "awaiting_remittance")
        await harness.post(f"era-{uuid.uuid4()}", _paid(harness.world))
        await handle.result()
        return handle.id


async def _lean_journey(run: ReplayRun, which: str) -> str:
    """Registration (started with its first stage, as intake starts it) -> eligibility inline and the store reads
    as local activities (registration-lean) -> encounter -> claim (both started with their first stage) -> paid."""
    async with _harness(run) as harness:
        patient = f"p-{uuid.uuid4()}"
        handle = await run.client.start_workflow(
            PatientRegistrationWorkflow.run,
            c.RegistrationInput(patient, POLICY),
            id=registration_workflow_id(patient),
            task_queue=harness.queue,
            search_attributes=REGISTRATION_STARTS_AT,
        )
        claim = run.client.get_workflow_handle(claim_workflow_id(harness.world.claim_id))
        await harness.wait_stage(claim, "awaiting_remittance")
        await harness.post(f"era-{uuid.uuid4()}", _paid(harness.world))
        await handle.result()
        return {"registration": handle.id, "claim": claim.id}[which]


async def registration_lean_journey(run: ReplayRun) -> str:
    return await _lean_journey(run, "registration")


async def claim_started_with_its_stage(run: ReplayRun) -> str:
    return await _lean_journey(run, "claim")


async def registration_eligibility_inline_inactive(run: ReplayRun) -> str:
    """The inline eligibility check's work item is the registration's: resolved through its Update."""
    world = World(eligibility="inactive")
    async with _harness(run, world) as harness:
        patient = f"p-{uuid.uuid4()}"
        handle = await run.client.start_workflow(
            PatientRegistrationWorkflow.run,
            c.RegistrationInput(patient, POLICY, bill_encounters=False),
            id=registration_workflow_id(patient),
            task_queue=harness.queue,
            search_attributes=REGISTRATION_STARTS_AT,
        )
        await harness.resolve(handle, "eligibility_inactive", "update_coverage", member_id="NEW123")
        await handle.result()
        return handle.id


async def encounter_missing_codes(run: ReplayRun) -> str:
    """A coding work item resolved with codes, then the claim to payment."""
    world = World(coded=False)
    async with _harness(run, world) as harness:
        patient = f"p-{uuid.uuid4()}"
        handle = await run.client.start_workflow(
            PatientRegistrationWorkflow.run,
            c.RegistrationInput(patient, POLICY),
            id=registration_workflow_id(patient),
            task_queue=harness.queue,
        )
        encounter = run.client.get_workflow_handle(f"encounter-{world.appointment_id}")
        await harness.resolve(encounter, "missing_codes", "add_codes", procedure_code="99213", diagnosis_codes="I10")
        claim = run.client.get_workflow_handle(claim_workflow_id(world.claim_id))
        await harness.wait_stage(claim, "awaiting_remittance")
        await harness.post(f"era-{uuid.uuid4()}", _paid(world))
        await handle.result()
        return encounter.id


async def claim_rejected_corrected(run: ReplayRun) -> str:
    world = World(ack_answers=["pending", "rejected", "accepted"])
    async with _harness(run, world) as harness:
        handle = await harness.start_claim()
        await harness.resolve(handle, "claim_rejected", "correct_and_resubmit", diagnosis_codes="I10")
        await harness.wait_stage(handle, "awaiting_remittance")
        await harness.post(f"era-{uuid.uuid4()}", _paid(world))
        await handle.result()
        return handle.id


async def claim_denied_appealed(run: ReplayRun) -> str:
    world = World()
    async with _harness(run, world) as harness:
        handle = await harness.start_claim()
        await harness.wait_stage(handle, "awaiting_remittance")
        denial = c.ClaimOutcome(world.claim_id, "era-d", "denied", 0, 0, ("CO-50",), ("N115",), ("CO-50: necessity",))
        await harness.post(f"era-{uuid.uuid4()}", denial)
        await harness.resolve(handle, "claim_denied", "appeal", note="records attached")
        await harness.wait_stage(handle, "appealed")
        await harness.post(f"era-{uuid.uuid4()}", _paid(world))
        await handle.result()
        return handle.id


async def claim_told_its_denial_twice(run: ReplayRun) -> str:
    """A retried posting.tell tells a denied claim its denial again while a person decides: heard once, the
    appeal stands, the payment comes."""
    world = World()
    async with _harness(run, world) as harness:
        handle = await harness.start_claim()
        await harness.wait_stage(handle, "awaiting_remittance")
        denial = c.ClaimOutcome(world.claim_id, "era-d", "denied", 0, 0, ("CO-50",), ("N115",), ("CO-50: necessity",))
        await handle.signal("remittance", denial)
        await harness.open_item(handle, "claim_denied")
        await handle.signal("remittance", denial)
        await harness.resolve(handle, "claim_denied", "appeal", note="records attached")
        await harness.wait_stage(handle, "appealed")
        await handle.signal("remittance", _paid(world))
        await handle.result()
        return handle.id


async def claim_denial_reprocessed(run: ReplayRun) -> str:
    """The payer reprocesses a denied claim while its denial item is open (the reversal, then the payment): the item
    is withdrawn and the claim is paid (claim-denial-superseded)."""
    world = World()
    async with _harness(run, world) as harness:
        handle = await harness.start_claim()
        await harness.wait_stage(handle, "awaiting_remittance")
        denial = c.ClaimOutcome(world.claim_id, "era-d", "denied", 0, 0, ("CO-50",), ("N115",), (), "denied")
        await handle.signal("remittance", denial)
        await harness.open_item(handle, "claim_denied")
        await handle.signal(
            "remittance", c.ClaimOutcome(world.claim_id, "era-r", "reversed", 0, 0, (), (), (), "denied")
        )
        await handle.signal("remittance", c.ClaimOutcome(world.claim_id, "era-r", "paid", 9000, 0, (), (), (), "paid"))
        await handle.result()
        return handle.id


async def claim_no_response(run: ReplayRun) -> str:
    world = World()
    async with _harness(run, world) as harness:
        handle = await harness.start_claim()
        await harness.wait_stage(handle, "awaiting_remittance")
        await harness.resolve(handle, "no_payer_response", "write_off", reason_code="timely_filing")
        await handle.result()
        return handle.id


async def claim_portal_status(run: ReplayRun) -> str:
    """A portal payer says nothing in the follow-up window: its portal is asked, then a person; the EOB comes."""
    world = World(route="portal", portal_status=["in_process"])
    async with _harness(run, world) as harness, await harness.portal_worker():
        handle = await harness.start_claim()
        await harness.wait_stage(handle, "awaiting_remittance")
        await harness.open_item(handle, "no_payer_response")
        await handle.signal("remittance", _paid(world))
        await handle.result()
        return handle.id


async def _settled_then_reversed(harness: Harness, world: World) -> str:
    """A claim is paid and its process ends; later the payer reverses the payment. Returns that posting's id."""
    handle = await harness.start_claim()
    await harness.wait_stage(handle, "awaiting_remittance")
    await harness.post(f"era-{uuid.uuid4()}", _paid(world))
    await handle.result()
    reversal = f"era-{uuid.uuid4()}"
    return await harness.post(reversal, c.ClaimOutcome(world.claim_id, reversal, "reversed", -9000, -2500, ("CR-129",)))


async def claim_reopened_by_a_late_remittance(run: ReplayRun) -> str:
    """A settled claim's payment is reversed: a new run waits for the corrected adjudication, which pays."""
    world = World()
    async with _harness(run, world) as harness:
        await _settled_then_reversed(harness, world)
        reopened = run.client.get_workflow_handle(claim_workflow_id(world.claim_id))
        await reopened.signal("remittance", _paid(world))
        await reopened.result()
        return reopened.id


async def posting_reopens_an_ended_claim(run: ReplayRun) -> str:
    """The PaymentPosting whose signal found the claim's process ended, and started a new run of it."""
    world = World()
    async with _harness(run, world) as harness:
        posting_id = await _settled_then_reversed(harness, world)
        reopened = run.client.get_workflow_handle(claim_workflow_id(world.claim_id))
        await reopened.signal("remittance", _paid(world))
        await reopened.result()
        return posting_id


async def eligibility_inactive(run: ReplayRun) -> str:
    world = World(eligibility="inactive")
    async with _harness(run, world) as harness:
        handle = await run.client.start_workflow(
            EligibilityCheckWorkflow.run,
            c.EligibilityInput(f"cov-{uuid.uuid4()}", POLICY),
            id=f"eligibility-{uuid.uuid4()}",
            task_queue=harness.queue,
        )
        await harness.resolve(handle, "eligibility_inactive", "update_coverage", member_id="NEW123")
        await handle.result()
        return handle.id


async def payment_posting(run: ReplayRun) -> str:
    world = World()
    async with _harness(run, world) as harness:
        key = f"era-{uuid.uuid4()}"
        outcome = _paid(world)
        world.outcomes[key] = c.PostingResult(key, False, "SBXBM", 9000, (outcome,), ("PCN-X",), ("g-1",))
        handle = await run.client.start_workflow(
            PaymentPostingWorkflow.run, c.PostingInput(key, POLICY), id=f"posting-{key}", task_queue=harness.queue
        )
        await harness.resolve(handle, "unmatched_remittance", "complete")
        await handle.result()
        return handle.id


async def payment_posting_told_in_pages(run: ReplayRun) -> str:
    """A remittance with more to tell than the policy carries: its outcomes are kept beside the 835 and told by
    posting.tell, a page per activity (patched posting-tell-in-pages)."""
    world = World()
    async with _harness(run, world) as harness:
        key = f"era-{uuid.uuid4()}"
        world.outcomes[key] = c.PostingResult(key, False, "SBXBM", 27000, (), kept=5, kept_claims=3)
        policy = replace(POLICY, posting_carry_limit=2, posting_page=2)
        handle = await run.client.start_workflow(
            PaymentPostingWorkflow.run, c.PostingInput(key, policy), id=f"posting-{key}", task_queue=harness.queue
        )
        await handle.result()
        assert [page.offset for page in world.called(c.POSTING_TELL)] == [0, 2, 4]
        return handle.id


async def remittance_intake(run: ReplayRun) -> str:
    async with _harness(run) as harness:
        handle = await run.client.start_workflow(
            RemittanceIntakeWorkflow.run,
            c.IntakeInput(POLICY, iterations_left=3),
            id=f"remittance-intake-{uuid.uuid4()}",
            task_queue=harness.queue,
        )
        await handle.result()
        return handle.id


async def remittance_intake_confirms_after_start(run: ReplayRun) -> str:
    """Two 835s fetched unconfirmed, their postings started, then confirmed (patched intake-confirms-after-start)."""
    world = World(mailbox=[c.FetchedRemittances(("era-a", "era-b"), ("doc-1", "doc-2"))])
    for key in ("era-a", "era-b"):
        world.outcomes[key] = c.PostingResult(key, False, "SBXBM", 0, (), (), ())
    async with _harness(run, world) as harness:
        handle = await run.client.start_workflow(
            RemittanceIntakeWorkflow.run,
            c.IntakeInput(POLICY, iterations_left=2),
            id=f"remittance-intake-{uuid.uuid4()}",
            task_queue=harness.queue,
        )
        while (await handle.describe()).status == WorkflowExecutionStatus.RUNNING:
            await harness.skip()  # the polls' business days
        await handle.result()
        assert world.called(c.POSTING_CONFIRM_REMITTANCES) == [c.ConfirmRemittances(("doc-1", "doc-2"))]
        return handle.id


async def collections_agency(run: ReplayRun) -> str:
    world = World(balance_cents=[8000])
    async with _harness(run, world) as harness:
        handle = await run.client.start_workflow(
            PatientCollectionsWorkflow.run,
            c.CollectionsInput(f"g-{uuid.uuid4()}", POLICY),
            id=f"collections-{uuid.uuid4()}",
            task_queue=harness.queue,
        )
        await harness.resolve(handle, "patient_balance_overdue", "send_to_agency", note="no answer")
        await handle.result()
        return handle.id


async def collections_payment_plan(run: ReplayRun) -> str:
    world = World(balance_cents=[8000], plan_paid_cents=[0, 0, 4000, 8000])  # one installment missed, then paid off
    async with _harness(run, world) as harness:
        handle = await run.client.start_workflow(
            PatientCollectionsWorkflow.run,
            c.CollectionsInput(f"g-{uuid.uuid4()}", POLICY),
            id=f"collections-{uuid.uuid4()}",
            task_queue=harness.queue,
        )
        await harness.resolve(handle, "patient_balance_overdue", "payment_plan", installments="2")
        await handle.result()
        return handle.id


async def collections_plan_dispute_early_payoff(run: ReplayRun) -> str:
    """A plan paused by a dispute (resumed by a person, due dates moved), then paid off early by a payment."""
    world = World(balance_cents=[8000], plan_paid_cents=[8000])
    async with _harness(run, world) as harness:
        handle = await run.client.start_workflow(
            PatientCollectionsWorkflow.run,
            c.CollectionsInput(f"g-{uuid.uuid4()}", POLICY),
            id=f"collections-{uuid.uuid4()}",
            task_queue=harness.queue,
        )
        await harness.resolve(handle, "patient_balance_overdue", "payment_plan", installments="2")
        await harness.wait_stage(handle, "plan:installment:1")
        await handle.signal("dispute", True)
        await harness.resolve(handle, "patient_dispute", "complete", note="charges verified")
        await harness.wait_stage(handle, "plan:installment:1")
        await handle.signal("payment_received", c.PaymentNotice(8000, "card-1"))
        await handle.result()
        return handle.id


async def _intake_journey(run: ReplayRun, which: str, world: World | None = None) -> str:
    """The journey as intake starts it: PatientRegistration (``bill_encounters=False``) and the visit's Encounter,
    each on its own, with their first stages; store steps as local activities (revenue-local-store), workflows
    started and signalled by name (flows.revenue.names); a coding item when the world has no codes; paid."""
    world = world or World()
    async with _harness(run, world) as harness:
        patient = f"p-{uuid.uuid4()}"
        registration = await run.client.start_workflow(
            PatientRegistrationWorkflow.run,
            c.RegistrationInput(patient, POLICY, bill_encounters=False),
            id=registration_workflow_id(patient),
            task_queue=harness.queue,
            search_attributes=REGISTRATION_STARTS_AT,
        )
        encounter = await run.client.start_workflow(
            EncounterWorkflow.run,
            c.EncounterInput(world.appointment_id, POLICY),
            id=encounter_workflow_id(world.appointment_id),
            task_queue=harness.queue,
            search_attributes=ENCOUNTER_STARTS_AT,
        )
        if not world.coded:
            codes = {"procedure_code": "99213", "diagnosis_codes": "I10"}
            await harness.resolve(encounter, "missing_codes", "add_codes", **codes)
        claim = run.client.get_workflow_handle(claim_workflow_id(world.claim_id))
        await harness.wait_stage(claim, "awaiting_remittance")
        await harness.post(f"era-{uuid.uuid4()}", _paid(world))
        await registration.result()
        await encounter.result()
        return {"registration": registration.id, "encounter": encounter.id, "claim": claim.id}[which]


async def registration_local_store(run: ReplayRun) -> str:
    return await _intake_journey(run, "registration")


async def encounter_local_store_missing_codes(run: ReplayRun) -> str:
    return await _intake_journey(run, "encounter", World(coded=False))


async def claim_local_store(run: ReplayRun) -> str:
    return await _intake_journey(run, "claim")


async def registration_one_marker(run: ReplayRun) -> str:
    """The intake journey's registration with one patch marker (registration-one-marker) for the lean steps and the
    local store steps."""
    return await _intake_journey(run, "registration")


async def claim_payer_with_stage(run: ReplayRun) -> str:
    """The intake journey's claim: its payer upserted with the submit stage, one marker (claim-payer-with-stage)."""
    return await _intake_journey(run, "claim")


async def _encounter_registering(run: ReplayRun, world: World) -> str:
    """A new patient's first visit as intake starts it when the patient and the closed visit came in one unit: the
    Encounter alone (``register_patient``), running the registration's steps beside its coding and billing."""
    async with _harness(run, world) as harness:
        encounter = await run.client.start_workflow(
            EncounterWorkflow.run,
            c.EncounterInput(world.appointment_id, POLICY, register_patient=True),
            id=encounter_workflow_id(world.appointment_id),
            task_queue=harness.queue,
            search_attributes=ENCOUNTER_STARTS_AT,
        )
        if world.eligibility != "active":
            await harness.resolve(encounter, "eligibility_inactive", "update_coverage", member_id="NEW123")
        claim = run.client.get_workflow_handle(claim_workflow_id(world.claim_id))
        await harness.wait_stage(claim, "awaiting_remittance")
        await harness.post(f"era-{uuid.uuid4()}", _paid(world))
        await encounter.result()
        return encounter.id


async def encounter_registering_patient(run: ReplayRun) -> str:
    return await _encounter_registering(run, World())


async def encounter_registering_eligibility_inactive(run: ReplayRun) -> str:
    """The folded registration's eligibility item is the Encounter's, resolved through its Update."""
    return await _encounter_registering(run, World(eligibility="inactive"))


SCENARIOS: dict[str, Scenario] = {
    "revenue_registration_journey": registration_journey,
    "revenue_registration_lean_journey": registration_lean_journey,
    "revenue_registration_eligibility_inline_inactive": registration_eligibility_inline_inactive,
    "revenue_claim_started_with_its_stage": claim_started_with_its_stage,
    "revenue_encounter_missing_codes": encounter_missing_codes,
    "revenue_registration_local_store": registration_local_store,
    "revenue_encounter_local_store_missing_codes": encounter_local_store_missing_codes,
    "revenue_claim_local_store": claim_local_store,
    "revenue_registration_one_marker": registration_one_marker,
    "revenue_claim_payer_with_stage": claim_payer_with_stage,
    "revenue_claim_rejected_corrected": claim_rejected_corrected,
    "revenue_claim_denied_appealed": claim_denied_appealed,
    "revenue_claim_told_its_denial_twice": claim_told_its_denial_twice,
    "revenue_claim_denial_reprocessed": claim_denial_reprocessed,
    # work-item-withdrawn-closed: the same path recorded with the withdrawn item leaving the workflow's open items
    "revenue_claim_denial_reprocessed_withdrawn_closed": claim_denial_reprocessed,
    "revenue_encounter_registering_patient": encounter_registering_patient,
    "revenue_encounter_registering_eligibility_inactive": encounter_registering_eligibility_inactive,
    "revenue_claim_no_response": claim_no_response,
    "revenue_claim_portal_status": claim_portal_status,
    "revenue_claim_reopened": claim_reopened_by_a_late_remittance,
    "revenue_payment_posting_reopens_claim": posting_reopens_an_ended_claim,
    "revenue_eligibility_inactive": eligibility_inactive,
    "revenue_payment_posting": payment_posting,
    "revenue_payment_posting_told_in_pages": payment_posting_told_in_pages,
    # posting-one-marker: the same three paths recorded with one marker and the payer with a later stage
    "revenue_payment_posting_one_marker": payment_posting,
    "revenue_payment_posting_one_marker_told_in_pages": payment_posting_told_in_pages,
    "revenue_payment_posting_one_marker_reopens_claim": posting_reopens_an_ended_claim,
    "revenue_remittance_intake": remittance_intake,
    "revenue_remittance_intake_confirms_after_start": remittance_intake_confirms_after_start,
    "revenue_collections_agency": collections_agency,
    "revenue_collections_payment_plan": collections_payment_plan,
    "revenue_collections_plan_dispute_early_payoff": collections_plan_dispute_early_payoff,
}

__all__ = ["SCENARIOS", "ClaimWorkflow"]
