"""Benchmark: revenue-cycle journeys on the Temporal dev server against a bare ceiling measured in the same run.

A journey is the real workflow tree (PatientRegistration -> EligibilityCheck -> Encounter -> Claim, the
remittance through PaymentPosting) with instant activities registered under the real names, so what is
measured is the orchestration: workflows, child workflows, signals, timers, work the worker does. The
ceiling is a bare workflow running the same number of no-op activities, one after the other, the same number
of times, on the same server and worker settings.

    .venv/bin/python bench/revenue_cycle.py [--journeys 200] [--concurrency 50] [--rounds 4]

The journeys and the bare workflows run in alternating rounds (J B, then B J, ...), so load from elsewhere on a
shared machine weighs on both sides alike. Prints journeys/s, the ratio to the bare ceiling (goal >= 0.6) with
its spread over the rounds, p50/p95 journey latency in engine time (workflow start to close, from the
histories), and where the time goes: CPU seconds per journey and per bare workflow of the worker (this process)
and of the dev server (/proc), and the dev server's persistence requests per journey and per bare workflow.

The workflow sandbox runs the workflow modules afresh for each workflow it starts, from code the worker compiles
once when it starts (workers.temporal.workflow_code; the bench pins its bare workflow's module the same way). A
deployed install has their bytecode (.pyc); a checkout run with PYTHONDONTWRITEBYTECODE=1 (as on the shared dev
machine) compiles from source at that start. The bench keeps bytecode in a private temporary pycache
(``sys.pycache_prefix``, nothing written to the tree) as a deployed install would; ``--no-bytecode-cache`` measures
without it.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import resource
import shutil
import statistics
import sys
import tempfile
import time
import urllib.request
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

if "--no-bytecode-cache" not in sys.argv and sys.dont_write_bytecode:
    # As a deployed install (bytecode compiled at install time): see the module docstring. Set before any import
    # of ours so the sandbox's per-workflow imports find the bytecode the warm-up wrote.
    sys.dont_write_bytecode = False
    sys.pycache_prefix = tempfile.mkdtemp(prefix="carecycle-bench-pycache-")

from temporalio import activity
from temporalio.client import Client
from temporalio.worker import Worker

from activities.contracts import revenue as c
from activities.contracts import workitems as wi
from bench._costs import workflow_costs
from bench._revenue_bare import BareWorkflow, noop
from flows.revenue import WORKFLOWS, PaymentPostingWorkflow, encounter_workflow_id, registration_workflow_id
from flows.revenue.posting import POSTING_STARTS_AT, posting_workflow_id
from flows.revenue.registration import REGISTRATION_STARTS_AT
from intake.processes import ENCOUNTER, REGISTERS, REGISTRATION, PendingStart, TemporalStarter
from workers.registry import workflow_runner
from workers.settings import Settings
from workers.temporal import dev_server_for
from workers.temporal.dev_server import DevServer
from workers.temporal.search_attributes import ensure_search_attributes
from workers.temporal.workflow_code import pin_workflow_code

POLICY = c.RevenuePolicy(day_seconds=1.0)
SEPARATE_SHAPE = "intake-separate"  # the patient and its visit in two intake units (an HL7 ADT, then the visit)
INTAKE_SHAPE = "intake"  # a 30 s follow-up window: the 835 always comes first


class _Payer:
    """The payer's side of ``--claims-per-835``: it adjudicates each submitted claim at once and sends an 835 for
    every ``per_835`` claims (a payer pays in cycles, one 835 per payer, payee and submitter for all the claims it
    adjudicated: sandbox/clearinghouse/release.py), or for fewer once ``flush_seconds`` pass with no full file.
    Remittance intake starts a PaymentPosting per 835, which signals each claim it pays. The 835's key names its
    claims (``+``-joined; one claim: its id, as before), so any worker process's posting activity can answer it."""

    def __init__(self, client: Client, queue: str, per_835: int, flush_seconds: float = 0.5) -> None:
        self.client, self.queue, self.per_835, self.flush_seconds = client, queue, max(1, per_835), flush_seconds
        self.pending: list[str] = []
        self.flusher: asyncio.Task[None] | None = None
        self.starts: set[asyncio.Task[None]] = set()

    async def adjudicated(self, claim_id: str) -> None:
        """One claim adjudicated: with one claim per 835 its posting starts now, else when the file fills."""
        if self.per_835 == 1:
            await self._send((claim_id,))
            return
        self.pending.append(claim_id)
        if len(self.pending) >= self.per_835:
            self._release()
        elif self.flusher is None:
            self.flusher = asyncio.create_task(self._flush_later())

    async def _flush_later(self) -> None:
        await asyncio.sleep(self.flush_seconds)
        self.flusher = None
        self._release()

    def _release(self) -> None:
        if self.flusher is not None:
            self.flusher.cancel()
            self.flusher = None
        claims, self.pending = tuple(self.pending), []
        if claims:
            task = asyncio.create_task(self._send(claims))
            self.starts.add(task)
            task.add_done_callback(self.starts.discard)

    async def _send(self, claims: tuple[str, ...]) -> None:
        key = "+".join(claims)
        await self.client.start_workflow(
            PaymentPostingWorkflow.run,
            c.PostingInput(key, POLICY),
            id=posting_workflow_id(key),
            task_queue=self.queue,
            search_attributes=POSTING_STARTS_AT,  # as remittance intake starts it
        )

    @staticmethod
    def claims_of(remittance_key: str) -> tuple[str, ...]:
        return tuple(remittance_key.split("+"))


