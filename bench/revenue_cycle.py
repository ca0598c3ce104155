"""Benchmark: revenue-cycle journeys on the Temporal dev server against a bare ceiling measured in the same run.

A journey is the real workflow tree (PatientRegistration -> EligibilityCheck -> Encounter -> Claim, the
remittance through PaymentPosting) with instant activities registered under the real names, so what is
measured is the orchestration: workflows, child workflows, signals, timers, work the worker does. The
ceiling is a bare workflow running the same number of no-op activities, one after the other, the same number
of times, on the same server and worker settings.

    .venv/bin/python bench/revenue_cycle.py [--journeys 200] [--concurrency 50]

Prints journeys/s, the ratio to the bare ceiling (goal >= 0.6), p50/p95 journey latency in engine time
(workflow start to close, from the histories) and the worker's CPU seconds per journey.
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from temporalio import activity
from temporalio.client import Client
from temporalio.worker import Worker

from activities.contracts import revenue as c
from activities.contracts import workitems as wi
from bench._revenue_bare import BareWorkflow, noop
from flows.revenue import WORKFLOWS, PaymentPostingWorkflow, registration_workflow_id
from workers.registry import workflow_runner
from workers.settings import Settings
from workers.temporal import dev_server_for
from workers.temporal.search_attributes import ensure_search_attributes

POLICY = c.RevenuePolicy(day_seconds=1.0)  # a 30 s follow-up window: the 835 always comes first


def _instant_activities(queue: str) -> list[Any]:
    """The revenue activities answering at once, as a healthy store and payer would."""

    @activity.defn(name=wi.OPEN)
    async def open_item(data: wi.OpenWorkItemInput) -> wi.OpenedWorkItem:
        return wi.OpenedWorkItem(str(uuid.uuid4()), True)

    @activity.defn(name=wi.RECORD_RESOLUTION)
    async def record(data: wi.RecordResolutionInput) -> None:
        return None

    @activity.defn(name=wi.ESCALATE)
    async def escalate(data: wi.EscalateInput) -> int:
        return data.level

    @activity.defn(name=c.REGISTRATION_VALIDATE)
    async def validate(ref: c.PatientRef) -> c.RegistrationCheck:
        return c.RegistrationCheck(ref.patient_id, f"g-{ref.patient_id}", (f"cov-{ref.patient_id}",))

    @activity.defn(name=c.ELIGIBILITY_CHECK)
    async def eligibility(ref: c.CoverageRef) -> c.EligibilityAnswer:
        return c.EligibilityAnswer(ref.coverage_id, "SBXBM", "active", "clearinghouse", 2500, 0)

    @activity.defn(name=c.ELIGIBILITY_RECORD)
    async def record_eligibility(data: c.EligibilityRecord) -> c.Nothing:
        return c.Nothing()

    @activity.defn(name=c.ENCOUNTER_LIST_BILLABLE)
    async def billable(ref: c.PatientRef) -> c.BillableAppointments:
        return c.BillableAppointments((f"ap-{ref.patient_id}",))

    @activity.defn(name=c.ENCOUNTER_PREPARE)
    async def prepare(ref: c.AppointmentRef) -> c.PreparedEncounter:
        patient = ref.appointment_id.removeprefix("ap-")
        return c.PreparedEncounter(f"en-{patient}", patient, f"g-{patient}", True, None, "payer")

    @activity.defn(name=c.CLAIMS_CREATE)
    async def create(ref: c.EncounterRef) -> c.CreatedClaim:
        return c.CreatedClaim(f"cl-{ref.encounter_id.removeprefix('en-')}", "payer")

    @activity.defn(name=c.POSTING_CHARGE)
    async def charge(data: c.PatientCharge) -> c.ChargeResult:
        return c.ChargeResult(data.encounter_id, "g", 13500)

    @activity.defn(name=c.CLAIMS_SCRUB)
    async def scrub(ref: c.ClaimRef) -> c.ScrubResult:
        return c.ScrubResult(ref.claim_id, "SBXBM", True, (), 30, 170, 13500)

    @activity.defn(name=c.CLAIMS_SUBMIT)
    async def submit(data: c.ClaimCorrection) -> c.SubmitResult:
        # The payer answers with an 835 at once: remittance intake starts the posting of it.
        await activity.client().start_workflow(
            PaymentPostingWorkflow.run,
            c.PostingInput(data.claim_id, POLICY),
            id=f"posting-{data.claim_id}",
            task_queue=queue,
        )
        return c.SubmitResult(data.claim_id, "000000001", f"b-{data.claim_id}", data.frequency_code)

    @activity.defn(name=c.CLAIMS_ACKNOWLEDGMENTS)
    async def acks(query: c.AckQuery) -> c.AckResult:
        return c.AckResult(query.claim_id, "accepted")

    @activity.defn(name=c.POSTING_POST_REMITTANCE)
    async def post(ref: c.RemittanceRef) -> c.PostingResult:
        outcome = c.ClaimOutcome(ref.remittance_key, ref.remittance_key, "paid", 9000, 2500, ("CO-45", "PR-2"))
        return c.PostingResult(ref.remittance_key, False, "SBXBM", 9000, (outcome,), (), ())

    return [
        open_item, record, escalate, validate, eligibility, record_eligibility, billable, prepare,
        create, charge, scrub, submit, acks, post,
    ]  # fmt: skip


def _runner() -> Any:
    """The workers' sandboxed runner; BENCH_PASSTHROUGH_FLOWS=1 also passes the deterministic flows through."""
    import os

    from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, SandboxRestrictions

    if os.environ.get("BENCH_PASSTHROUGH_FLOWS") == "1":
        restrictions = SandboxRestrictions.default.with_passthrough_modules("domain", "activities.contracts", "flows")
        return SandboxedWorkflowRunner(restrictions=restrictions)
    return workflow_runner()


