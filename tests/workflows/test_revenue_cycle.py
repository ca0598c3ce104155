"""The revenue workflows on the time-skipping server, every path, with activities mocked by name.

Each test builds a small fake world (what the payer answers, what posting finds) and registers mock
activities under the real activity names; people's decisions go through the real ``resolve`` Update.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import pytest
from temporalio import activity, workflow
from temporalio.client import WorkflowHandle, WorkflowUpdateFailedError
from temporalio.common import WorkflowIDConflictPolicy
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

with workflow.unsafe.imports_passed_through():
    from activities.contracts import portal
    from activities.contracts import revenue as c
    from activities.contracts import workitems as wi
    from flows.revenue import (
        WORKFLOWS,
        ClaimWorkflow,
        PatientCollectionsWorkflow,
        PatientRegistrationWorkflow,
        PaymentPostingWorkflow,
        claim_workflow_id,
        registration_workflow_id,
    )
    from flows.revenue.posting import TOLD_IN_A_MOMENT
    from flows.workitems import ResolveRequest
    from workers.registry import workflow_runner

pytestmark = pytest.mark.temporal

POLICY = c.RevenuePolicy()  # real business days: the time-skipping server jumps over them


@dataclass
class World:
    """What the outside world does, and a record of what the workflows asked of it."""

    claim_id: str = field(default_factory=lambda: f"cl-{uuid.uuid4()}")
    appointment_id: str = field(default_factory=lambda: f"ap-{uuid.uuid4()}")
    scrub_failures: int = 0
    ack_answers: list[str] = field(default_factory=lambda: ["accepted"])
    eligibility: str = "active"
    coded: bool = True
    status_inquiry: str = "A1"
    route: str = "clearinghouse"  # how the payer answers status inquiries
    portal_status: list[str] = field(default_factory=lambda: ["in_process"])  # what its portal says, in order
    balance_cents: list[int] = field(default_factory=lambda: [0])
    fail_create_once: bool = False
    refuse_validate_once: bool = False  # registration.validate (a local activity) refused once
    calls: list[tuple[str, Any]] = field(default_factory=list)
    work_items: dict[str, wi.OpenWorkItemInput] = field(default_factory=dict)
    resolutions: list[wi.RecordResolutionInput] = field(default_factory=list)
    outcomes: dict[str, c.PostingResult] = field(default_factory=dict)
    plan_paid_cents: list[int] = field(default_factory=lambda: [0])  # what each plan check finds paid, in order
    refuse_corrections: int = 0  # how many claims.correct calls the store refuses (a payer code naming no payer)
    refuse_coverage_updates: int = 0  # how many eligibility.update_coverage calls the store refuses
    refuse_adjustments: int = 0  # how many posting.adjust calls (write-off, bill patient) the store refuses
    refuse_plans: int = 0  # how many collections.create_payment_plan calls the store refuses (the balance changed)
    status_after_submit: str = ""  # the claim's status in the store after claims.submit ("" like older histories)
    # The stored collections policy's versions, newest last; each collections.policy call reads the newest.
    policies: list[dict[str, int]] = field(default_factory=lambda: [{}])
    mailbox: list[c.FetchedRemittances] = field(default_factory=list)  # what each posting.fetch_remittances hands back

    def called(self, name: str) -> list[Any]:
        return [arg for called, arg in self.calls if called == name]

    def activities(self) -> list[Callable[..., Any]]:
        world = self

        def log(name: str, arg: Any) -> None:
            world.calls.append((name, arg))

        @activity.defn(name=wi.OPEN)
        async def open_item(data: wi.OpenWorkItemInput) -> wi.OpenedWorkItem:
            for item_id, item in world.work_items.items():
                if item.dedupe_key == data.dedupe_key:
                    return wi.OpenedWorkItem(item_id, created=False)
            item_id = f"wi-{len(world.work_items) + 1}"
            world.work_items[item_id] = data
            return wi.OpenedWorkItem(item_id, created=True)

        @activity.defn(name=wi.RECORD_RESOLUTION)
        async def record(data: wi.RecordResolutionInput) -> None:
            world.resolutions.append(data)

        @activity.defn(name=wi.ESCALATE)
        async def escalate(data: wi.EscalateInput) -> int:
            return data.level

        @activity.defn(name=c.REGISTRATION_VALIDATE)
        async def validate(ref: c.PatientRef) -> c.RegistrationCheck:
            log(c.REGISTRATION_VALIDATE, ref)
            if world.refuse_validate_once:
                world.refuse_validate_once = False
                raise ApplicationError("patient record is locked", type="invalid", non_retryable=True)
            return c.RegistrationCheck(ref.patient_id, "g-1", ("cov-1",))

        @activity.defn(name=c.ELIGIBILITY_CHECK)
        async def eligibility(ref: c.CoverageRef) -> c.EligibilityAnswer:
            log(c.ELIGIBILITY_CHECK, ref)
            return c.EligibilityAnswer(ref.coverage_id, "SBXBM", world.eligibility, "clearinghouse", 2500, 10000)

        @activity.defn(name=c.ELIGIBILITY_RECORD)
        async def record_eligibility(data: c.EligibilityRecord) -> c.Nothing:
            log(c.ELIGIBILITY_RECORD, data)
            return c.Nothing()

        @activity.defn(name=c.ELIGIBILITY_UPDATE_COVERAGE)
        async def update_coverage(data: c.CoverageUpdate) -> c.Nothing:
            log(c.ELIGIBILITY_UPDATE_COVERAGE, data)
            if world.refuse_coverage_updates > 0:
                world.refuse_coverage_updates -= 1
                raise ApplicationError("payer_id ZZZ: no such payer", type="not_found", non_retryable=True)
            world.eligibility = "active"
            return c.Nothing()

        @activity.defn(name=c.ENCOUNTER_LIST_BILLABLE)
        async def billable(ref: c.PatientRef) -> c.BillableAppointments:
            return c.BillableAppointments((world.appointment_id,))

        @activity.defn(name=c.ENCOUNTER_PREPARE)
        async def prepare(ref: c.AppointmentRef) -> c.PreparedEncounter:
            log(c.ENCOUNTER_PREPARE, ref)
            missing = () if world.coded else ("diagnoses", "procedures")
            return c.PreparedEncounter("enc-1", "p-1", "g-1", world.coded, None, "payer", missing)

        @activity.defn(name=c.ENCOUNTER_RECORD_CODES)
        async def record_codes(data: c.RecordCodes) -> c.PreparedEncounter:
            log(c.ENCOUNTER_RECORD_CODES, data)
            return c.PreparedEncounter("enc-1", "p-1", "g-1", True, None, "payer")

        @activity.defn(name=c.CLAIMS_CREATE)
        async def create(ref: c.EncounterRef) -> c.CreatedClaim:
            log(c.CLAIMS_CREATE, ref)
            if world.fail_create_once:
                world.fail_create_once = False
                raise ApplicationError("encounter enc-1 is not coded yet", type="invalid", non_retryable=True)
            return c.CreatedClaim(world.claim_id, "payer")

        @activity.defn(name=c.POSTING_CHARGE)
        async def charge(data: c.PatientCharge) -> c.ChargeResult:
            log(c.POSTING_CHARGE, data)
            return c.ChargeResult(data.encounter_id, "g-1", 13500)

        @activity.defn(name=c.CLAIMS_SCRUB)
        async def scrub(ref: c.ClaimRef) -> c.ScrubResult:
            log(c.CLAIMS_SCRUB, ref)
            if world.scrub_failures > 0:
                world.scrub_failures -= 1
                edit = c.ClaimEdit("DX_POINTER", "line 1 points at no diagnosis", "fix the pointer")
                return c.ScrubResult(ref.claim_id, "SBXBM", False, (edit,), 30, 170, 13500, world.route)
            return c.ScrubResult(ref.claim_id, "SBXBM", True, (), 30, 170, 13500, world.route)

        @activity.defn(name=c.CLAIMS_TERMS)
        async def terms(ref: c.ClaimRef) -> c.ScrubResult:
            log(c.CLAIMS_TERMS, ref)
            return c.ScrubResult(ref.claim_id, "SBXBM", True, (), 30, 170, 13500, world.route)

        @activity.defn(name=c.CLAIMS_CORRECT)
        async def correct(data: c.ClaimCorrection) -> c.Nothing:
            log(c.CLAIMS_CORRECT, data)
            if world.refuse_corrections > 0:
                world.refuse_corrections -= 1
                raise ApplicationError("payer_id ZZZ: no such payer", type="not_found", non_retryable=True)
            return c.Nothing()

        @activity.defn(name=c.CLAIMS_SUBMIT)
        async def submit(data: c.ClaimCorrection) -> c.SubmitResult:
            log(c.CLAIMS_SUBMIT, data)
            number = len(world.called(c.CLAIMS_SUBMIT))
            return c.SubmitResult(
                data.claim_id, f"{number:09d}", f"batch-{number}", data.frequency_code, world.status_after_submit
            )

        @activity.defn(name=c.CLAIMS_ACKNOWLEDGMENTS)
        async def acks(query: c.AckQuery) -> c.AckResult:
            log(c.CLAIMS_ACKNOWLEDGMENTS, query)
            state = world.ack_answers.pop(0) if world.ack_answers else "accepted"
            codes = ("A7:21",) if state == "rejected" else ()
            return c.AckResult(query.claim_id, state, codes)

        @activity.defn(name=c.CLAIMS_STATUS_INQUIRY)
        async def inquiry(ref: c.ClaimRef) -> c.StatusInquiryResult:
            log(c.CLAIMS_STATUS_INQUIRY, ref)
            return c.StatusInquiryResult(ref.claim_id, world.status_inquiry, "20", False, "clearinghouse")

        @activity.defn(name=c.CLAIMS_SET_STATUS)
        async def set_status(data: c.SetClaimStatus) -> c.Nothing:
            log(c.CLAIMS_SET_STATUS, data)
            return c.Nothing()

        @activity.defn(name=c.POSTING_ADJUST)
        async def adjust(data: c.ClaimAdjustment) -> c.AdjustmentResult:
            log(c.POSTING_ADJUST, data)
            if world.refuse_adjustments > 0:
                world.refuse_adjustments -= 1
                raise ApplicationError(
                    "claim is paid: it cannot become written_off", type="illegal_transition", non_retryable=True
                )
            return c.AdjustmentResult(data.claim_id, 13500, "g-1")

        @activity.defn(name=c.POSTING_POST_REMITTANCE)
        async def post(ref: c.RemittanceRef) -> c.PostingResult:
            log(c.POSTING_POST_REMITTANCE, ref)
            result = world.outcomes[ref.remittance_key]
            return result

        @activity.defn(name=c.POSTING_TELL)
        async def tell(page: c.TellPage) -> c.Told:
            log(c.POSTING_TELL, page)
            kept = world.outcomes[page.remittance_key].kept_claims
            return c.Told(signalled=max(0, min(page.limit, kept - page.offset)))

        @activity.defn(name=c.POSTING_FETCH_REMITTANCES)
        async def fetch(request: c.FetchRemittances) -> c.FetchedRemittances:
            log(c.POSTING_FETCH_REMITTANCES, request)
            return world.mailbox.pop(0) if world.mailbox else c.FetchedRemittances(())

        @activity.defn(name=c.POSTING_CONFIRM_REMITTANCES)
        async def confirm(request: c.ConfirmRemittances) -> c.Nothing:
            log(c.POSTING_CONFIRM_REMITTANCES, request)
            return c.Nothing()

        @activity.defn(name=c.COLLECTIONS_NOTIFY)
        async def notify(data: c.BalanceNotice) -> c.Nothing:
            log(c.COLLECTIONS_NOTIFY, data)
            return c.Nothing()

        @activity.defn(name=c.COLLECTIONS_BALANCE)
        async def balance(ref: c.GuarantorRef) -> c.GuarantorBalance:
            value = world.balance_cents.pop(0) if len(world.balance_cents) > 1 else world.balance_cents[0]
            return c.GuarantorBalance(ref.guarantor_id, value)

        @activity.defn(name=c.COLLECTIONS_SEND_STATEMENT)
        async def statement(data: c.StatementRequest) -> c.StatementSent:
            log(c.COLLECTIONS_SEND_STATEMENT, data)
            return c.StatementSent(f"st-{data.sequence}", 8000, None)

        @activity.defn(name=c.COLLECTIONS_WRITE_OFF)
        async def write_off(data: c.CollectionsWriteOff) -> c.Nothing:
            log(c.COLLECTIONS_WRITE_OFF, data)
            return c.Nothing()

        @activity.defn(name=c.COLLECTIONS_AGENCY)
        async def agency(data: c.AgencyHandoff) -> c.AgencyResult:
            log(c.COLLECTIONS_AGENCY, data)
            return c.AgencyResult(data.guarantor_id, "agency/export-1.csv")

        @activity.defn(name=c.COLLECTIONS_CREATE_PLAN)
        async def create_plan(data: c.PaymentPlanRequest) -> c.PaymentPlanCreated:
            log(c.COLLECTIONS_CREATE_PLAN, data)
            if world.refuse_plans > 0:
                world.refuse_plans -= 1
                raise ApplicationError(
                    "installments of 2000 cents are below the minimum 2500", type="invalid", non_retryable=True
                )
            amounts = (world.balance_cents[0] // data.installments,) * data.installments
            return c.PaymentPlanCreated("plan-1", sum(amounts), amounts, data.interval_days, data.interval_days)

        @activity.defn(name=c.COLLECTIONS_CHECK_PLAN)
        async def check_plan(data: c.PaymentPlanCheck) -> c.PaymentPlanStanding:
            log(c.COLLECTIONS_CHECK_PLAN, data)
            paid = world.plan_paid_cents.pop(0) if len(world.plan_paid_cents) > 1 else world.plan_paid_cents[0]
            total = world.balance_cents[0]
            return c.PaymentPlanStanding(data.plan_id, paid, max(0, data.due_cents - paid), paid >= total)

        @activity.defn(name=c.COLLECTIONS_POLICY)
        async def collections_policy(_: c.Nothing) -> c.CollectionsPolicyInForce:
            log(c.COLLECTIONS_POLICY, _)
            return c.CollectionsPolicyInForce(len(world.policies) - 1, dict(world.policies[-1]))

        @activity.defn(name=c.COLLECTIONS_UPDATE_PLAN)
        async def update_plan(data: c.PaymentPlanUpdate) -> c.Nothing:
            log(c.COLLECTIONS_UPDATE_PLAN, data)
            return c.Nothing()

        return [
            collections_policy,
            create_plan,
            check_plan,
            update_plan,
            open_item,
            record,
            escalate,
            validate,
            eligibility,
            record_eligibility,
            update_coverage,
            billable,
            prepare,
            record_codes,
            create,
            charge,
            scrub,
            terms,
            correct,
            submit,
            acks,
            inquiry,
            set_status,
            adjust,
            post,
            tell,
            fetch,
            confirm,
            notify,
            balance,
            statement,
            write_off,
            agency,
        ]


@dataclass
class Harness:
    env: WorkflowEnvironment
    queue: str
    world: World

    async def portal_worker(self) -> Worker:
        """The portal queue's worker: a browser session answers for payers without a 270/271 route."""

        @activity.defn(name=portal.CHECK_ELIGIBILITY)
        async def check(request: portal.PortalEligibilityInput) -> portal.PortalEligibilityResult:
            self.world.calls.append((portal.CHECK_ELIGIBILITY, request))
            return portal.PortalEligibilityResult(request.coverage_id, "SBXCC", "active", copay_cents=3000)

        @activity.defn(name=portal.CLAIM_STATUS)
        async def claim_status(request: portal.PortalClaimStatusInput) -> portal.PortalClaimStatusResult:
            world = self.world
            world.calls.append((portal.CLAIM_STATUS, request))
            said = world.portal_status.pop(0) if len(world.portal_status) > 1 else world.portal_status[0]
            if said == "login_failed":
                raise ApplicationError(
                    "the portal refused the login",
                    portal.PortalFailureDetails("SBXCC", "portal/failures/shot.png", "portal/failures/page.html"),
                    type=portal.ERROR_LOGIN_FAILED,
                    non_retryable=True,
                )
            category = {"paid": "F1", "denied": "F2", "not_found": "A4"}.get(said, "A2")
            return portal.PortalClaimStatusResult(
                request.claim_id, "SBXCC", said != "not_found", said, category, said in ("paid", "denied")
            )

        return Worker(self.env.client, task_queue=f"{self.queue}-portal", activities=[check, claim_status])

    async def start_claim(self) -> WorkflowHandle[Any, c.ClaimResult]:
        return await self.env.client.start_workflow(
            ClaimWorkflow.run,
            c.ClaimInput(self.world.claim_id, POLICY, portal_task_queue=f"{self.queue}-portal"),
            id=claim_workflow_id(self.world.claim_id),
            task_queue=self.queue,
        )

    async def wait_stage(self, handle: WorkflowHandle[Any, Any], stage: str) -> None:
        state: Any = None
        for _ in range(200):
            try:
                state = await handle.query("state")
            except RPCError:  # not started yet
                state = None
            if state is not None and state["stage"] == stage:
                return
            await asyncio.sleep(0.05)
        raise AssertionError(f"never reached stage {stage}: {state}")

    async def skip(self) -> None:
        """Let business time pass (the test server skips it) so timers and polls fire."""
        await asyncio.sleep(0.02)
        await self.env.sleep(timedelta(hours=12))

    async def open_item(self, handle: WorkflowHandle[Any, Any], reason: str) -> str:
        for _ in range(200):
            try:
                items = await handle.query("work_items")
            except RPCError:  # not started yet
                items = []
            for item in items:
                if item["reason"] == reason:
                    return str(item["work_item_id"])
            await self.skip()
        raise AssertionError(f"no open work item {reason}")

    async def resolve(
        self, handle: WorkflowHandle[Any, Any], reason: str, action: str, note: str = "", **fields: str
    ) -> None:
        item_id = await self.open_item(handle, reason)
        await handle.execute_update("resolve", ResolveRequest(item_id, action, "biller.ann", fields, note))

    async def post(self, key: str, outcome: c.ClaimOutcome) -> str:
        """Act as remittance intake: a PaymentPosting workflow signals the claim's workflow; returns its id."""
        self.world.outcomes[key] = c.PostingResult(
            key,
            False,
            "SBXBM",
            outcome.paid_cents,
            (outcome,),
            (),
            ("g-1",) if outcome.patient_responsibility_cents else (),
        )
        workflow_id = f"posting-{key}-{uuid.uuid4()}"
        await self.env.client.execute_workflow(
            PaymentPostingWorkflow.run, c.PostingInput(key, POLICY), id=workflow_id, task_queue=self.queue
        )
        return workflow_id


