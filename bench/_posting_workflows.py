"""``bench/posting.py --through-workflows``: a payer's ERA posted end to end through the workflows (issue 14 item 5).

What runs is the product's, on a throwaway PostgreSQL store and the embedded Temporal dev server (SQLite file, the
product's flags, the encrypting payload codec):

* N seeded claims of one payer, submitted and charged (``bench.posting.seed``), each with its **Claim workflow**
  (the real ``ClaimWorkflow``) waiting in ``awaiting_remittance``. To get 10,000 of them there in minutes, only the
  steps before the wait answer at once (``claims.scrub`` passes, ``claims.submit`` and ``claims.acknowledgments``
  say submitted and accepted: the 837P to a clearinghouse is not what is measured); every activity after it is
  the product's.
* A guarantor left with a balance gets its PatientCollections (real), whose statement answers at once (no PDF:
  the statements of thousands of guarantors are another bench's subject).
* The 835 for those claims (``bench.posting.build_remittance``) handed in through the one remittance front door
  (``workers.remittances.hand_in``, what ``carecycle remit post`` calls), posted by **PaymentPosting** with the
  real ``posting.post_remittance`` and told through ``posting.tell`` (signals to the waiting Claim workflows,
  PatientCollections started for each guarantor with a balance).

Printed: wall time and claims/s from the hand-in to the posting's end and to the last Claim workflow's end; every
workflow's history length (the largest, PaymentPosting's, its runs: continue-as-new would show as more than one);
the ledger checks (``carecycle ledger check``'s); a re-post of the same file (already posted, nothing started);
how many Claim workflows ended paid. ``uptime`` before and after, the machine being shared.
"""

from __future__ import annotations

import asyncio
import os
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

from temporalio import activity
from temporalio.client import Client
from temporalio.worker import Worker

from activities.contracts import revenue as c
from activities.revenue import Envelope, revenue_activities
from activities.workitems import WorkItemActivities
from domain.ledger.checks import run_ledger_checks
from domain.ledger.store import balances_by_account
from domain.store.migrate import upgrade
from domain.x12.envelope import ControlNumbers, Party
from domain.x12.remit835 import parse_835, write_835
from flows.revenue import WORKFLOWS, claim_workflow_id
from workers.composition import Container
from workers.registry import workflow_runner
from workers.remittances import hand_in
from workers.settings import Settings
from workers.temporal import dev_server_for
from workers.temporal.client import connect
from workers.temporal.search_attributes import ensure_search_attributes

# Real business days: no follow-up timer fires while the bench runs (and no collections statement goes out).
POLICY = c.RevenuePolicy()


def _uptime() -> str:
    with open("/proc/loadavg") as loadavg:
        return "load " + " ".join(loadavg.read().split()[:3])


def _stand_ins() -> list[Any]:
    """The steps before the wait for the remittance, answering at once (the claims are submitted in the store)."""

    @activity.defn(name=c.CLAIMS_SCRUB)
    async def scrub(ref: c.ClaimRef) -> c.ScrubResult:
        return c.ScrubResult(ref.claim_id, "BENCH", True, (), 30, 365, 0)

    @activity.defn(name=c.CLAIMS_SUBMIT)
    async def submit(data: c.ClaimCorrection) -> c.SubmitResult:
        return c.SubmitResult(data.claim_id, "000000001", "bench-batch", data.frequency_code, claim_status="submitted")

    @activity.defn(name=c.CLAIMS_ACKNOWLEDGMENTS)
    async def acks(query: c.AckQuery) -> c.AckResult:
        return c.AckResult(query.claim_id, "accepted", claim_status="accepted")

    @activity.defn(name=c.COLLECTIONS_SEND_STATEMENT)
    async def statement(data: c.StatementRequest) -> c.StatementSent:
        return c.StatementSent(f"bench-{data.cycle_key}", 0, None)  # no PDF: statements are not measured here

    return [scrub, submit, acks, statement]


def _activities(container: Container, client: Client) -> list[Any]:
    settings = container.settings
    real = revenue_activities(
        container.session_factory,
        container.clearinghouse,
        container.documents,
        Envelope(settings.edi_sender_id, settings.edi_receiver_id, settings.edi_receiver_name, settings.edi_usage),
        client=client,
        tell_concurrency=settings.posting_tell_concurrency,
    )
    stand_ins = _stand_ins()
    replaced = {a.__temporal_activity_definition.name for a in stand_ins}
    kept = [a for a in real if getattr(a, "__temporal_activity_definition").name not in replaced]
    return [*WorkItemActivities(container.session_factory).all(), *kept, *stand_ins]


