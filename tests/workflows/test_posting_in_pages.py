"""A large remittance through PaymentPosting stays within Temporal's history limits (issue 14 item 5).

The policy's page is shrunk so that a few hundred claims cross it as a payer's 10,000-claim ERA crosses the
default: the posting keeps its outcomes beside the 835 (the real ``PostingActivities._kept_when_large`` and the
real ``posting.tell`` against a document folder), and PaymentPosting has them told a page per activity. Every
waiting Claim workflow hears its own outcome, an ended one is reopened from it, each secondary claim and each
guarantor's collections start, and PaymentPosting's history grows with the pages, not with the claims (signalled
from the workflow, 330 items would take well over 600 events).
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from temporalio import activity, workflow
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client
from temporalio.worker import Worker

with workflow.unsafe.imports_passed_through():
    from activities.contracts import revenue as c
    from activities.documents.local import LocalDocumentStore
    from activities.revenue.posting import PostingActivities
    from activities.revenue.remittances import fan_out_key
    from flows.revenue import PaymentPostingWorkflow, claim_workflow_id
    from workers.registry import workflow_runner

pytestmark = pytest.mark.temporal

WAITING = 280  # Claim workflows waiting for their payment
ENDED = 20  # claims whose process has ended: the remittance reopens them
SECONDARY = 10
GUARANTORS = 20
PAGE = 40
POLICY = c.RevenuePolicy(posting_carry_limit=25, posting_page=PAGE)


@workflow.defn(name="Claim", sandboxed=False)  # a stand-in: cheap to start by the hundred
class StandInClaim:
    """Waits for its remittance like the Claim workflow; answers with what it heard (or was reopened by)."""

    def __init__(self) -> None:
        self._heard: list[c.ClaimOutcome] = []

    @workflow.signal(name="remittance")
    def remittance(self, outcome: c.ClaimOutcome) -> None:
        self._heard.append(outcome)

    @workflow.run
    async def run(self, data: c.ClaimInput) -> str:
        if data.reopened_by is not None:
            return f"reopened:{data.reopened_by.paid_cents}"
        await workflow.wait_condition(lambda: bool(self._heard))
        return f"heard:{len(self._heard)}:{self._heard[0].paid_cents}"


@workflow.defn(name="PatientCollections", sandboxed=False)
class StandInCollections:
    def __init__(self) -> None:
        self._changed = 0

    @workflow.signal(name="balance_changed")
    def balance_changed(self) -> None:
        self._changed += 1

    @workflow.run
    async def run(self, data: c.CollectionsInput) -> int:
        await workflow.wait_condition(lambda: self._changed > 0)
        return self._changed


def _outcome(number: int, key: str) -> c.ClaimOutcome:
    return c.ClaimOutcome(f"cl-{key}-{number}", key, "paid", 1000 + number, 250, ("CO-45", "PR-2"))


async def _events(client: Client, workflow_id: str) -> list[int]:
    return [event.event_type async for event in client.get_workflow_handle(workflow_id).fetch_history_events()]


@pytest.fixture
async def client(tmp_path: Path) -> AsyncIterator[Client]:
    """The product's dev server (signals, starts and heartbeats as in production; the time-skipping server would
    skip over a page being told)."""
    from tests.support.dev_stack import free_port
    from workers.temporal.dev_server import DevServer
    from workers.temporal.search_attributes import ensure_search_attributes

    server = DevServer(db_file=tmp_path / "temporal.db", port=free_port(), ui_port=None, log_file=tmp_path / "t.log")
    async with server:
        connected = await Client.connect(server.target)
        await ensure_search_attributes(connected)
        yield connected


async def test_a_large_remittance_is_told_in_pages_within_the_history_limits(client: Client, tmp_path: Path) -> None:
    queue = f"revenue-{uuid.uuid4()}"
    key = f"era-{uuid.uuid4().hex[:8]}"
    documents = LocalDocumentStore(tmp_path / "documents")
    posting = PostingActivities(None, None, documents, client)  # type: ignore[arg-type]
    outcomes = tuple(_outcome(n, key) for n in range(WAITING + ENDED))
    secondaries = tuple(f"cl-{key}-secondary-{n}" for n in range(SECONDARY))
    guarantors = tuple(f"g-{key}-{n}" for n in range(GUARANTORS))

    @activity.defn(name=c.POSTING_POST_REMITTANCE)
    async def post_remittance(ref: c.RemittanceRef) -> c.PostingResult:
        posted = c.PostingResult(
            key,
            False,
            "60054",
            sum(o.paid_cents for o in outcomes),
            outcomes,
            guarantors_with_balance=guarantors,
            secondary_claims=secondaries,
        )
        return posting._kept_when_large(posted, ref.carry_limit)

    async with Worker(
        client,
        task_queue=queue,
        workflows=[PaymentPostingWorkflow, StandInClaim, StandInCollections],
        activities=[post_remittance, posting.tell],
        workflow_runner=workflow_runner(),  # the workers' runner and slots
        max_concurrent_workflow_tasks=8,
    ):
        waiting = [
            await client.start_workflow(
                StandInClaim.run, c.ClaimInput(o.claim_id, POLICY), id=claim_workflow_id(o.claim_id), task_queue=queue
            )
            for o in outcomes[:WAITING]
        ]
        result = await client.execute_workflow(
            PaymentPostingWorkflow.run, c.PostingInput(key, POLICY), id=f"posting-{key}", task_queue=queue
        )
        assert result.kept == WAITING + ENDED + SECONDARY + GUARANTORS and result.kept_claims == WAITING + ENDED
        assert result.claims == () and result.guarantors_with_balance == ()  # not carried: kept beside the 835
        assert documents.exists(fan_out_key(key))

        for handle, outcome in zip(waiting, outcomes, strict=False):  # each heard its own outcome, once
            assert await handle.result() == f"heard:1:{outcome.paid_cents}"
        for outcome in outcomes[WAITING:]:  # no process was running: a new run from the outcome
            reopened = client.get_workflow_handle(claim_workflow_id(outcome.claim_id))
            assert await reopened.result() == f"reopened:{outcome.paid_cents}"
        for claim_id in secondaries:
            described = await client.get_workflow_handle(claim_workflow_id(claim_id)).describe()
            assert described.workflow_type == "Claim"
        for guarantor in guarantors:
            assert await client.get_workflow_handle(f"collections-{guarantor}").result() == 1

        state = await client.get_workflow_handle(f"posting-{key}").query("state")
        assert state["claims"] == WAITING + ENDED and state["claims_told"] == WAITING + ENDED
        assert state["reopened_count"] == ENDED

    events = await _events(client, f"posting-{key}")
    pages = -(-(WAITING + ENDED + SECONDARY + GUARANTORS) // PAGE)
    told = [e for e in events if e == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED]
    assert len(told) == 1 + pages  # the posting, then one posting.tell per page
    assert EventType.EVENT_TYPE_SIGNAL_EXTERNAL_WORKFLOW_EXECUTION_INITIATED not in events
    assert EventType.EVENT_TYPE_START_CHILD_WORKFLOW_EXECUTION_INITIATED not in events
    # The history grows with the pages: about seven events a page, not two or more a claim.
    assert len(events) <= 30 + 7 * pages, len(events)