@pytest.fixture
async def harness(time_skipping_env: WorkflowEnvironment) -> AsyncIterator[Harness]:
    world = World()
    queue = f"revenue-{uuid.uuid4()}"
    async with Worker(
        time_skipping_env.client, task_queue=queue, workflows=list(WORKFLOWS), activities=world.activities()
    ):
        yield Harness(time_skipping_env, queue, world)


def _paid(world: World, paid: int = 9000, patient: int = 2500) -> c.ClaimOutcome:
    return c.ClaimOutcome(world.claim_id, "era-1", "paid", paid, patient, ("CO-45", "PR-2"))


async def test_clean_claim_through_the_whole_journey(harness: Harness) -> None:
    env, world = harness.env, harness.world
    patient = f"p-{uuid.uuid4()}"
    handle = await env.client.start_workflow(
        PatientRegistrationWorkflow.run,
        c.RegistrationInput(patient, POLICY),
        id=registration_workflow_id(patient),
        task_queue=harness.queue,
    )
    claim = env.client.get_workflow_handle(claim_workflow_id(world.claim_id))
    await harness.wait_stage(claim, "awaiting_remittance")
    outcome = _paid(world)
    world.outcomes["era-1"] = c.PostingResult("era-1", False, "SBXBM", 9000, (outcome,), (), ("g-1",))
    posted = await env.client.execute_workflow(
        PaymentPostingWorkflow.run,
        c.PostingInput("era-1", POLICY),
        id=f"posting-era-1-{uuid.uuid4()}",
        task_queue=harness.queue,
    )
    assert posted.posted_cents == 9000
    result = await handle.result()
    (encounter,) = result.encounters
    assert result.eligibility[0].status == "active"
    assert encounter.claim is not None and encounter.claim.status == "paid"
    assert encounter.claim.paid_cents == 9000 and encounter.claim.patient_responsibility_cents == 2500
    assert encounter.claim.work_items == ()
    assert [s.frequency_code for s in world.called(c.CLAIMS_SUBMIT)] == ["1"]
    assert world.called(c.COLLECTIONS_NOTIFY)[0].guarantor_id == "g-1"  # patient responsibility -> collections
    assert world.called(c.ELIGIBILITY_RECORD)[0].status == "active"


