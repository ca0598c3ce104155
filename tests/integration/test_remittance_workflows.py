"""Every remittance goes through the workflows: an 835 handed in with `carecycle remit post` while Claim
workflows wait for their payment is posted by PaymentPosting, and each waiting Claim workflow hears its outcome
and goes on (real dev server, the sandbox clearinghouse adjudicating, SQLite and PostgreSQL). The same payments
handed in again start nothing new. A denial the payer reprocesses is paid, and its person's item withdrawn."""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from dataclasses import replace
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WorkflowExecutionStatus, WorkflowHandle

from activities.clearinghouse.sandbox_admin import RosterEntry, roster_entry
from activities.contracts import revenue as c
from domain import models as m
from domain.remittance import payment_key
from domain.x12.remit835 import parse_835
from flows.revenue.claim import claim_workflow_id
from sandbox.clearinghouse.payers import PLANS
from tests.support.dev_stack import run_cli
from tests.support.revenue_stack import RevenueStack, claims_in_stage, revenue_stack, start_registrations

pytestmark = [pytest.mark.temporal, pytest.mark.e2e]

WAITING = frozenset({"awaiting_acknowledgment", "awaiting_remittance"})
POLICY = c.RevenuePolicy(day_seconds=20.0)  # no follow-up timer fires during the test


async def _until(condition, what: str, seconds: float = 240.0):  # type: ignore[no-untyped-def]
    for _ in range(int(seconds / 0.5)):
        value = await condition()
        if value:
            return value
        await asyncio.sleep(0.5)
    raise AssertionError(f"timed out waiting for {what}")


async def _why_still_running(client: Client, handle: WorkflowHandle[Any, Any]) -> str:
    """What a Claim workflow that did not finish is doing, and how the postings went (this test once timed out
    under heavy load with no clue why): its stage, pending activities, last events, and every PaymentPosting."""
    lines = [f"{handle.id} did not finish within 120 s after its payment was posted"]
    with contextlib.suppress(Exception):
        lines.append(f"state: {await handle.query('state', result_type=dict)}")
    description = await handle.describe()
    lines.append(f"status: {description.status.name if description.status else None}")
    for pending in description.raw_description.pending_activities:
        failure = pending.last_failure.message if pending.HasField("last_failure") else ""
        lines.append(f"pending activity {pending.activity_type.name} attempt {pending.attempt}: {failure}")
    events = [event async for event in handle.fetch_history_events()]
    lines.append("last events: " + ", ".join(EventType.Name(event.event_type) for event in events[-15:]))
    async for posting in client.list_workflows("WorkflowType = 'PaymentPosting'"):
        lines.append(f"{posting.id}: {posting.status.name if posting.status else None}")
    return "\n".join(lines)


async def test_remit_post_moves_the_waiting_claim_workflows_on(tmp_path: Path, store_url: str) -> None:
    async with revenue_stack(tmp_path / "home", store_url, patients=3, seed=11) as revenue:
        await start_registrations(revenue, POLICY)

        async def all_waiting() -> dict[str, dict[str, object]] | None:
            waiting = await claims_in_stage(revenue, WAITING)
            return waiting if len(waiting) >= 2 else None

        waiting = await _until(all_waiting, "claim workflows waiting for their payment")
        # The payers adjudicate (sandbox time moves on); the practice downloads the 835s and hands them in.
        await asyncio.to_thread(revenue.admin.advance, 40)
        documents = await asyncio.to_thread(revenue.container.clearinghouse.fetch_remittances)
        assert documents, "the sandbox released no 835"
        paid: set[str] = set()
        for number, document in enumerate(documents):
            path = tmp_path / f"era-{number}.835"
            path.write_text(document.x12)
            result = await asyncio.to_thread(run_cli, revenue.stack.env, "remit", "post", str(path), "--json")
            assert result.returncode == 0, result.stderr
            for posted in json.loads(result.stdout)["remittances"]:
                assert not posted["already_posted"]
                paid.update(
                    line["claim_id"]
                    for line in posted["claims"]
                    if line["outcome"] in ("paid", "partially_paid") and line["claim_id"] in waiting
                )
        assert paid, "no waiting claim was paid by the 835s"

        for claim_id in paid:  # each waiting Claim workflow heard its payment and finished
            handle = revenue.stack.client.get_workflow_handle(claim_workflow_id(claim_id), result_type=c.ClaimResult)
            try:
                outcome = await asyncio.wait_for(handle.result(), timeout=120)
            except TimeoutError:
                raise AssertionError(await _why_still_running(revenue.stack.client, handle)) from None
            assert outcome.status in ("paid", "partially_paid") and outcome.paid_cents > 0
            assert (await handle.describe()).status == WorkflowExecutionStatus.COMPLETED

        # The same payments again (another file name): nothing new starts, the first posting is shown.
        again = tmp_path / "era-again.835"
        again.write_text(documents[0].x12)
        before = [w.id async for w in revenue.stack.client.list_workflows("WorkflowType = 'PaymentPosting'")]
        result = await asyncio.to_thread(run_cli, revenue.stack.env, "remit", "post", str(again))
        assert result.returncode == 0 and "already_posted" in result.stdout, result.stderr
        after = [w.id async for w in revenue.stack.client.list_workflows("WorkflowType = 'PaymentPosting'")]
        assert sorted(after) == sorted(before)
        (remittance, *_) = parse_835(documents[0].x12)
        assert f"posting-{payment_key(remittance.payer_id, remittance.trace_number)}" in before