async def _count(client: Client, query: str) -> int:
    return (await client.count_workflows(query)).count


async def _until(client: Client, query: str, wanted: int, what: str, timeout: float) -> float:
    began = time.perf_counter()
    last = -1
    while True:
        count = await _count(client, query)
        if count != last:
            print(f"  {what}: {count:,} / {wanted:,} ({time.perf_counter() - began:.0f} s, {_uptime()})", flush=True)
            last = count
        if count >= wanted:
            return time.perf_counter() - began
        if time.perf_counter() - began > timeout:
            raise SystemExit(f"{what}: only {count:,} of {wanted:,} after {timeout:.0f} s")
        await asyncio.sleep(2.0)


async def _history_lengths(client: Client, workflow_type: str) -> tuple[list[tuple[int, str]], Counter[str]]:
    """(history length, workflow id) of every execution of the type (every run), and their statuses."""
    ids = [(w.id, w.run_id) async for w in client.list_workflows(f"WorkflowType = '{workflow_type}'")]
    statuses: Counter[str] = Counter()
    lengths: list[tuple[int, str]] = []
    semaphore = asyncio.Semaphore(50)

    async def one(workflow_id: str, run_id: str | None) -> None:
        async with semaphore:
            description = await client.get_workflow_handle(workflow_id, run_id=run_id).describe()
        lengths.append((description.raw_description.workflow_execution_info.history_length, workflow_id))
        statuses[description.status.name if description.status else "?"] += 1

    await asyncio.gather(*(one(i, r) for i, r in ids))
    return sorted(lengths, reverse=True), statuses


async def _activity_seconds(client: Client, workflow_id: str) -> dict[str, tuple[int, float]]:
    """Per activity type of PaymentPosting's history: how many, and their seconds from scheduled to completed
    (the posting itself against the telling of its pages)."""
    from temporalio.api.enums.v1 import EventType

    scheduled: dict[int, tuple[str, float]] = {}
    spent: dict[str, tuple[int, float]] = {}
    async for event in client.get_workflow_handle(workflow_id).fetch_history_events():
        at = event.event_time.ToDatetime().timestamp()
        if event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
            scheduled[event.event_id] = (event.activity_task_scheduled_event_attributes.activity_type.name, at)
        elif event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED:
            name, began = scheduled[event.activity_task_completed_event_attributes.scheduled_event_id]
            count, seconds = spent.get(name, (0, 0.0))
            spent[name] = (count + 1, seconds + at - began)
    return spent


async def run(claims: int, server_url: str, seed: Any, build: Any) -> None:
    from tests.support.dev_stack import free_port

    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(home=Path(tmp), database_url=server_url, temporal_port=free_port(), temporal_ui_port=0)
        container = Container(settings)
        upgrade(container.engine)
        began = time.perf_counter()
        payer_code, ids = seed(container.engine, claims)
        remittance = build(container.engine, payer_code, ids)
        x12 = write_835(
            [remittance],
            sender=Party("ZZ", "BENCHPAYER"),
            receiver=Party("ZZ", "BENCHPRACTICE"),
            control=ControlNumbers(1, 1),
        )
        print(
            f"seeded {len(ids):,} submitted claims and wrote their 835 ({len(x12) / 1e6:.1f} MB) "
            f"in {time.perf_counter() - began:.0f} s ({_uptime()})",
            flush=True,
        )
        async with dev_server_for(settings, ui=False) as server:
            client = await connect(settings, target=server.target)
            await ensure_search_attributes(client)
            async with Worker(
                client,
                task_queue=c.REVENUE_TASK_QUEUE,
                workflows=list(WORKFLOWS),
                activities=_activities(container, client),
                workflow_runner=workflow_runner(),
                max_concurrent_workflow_tasks=settings.worker_workflow_task_slots,
                activity_executor=_executor(),
            ):
                await _drive(client, container, ids, x12, claims)
        container.close()


def _executor() -> Any:
    from concurrent.futures import ThreadPoolExecutor

    return ThreadPoolExecutor(max_workers=16)