async def test_starting_twice_for_the_same_business_key_is_idempotent(harness: Harness) -> None:
    env = harness.env
    patient = f"p-{uuid.uuid4()}"
    handles = [
        await env.client.start_workflow(
            PatientRegistrationWorkflow.run,
            c.RegistrationInput(patient, POLICY, bill_encounters=False),
            id=registration_workflow_id(patient),
            task_queue=harness.queue,
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
        )
        for _ in range(2)
    ]
    assert handles[0].result_run_id == handles[1].result_run_id
    result = await handles[1].result()
    assert result.eligibility[0].status == "active" and result.encounters == ()


async def test_rejected_claim_is_corrected_and_resubmitted_as_a_replacement(harness: Harness) -> None:
    world = harness.world
    world.ack_answers = ["pending", "rejected", "accepted"]
    handle = await harness.start_claim()
    await harness.resolve(handle, "claim_rejected", "correct_and_resubmit", diagnosis_codes="I10")
    await harness.wait_stage(handle, "awaiting_remittance")
    await harness.post("era-2", _paid(world))
    result = await handle.result()
    assert result.status == "paid" and result.submissions == 2
    assert result.work_items == ("claim_rejected",)
    (correction,) = world.called(c.CLAIMS_CORRECT)
    assert correction.changes == {"diagnosis_codes": "I10"} and correction.frequency_code == "7"
    assert [s.frequency_code for s in world.called(c.CLAIMS_SUBMIT)] == ["1", "7"]