async def _run_batch(client: Client, starts: list[Any], concurrency: int) -> float:
    gate = asyncio.Semaphore(concurrency)

    async def one(start: Any) -> None:
        async with gate:
            await start()

    began = time.perf_counter()
    await asyncio.gather(*(one(s) for s in starts))
    return time.perf_counter() - began


async def _engine_latency(client: Client, workflow_id: str) -> float:
    history = await client.get_workflow_handle(workflow_id).fetch_history()
    events = history.events
    return (events[-1].event_time.ToDatetime() - events[0].event_time.ToDatetime()).total_seconds()


async def _activities_per_journey(client: Client, patient: str) -> int:
    """Activities (normal and local) the whole tree of one journey ran (each workflow's history counted)."""
    total = 0
    ids = [registration_workflow_id(patient), f"eligibility-cov-{patient}", f"encounter-ap-{patient}"]
    ids += [f"claim-cl-{patient}", f"posting-cl-{patient}"]
    for workflow_id in ids:
        history = await client.get_workflow_handle(workflow_id).fetch_history()
        total += sum(
            1
            for e in history.events
            if e.HasField("activity_task_completed_event_attributes")
            or (
                e.HasField("marker_recorded_event_attributes")
                and "local_activity" in e.marker_recorded_event_attributes.marker_name
            )
        )
    return total


async def main(journeys: int, concurrency: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        from tests.support.dev_stack import free_port  # the bench shares the tests' free-port helper

        settings = Settings(home=Path(tmp), database_url="sqlite://", temporal_port=free_port(), temporal_ui_port=0)
        async with dev_server_for(settings, ui=False) as server:
            client = await Client.connect(server.target)
            await ensure_search_attributes(client)
            queue = f"bench-{uuid.uuid4()}"
            async with Worker(
                client,
                task_queue=queue,
                workflows=[*WORKFLOWS, BareWorkflow],
                activities=[*_instant_activities(queue), noop],
                workflow_runner=_runner(),
                max_concurrent_activities=100,
                max_concurrent_workflow_tasks=100,
            ):
                # Warm up both paths (sandbox imports, connections) before measuring.
                warm = f"warm-{uuid.uuid4()}"
                await client.execute_workflow(
                    "PatientRegistration",
                    c.RegistrationInput(warm, POLICY),
                    id=registration_workflow_id(warm),
                    task_queue=queue,
                )
                per_journey = await _activities_per_journey(client, warm)
                await client.execute_workflow(
                    BareWorkflow.run, per_journey, id=f"bare-warm-{uuid.uuid4()}", task_queue=queue
                )

                patients = [f"p{uuid.uuid4().hex[:12]}" for _ in range(journeys)]
                cpu0 = resource.getrusage(resource.RUSAGE_SELF)
                journey_seconds = await _run_batch(
                    client,
                    [
                        lambda p=p: client.execute_workflow(  # type: ignore[misc]
                            "PatientRegistration",
                            c.RegistrationInput(p, POLICY),
                            id=registration_workflow_id(p),
                            task_queue=queue,
                        )
                        for p in patients
                    ],
                    concurrency,
                )
                cpu1 = resource.getrusage(resource.RUSAGE_SELF)
                bare_ids = [f"bare-{uuid.uuid4()}" for _ in range(journeys)]
                bare_seconds = await _run_batch(
                    client,
                    [
                        lambda i=i: client.execute_workflow(BareWorkflow.run, per_journey, id=i, task_queue=queue)  # type: ignore[misc]
                        for i in bare_ids
                    ],
                    concurrency,
                )
                latencies = sorted(
                    await asyncio.gather(*(_engine_latency(client, registration_workflow_id(p)) for p in patients))
                )
    cpu = (cpu1.ru_utime + cpu1.ru_stime) - (cpu0.ru_utime + cpu0.ru_stime)
    journeys_per_second = journeys / journey_seconds
    bare_per_second = journeys / bare_seconds
    p95 = latencies[min(len(latencies) - 1, round(0.95 * (len(latencies) - 1)))]
    print(f"journeys: {journeys} (concurrency {concurrency}), {per_journey} activities per journey")
    print(f"journeys/s: {journeys_per_second:.2f}")
    print(f"bare ceiling ({per_journey} no-op activities per workflow)/s: {bare_per_second:.2f}")
    print(f"ratio to the bare ceiling: {journeys_per_second / bare_per_second:.2f} (goal >= 0.6)")
    print(f"journey latency in engine time: p50 {statistics.median(latencies):.3f} s, p95 {p95:.3f} s")
    print(f"worker CPU seconds per journey (worker and client in this process): {cpu / journeys:.4f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--journeys", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=50)
    arguments = parser.parse_args()
    asyncio.run(main(arguments.journeys, arguments.concurrency))
