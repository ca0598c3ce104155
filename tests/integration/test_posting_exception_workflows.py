"""An 835 line posting cannot match is worked for real, on the dev server, SQLite and PostgreSQL: `carecycle remit
post` parks it and its PostingException workflow waits; `carecycle tasks resolve ... post_manually` refuses a wrong
claim up front with the rule's message and posts the right one, whose waiting Claim workflow hears its payment and
finishes; the demo's scripted biller finds the claim another typo'd line meant; the ledger balances, nothing stays
in unapplied cash, and handing the same 835 in again starts nothing new.

Before: such items waited on no workflow, `tasks resolve` answered "has no waiting workflow", nothing carried a
``post_manually`` out, and the claims waited for a payment that had arrived."""

from __future__ import annotations

import asyncio
import json
import uuid
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from activities.contracts import posting_exceptions as xc
from activities.contracts import revenue as c
from domain import models as m
from domain.ledger import accounts as acc
from domain.ledger.store import account_balance
from domain.remittance import ClaimPayment, Remittance
from domain.x12.envelope import ControlNumbers, Party
from domain.x12.remit835 import parse_835, write_835
from flows.revenue.claim import claim_workflow_id
from tests.support.dev_stack import run_cli
from tests.support.revenue_stack import RevenueStack, claims_in_stage, revenue_stack, start_registrations
from workers.demo_biller import resolve_open_items

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


def _typo(claim_id: str) -> str:
    """The claim number as a payer mistyped it: one character wrong."""
    return claim_id[:-1] + ("0" if claim_id[-1] != "0" else "1")


def _unmatchable(payment: ClaimPayment) -> ClaimPayment:
    """The payment as a payer sends it when nothing of ours comes back: a mistyped claim number, no line control
    numbers, its own member id."""
    return replace(
        payment,
        patient_control_number=_typo(payment.patient_control_number),
        payer_claim_control_number=None,
        patient_member_id="ZZ00000000",
        service_lines=tuple(replace(line, line_control_number=None) for line in payment.service_lines),
    )


def _write(path: Path, remittance: Remittance, number: int) -> Path:
    remittance = replace(remittance, payment_amount_cents=remittance.expected_payment_cents())
    control = ControlNumbers(interchange=900 + number, group=900 + number)
    path.write_text(
        write_835(
            [remittance], sender=Party("ZZ", "SANDBOXCH"), receiver=Party("ZZ", "PRACTICE"), control=control,
            when=datetime.now(UTC),
        )
    )  # fmt: skip
    return path


def _cli(revenue: RevenueStack, *args: str) -> Any:
    return run_cli(revenue.stack.env, *args)


def _item_of(revenue: RevenueStack, sent: str) -> tuple[str, str | None, str]:
    with revenue.container.uow() as uow:
        for item in uow.session.execute(select(m.WorkItem).where(m.WorkItem.queue == "posting")).scalars():
            if (item.context or {}).get("patient_control_number") == sent:
                return item.id, item.workflow_id, str(item.state)
    raise AssertionError("no posting item for the line")