async def test_failed_claim_edits_wait_for_a_correction(harness: Harness) -> None:
    world = harness.world
    world.scrub_failures = 1
    handle = await harness.start_claim()
    item_id = await harness.open_item(handle, "claim_edit_failed")
    assert "DX_POINTER" in world.work_items[item_id].summary
    await harness.resolve(handle, "claim_edit_failed", "correct_and_resubmit", diagnosis_pointers="1")
    await harness.wait_stage(handle, "awaiting_remittance")
    await harness.post("era-3", _paid(world))
    result = await handle.result()
    assert result.status == "paid" and len(world.called(c.CLAIMS_SCRUB)) == 2


async def _payer_upserts(handle: WorkflowHandle[Any, Any]) -> list[list[str]]:
    """The search attributes of each upsert in the claim's history that names its payer, in order."""
    history = await handle.fetch_history()
    upserts = [
        sorted(e.upsert_workflow_search_attributes_event_attributes.search_attributes.indexed_fields)
        for e in history.events
        if e.HasField("upsert_workflow_search_attributes_event_attributes")
    ]
    return [names for names in upserts if "PayerId" in names]


async def test_a_claim_sent_at_once_names_its_payer_with_its_submit_stage(harness: Harness) -> None:
    """claim-payer-with-stage: one upsert for the payer and the submit stage, in the scrub's workflow task."""
    handle = await harness.start_claim()
    await harness.wait_stage(handle, "awaiting_remittance")
    await harness.post("era-payer", _paid(harness.world))
    await handle.result()
    assert await _payer_upserts(handle) == [["AgingBucket", "ClaimStatus", "PayerId", "Stage"]]


async def test_a_claim_whose_edits_failed_names_its_payer_while_a_person_decides(harness: Harness) -> None:
    harness.world.scrub_failures = 1
    handle = await harness.start_claim()
    await harness.open_item(handle, "claim_edit_failed")
    assert await _payer_upserts(handle) == [["PayerId"]]  # before the person's item, on its own


async def test_a_posting_told_at_once_names_its_payer_with_its_last_stage(harness: Harness) -> None:
    """posting-one-marker: one marker, and the payer in the same upsert as the "done" stage."""
    handle = await harness.start_claim()
    await harness.wait_stage(handle, "awaiting_remittance")
    posting = harness.env.client.get_workflow_handle(await harness.post("era-payer-done", _paid(harness.world)))
    assert await _payer_upserts(posting) == [["PayerId", "Stage"]]
    history = await posting.fetch_history()
    markers = [e for e in history.events if e.HasField("marker_recorded_event_attributes")]
    assert len(markers) == 1  # posting-one-marker alone, not posting-tell-in-pages as well


async def test_a_posting_with_more_to_tell_names_its_payer_first(harness: Harness) -> None:
    """More than TOLD_IN_A_MOMENT to tell (here guarantors with a balance, an activity each): the payer shows while
    the posting tells them, then "done" on its own."""
    key = f"era-many-{uuid.uuid4()}"
    guarantors = tuple(f"g-{n}" for n in range(TOLD_IN_A_MOMENT + 1))
    harness.world.outcomes[key] = c.PostingResult(key, False, "SBXBM", 0, (), (), guarantors)
    posting = await harness.env.client.start_workflow(
        PaymentPostingWorkflow.run, c.PostingInput(key, POLICY), id=f"posting-{key}", task_queue=harness.queue
    )
    await posting.result()
    assert await _payer_upserts(posting) == [["PayerId"]]
    assert len(harness.world.called(c.COLLECTIONS_NOTIFY)) == TOLD_IN_A_MOMENT + 1


async def test_a_posting_with_an_unmatched_claim_names_its_payer_while_a_person_decides(harness: Harness) -> None:
    key = f"era-unmatched-{uuid.uuid4()}"
    harness.world.outcomes[key] = c.PostingResult(key, False, "SBXBM", 0, (), ("PCN-X",))
    posting = await harness.env.client.start_workflow(
        PaymentPostingWorkflow.run, c.PostingInput(key, POLICY), id=f"posting-{key}", task_queue=harness.queue
    )
    await harness.open_item(posting, "unmatched_remittance")
    assert await _payer_upserts(posting) == [["PayerId"]]  # before the person's item, on its own


async def test_denied_claim_is_appealed_then_paid(harness: Harness) -> None:
    world = harness.world
    handle = await harness.start_claim()
    await harness.wait_stage(handle, "awaiting_remittance")
    denial = c.ClaimOutcome(
        world.claim_id, "era-4", "denied", 0, 0, ("CO-50",), ("N115",), ("CO-50: not deemed a medical necessity",)
    )
    await harness.post("era-4", denial)
    item_id = await harness.open_item(handle, "claim_denied")
    assert world.work_items[item_id].context["codes"] == "CO-50,N115"
    assert "medical necessity" in world.work_items[item_id].summary
    # An appeal needs a note: the validator refuses it without one and nothing changes.
    with pytest.raises(WorkflowUpdateFailedError):
        await handle.execute_update("resolve", ResolveRequest(item_id, "appeal", "biller.ann", {}, ""))
    assert world.called(c.CLAIMS_SET_STATUS) == []
    await harness.resolve(handle, "claim_denied", "appeal", note="records attached")
    await harness.wait_stage(handle, "appealed")
    await harness.post("era-5", _paid(world, paid=12000, patient=0))
    result = await handle.result()
    assert result.status == "paid" and result.paid_cents == 12000
    assert [s.status for s in world.called(c.CLAIMS_SET_STATUS)] == ["appealed"]
    assert result.work_items == ("claim_denied",)


async def test_a_denial_told_twice_asks_once_and_the_appeal_stands(harness: Harness) -> None:
    """posting.tell retried tells again the items it told since its last heartbeat: the claim hears one denial."""
    world = harness.world
    handle = await harness.start_claim()
    await harness.wait_stage(handle, "awaiting_remittance")
    denial = c.ClaimOutcome(world.claim_id, "era-6", "denied", 0, 0, ("CO-50",), ("N115",), ("CO-50: necessity",))
    await handle.signal("remittance", denial)
    await harness.open_item(handle, "claim_denied")
    await handle.signal("remittance", denial)  # told again while the person decides
    await harness.resolve(handle, "claim_denied", "appeal", note="records attached")
    await harness.wait_stage(handle, "appealed")
    await asyncio.sleep(0.5)  # the repeated denial, were it heard, would deny the appealed claim again
    state = await handle.query("state")
    assert state["stage"] == "appealed" and state["work_items"] == ["claim_denied"], state
    await harness.post("era-7", _paid(world, paid=12000, patient=0))
    result = await asyncio.wait_for(handle.result(), 30)
    assert result.status == "paid" and result.work_items == ("claim_denied",)
    assert [s.status for s in world.called(c.CLAIMS_SET_STATUS)] == ["appealed"]