def _instant_activities(payer: _Payer) -> list[Any]:
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
        # The payer adjudicates at once and its 835 comes at once or with the next ones: remittance intake starts
        # the posting of it.
        await payer.adjudicated(data.claim_id)
        return c.SubmitResult(data.claim_id, "000000001", f"b-{data.claim_id}", data.frequency_code)

    @activity.defn(name=c.CLAIMS_ACKNOWLEDGMENTS)
    async def acks(query: c.AckQuery) -> c.AckResult:
        return c.AckResult(query.claim_id, "accepted")

    @activity.defn(name=c.POSTING_POST_REMITTANCE)
    async def post(ref: c.RemittanceRef) -> c.PostingResult:
        key = ref.remittance_key
        outcomes = tuple(
            c.ClaimOutcome(claim, key, "paid", 9000, 2500, ("CO-45", "PR-2")) for claim in payer.claims_of(key)
        )
        return c.PostingResult(key, False, "SBXBM", 9000 * len(outcomes), outcomes, (), ())

    return [
        open_item, record, escalate, validate, eligibility, record_eligibility, billable, prepare,
        create, charge, scrub, submit, acks, post,
    ]  # fmt: skip


def _worker(client: Client, queue: str, slots: int, payer: _Payer) -> Worker:
    """One worker process's worker: the revenue workflows and the bare one, instant activities."""
    return Worker(
        client,
        task_queue=queue,
        workflows=[*WORKFLOWS, BareWorkflow],
        activities=[*_instant_activities(payer), noop],
        workflow_runner=_runner(),
        max_concurrent_activities=100,
        max_concurrent_workflow_tasks=slots,
        **_knob_options(),
    )


def _knob_options() -> dict[str, Any]:
    """``BENCH_WORKER_OPTS``: further Worker options as JSON, to measure a tuning lever on both sides at once
    (bench/README.md); a poller behaviour may be given as "autoscaling", the sticky timeout in seconds."""
    import json
    from datetime import timedelta

    from temporalio.worker import PollerBehaviorAutoscaling

    options: dict[str, Any] = json.loads(os.environ.get("BENCH_WORKER_OPTS", "{}"))
    if "sticky_queue_schedule_to_start_timeout" in options:
        seconds = options["sticky_queue_schedule_to_start_timeout"]
        options["sticky_queue_schedule_to_start_timeout"] = timedelta(seconds=seconds)
    for key in ("workflow_task_poller_behavior", "activity_task_poller_behavior"):
        if options.get(key) == "autoscaling":
            options[key] = PollerBehaviorAutoscaling()
    return options


async def _serve_worker(target: str, queue: str, slots: int, per_835: int) -> None:
    """``--serve-worker``: a further worker process on the bench's queue, until it is terminated."""
    import signal

    client = await Client.connect(target)
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    try:
        async with _worker(client, queue, slots, _Payer(client, queue, per_835)):
            print("ready", flush=True)
            await stop.wait()
    finally:
        if sys.pycache_prefix and sys.pycache_prefix.startswith(tempfile.gettempdir()):
            shutil.rmtree(sys.pycache_prefix, ignore_errors=True)


