"""Posting's work items worked through their PostingException workflow (time-skipping server, activities mocked by
name; the rule is the real one of domain.posting.parked).

Before this workflow an ``unmatched_remittance`` item waited on no process: `tasks resolve` refused it and nothing
ever carried ``post_manually claim_id=...`` out. Here PaymentPosting starts the item's workflow, a wrong claim is
refused by the Update with the rule's message (a claim the workflow knew nothing of is read first), the right one
is posted by the activity and the claim's waiting workflow hears its payment; a store refusal asks once again.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from temporalio import activity
from temporalio.client import WorkflowHandle, WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from activities.contracts import posting_exceptions as xc
from activities.contracts import revenue as c
from activities.contracts import workitems as wi
from activities.revenue.posting_exceptions import start_exception_workflows
from domain.posting.parked import ExceptionFacts, ExceptionKind, ParkedPayment, PostingTarget
from flows.revenue import WORKFLOWS, PaymentPostingWorkflow
from flows.workitems import ResolveRequest
from tests.workflows.test_revenue_cycle import POLICY, Harness, World

pytestmark = pytest.mark.temporal

PAYER = "payer-row-a"
ITEM = "item-unmatched-1"


def _claim_id() -> str:
    return str(uuid.uuid4())


@dataclass
class Exceptions:
    """The store as the posting-exception activities see it: one parked claim payment and the claims there are."""

    claims: dict[str, PostingTarget] = field(default_factory=dict)
    candidates: tuple[str, ...] = ()
    kind: ExceptionKind = ExceptionKind.CLAIM_PAYMENT
    state: str = "open"
    refuse_resolutions: int = 0
    facts_requests: list[xc.FactsRequest] = field(default_factory=list)
    resolutions: list[xc.ExceptionResolution] = field(default_factory=list)

    def parked(self) -> ParkedPayment:
        return ParkedPayment(
            remittance_claim_id="rc-1",
            payer_row_id=PAYER,
            trace_number="TRC1",
            posted_to="",
            written_off=False,
            reversal=False,
            problems=(),
            target_status="paid",
            paid_cents=9000,
            patient_responsibility_cents=2500,
            contractual_cents=1000,
        )

    def activities(self, world: World) -> list[Callable[..., Any]]:
        store = self

        @activity.defn(name=xc.START)
        async def start(data: xc.StartExceptions) -> xc.StartedExceptions:
            return await start_exception_workflows(
                activity.client(),
                data.work_item_ids,
                task_queue=activity.info().task_queue,
                remittance_key=data.remittance_key,
                policy=data.policy,
            )

        @activity.defn(name=xc.FACTS)
        async def facts(request: xc.FactsRequest) -> xc.ExceptionItem:
            store.facts_requests.append(request)
            looked = (*store.candidates, *request.claim_ids)
            parked = store.parked() if store.kind is ExceptionKind.CLAIM_PAYMENT else None
            return xc.ExceptionItem(
                state=store.state,
                reason="unmatched_remittance" if parked else "posting_exception",
                entity_type="remittance",
                entity_id="rem-1",
                summary="remittance TRC1 claim payment 0: unmatched, 1 candidate claim(s)",
                dedupe_key=f"posting:SBX:TRC1:0:{store.kind}",
                sla_due_at=datetime.now(UTC) + timedelta(days=3),
                facts=ExceptionFacts(
                    work_item_id=request.work_item_id,
                    kind=store.kind,
                    reason="unmatched_remittance",
                    parked=parked,
                    targets=tuple(store.claims[c] for c in looked if c in store.claims),
                    looked_up=looked,
                    difference_cents=-500 if store.kind is ExceptionKind.PAYMENT_TOTAL else 0,
                    trace_number="TRC1",
                ),
                context={"problem": "unmatched"},
            )

        @activity.defn(name=xc.RESOLVE)
        async def resolve(data: xc.ExceptionResolution) -> xc.ExceptionApplied:
            store.resolutions.append(data)
            if store.refuse_resolutions > 0:
                store.refuse_resolutions -= 1
                raise ApplicationError(
                    "cannot post to claim x: exceeds_claim_balance (paid 9000 cents, the payer owes 0 cents)",
                    type="invalid",
                    non_retryable=True,
                )
            if data.action != "post_manually":
                return xc.ExceptionApplied(data.action, written_off_cents=9000 if data.action == "write_off" else 0)
            claim_id = data.fields["claim_id"]
            outcome = c.ClaimOutcome(
                claim_id, data.remittance_key, "paid", 9000, 2500, ("CO-45", "PR-2"), (), (), "paid"
            )
            return xc.ExceptionApplied(data.action, outcome=outcome, guarantor_id="g-1")

        return [start, facts, resolve, *world.activities()]


@dataclass
class ExceptionHarness:
    base: Harness
    store: Exceptions

    @property
    def client(self) -> Any:
        return self.base.env.client

    async def post_with_exception(self) -> str:
        """PaymentPosting of a remittance whose one claim payment matched nothing: it starts the item's workflow."""
        key = f"era-{uuid.uuid4()}"
        self.base.world.outcomes[key] = c.PostingResult(key, False, "SBX", 0, (), exception_items=(ITEM,))
        await self.client.execute_workflow(
            PaymentPostingWorkflow.run, c.PostingInput(key, POLICY), id=f"posting-{key}", task_queue=self.base.queue
        )
        return key

    def handle(self) -> WorkflowHandle[Any, xc.PostingExceptionResult]:
        return self.client.get_workflow_handle(
            xc.posting_exception_workflow_id(ITEM), result_type=xc.PostingExceptionResult
        )

    async def refused(self, action: str, note: str = "", **fields: str) -> str:
        item_id = await self.base.open_item(self.handle(), self.reason())
        with pytest.raises(WorkflowUpdateFailedError) as refused:
            await self.handle().execute_update("resolve", ResolveRequest(item_id, action, "biller.ann", fields, note))
        cause = refused.value.cause
        return str(getattr(cause, "message", cause))

    async def resolve(self, action: str, note: str = "", **fields: str) -> None:
        await self.base.resolve(self.handle(), self.reason(), action, note, **fields)

    def reason(self) -> str:
        return "unmatched_remittance" if self.store.kind is ExceptionKind.CLAIM_PAYMENT else "posting_exception"