async def test_a_denial_the_payer_reprocesses_withdraws_its_item_and_the_claim_is_paid(harness: Harness) -> None:
    """The payer reprocesses a denied claim while a person has its denial item (one 835: the denial reversed, then
    the corrected payment): the item is withdrawn, not left for a person to work a denial that no longer stands,
    and the claim goes on from the payer's new word."""
    world = harness.world
    handle = await harness.start_claim()
    await harness.wait_stage(handle, "awaiting_remittance")
    denial = c.ClaimOutcome(
        world.claim_id, "era-8", "denied", 0, 0, ("CO-50",), ("N115",), ("CO-50: necessity",), "denied"
    )
    await handle.signal("remittance", denial)
    await harness.open_item(handle, "claim_denied")
    reversal = c.ClaimOutcome(world.claim_id, "era-9", "reversed", 0, 0, ("CO-50",), claim_status="denied")
    await handle.signal("remittance", reversal)
    await handle.signal("remittance", c.ClaimOutcome(world.claim_id, "era-9", "paid", 12000, 0, (), (), (), "paid"))
    result = await asyncio.wait_for(handle.result(), 30)
    assert result.status == "paid" and result.paid_cents == 12000
    assert [r.action for r in world.resolutions] == ["cancel"]  # withdrawn by the process, not by a person
    assert result.work_items == ("claim_denied",)
    assert world.called(c.CLAIMS_SET_STATUS) == [] and world.called(c.POSTING_ADJUST) == []


async def test_a_withdrawn_item_is_no_longer_open_in_the_workflow(harness: Harness) -> None:
    """The payer takes its denial back (a reversal, no payment yet): the denial item is withdrawn, and the workflow
    no longer lists it, names its queue, or takes a late resolution of it, while the claim waits for the payer."""
    world = harness.world
    handle = await harness.start_claim()
    await harness.wait_stage(handle, "awaiting_remittance")
    denial = c.ClaimOutcome(world.claim_id, "era-10", "denied", 0, 0, ("CO-50",), (), (), "denied")
    await handle.signal("remittance", denial)
    item_id = await harness.open_item(handle, "claim_denied")
    await handle.signal("remittance", c.ClaimOutcome(world.claim_id, "era-11", "reversed", 0, 0, (), (), (), "denied"))
    await harness.wait_stage(handle, "awaiting_remittance")
    assert await handle.query("work_items") == []
    description = await handle.describe()
    assert description.search_attributes.get("WorkQueue") in (None, [], [""]), description.search_attributes
    with pytest.raises(WorkflowUpdateFailedError):  # refused by the validator: nothing is recorded
        await handle.execute_update("resolve", ResolveRequest(item_id, "appeal", "biller.ann", {}, "too late"))
    assert [r.action for r in world.resolutions] == ["cancel"]
    await handle.signal("remittance", c.ClaimOutcome(world.claim_id, "era-11", "paid", 9000, 0, (), (), (), "paid"))
    result = await asyncio.wait_for(handle.result(), 30)
    assert result.status == "paid"


async def test_a_payment_told_twice_is_taken_once(harness: Harness) -> None:
    """The Claim workflow moves no money (posting did, once per payment key); told its payment twice it ends paid
    with the payment's amount, not twice it."""
    world = harness.world
    handle = await harness.start_claim()
    await harness.wait_stage(handle, "awaiting_remittance")
    await handle.signal("remittance", _paid(world))
    await handle.signal("remittance", _paid(world))
    result = await asyncio.wait_for(handle.result(), 30)
    assert result.status == "paid" and result.paid_cents == 9000 and result.patient_responsibility_cents == 2500
    assert world.called(c.POSTING_ADJUST) == [] and result.work_items == ()


async def test_no_answer_means_a_status_inquiry_and_a_follow_up_item(harness: Harness) -> None:
    world = harness.world
    handle = await harness.start_claim()
    await harness.wait_stage(handle, "awaiting_remittance")
    item_id = await harness.open_item(handle, "no_payer_response")
    assert world.called(c.CLAIMS_STATUS_INQUIRY)
    assert "A1:20" in world.work_items[item_id].summary
    await harness.resolve(handle, "no_payer_response", "write_off", reason_code="timely_filing")
    result = await handle.result()
    assert result.status == "written_off"
    (adjustment,) = world.called(c.POSTING_ADJUST)
    assert adjustment.kind == "write_off" and adjustment.reason == "timely_filing"


async def test_a_remittance_arriving_during_follow_up_withdraws_the_item(harness: Harness) -> None:
    world = harness.world
    handle = await harness.start_claim()
    await harness.wait_stage(handle, "awaiting_remittance")
    await harness.open_item(handle, "no_payer_response")
    await handle.signal("remittance", _paid(world))
    result = await handle.result()
    assert result.status == "paid"
    assert [r.action for r in world.resolutions] == ["cancel"]


async def test_missing_codes_and_a_domain_refusal_become_work_items(harness: Harness) -> None:
    env, world = harness.env, harness.world
    world.coded = False
    world.fail_create_once = True
    patient = f"p-{uuid.uuid4()}"
    handle = await env.client.start_workflow(
        PatientRegistrationWorkflow.run,
        c.RegistrationInput(patient, POLICY),
        id=registration_workflow_id(patient),
        task_queue=harness.queue,
    )
    encounter = env.client.get_workflow_handle(f"encounter-{world.appointment_id}")
    await harness.resolve(encounter, "missing_codes", "add_codes", procedure_code="99213", diagnosis_codes="I10,E119")
    await harness.resolve(encounter, "manual_task", "complete")  # claims.create refused once: retried after
    claim = env.client.get_workflow_handle(claim_workflow_id(world.claim_id))
    await harness.wait_stage(claim, "awaiting_remittance")
    await harness.post("era-6", _paid(world))
    result = await handle.result()
    assert result.encounters[0].claim is not None and result.encounters[0].claim.status == "paid"
    assert len(world.called(c.CLAIMS_CREATE)) == 2
    (codes,) = world.called(c.ENCOUNTER_RECORD_CODES)
    assert codes.diagnosis_codes == ("I10", "E119") and codes.procedure_codes == ("99213",)


async def test_inactive_eligibility_goes_to_a_person(harness: Harness) -> None:
    world = harness.world
    world.eligibility = "inactive"
    from flows.revenue import EligibilityCheckWorkflow

    handle = await harness.env.client.start_workflow(
        EligibilityCheckWorkflow.run,
        c.EligibilityInput("cov-9", POLICY),
        id=f"eligibility-{uuid.uuid4()}",
        task_queue=harness.queue,
    )
    await harness.resolve(handle, "eligibility_inactive", "update_coverage", member_id="NEW123")
    result = await handle.result()
    assert result.status == "active" and len(world.called(c.ELIGIBILITY_CHECK)) == 2
    assert world.called(c.ELIGIBILITY_UPDATE_COVERAGE)[0].fields == {"member_id": "NEW123"}