def _roster_entry_of(revenue: RevenueStack, claim_id: str) -> RosterEntry:
    """The sandbox payer's roster entry for the member a claim was billed for."""
    with revenue.container.uow() as uow:
        claim = uow.session.get(m.Claim, claim_id)
        assert claim is not None and claim.coverage_id is not None
        coverage = uow.session.get(m.Coverage, claim.coverage_id)
        patient = uow.session.get(m.Patient, claim.patient_id)
        payer = uow.session.get(m.Payer, claim.payer_id)
        assert coverage is not None and patient is not None and payer is not None
        entry = roster_entry(coverage, patient, payer)
    assert entry is not None
    return entry


async def _post_what_the_payers_sent(revenue: RevenueStack, folder: Path, days: float) -> list[dict[str, Any]]:
    """Move the sandbox's time on, then hand every 835 it released to `remit post`; each claim's outcome."""
    await asyncio.to_thread(revenue.admin.advance, days)
    documents = await asyncio.to_thread(revenue.container.clearinghouse.fetch_remittances)
    outcomes: list[dict[str, Any]] = []
    for document in documents:
        path = folder / f"era-{uuid.uuid4()}.835"
        path.write_text(document.x12)
        result = await asyncio.to_thread(run_cli, revenue.stack.env, "remit", "post", str(path), "--json")
        assert result.returncode == 0, result.stderr
        outcomes += [line for posted in json.loads(result.stdout)["remittances"] for line in posted["claims"]]
    await asyncio.to_thread(revenue.container.clearinghouse.confirm, [document.id for document in documents])
    return outcomes


async def test_a_denial_the_payer_reprocesses_is_paid_and_its_item_withdrawn(tmp_path: Path, store_url: str) -> None:
    """The payer denies a claim (its roster said the member was not covered: CO-27) and a person has the denial item;
    the payer fixes its roster and reprocesses the claim, one 835 with the denial reversed and the claim paid. `remit
    post` pays the claim, the Claim workflow withdraws the denial item and ends paid, and no one is asked about the
    reversal (there was no money to take back)."""
    async with revenue_stack(tmp_path / "home", store_url, patients=3, seed=11, random_mix=False) as revenue:
        await start_registrations(revenue, POLICY)

        async def one_waiting() -> str | None:
            waiting = await claims_in_stage(revenue, WAITING)
            for claim_id in sorted(waiting):
                entry = await asyncio.to_thread(_roster_entry_of, revenue, claim_id)
                if entry.payer_id in PLANS:  # a clearinghouse payer, which the sandbox adjudicates by 835
                    return claim_id
            return None

        claim_id = await _until(one_waiting, "a claim waiting on a clearinghouse payer")
        entry = await asyncio.to_thread(_roster_entry_of, revenue, claim_id)
        ended = replace(entry, effective_from=date(2000, 1, 1), effective_to=date(2000, 12, 31))
        await asyncio.to_thread(revenue.admin.load_roster, [ended])
        denied = [o for o in await _post_what_the_payers_sent(revenue, tmp_path, 40) if o["claim_id"] == claim_id]
        assert [o["outcome"] for o in denied] == ["denied"], denied
        handle = revenue.stack.client.get_workflow_handle(claim_workflow_id(claim_id), result_type=c.ClaimResult)

        async def denial_item_open() -> bool:
            state = await handle.query("state", result_type=dict)
            return bool(state["stage"] == "waiting:claim_denied")

        await _until(denial_item_open, "the denial's work item")

        await asyncio.to_thread(revenue.admin.load_roster, [entry])
        await asyncio.to_thread(revenue.admin.schedule_follow_up, claim_id, "reversal")
        reprocessed = [o for o in await _post_what_the_payers_sent(revenue, tmp_path, 1) if o["claim_id"] == claim_id]
        assert [(o["outcome"], o["problems"]) for o in reprocessed] == [("reversed", []), ("paid", [])], reprocessed

        try:
            outcome = await asyncio.wait_for(handle.result(), timeout=120)
        except TimeoutError:
            raise AssertionError(await _why_still_running(revenue.stack.client, handle)) from None
        assert outcome.status == "paid" and outcome.paid_cents == reprocessed[1]["paid_cents"] > 0

        def items() -> list[tuple[str, str, str | None]]:
            with revenue.container.uow() as uow:
                rows = uow.session.execute(
                    select(m.WorkItem.reason_code, m.WorkItem.state, m.WorkItem.resolution_action).where(
                        m.WorkItem.entity_id == claim_id
                    )
                )
                return [(reason, str(state), action) for reason, state, action in rows]

        assert await asyncio.to_thread(items) == [("claim_denied", "cancelled", "cancel")]
        with revenue.container.uow() as uow:
            claim = uow.session.get(m.Claim, claim_id)
            assert claim is not None and claim.status == "paid"