async def _drive(client: Client, container: Container, ids: list[str], x12: str, claims: int) -> None:
    concurrency = container.settings.posting_tell_concurrency
    print(f"starting {claims:,} Claim workflows; posting.tell {concurrency} at once ({_uptime()})", flush=True)
    began = time.perf_counter()
    semaphore = asyncio.Semaphore(64)

    async def start(claim_id: str) -> None:
        async with semaphore:
            await client.start_workflow(
                "Claim", c.ClaimInput(claim_id, POLICY), id=claim_workflow_id(claim_id), task_queue=c.REVENUE_TASK_QUEUE
            )

    await asyncio.gather(*(start(i) for i in ids))
    waiting = "WorkflowType = 'Claim' AND Stage = 'awaiting_remittance' AND ExecutionStatus = 'Running'"
    await _until(client, waiting, claims, "Claim workflows awaiting their remittance", 4 * 3600)
    print(f"all {claims:,} waiting after {time.perf_counter() - began:.0f} s ({_uptime()})", flush=True)

    remittances = parse_835(x12)
    began = time.perf_counter()
    delivery = await hand_in(client, container, x12, remittances, policy=POLICY)
    assert delivery.started
    posting = client.get_workflow_handle(delivery.workflow_id, result_type=c.PostingResult)
    result = await posting.result()
    posted_after = time.perf_counter() - began
    print(
        f"PaymentPosting done after {posted_after:.1f} s: posted {result.posted_cents / 100:,.2f}, "
        f"{result.kept_claims or len(result.claims):,} claims, kept {result.kept:,} to tell ({_uptime()})",
        flush=True,
    )
    done = "WorkflowType = 'Claim' AND ExecutionStatus = 'Completed'"
    await _until(client, done, claims, "Claim workflows that heard their payment and ended", 4 * 3600)
    told_after = time.perf_counter() - began

    again = await hand_in(client, container, x12, remittances, policy=POLICY)
    postings = await _count(client, "WorkflowType = 'PaymentPosting'")

    with container.uow() as uow:
        report = run_ledger_checks(uow.session)
        trial_balance = sum(balances_by_account(uow.session).values())
    paid = 0
    for claim_id in ids:
        outcome = await client.get_workflow_handle(claim_workflow_id(claim_id), result_type=c.ClaimResult).result()
        paid += outcome.status in ("paid", "partially_paid")
    lengths: dict[str, list[tuple[int, str]]] = {}
    statuses: dict[str, Counter[str]] = {}
    for kind in ("PaymentPosting", "Claim", "PatientCollections"):
        lengths[kind], statuses[kind] = await _history_lengths(client, kind)
    state = await posting.query("state")
    spent = await _activity_seconds(client, delivery.workflow_id)

    print()
    print(f"ERA of {claims:,} claims through the workflows ({_uptime()}, {os.cpu_count()} cores):")
    print(f"  hand-in -> PaymentPosting done:        {posted_after:7.1f} s  ({claims / posted_after:,.0f} claims/s)")
    print(f"  hand-in -> last Claim workflow ended:  {told_after:7.1f} s  ({claims / told_after:,.0f} claims/s)")
    for kind, found in lengths.items():
        if found:
            top, top_id = found[0]
            print(
                f"  {kind}: {len(found):,} runs ({dict(statuses[kind])}); largest history {top:,} events "
                f"({top_id[:40]}), median {found[len(found) // 2][0]:,}"
            )
    for name, (count, seconds) in spent.items():
        print(f"  {name}: {count} activit{'y' if count == 1 else 'ies'}, {seconds:7.1f} s scheduled to completed")
    runs = len(lengths["PaymentPosting"])
    print(
        f"  PaymentPosting runs (continue-as-new would add runs): {runs}; its query: claims {state['claims']:,}, "
        f"told {state['claims_told']:,}, reopened {state['reopened_count']}"
    )
    largest = max(found[0][0] for found in lengths.values() if found)
    print(f"  largest history of the run: {largest:,} events (limit 10,000 in this issue; Temporal warns at 10,240)")
    print(
        f"  ledger checks {'ok' if report.ok else 'FAILED'}, trial balance {trial_balance} cents "
        f"({'balanced' if report.ok and trial_balance == 0 else 'NOT balanced'})"
    )
    print(f"  re-post of the same 835: started={again.started} (already posted), PaymentPosting executions {postings}")
    print(f"  Claim workflows ended paid: {paid:,} / {claims:,}")


def through_workflows(claims: int, seed: Any, build_remittance: Any) -> None:
    """``seed`` and ``build_remittance``: bench/posting.py's (the same claims and 835 as its in-process figures)."""
    from tests.support import postgres

    server = postgres.start()
    try:
        from sqlalchemy import text

        from domain.store.engine import make_engine

        admin = make_engine(server.admin_url, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text("CREATE DATABASE bench_workflows"))
        admin.dispose()
        asyncio.run(run(claims, server.url("bench_workflows"), seed, build_remittance))
    finally:
        server.stop()


__all__ = ["through_workflows"]