@pytest.fixture
async def exceptions(time_skipping_env: WorkflowEnvironment) -> AsyncIterator[ExceptionHarness]:
    world = World(claim_id=_claim_id())
    store = Exceptions()
    # Posting opened the item in the store (no workflow): the workflow adopts it by its dedupe key.
    world.work_items[ITEM] = wi.OpenWorkItemInput(
        "unmatched_remittance", "posting", "s", "remittance", "rem-1", "", "posting:SBX:TRC1:0:claim_payment",
        datetime.now(UTC),
    )  # fmt: skip
    queue = f"revenue-{uuid.uuid4()}"
    async with Worker(
        time_skipping_env.client, task_queue=queue, workflows=list(WORKFLOWS), activities=store.activities(world)
    ):
        yield ExceptionHarness(Harness(time_skipping_env, queue, world), store)


def _target(claim_id: str, payer: str = PAYER, status: str = "accepted", balance: int = 12_500) -> PostingTarget:
    return PostingTarget(claim_id, payer, status, balance, secondary=False, lines_match=True)


async def test_a_wrong_claim_is_refused_up_front_and_the_right_one_posts_and_moves_the_claim_on(
    exceptions: ExceptionHarness,
) -> None:
    base, store = exceptions.base, exceptions.store
    world = base.world
    other_payer, closed = _claim_id(), _claim_id()
    store.claims = {
        other_payer: _target(other_payer, payer="payer-row-b"),
        closed: _target(closed, status="written_off"),
        world.claim_id: _target(world.claim_id),
    }
    store.candidates = (other_payer, closed)
    claim = await base.start_claim()
    await base.wait_stage(claim, "awaiting_remittance")
    await exceptions.post_with_exception()

    # The validator refuses with the facts it holds (the candidates), with the rule's own message.
    message = await exceptions.refused("post_manually", claim_id=other_payer)
    assert f"claim {other_payer} was billed to another payer than remittance TRC1" in message
    message = await exceptions.refused("post_manually", claim_id=closed)
    assert "illegal_status_written_off" in message
    # A claim the workflow knew nothing of is read from the store before anything is recorded.
    unknown = _claim_id()
    message = await exceptions.refused("post_manually", claim_id=unknown)
    assert message == f"post_manually: unknown claim {unknown}"
    assert exceptions.store.facts_requests[-1].claim_ids == (unknown,)
    # Text that is not a claim id (a name, a member id) is refused without being repeated.
    message = await exceptions.refused("post_manually", claim_id="Jane Q Public")
    assert "claim_id must be a claim id" in message and "Jane" not in message
    assert not world.resolutions and not store.resolutions  # nothing recorded, nothing applied

    await exceptions.resolve("post_manually", claim_id=world.claim_id)
    result = await exceptions.handle().result()
    assert (result.action, result.claim_id, result.refusals) == ("post_manually", world.claim_id, 0)
    (applied,) = store.resolutions
    assert applied.fields == {"claim_id": world.claim_id} and applied.by == "biller.ann"
    claim_result = await claim.result()  # the waiting Claim workflow heard the payment and finished
    assert claim_result.status == "paid" and claim_result.paid_cents == 9000
    assert [n.guarantor_id for n in world.called(c.COLLECTIONS_NOTIFY)] == ["g-1"]
    assert [r.work_item_id for r in world.resolutions] == [ITEM]  # posting's own item, adopted