async def test_registration_checks_eligibility_inline_and_asks_a_person_itself(harness: Harness) -> None:
    """registration-lean: no EligibilityCheck child; the inactive answer's work item is the registration's own, and
    the store reads (registration.validate, encounter.list_billable) run as local activities, and so do its store
    steps (eligibility.update_coverage, eligibility.record: revenue-local-store); the payer's 270/271 does not."""
    world = harness.world
    world.eligibility = "inactive"
    patient = f"p-{uuid.uuid4()}"
    handle = await harness.env.client.start_workflow(
        PatientRegistrationWorkflow.run,
        c.RegistrationInput(patient, POLICY, bill_encounters=False),
        id=registration_workflow_id(patient),
        task_queue=harness.queue,
    )
    await harness.resolve(handle, "eligibility_inactive", "update_coverage", member_id="NEW123")
    result = await handle.result()
    assert result.eligibility[0].status == "active" and len(world.called(c.ELIGIBILITY_CHECK)) == 2
    assert world.called(c.ELIGIBILITY_UPDATE_COVERAGE)[0].fields == {"member_id": "NEW123"}
    assert world.called(c.ELIGIBILITY_RECORD)[0].status == "active"
    events = (await handle.fetch_history()).events
    assert not [e for e in events if e.HasField("start_child_workflow_execution_initiated_event_attributes")]
    local = [e for e in events if e.HasField("marker_recorded_event_attributes")]
    assert [e.marker_recorded_event_attributes.marker_name for e in local].count("core_local_activity") == 3
    scheduled = [e.activity_task_scheduled_event_attributes.activity_type.name for e in events]
    assert [name for name in scheduled if name.startswith("eligibility.")] == [c.ELIGIBILITY_CHECK] * 2


async def test_a_local_store_step_refused_becomes_a_work_item_not_a_failed_workflow(harness: Harness) -> None:
    """A local activity's refusal reaches the workflow as its ApplicationError, not wrapped in an ActivityError: it
    is still a domain refusal (a manual task), and the step runs again once a person has fixed the data."""
    harness.world.refuse_validate_once = True
    patient = f"p-{uuid.uuid4()}"
    handle = await harness.env.client.start_workflow(
        PatientRegistrationWorkflow.run,
        c.RegistrationInput(patient, POLICY, bill_encounters=False),
        id=registration_workflow_id(patient),
        task_queue=harness.queue,
    )
    await harness.resolve(handle, "manual_task", "complete")
    result = await handle.result()
    assert result.eligibility[0].status == "active"
    assert len(harness.world.called(c.REGISTRATION_VALIDATE)) == 2
    (item,) = [i for i in harness.world.work_items.values() if i.reason == "manual_task"]
    assert item.context["activity"] == c.REGISTRATION_VALIDATE and item.context["error"] == "invalid"


async def test_patient_balance_goes_through_statements_to_the_agency(harness: Harness) -> None:
    world = harness.world
    world.balance_cents = [8000]
    handle = await harness.env.client.start_workflow(
        PatientCollectionsWorkflow.run,
        c.CollectionsInput("g-1", POLICY),
        id=f"collections-g-1-{uuid.uuid4()}",
        task_queue=harness.queue,
    )
    await harness.resolve(handle, "patient_balance_overdue", "send_to_agency", note="no answer to three statements")
    result = await handle.result()
    assert [s.kind for s in world.called(c.COLLECTIONS_SEND_STATEMENT)] == ["first", "reminder", "final"]
    assert result.outcome == "agency" and result.statements_sent == 3
    assert world.called(c.COLLECTIONS_AGENCY)[0].amount_cents == 8000


async def test_patient_pays_after_the_first_statement(harness: Harness) -> None:
    world = harness.world
    world.balance_cents = [8000]
    handle = await harness.env.client.start_workflow(
        PatientCollectionsWorkflow.run,
        c.CollectionsInput("g-2", POLICY),
        id=f"collections-g-2-{uuid.uuid4()}",
        task_queue=harness.queue,
    )
    await harness.env.sleep(timedelta(days=2))
    world.balance_cents = [0]  # the ledger after the payment
    await handle.signal("payment_received", c.PaymentNotice(8000, "card-1"))
    result = await handle.result()
    assert result.outcome == "paid" and result.statements_sent == 1


async def test_small_balance_is_written_off(harness: Harness) -> None:
    world = harness.world
    world.balance_cents = [300]
    result = await harness.env.client.execute_workflow(
        PatientCollectionsWorkflow.run,
        c.CollectionsInput("g-3", POLICY),
        id=f"collections-g-3-{uuid.uuid4()}",
        task_queue=harness.queue,
    )
    assert result.outcome == "written_off"
    assert world.called(c.COLLECTIONS_WRITE_OFF)[0].reason == "small_balance"


async def test_a_payment_plan_kept_to_the_end_completes_collections(harness: Harness) -> None:
    world = harness.world
    world.balance_cents = [8000]
    world.plan_paid_cents = [4000, 8000]
    handle = await harness.env.client.start_workflow(
        PatientCollectionsWorkflow.run,
        c.CollectionsInput("g-4", POLICY),
        id=f"collections-g-4-{uuid.uuid4()}",
        task_queue=harness.queue,
    )
    await harness.resolve(handle, "patient_balance_overdue", "payment_plan", installments="2")
    result = await handle.result()
    assert result.outcome == "plan_completed"
    request = world.called(c.COLLECTIONS_CREATE_PLAN)[0]
    assert request.installments == 2 and request.interval_days == POLICY.installment_interval_days
    assert [check.due_cents for check in world.called(c.COLLECTIONS_CHECK_PLAN)] == [4000, 8000]
    assert [s.kind for s in world.called(c.COLLECTIONS_SEND_STATEMENT)] == ["first", "reminder", "final"]
    assert not world.called(c.COLLECTIONS_UPDATE_PLAN) and not world.called(c.COLLECTIONS_AGENCY)


async def test_missed_installments_get_reminders_then_break_the_plan_to_the_agency(harness: Harness) -> None:
    world = harness.world
    world.balance_cents = [10000]  # four installments of 2500 (the policy's smallest installment)
    world.plan_paid_cents = [2500, 2500, 2500]  # the first installment paid, then nothing
    handle = await harness.env.client.start_workflow(
        PatientCollectionsWorkflow.run,
        c.CollectionsInput("g-5", POLICY),
        id=f"collections-g-5-{uuid.uuid4()}",
        task_queue=harness.queue,
    )
    await harness.resolve(handle, "patient_balance_overdue", "payment_plan", installments="4")
    result = await handle.result()
    assert result.outcome == "agency"
    kinds = [s.kind for s in world.called(c.COLLECTIONS_SEND_STATEMENT)]
    assert kinds == ["first", "reminder", "final", "plan_reminder", "plan_reminder"]
    updates = [(u.status, u.missed_installments) for u in world.called(c.COLLECTIONS_UPDATE_PLAN)]
    assert updates == [("active", 1), ("broken", POLICY.plan_max_missed)]
    assert world.called(c.COLLECTIONS_AGENCY)[0].amount_cents == 10000