class _ExtraWorkers:
    """``count`` further worker processes (this file with ``--serve-worker``) polling the bench's queue."""

    def __init__(self, target: str, queue: str, count: int, slots: int, per_835: int) -> None:
        self.command = [sys.executable, __file__, "--serve-worker", target, queue, "--slots", str(slots)]
        self.command += ["--claims-per-835", str(per_835)]
        self.count = count
        self.processes: list[asyncio.subprocess.Process] = []

    async def __aenter__(self) -> _ExtraWorkers:
        for _ in range(self.count):
            process = await asyncio.create_subprocess_exec(*self.command, stdout=asyncio.subprocess.PIPE)
            self.processes.append(process)
            assert process.stdout is not None
            await asyncio.wait_for(process.stdout.readline(), 120)  # "ready": its worker polls
        return self

    async def __aexit__(self, *exc: object) -> None:
        for process in self.processes:
            process.terminate()
        for process in self.processes:
            await process.wait()

    def cpu_seconds(self) -> float:
        total = 0.0
        for process in self.processes:
            with open(f"/proc/{process.pid}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        return total


def _extra_workers(target: str, queue: str, count: int, slots: int, per_835: int) -> _ExtraWorkers:
    return _ExtraWorkers(target, queue, count, slots, per_835)


def _runner() -> Any:
    """The workers' sandboxed runner; BENCH_PASSTHROUGH_FLOWS=1 also passes the deterministic flows through."""
    import os

    from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, SandboxRestrictions

    if os.environ.get("BENCH_PASSTHROUGH_FLOWS") == "1":
        restrictions = SandboxRestrictions.default.with_passthrough_modules("domain", "activities.contracts", "flows")
        return SandboxedWorkflowRunner(restrictions=restrictions)
    pin_workflow_code(("bench",))  # the bare workflow's module compiled once, as workflow_runner does the product's
    return workflow_runner()


async def _run_batch(starts: list[Any], concurrency: int, timeout: float) -> float:
    gate = asyncio.Semaphore(concurrency)

    async def one(start: Any) -> None:
        async with gate:
            await start()

    began = time.perf_counter()
    # A workflow task that keeps failing (code changed under the bench) would otherwise wait forever.
    await asyncio.wait_for(asyncio.gather(*(one(s) for s in starts)), timeout)
    return time.perf_counter() - began


class _MeteredDevServer(DevServer):
    """The product's dev server (same flags) with its Prometheus endpoint on a known port, for the breakdown."""

    def __init__(self, base: DevServer, metrics_port: int) -> None:
        super().__init__(db_file=base.db_file, host=base.host, port=base.port, ui_port=None, log_file=base.log_file)
        self.metrics_port = metrics_port

    def command(self) -> list[str]:
        # BENCH_DEV_CONFIG: further dynamic-config values (KEY=JSON, space-separated) for a server-side lever.
        extra = [f for v in os.environ.get("BENCH_DEV_CONFIG", "").split() for f in ("--dynamic-config-value", v)]
        return [*super().command(), "--metrics-port", str(self.metrics_port), *extra]

    def cpu_seconds(self) -> float:
        assert self.pid is not None
        with open(f"/proc/{self.pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def persistence_requests(self) -> Counter[str]:
        with urllib.request.urlopen(f"http://{self.host}:{self.metrics_port}/metrics", timeout=10) as response:
            text = response.read().decode()
        requests: Counter[str] = Counter()
        for line in text.splitlines():
            if line.startswith("persistence_requests{"):
                operation = re.search(r'operation="([^"]+)"', line)
                requests[operation.group(1) if operation else "?"] += int(float(line.rsplit(" ", 1)[1]))
        return requests


@dataclass
class _Side:
    """One side (journeys or bare workflows) summed over the rounds."""

    units: int = 0
    seconds: float = 0.0
    worker_cpu: float = 0.0
    server_cpu: float = 0.0
    requests: Counter[str] = field(default_factory=Counter)
    round_rates: list[float] = field(default_factory=list)

    @property
    def per_second(self) -> float:
        return self.units / self.seconds


def _process_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def _measure(
    side: _Side, server: _MeteredDevServer, extra: _ExtraWorkers, starts: list[Any], concurrency: int
) -> None:
    requests0, server0 = server.persistence_requests(), server.cpu_seconds()
    worker0 = _process_cpu() + extra.cpu_seconds()
    seconds = await _run_batch(starts, concurrency, timeout=60.0 + 10.0 * len(starts))
    side.worker_cpu += _process_cpu() + extra.cpu_seconds() - worker0
    side.server_cpu += server.cpu_seconds() - server0
    side.requests += server.persistence_requests() - requests0
    side.units += len(starts)
    side.seconds += seconds
    side.round_rates.append(len(starts) / seconds)


async def _engine_latency(client: Client, workflow_id: str) -> float:
    history = await client.get_workflow_handle(workflow_id).fetch_history()
    events = history.events
    return (events[-1].event_time.ToDatetime() - events[0].event_time.ToDatetime()).total_seconds()


def _roots(patient: str, shape: str) -> list[str]:
    """The workflows a journey's starter starts: intake's one (``--shape intake``: the visit's Encounter, which
    registers the new patient) or two (``--shape intake-separate``), or the registration alone (``tree``)."""
    if shape == INTAKE_SHAPE:
        return [encounter_workflow_id(f"ap-{patient}")]
    if shape == SEPARATE_SHAPE:
        return [registration_workflow_id(patient), encounter_workflow_id(f"ap-{patient}")]
    return [registration_workflow_id(patient)]


async def _journey_parts(client: Client, patient: str, shape: str) -> tuple[list[str], dict[str, int]]:
    """The workflows of one journey: what its starter started, their children and theirs (read from the histories,
    so a journey that runs a step inline counts no execution for it); and the postings that paid its claims (the
    signallers of its claims' remittance signals), each with the number of claims its 835 paid, to share it out."""
    ids, postings, pending = [], {}, _roots(patient, shape)
    while pending:
        workflow_id = pending.pop(0)
        ids.append(workflow_id)
        history = await client.get_workflow_handle(workflow_id).fetch_history()
        for e in history.events:
            if e.HasField("start_child_workflow_execution_initiated_event_attributes"):
                pending.append(e.start_child_workflow_execution_initiated_event_attributes.workflow_id)
            elif e.HasField("workflow_execution_signaled_event_attributes"):
                sender = e.workflow_execution_signaled_event_attributes.external_workflow_execution.workflow_id
                if sender.startswith("posting-"):
                    postings[sender] = len(_Payer.claims_of(sender.removeprefix("posting-")))
    return ids, postings


async def _journey_costs(client: Client, patients: list[str], shape: str) -> Counter[str]:
    """The histories' costs of these journeys: their own workflows', and of each posting the share of its claims."""
    total: Counter[str] = Counter()
    for patient in patients:
        ids, postings = await _journey_parts(client, patient, shape)
        total += await workflow_costs(client, ids)
        for posting, claims in postings.items():
            for key, value in (await workflow_costs(client, [posting])).items():
                total[key] += value / claims  # type: ignore[assignment]
    return total


def _report_costs(journey: Counter[str], bare: Counter[str], sample: int) -> None:
    """Per journey and per bare workflow, from the histories (bench/_costs.py: Temporal Cloud's Actions)."""
    print(f"what one costs (histories of {sample} of each)      per journey   per bare workflow")
    keys = ["executions", "workflow_tasks", "events", "history_bytes", "actions"]
    keys += sorted(k for k in journey.keys() | bare.keys() if k.startswith("action."))
    for key in keys:
        print(f"  {key:<44}{journey[key] / sample:>11.1f}   {bare[key] / sample:>11.1f}")


async def _activities_per_journey(client: Client, patient: str, shape: str, per_835: int) -> int:
    """Activities (normal and local) the whole tree of one journey ran (each workflow's history counted), with the
    share of one claim in a full 835's posting (``per_835`` claims)."""

    async def activities(workflow_id: str) -> int:
        history = await client.get_workflow_handle(workflow_id).fetch_history()
        return sum(
            1
            for e in history.events
            if e.HasField("activity_task_completed_event_attributes")
            or (
                e.HasField("marker_recorded_event_attributes")
                and "local_activity" in e.marker_recorded_event_attributes.marker_name
            )
        )

    ids, postings = await _journey_parts(client, patient, shape)
    own = sum([await activities(i) for i in ids])
    return own + round(sum([await activities(p) for p in postings]) / per_835)


def _journey_starter(client: Client, queue: str, shape: str) -> Any:
    """One journey, started as the product starts it and awaited to its end.

    ``intake`` (the default): through intake's ``TemporalStarter``, the one front door's starter, as a new patient and
    its fulfilled visit reach it in one unit (a FHIR transaction of both, as the demo sends): the visit's
    Encounter alone, which runs the patient's registration beside its billing (``register_patient``).
    ``intake-separate``: the patient and the visit in two units (an HL7 ADT registers the patient, the visit comes
    later): PatientRegistration (``bill_encounters=False``) and the visit's Encounter, each a workflow of its own.
    ``tree``: the shape before the front door, which only stored histories and direct starts still take:
    PatientRegistration billing the patient's visits as child Encounters."""
    starter = TemporalStarter(client, POLICY, task_queue=queue)

    async def intake(patient: str) -> None:
        # One unit (a FHIR transaction of both): the new patient's registration folded into its visit's Encounter
        now = datetime.now(UTC)
        appointment = f"ap-{patient}"
        encounter = encounter_workflow_id(appointment)
        await starter.start(PendingStart(f"e-{patient}", ENCOUNTER, appointment, encounter, REGISTERS, now))
        await client.get_workflow_handle(encounter).result()

    async def separate(patient: str) -> None:
        # Two units (an HL7 ADT registers the patient, the visit comes later): two processes
        now = datetime.now(UTC)
        registration, appointment = registration_workflow_id(patient), f"ap-{patient}"
        encounter = encounter_workflow_id(appointment)
        await starter.start(PendingStart(f"r-{patient}", REGISTRATION, patient, registration, "created", now))
        await starter.start(PendingStart(f"e-{patient}", ENCOUNTER, appointment, encounter, "fulfilled", now))
        await asyncio.gather(*(client.get_workflow_handle(i).result() for i in (registration, encounter)))

    async def tree(patient: str) -> None:
        await client.execute_workflow(
            "PatientRegistration",
            c.RegistrationInput(patient, POLICY),
            id=registration_workflow_id(patient),
            task_queue=queue,
            search_attributes=REGISTRATION_STARTS_AT,
        )

    return {INTAKE_SHAPE: intake, SEPARATE_SHAPE: separate}.get(shape, tree)


async def main(
    journeys: int,
    concurrency: int,
    rounds: int,
    workers: int = 1,
    slots: int = 8,
    shape: str = "intake",
    per_835: int = 1,
) -> None:
    from tests.support.dev_stack import free_port  # the bench shares the tests' free-port helper

    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(home=Path(tmp), database_url="sqlite://", temporal_port=free_port(), temporal_ui_port=0)
        async with _MeteredDevServer(dev_server_for(settings, ui=False), free_port()) as server:
            client = await Client.connect(server.target)
            await ensure_search_attributes(client)
            queue = f"bench-{uuid.uuid4()}"
            payer = _Payer(client, queue, per_835)
            extra_workers = _extra_workers(server.target, queue, workers - 1, slots, per_835)
            async with _worker(client, queue, slots, payer), extra_workers as extra:
                # Warm up both paths (sandbox imports, bytecode, connections) before measuring.
                warm = f"warm-{uuid.uuid4()}"
                run_journey = _journey_starter(client, queue, shape)
                await run_journey(warm)
                per_journey = await _activities_per_journey(client, warm, shape, per_835)
                await client.execute_workflow(
                    BareWorkflow.run, per_journey, id=f"bare-warm-{uuid.uuid4()}", task_queue=queue
                )

                def journey(patient: str) -> Any:
                    return lambda: run_journey(patient)

                def bare(workflow_id: str) -> Any:
                    return lambda: client.execute_workflow(
                        BareWorkflow.run, per_journey, id=workflow_id, task_queue=queue
                    )

                patients = [f"p{uuid.uuid4().hex[:12]}" for _ in range(journeys)]
                bare_ids = [f"bare-{uuid.uuid4()}" for _ in range(journeys)]
                journey_side, bare_side = _Side(), _Side()
                size = -(-journeys // rounds)
                for index, first in enumerate(range(0, journeys, size)):
                    batch = patients[first : first + size]
                    runs = [
                        (journey_side, [journey(p) for p in batch]),
                        (bare_side, [bare(bare_id) for bare_id in bare_ids[first : first + size]]),
                    ]
                    for side, starts in runs if index % 2 == 0 else reversed(runs):
                        await _measure(side, server, extra, starts, concurrency)
                latencies = sorted(
                    await asyncio.gather(*(_engine_latency(client, _roots(p, shape)[-1]) for p in patients))
                )
                sample = min(10, journeys)  # the histories of a few journeys and bare workflows, added up
                journey_costs = await _journey_costs(client, patients[:sample], shape)
                bare_costs = await workflow_costs(client, bare_ids[:sample])
                costs = (journey_costs, bare_costs, sample)
    if sys.pycache_prefix and sys.pycache_prefix.startswith(tempfile.gettempdir()):
        shutil.rmtree(sys.pycache_prefix, ignore_errors=True)
    print(
        f"journey shape: {shape}; claims per 835: {per_835}; worker processes: {workers}, "
        f"workflow-task slots per worker: {slots}"
    )
    _report(journeys, concurrency, per_journey, journey_side, bare_side, latencies)
    _report_costs(*costs)


def _report(
    journeys: int, concurrency: int, per_journey: int, journey: _Side, bare: _Side, latencies: list[float]
) -> None:
    ratio = journey.per_second / bare.per_second
    round_ratios = sorted(j / b for j, b in zip(journey.round_rates, bare.round_rates, strict=True))
    p95 = latencies[min(len(latencies) - 1, round(0.95 * (len(latencies) - 1)))]
    bytecode = (
        "private pycache" if sys.pycache_prefix else "none (compiled from source)" if sys.dont_write_bytecode else "on"
    )
    print(
        f"journeys: {journeys} (concurrency {concurrency}, {len(journey.round_rates)} rounds), "
        f"{per_journey} activities per journey; sandbox bytecode: {bytecode}"
    )
    print(f"journeys/s: {journey.per_second:.2f}")
    print(f"bare ceiling ({per_journey} no-op activities per workflow)/s: {bare.per_second:.2f}")
    print(
        f"ratio to the bare ceiling: {ratio:.2f} (goal >= 0.6); per round: "
        + ", ".join(f"{r:.2f}" for r in round_ratios)
    )
    print(f"journey latency in engine time: p50 {statistics.median(latencies):.3f} s, p95 {p95:.3f} s")
    print(
        f"worker CPU seconds per journey (worker and client in this process): {journey.worker_cpu / journey.units:.4f}"
    )
    print("where the time goes        per journey   per bare workflow")
    for label, j, b in [
        ("worker CPU s", journey.worker_cpu / journey.units, bare.worker_cpu / bare.units),
        ("dev server CPU s", journey.server_cpu / journey.units, bare.server_cpu / bare.units),
        (
            "persistence requests",
            sum(journey.requests.values()) / journey.units,
            sum(bare.requests.values()) / bare.units,
        ),
    ]:
        print(f"  {label:<24}{j:>11.3f}   {b:>11.3f}")
    for operation, count in journey.requests.most_common(6):
        print(f"    {operation:<22}{count / journey.units:>11.1f}   {bare.requests[operation] / bare.units:>11.1f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--journeys", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=4, help="alternating journey/bare rounds")
    parser.add_argument(
        "--no-bytecode-cache", action="store_true", help="let the sandbox compile flows from source (see docstring)"
    )
    parser.add_argument("--workers", type=int, default=1, help="worker processes on the queue (this one and more)")
    parser.add_argument(
        "--slots", type=int, help="max concurrent workflow tasks per worker (default: the product's workers')"
    )
    parser.add_argument(
        "--shape",
        choices=(INTAKE_SHAPE, SEPARATE_SHAPE, "tree"),
        default=INTAKE_SHAPE,
        help="how a journey starts: through intake (the product's front door; one unit or two) or as the old tree",
    )
    parser.add_argument(
        "--claims-per-835",
        type=int,
        default=1,
        help="claims a payer pays in one 835 (one PaymentPosting each); 1: every claim its own 835",
    )
    parser.add_argument("--serve-worker", nargs=2, metavar=("TARGET", "QUEUE"), help=argparse.SUPPRESS)
    arguments = parser.parse_args()
    if arguments.slots is None:  # as workers.registry.build_workers: CARECYCLE_WORKFLOW_TASK_SLOTS, 0 the SDK's 100
        product_slots = os.environ.get("CARECYCLE_WORKFLOW_TASK_SLOTS", str(Settings.worker_workflow_task_slots))
        arguments.slots = int(product_slots) or 100
    if arguments.serve_worker:
        target, queue = arguments.serve_worker
        asyncio.run(_serve_worker(target, queue, arguments.slots, max(1, arguments.claims_per_835)))
    else:
        asyncio.run(
            main(
                arguments.journeys,
                arguments.concurrency,
                max(1, arguments.rounds),
                max(1, arguments.workers),
                arguments.slots,
                arguments.shape,
                max(1, arguments.claims_per_835),
            )
        )