async def test_a_store_refusal_asks_once_again_saying_why(exceptions: ExceptionHarness) -> None:
    base, store = exceptions.base, exceptions.store
    target = _claim_id()
    store.claims = {target: _target(target)}
    store.refuse_resolutions = 1
    await exceptions.post_with_exception()
    await exceptions.resolve("post_manually", claim_id=target)
    for _ in range(200):  # the refusal opens one new item that says why
        reopened = [i for i in base.world.work_items.values() if i.dedupe_key.endswith(":refused:1")]
        if reopened:
            break
        await base.skip()
    (again,) = reopened
    assert again.summary.startswith("the last resolution was refused (invalid): cannot post to claim")
    assert again.context["refused_because"].endswith("the payer owes 0 cents)")
    assert again.context["problem"] == "unmatched"
    await exceptions.resolve("complete", note="returned to the payer")
    result = await exceptions.handle().result()
    assert (result.action, result.refusals) == ("complete", 1)
    assert [r.action for r in store.resolutions] == ["post_manually", "complete"]  # once each: no loop
    # each outcome is recorded on the item the person answered: the first, then the one that asked again
    reopened_id = next(i for i, item in base.world.work_items.items() if item is again)
    assert [r.answered_item_id for r in store.resolutions] == [ITEM, reopened_id]
    assert {r.work_item_id for r in store.resolutions} == {ITEM}  # the facts stay the parked payment's item's
    assert len([i for i in base.world.work_items.values() if i.reason == "unmatched_remittance"]) == 2


async def test_a_payment_total_item_takes_a_write_off_not_a_retry(exceptions: ExceptionHarness) -> None:
    store = exceptions.store
    store.kind = ExceptionKind.PAYMENT_TOTAL
    await exceptions.post_with_exception()
    message = await exceptions.refused("retry_now")
    assert "changes nothing" in message and "-500 cents" in message
    message = await exceptions.refused("post_manually", claim_id=_claim_id())
    assert "not one claim payment" in message
    await exceptions.resolve("write_off", reason_code="administrative")
    result = await exceptions.handle().result()
    assert result.action == "write_off"
    (applied,) = store.resolutions
    assert applied.fields == {"reason_code": "administrative"}


async def test_an_item_resolved_before_adoption_ends_the_workflow(exceptions: ExceptionHarness) -> None:
    exceptions.store.state = "resolved"
    await exceptions.post_with_exception()
    result = await exceptions.handle().result()
    assert result.action == "" and not exceptions.store.resolutions


async def test_starting_again_starts_nothing_new(exceptions: ExceptionHarness) -> None:
    exceptions.store.claims = {}
    await exceptions.post_with_exception()
    again = await start_exception_workflows(exceptions.client, [ITEM, ITEM], task_queue=exceptions.base.queue)
    assert (again.started, again.already_started) == (0, 1)
    await exceptions.resolve("cancel", note="duplicate of another item")
    assert (await exceptions.handle().result()).action == "cancel"
    closed = await start_exception_workflows(exceptions.client, [ITEM], task_queue=exceptions.base.queue)
    assert (closed.started, closed.already_started) == (0, 1)  # a resolved item's workflow never runs again