async def test_a_portal_payer_is_asked_on_its_portal(harness: Harness) -> None:
    world = harness.world
    world.eligibility = "unrouted"
    original = world.activities

    def routed() -> list[Callable[..., Any]]:
        activities = original()

        @activity.defn(name=c.ELIGIBILITY_CHECK)
        async def eligibility(ref: c.CoverageRef) -> c.EligibilityAnswer:
            world.calls.append((c.ELIGIBILITY_CHECK, ref))
            return c.EligibilityAnswer(ref.coverage_id, "SBXCC", "unrouted", "portal")

        return [
            eligibility if getattr(a, "__temporal_activity_definition").name == c.ELIGIBILITY_CHECK else a
            for a in activities
        ]

    queue = f"revenue-{uuid.uuid4()}"
    async with (
        Worker(
            harness.env.client,
            task_queue=queue,
            workflows=list(WORKFLOWS),
            activities=routed(),
            workflow_runner=workflow_runner(),  # the workers' runner: contracts passed through the sandbox
        ),
        await Harness(harness.env, queue, world).portal_worker(),
    ):
        result = await harness.env.client.execute_workflow(
            "EligibilityCheck",
            c.EligibilityInput("cov-p", POLICY, portal_task_queue=f"{queue}-portal"),
            id=f"eligibility-{uuid.uuid4()}",
            task_queue=queue,
            result_type=c.EligibilityResult,
        )
    assert result.status == "active"
    assert [name for name, _ in world.calls] == [c.ELIGIBILITY_CHECK, portal.CHECK_ELIGIBILITY, c.ELIGIBILITY_RECORD]


async def test_a_portal_payers_claim_is_followed_up_on_its_portal(harness: Harness) -> None:
    world = harness.world
    world.route = "portal"
    world.portal_status = ["paid", "in_process"]  # first: paid (its EOB is on the way); then still nothing came
    async with await harness.portal_worker():
        handle = await harness.start_claim()
        await harness.wait_stage(handle, "awaiting_remittance")
        item_id = await harness.open_item(handle, "no_payer_response")
        asked = world.called(portal.CLAIM_STATUS)
        assert len(asked) == 2 and asked[0].claim_id == world.claim_id
        assert not world.called(c.CLAIMS_STATUS_INQUIRY)  # no 276 to a clearinghouse that cannot answer
        item = world.work_items[item_id]
        assert "portal says in_process (A2)" in item.summary
        assert item.context["route"] == "portal" and item.context["category"] == "A2"
        await handle.signal("remittance", _paid(world))
        result = await handle.result()
    assert result.status == "paid"
    assert [r.action for r in world.resolutions] == ["cancel"]


async def test_a_portal_that_refuses_the_login_links_its_evidence_from_the_follow_up_item(harness: Harness) -> None:
    world = harness.world
    world.route = "portal"
    world.portal_status = ["login_failed"]
    async with await harness.portal_worker():
        handle = await harness.start_claim()
        item_id = await harness.open_item(handle, "no_payer_response")
        item = world.work_items[item_id]
        assert "portal says portal_login_failed (E0)" in item.summary
        assert item.context["error"] == portal.ERROR_LOGIN_FAILED
        assert item.context["screenshot_key"] == "portal/failures/shot.png"
        assert item.context["html_key"] == "portal/failures/page.html"
        await harness.resolve(handle, "no_payer_response", "write_off", reason_code="administrative")
        result = await handle.result()
    assert result.status == "written_off"
    assert not world.called(c.CLAIMS_STATUS_INQUIRY)


async def test_a_reversal_after_the_claim_was_settled_reopens_its_process(harness: Harness) -> None:
    world = harness.world
    handle = await harness.start_claim()
    await harness.wait_stage(handle, "awaiting_remittance")
    await harness.post("era-1", _paid(world))
    assert (await handle.result()).status == "paid"
    # Weeks later the payer takes its payment back (835 claim status 22): nobody is listening any more.
    await harness.post("era-2", c.ClaimOutcome(world.claim_id, "era-2", "reversed", -9000, -2500, ("CR-129",)))
    reopened = harness.env.client.get_workflow_handle(claim_workflow_id(world.claim_id), result_type=c.ClaimResult)
    state: dict[str, Any] = {}
    for _ in range(200):  # the new run takes the reversal in (under load the server may skip on to a follow-up)
        state = await reopened.query("state")
        if state["paid_cents"] == -9000:
            break
        await asyncio.sleep(0.05)
    assert state["status"] == "accepted" and state["paid_cents"] == -9000  # waits for the corrected adjudication
    assert world.called(c.CLAIMS_TERMS) and len(world.called(c.CLAIMS_SCRUB)) == 1  # not scrubbed or sent again
    # Its corrected adjudication is a denial: a person decides, as for any denial.
    denial = c.ClaimOutcome(
        world.claim_id, "era-3", "denied", 0, 0, ("CO-50",), explanation=("not medically necessary",)
    )
    await harness.post("era-3", denial)
    await harness.resolve(reopened, "claim_denied", "correct_and_resubmit", diagnosis_codes="E11.9")
    for _ in range(200):
        if len(world.called(c.CLAIMS_SUBMIT)) == 2:
            break
        await asyncio.sleep(0.05)
    *_, resubmitted = world.called(c.CLAIMS_SUBMIT)
    assert resubmitted.frequency_code == "7"  # the payer knows the claim: a replacement
    await reopened.signal("remittance", _paid(world))
    result = await reopened.result()
    assert result.status == "paid" and "claim_denied" in result.work_items


# --- a running payment plan: payments wake it, disputes and hardship requests pause it ------------------------


@pytest.fixture(scope="module")
async def fresh_clock_env() -> AsyncIterator[WorkflowEnvironment]:
    """A time-skipping server of their own for the plan tests: each collections test skips months, and the
    session's server, decades ahead by now, fails past 2106 (its clock's seconds leave 32 bits)."""
    from tests.support.temporal import start_time_skipping_server
    from workers.temporal.search_attributes import ensure_search_attributes

    env = await start_time_skipping_server()
    await ensure_search_attributes(env.client)
    yield env
    await env.shutdown()


@pytest.fixture
async def plan_harness(fresh_clock_env: WorkflowEnvironment) -> AsyncIterator[Harness]:
    world = World()
    queue = f"revenue-{uuid.uuid4()}"
    async with Worker(
        fresh_clock_env.client, task_queue=queue, workflows=list(WORKFLOWS), activities=world.activities()
    ):
        yield Harness(fresh_clock_env, queue, world)


async def _on_a_plan(harness: Harness, guarantor: str, installments: str = "2") -> WorkflowHandle[Any, Any]:
    """Statements, the final notice, then a payment plan a person chose; returns once the plan waits."""
    handle = await harness.env.client.start_workflow(
        PatientCollectionsWorkflow.run,
        c.CollectionsInput(guarantor, POLICY),
        id=f"collections-{guarantor}-{uuid.uuid4()}",
        task_queue=harness.queue,
    )
    await harness.resolve(handle, "patient_balance_overdue", "payment_plan", installments=installments)
    await harness.wait_stage(handle, "plan:installment:1")
    return handle