async def test_unmatched_lines_are_posted_by_hand_and_the_claims_move_on(tmp_path: Path, store_url: str) -> None:
    async with revenue_stack(tmp_path / "home", store_url, patients=3, seed=11, random_mix=False) as revenue:
        client = revenue.stack.client
        await start_registrations(revenue, POLICY)

        async def all_waiting() -> dict[str, dict[str, object]] | None:
            waiting = await claims_in_stage(revenue, WAITING)
            return waiting if len(waiting) >= 2 else None  # two claims to mistype (not every visit bills now)

        waiting = await _until(all_waiting, "claim workflows waiting for their payment")
        remittances: list[Remittance] = []

        async def two_paid() -> list[tuple[Remittance, ClaimPayment]] | None:
            await asyncio.to_thread(revenue.admin.advance, 40)  # the payers adjudicate (sandbox time moves on)
            documents = await asyncio.to_thread(revenue.container.clearinghouse.fetch_remittances)
            remittances[:] = [r for d in documents for r in parse_835(d.x12)]  # each time, every 835 not confirmed
            # Two different claims, each with the first 835 that paid it (two typos of one claim would be one work
            # item): the sandbox may pay a claim it was handed twice in two 835s.
            paid: dict[str, tuple[Remittance, ClaimPayment]] = {}
            for r in remittances:
                for p in r.claims:
                    if p.patient_control_number in waiting and p.paid_cents > 0 and p.status_code in ("1", "2"):
                        paid.setdefault(p.patient_control_number, (r, p))
            return list(paid.values()) if len(paid) >= 2 else None

        paid = await _until(two_paid, "the sandbox paying two of the waiting claims", seconds=60)
        (first_era, first), (second_era, second) = paid[:2]
        mistyped = {first.patient_control_number, second.patient_control_number}

        # The payer's 835s as they come, except that two claims come back mistyped, each in an 835 of its own.
        files = [
            _write(
                tmp_path / "typo-a.835",
                replace(first_era, claims=(_unmatchable(first),), trace_number=first_era.trace_number + "A"),
                1,
            )
        ]
        files.append(
            _write(
                tmp_path / "typo-b.835",
                replace(second_era, claims=(_unmatchable(second),), trace_number=second_era.trace_number + "B"),
                2,
            )
        )
        for number, era in enumerate(remittances):
            rest = tuple(p for p in era.claims if p.patient_control_number not in mistyped)
            if rest:
                files.append(_write(tmp_path / f"rest-{number}.835", replace(era, claims=rest), 10 + number))
        settled = ""
        for path in files:
            result = await asyncio.to_thread(_cli, revenue, "remit", "post", str(path), "--json")
            assert result.returncode == 0, result.stderr
            for posted in json.loads(result.stdout)["remittances"]:
                for line in posted["claims"]:
                    if path.name.startswith("typo"):
                        assert line["outcome"] == "unmatched", line
                    elif line["outcome"] == "paid":
                        settled = settled or line["claim_id"]

        # Each parked line's item is waited on by its PostingException workflow (the item's row names it).
        async def adopted() -> bool:
            items = [await asyncio.to_thread(_item_of, revenue, _typo(pcn)) for pcn in mistyped]
            return all(workflow_id == xc.posting_exception_workflow_id(item_id) for item_id, workflow_id, _ in items)

        await _until(adopted, "the posting items adopted by their workflows")
        item_a, workflow_a, _ = await asyncio.to_thread(_item_of, revenue, _typo(first.patient_control_number))
        item_b, _, _ = await asyncio.to_thread(_item_of, revenue, _typo(second.patient_control_number))

        # A wrong claim is refused at once, with the rule's message; nothing is recorded.
        unknown = str(uuid.uuid4())
        wrong = await asyncio.to_thread(
            _cli, revenue, "tasks", "resolve", item_a, "--action", "post_manually", "--set", f"claim_id={unknown}"
        )
        assert wrong.returncode == 1 and f"resolution rejected: post_manually: unknown claim {unknown}" in wrong.stderr
        if settled:
            wrong = await asyncio.to_thread(
                _cli, revenue, "tasks", "resolve", item_a, "--action", "post_manually", "--set", f"claim_id={settled}"
            )
            # settled by its own payer's 835: billed to another payer, or nothing left for this payment to pay
            assert wrong.returncode == 1, wrong.stderr
            assert (
                f"post_manually: claim {settled} was billed to another payer" in wrong.stderr
                or f"post_manually: cannot post to claim {settled}: exceeds_claim_balance" in wrong.stderr
            ), wrong.stderr
        assert "resolved" not in wrong.stdout
        assert (await asyncio.to_thread(_item_of, revenue, _typo(first.patient_control_number)))[2] == "open"

        # The right claim: resolved, posted, and the claim's waiting workflow hears its payment.
        right = await asyncio.to_thread(
            _cli, revenue, "tasks", "resolve", item_a, "--action", "post_manually",
            "--set", f"claim_id={first.patient_control_number}", "--json",
        )  # fmt: skip
        assert right.returncode == 0, right.stderr
        told = json.loads(right.stdout)
        # "resolved" only once the workflow posted it (the store says so), with what it did
        assert told["state"] == "resolved" and told["applied"]["state"] == "applied", told
        assert told["applied"]["claim_id"] == first.patient_control_number
        assert told["applied"]["outcome"].startswith("posted "), told
        shown = await asyncio.to_thread(_cli, revenue, "tasks", "show", item_a, "--json")
        assert json.loads(shown.stdout)["applied"] == told["applied"]
        again = await asyncio.to_thread(
            _cli, revenue, "tasks", "resolve", item_a, "--action", "post_manually",
            "--set", f"claim_id={first.patient_control_number}",
        )  # fmt: skip
        assert again.returncode == 1 and "already resolved" in again.stderr, again.stderr
        handle = client.get_workflow_handle(workflow_a, result_type=xc.PostingExceptionResult)
        done = await asyncio.wait_for(handle.result(), timeout=120)
        assert (done.action, done.claim_id) == ("post_manually", first.patient_control_number)
        claim = client.get_workflow_handle(claim_workflow_id(first.patient_control_number), result_type=c.ClaimResult)
        outcome = await asyncio.wait_for(claim.result(), timeout=120)
        assert outcome.status in ("paid", "partially_paid") and outcome.paid_cents == first.paid_cents

        # The scripted biller works the other line as a person would: it finds the claim the payer meant.
        assert await resolve_open_items(client, revenue.container) >= 1
        other = client.get_workflow_handle(
            xc.posting_exception_workflow_id(item_b), result_type=xc.PostingExceptionResult
        )
        done = await asyncio.wait_for(other.result(), timeout=120)
        assert (done.action, done.claim_id) == ("post_manually", second.patient_control_number)
        claim = client.get_workflow_handle(claim_workflow_id(second.patient_control_number), result_type=c.ClaimResult)
        assert (await asyncio.wait_for(claim.result(), timeout=120)).paid_cents == second.paid_cents

        # The ledger balances and none of the two mistyped payments waits unapplied. (Only theirs: under load a
        # Claim workflow can resubmit and the sandbox pay a claim twice; that second payment is parked, rightly.)
        check = await asyncio.to_thread(_cli, revenue, "ledger", "check", "--json")
        assert check.returncode == 0 and json.loads(check.stdout)["ok"], check.stdout
        traces = (first_era.trace_number + "A", second_era.trace_number + "B")
        with revenue.container.uow() as uow:
            typo_ids = list(
                uow.session.execute(select(m.Remittance.id).where(m.Remittance.trace_number.in_(traces))).scalars()
            )
            assert len(typo_ids) == 2
            waiting = uow.session.execute(
                select(func.coalesce(func.sum(m.JournalLine.debit_cents - m.JournalLine.credit_cents), 0))
                .join(m.JournalEntry, m.JournalEntry.id == m.JournalLine.entry_id)
                .join(m.Account, m.Account.id == m.JournalLine.account_id)
                .where(m.Account.code == acc.UNAPPLIED_CASH.code, m.JournalEntry.remittance_id.in_(typo_ids))
            ).scalar_one()
            parked_elsewhere = account_balance(uow.session, acc.UNAPPLIED_CASH.code) - waiting
            open_items = uow.session.execute(
                select(m.WorkItem.reason_code, m.WorkItem.state).where(m.WorkItem.state == "open")
            ).all()
        assert waiting == 0, (waiting, parked_elsewhere, open_items)

        # The same 835 again (another file name): already posted, no new workflow.
        before = [w.id async for w in client.list_workflows(f"WorkflowType = '{xc.WORKFLOW_TYPE}'")]
        again = tmp_path / "typo-a-again.835"
        again.write_text(files[0].read_text())
        result = await asyncio.to_thread(_cli, revenue, "remit", "post", str(again))
        assert result.returncode == 0 and "already_posted" in result.stdout, result.stderr
        after = [w.id async for w in client.list_workflows(f"WorkflowType = '{xc.WORKFLOW_TYPE}'")]
        assert sorted(after) == sorted(before)