async def _plan_due_at(handle: WorkflowHandle[Any, Any]) -> Any:
    from datetime import datetime

    return datetime.fromisoformat((await handle.query("state"))["plan_due_at"])


def _plan_updates(world: World) -> list[tuple[str, int]]:
    return [(u.status, u.missed_installments) for u in world.called(c.COLLECTIONS_UPDATE_PLAN)]


async def test_a_payment_between_due_dates_completes_the_plan_at_once(plan_harness: Harness) -> None:
    harness = plan_harness
    world = harness.world
    world.balance_cents = [8000]
    world.plan_paid_cents = [8000]  # the guarantor pays everything before the first installment is due
    handle = await _on_a_plan(harness, "g-early", installments="3")  # 2667 a month: the policy's smallest is 2500
    await handle.signal("payment_received", c.PaymentNotice(8000, "card-7"))
    result = await handle.result()
    assert result.outcome == "plan_completed"
    # One check, made by the payment with nothing due yet: not at the first due date a month later.
    assert [check.due_cents for check in world.called(c.COLLECTIONS_CHECK_PLAN)] == [0]
    assert [s.kind for s in world.called(c.COLLECTIONS_SEND_STATEMENT)] == ["first", "reminder", "final"]


async def test_a_dispute_pauses_the_plan_and_its_due_dates_move_by_the_pause(plan_harness: Harness) -> None:
    harness = plan_harness
    world = harness.world
    world.balance_cents = [8000]
    world.plan_paid_cents = [4000, 8000]
    handle = await _on_a_plan(harness, "g-dispute")
    due_before = await _plan_due_at(handle)
    await handle.signal("dispute", True)
    item = await harness.open_item(handle, "patient_dispute")
    await harness.env.sleep(timedelta(days=45))  # past the first due date and its grace: nothing may happen
    assert (await handle.query("state"))["stage"] == "waiting:patient_dispute"
    assert not world.called(c.COLLECTIONS_CHECK_PLAN) and not world.called(c.COLLECTIONS_AGENCY)
    assert [s.kind for s in world.called(c.COLLECTIONS_SEND_STATEMENT)] == ["first", "reminder", "final"]
    opened = world.work_items[item]
    assert opened.queue == "collections" and opened.context["plan"] == "plan-1"
    await handle.execute_update("resolve", ResolveRequest(item, "complete", "biller.ann", {}, "charges verified"))
    await harness.wait_stage(handle, "plan:installment:1")
    assert await _plan_due_at(handle) - due_before >= timedelta(days=45)
    result = await handle.result()
    assert result.outcome == "plan_completed"
    assert [check.due_cents for check in world.called(c.COLLECTIONS_CHECK_PLAN)] == [4000, 8000]
    assert _plan_updates(world) == [("paused", 0), ("active", 0)]
    assert not [s for s in world.called(c.COLLECTIONS_SEND_STATEMENT) if s.kind == "plan_reminder"]


async def test_a_dispute_the_guarantor_withdraws_resumes_the_plan(plan_harness: Harness) -> None:
    harness = plan_harness
    world = harness.world
    world.balance_cents = [8000]
    world.plan_paid_cents = [4000, 8000]
    handle = await _on_a_plan(harness, "g-withdrawn")
    await handle.signal("dispute", True)
    item = await harness.open_item(handle, "patient_dispute")
    await handle.signal("dispute", False)
    result = await handle.result()
    assert result.outcome == "plan_completed"
    assert [(r.work_item_id, r.action) for r in world.resolutions if r.work_item_id == item] == [(item, "cancel")]
    assert _plan_updates(world) == [("paused", 0), ("active", 0)]


async def test_an_upheld_dispute_writes_the_balance_off_and_ends_the_plan(plan_harness: Harness) -> None:
    harness = plan_harness
    world = harness.world
    world.balance_cents = [8000]
    handle = await _on_a_plan(harness, "g-upheld")
    await handle.signal("dispute", True)
    await harness.resolve(handle, "patient_dispute", "write_off", reason_code="administrative")
    result = await handle.result()
    assert result.outcome == "written_off" and result.balance_cents == 0
    write_off = world.called(c.COLLECTIONS_WRITE_OFF)[0]
    assert (write_off.amount_cents, write_off.reason) == (8000, "administrative")
    assert _plan_updates(world) == [("paused", 0), ("cancelled", 0)]
    assert not world.called(c.COLLECTIONS_CHECK_PLAN) and not world.called(c.COLLECTIONS_AGENCY)


async def test_a_hardship_request_replans_on_the_policys_hardship_terms(plan_harness: Harness) -> None:
    harness = plan_harness
    world = harness.world
    world.balance_cents = [8000]
    world.plan_paid_cents = [1000, 8000]  # the first hardship installment paid, then the rest at once
    handle = await _on_a_plan(harness, "g-hardship")
    await handle.signal("hardship", True)
    await harness.resolve(handle, "hardship_request", "payment_plan", installments="8")
    result = await handle.result()
    assert result.outcome == "plan_completed"
    first, hardship = world.called(c.COLLECTIONS_CREATE_PLAN)
    assert (first.installments, first.min_installment_cents) == (2, POLICY.min_installment_cents)
    assert hardship.installments == 8
    assert hardship.min_installment_cents == POLICY.hardship_min_installment_cents < POLICY.min_installment_cents
    assert hardship.max_installments == POLICY.hardship_max_installments and hardship.key != first.key
    assert [check.due_cents for check in world.called(c.COLLECTIONS_CHECK_PLAN)] == [1000, 2000]
    assert _plan_updates(world) == [("paused", 0), ("cancelled", 0)]


async def test_a_hardship_write_off_ends_collections(plan_harness: Harness) -> None:
    harness = plan_harness
    world = harness.world
    world.balance_cents = [8000]
    handle = await _on_a_plan(harness, "g-hardship-off")
    await handle.signal("hardship", True)
    await harness.resolve(handle, "hardship_request", "write_off", reason_code="hardship")
    result = await handle.result()
    assert result.outcome == "written_off"
    assert [(w.amount_cents, w.reason) for w in world.called(c.COLLECTIONS_WRITE_OFF)] == [(8000, "hardship")]


async def test_a_plan_paid_off_during_a_dispute_completes_when_the_dispute_closes(plan_harness: Harness) -> None:
    harness = plan_harness
    world = harness.world
    world.balance_cents = [8000]
    world.plan_paid_cents = [8000]
    handle = await _on_a_plan(harness, "g-paid-in-dispute")
    await handle.signal("dispute", True)
    item = await harness.open_item(handle, "patient_dispute")
    await handle.signal("payment_received", c.PaymentNotice(8000, "check-3"))  # paid while the dispute is open
    await harness.env.sleep(timedelta(days=3))
    assert not world.called(c.COLLECTIONS_CHECK_PLAN)  # paused: the plan looks at nothing
    await handle.execute_update("resolve", ResolveRequest(item, "complete", "biller.ann", {}, "resolved by payment"))
    result = await handle.result()
    assert result.outcome == "plan_completed"
    assert [check.due_cents for check in world.called(c.COLLECTIONS_CHECK_PLAN)] == [0]  # at once, not at a due date
