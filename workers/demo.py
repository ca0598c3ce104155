"""The main job: a synthetic practice through the whole revenue cycle on the embedded stack, through its doors.

``run_demo`` brings up Temporal (dev server from the wheel), the sandbox clearinghouse and payers, the workers
and the integration API; migrates the store and seeds the practice's set-up (practice, locations, providers,
payers, staff) if it is empty; loads the payers' rosters of their own members; sends every patient, coverage,
appointment and finished encounter as FHIR transaction Bundles to the API over HTTP with an API client of its
own (``workers.demo_fhir``), and some visits and their charges as HL7 SIU^S12 and DFT^P03 over MLLP to the HL7
listener (``workers.demo_hl7``), so intake starts each journey (the visit's Encounter -> Claim, which registers
the new patient too; PatientRegistration for a patient whose visit comes by HL7); starts remittance intake;
optionally lets a scripted biller resolve work items through the same ``resolve``
Update a person uses; and returns the summary. Nothing here writes a patient or a visit, or starts a patient's
workflow.

Business time is compressed through the workflows' ``RevenuePolicy.day_seconds`` and the sandbox's
``time_scale`` (both SECONDS_PER_DAY): no clock is touched. Because a workflow keeps its speed for life, the demo
runs in a home of its own (``demo_settings``: ``$CARECYCLE_HOME/demo``, its own SQLite store, dev server,
sandbox and local documents), marked compressed (workers.clock): a practice's home never runs at demo speed.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from sqlalchemy.exc import OperationalError
from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.service import RPCError

from activities.contracts import revenue as c
from domain.actors import acting_as
from workers.composition import Container
from workers.demo_biller import resolve_open_items
from workers.demo_fhir import DemoPractice, Sent
from workers.demo_hl7 import Hl7Sent
from workers.demo_portal import PortalCycle, SandboxPortal, workflow_status
from workers.demo_running import describe_running
from workers.demo_store import (
    demo_api_token,
    load_rosters,
    patients_pay,
    payer_routings,
    prepare_store,
    store_progress,
    store_summary,
)
from workers.settings import Settings
from workers.temporal.schedules import apply_schedules

log = logging.getLogger("carecycle.demo")

DEFAULT_PATIENTS = 24
DEFAULT_SEED = 7
DEFAULT_TIME_SCALE = 0.3  # real seconds per business day: a 30-day follow-up window takes 9 s

RUNNING = WorkflowExecutionStatus.RUNNING
FAILED_STATES = (
    WorkflowExecutionStatus.FAILED,
    WorkflowExecutionStatus.TERMINATED,
    WorkflowExecutionStatus.TIMED_OUT,
    WorkflowExecutionStatus.CANCELED,
)


@dataclass(frozen=True)
class DemoOptions:
    patients: int = DEFAULT_PATIENTS
    seed: int = DEFAULT_SEED
    time_scale: float = DEFAULT_TIME_SCALE
    auto_resolve: bool = False
    run_workers: bool = True  # False: workers run elsewhere (`carecycle worker`), e.g. the fault test
    max_seconds: float | None = None  # stop waiting after this long and report what still waits (None: wait_for)
    stall_seconds: float = 20.0  # without auto-resolve: nothing moved this long and work items wait: done


def wait_for(patients: int) -> float:
    """The default wait for a practice of ``patients``: the 24-patient demo's 170 s, growing with the practice,
    since one worker process and one dev server take the journeys through at a pace of their own."""
    return 110.0 + 2.5 * patients


@dataclass
class Progress:
    started: int = 0
    completed: int = 0
    waiting: int = 0
    failed: int = 0
    open_items: dict[str, int] = field(default_factory=dict)
    resolved: int = 0
    running: list[dict[str, Any]] = field(default_factory=list)  # the unfinished journeys, when the demo stopped


def demo_settings(settings: Settings, home: Path, time_scale: float) -> Settings:
    """The demo's own world in ``home``: nothing of the practice's configuration is used (its store, cluster,
    clearinghouse, portal logins or S3 bucket), so a demo never writes synthetic claims into a practice's
    systems nor compressed timers into its workflows."""
    return replace(
        settings,
        home=home,
        database_url=f"sqlite:///{home / 'carecycle.db'}",
        temporal_address=None,
        temporal_namespace="default",
        temporal_api_key=None,
        temporal_tls_cert=None,
        temporal_tls_key=None,
        temporal_tls_ca=None,
        clearinghouse_url=None,
        clearinghouse_token=None,
        portal_url=None,
        portal_secrets_file=None,
        portal_credentials_env={},
        documents_backend="local",
        business_day_seconds=time_scale,
        sandbox_time_scale=time_scale,
    )


def demo_policy(time_scale: float) -> c.RevenuePolicy:
    return c.RevenuePolicy(day_seconds=time_scale)


# --- the run ------------------------------------------------------------------------------------------------


async def _with_retries(read: Callable[[], dict[str, Any]], attempts: int = 10) -> dict[str, Any]:
    """A read of the store, tried again while SQLite reports it busy (every transaction takes the write lock)."""
    for attempt in range(attempts):
        try:
            return await asyncio.to_thread(read)
        except OperationalError:
            if attempt == attempts - 1:
                raise
            await asyncio.sleep(1.0)
    raise AssertionError("unreachable")


async def _statuses(client: Client, ids: list[str]) -> list[WorkflowExecutionStatus | None]:
    return list(await asyncio.gather(*(workflow_status(client, wf_id) for wf_id in ids)))


async def _running(client: Client, workflow_type: str) -> int:
    count = 0
    async for _ in client.list_workflows(f"WorkflowType = '{workflow_type}' AND ExecutionStatus = 'Running'"):
        count += 1
    return count


async def _settling_outside_journeys(client: Client) -> int:
    """Collections, and claims outside the journeys (secondary claims a crossover started): the run waits for them."""
    return await _running(client, "PatientCollections") + await _running(client, "Claim")


async def start_remittance_intake(client: Client, options: DemoOptions) -> None:
    """The clearinghouse's 835s polled by RemittanceIntake (not a patient's process), started as ``up`` starts it,
    at the demo's speed."""
    from workers.remittances import start_intake

    await start_intake(client, demo_policy(options.time_scale))


def _journey_counts(
    journeys: list[tuple[str, ...]], statuses: dict[str, WorkflowExecutionStatus | None]
) -> tuple[int, int]:
    """(completed, failed) journeys: completed when every workflow of it completed, failed when one failed."""
    completed = failed = 0
    for journey in journeys:
        states = [statuses.get(workflow_id) for workflow_id in journey]
        if any(state in FAILED_STATES for state in states):
            failed += 1
        elif all(state == WorkflowExecutionStatus.COMPLETED for state in states):
            completed += 1
    return completed, failed


async def drive(
    client: Client,
    container: Container,
    journeys: list[tuple[str, ...]],
    options: DemoOptions,
    on_progress: Callable[[Progress], None] | None = None,
    portal_cycle: PortalCycle | None = None,
) -> Progress:
    """Follow the journeys the front door started (each patient's registration and visit), resolve items if asked,
    and wait until all settle. The demo starts no patient's workflow: intake did, behind the API."""
    from flows.revenue import INTAKE_WORKFLOW_ID

    ids = [workflow_id for journey in journeys for workflow_id in journey]
    closed: dict[str, WorkflowExecutionStatus | None] = {}  # a closed workflow is never asked about again
    max_seconds = options.max_seconds if options.max_seconds is not None else wait_for(len(journeys))
    progress = Progress(started=len(journeys))
    since = datetime.now(UTC)
    began = time.monotonic()
    last_change = began
    previous: tuple[int, int, int, int] = (-1, -1, -1, -1)
    while True:
        await asyncio.sleep(1.0)
        await _act_for_people(client, container, options, portal_cycle, progress, since)
        await _close_finished(client, ids, closed)
        statuses = {workflow_id: closed.get(workflow_id, RUNNING) for workflow_id in ids}
        progress.completed, progress.failed = _journey_counts(journeys, statuses)
        progress.waiting = len(journeys) - progress.completed - progress.failed
        try:
            progress.open_items, postings = await asyncio.to_thread(store_progress, container)
        except OperationalError:  # a busy SQLite store: look again next second
            continue
        collections = await _settling_outside_journeys(client)
        if on_progress is not None:
            on_progress(progress)
        now = time.monotonic()
        state = (progress.completed, sum(progress.open_items.values()), int(postings), collections)
        if state != previous:
            previous, last_change = state, now
        if _settled(progress, options, collections, idle=now - last_change) or now - began > max_seconds:
            break
    unfinished = [
        workflow_id
        for journey in journeys
        if not all(statuses.get(workflow_id) == WorkflowExecutionStatus.COMPLETED for workflow_id in journey)
        for workflow_id in journey
        if statuses.get(workflow_id) == RUNNING
    ]
    progress.running = await describe_running(client, unfinished)
    with acting_as("system", "demo"):
        await client.get_workflow_handle(INTAKE_WORKFLOW_ID).signal("stop")
    return progress


async def _act_for_people(
    client: Client,
    container: Container,
    options: DemoOptions,
    portal_cycle: PortalCycle | None,
    progress: Progress,
    since: datetime,
) -> None:
    """One second of the people around the practice: the portal payers, the scripted biller, the paying patients."""
    if portal_cycle is not None:
        await portal_cycle.step(client, container)
    if options.auto_resolve:
        try:
            progress.resolved += await resolve_open_items(client, container, portal_cycle is not None)
        except OperationalError:  # a busy SQLite store: the biller looks again next second
            log.info("work items not read: the store was busy")
    try:
        payments = await asyncio.to_thread(patients_pay, container, since)
    except OperationalError:  # SQLite said busy (a writer got there first): the patients pay next round
        log.info("patients' payments postponed: the store was busy")
        payments = []
    for guarantor_id, cents in payments:
        try:
            with acting_as("system", "demo:patients"):
                await client.get_workflow_handle(f"collections-{guarantor_id}").signal(
                    "payment_received", c.PaymentNotice(cents, "card")
                )
        except RPCError:  # collections already ended for this guarantor: the payment is on the ledger
            log.info("payment for a guarantor whose collections ended")


async def _close_finished(client: Client, ids: list[str], closed: dict[str, WorkflowExecutionStatus | None]) -> None:
    """Ask about the workflows still running; record those that have closed."""
    asking = [workflow_id for workflow_id in ids if workflow_id not in closed]
    for workflow_id, status in zip(asking, await _statuses(client, asking), strict=True):
        if status is not None and status != RUNNING:
            closed[workflow_id] = status


def _settled(progress: Progress, options: DemoOptions, collections: int, *, idle: float) -> bool:
    """Nothing more will happen by itself (``idle``: seconds since anything changed)."""
    journeys_done = progress.waiting == 0
    if journeys_done and collections == 0:
        return True
    if not options.auto_resolve and progress.open_items and idle > options.stall_seconds:
        return True  # everything left waits on a person
    return journeys_done and options.auto_resolve and idle > options.stall_seconds  # collections wait on people too


async def run_demo(
    settings: Settings, options: DemoOptions, on_progress: Callable[[Progress], None] | None = None
) -> dict[str, Any]:
    """Bring the stack up in ``settings.home``, send the practice through the front door, follow it through the
    cycle and return the summary."""
    began = time.monotonic()
    since = datetime.now(UTC)
    settings.home.mkdir(parents=True, exist_ok=True)
    settings.logs_dir.mkdir(parents=True, exist_ok=True)
    if settings.clearinghouse_url is None:
        settings = replace(
            settings, clearinghouse_url=f"http://{settings.bind_host}:{settings.sandbox_port}/clearinghouse"
        )
    portal = None
    if options.run_workers and settings.portal_url is None:
        portal = SandboxPortal.start(settings.bind_host, options.seed)
        settings = replace(settings, portal_url=portal.base_url, portal_credentials_env=portal.credentials_env())
    container = Container(settings)
    try:
        practice, seeded = await asyncio.to_thread(prepare_store, container, options.patients, options.seed)
        result = await _run_stack(settings, container, practice, portal, options, on_progress)
        summary = await _with_retries(lambda: store_summary(container, since))
    finally:
        container.close()
        if portal is not None:
            portal.stop()
    progress, sent, loaded, urls, hl7_sent, visits = result
    return {
        "journeys": {
            "started": progress.started,
            "completed": progress.completed,
            "waiting": progress.waiting,
            "failed": progress.failed,
            "running": progress.running,
        },
        **summary,
        "work_items_resolved_by_biller": progress.resolved,
        "patients": len(sent.patient_ids),
        "front_door": {
            "fhir_bundles_accepted": len(sent.journeys),
            "fhir_bundles_refused": len(sent.refused),
            "entries": sent.entries,
            "created": sent.created,
            "hl7_visits_sent": len(hl7_sent.visits),
            "hl7_messages_accepted": hl7_sent.accepted,
            "hl7_messages_refused": hl7_sent.refused,
        },
        "visits": visits,
        "seeded": seeded,
        "roster_members_loaded": loaded,
        "seed": options.seed,
        "time_scale_seconds_per_day": options.time_scale,
        "as_of": date.today().isoformat(),
        "elapsed_seconds": round(time.monotonic() - began, 1),
        "ui": urls,
    }


async def _run_stack(
    settings: Settings,
    container: Container,
    practice: DemoPractice,
    portal: SandboxPortal | None,
    options: DemoOptions,
    on_progress: Callable[[Progress], None] | None,
) -> tuple[Progress, Sent, int, dict[str, str], Hl7Sent, dict[str, Any]]:
    """The sandbox payers (with their members), Temporal, the workers, the FHIR API and the HL7 listener; then the
    practice is sent through the API (some visits as HL7 SIU/DFT over MLLP) and followed until it settles."""
    from workers import demo_visits

    urls: dict[str, str] = {}
    async with AsyncExitStack() as stack:
        loaded = await _serve_payers(stack, settings, container, practice, portal, options, urls)
        client = await _serve_workflows(stack, settings, container, options, urls)
        api_url, token, sent, hl7_sent = await _send_practice(
            stack, settings, container, client, practice, options, urls
        )
        cycle = None
        if portal is not None:  # the portal payers' EOB schedules, applied as `carecycle up` applies them
            await apply_schedules(client, container.session_factory, settings)
            cycle = PortalCycle(portal, options.time_scale)
        # Visits booked through the API, the virtual ones' steps through the CLI's services (workers.demo_visits).
        day = demo_visits.visit_day(options.time_scale)
        casting = await asyncio.to_thread(demo_visits.cast, container, sent.patient_ids, day)
        shown = await demo_visits.book(api_url, token, casting, options.time_scale)
        steps = asyncio.create_task(demo_visits.play(container, client, casting, shown))
        progress = await drive(client, container, sent.journeys, options, on_progress, cycle)
        await steps
        visits = await demo_visits.wait_for_outcomes(container, shown, seconds=60)
    return progress, sent, loaded, urls, hl7_sent, visits


async def _serve_payers(
    stack: AsyncExitStack,
    settings: Settings,
    container: Container,
    practice: DemoPractice,
    portal: SandboxPortal | None,
    options: DemoOptions,
    urls: dict[str, str],
) -> int:
    """The sandbox clearinghouse and payers with the practice's members on their rosters (and on the portal's);
    returns how many roster members were loaded."""
    from sandbox.server import create_app
    from workers.demo_fhir import roster_entries
    from workers.stack import serve_asgi

    sandbox_dir = settings.home / "sandbox"
    sandbox_dir.mkdir(parents=True, exist_ok=True)
    app = create_app(sandbox_dir, seed=options.seed, time_scale=options.time_scale, poll_seconds=0.5)
    await stack.enter_async_context(serve_asgi(app, settings.bind_host, settings.sandbox_port))
    urls["sandbox"] = f"http://{settings.bind_host}:{settings.sandbox_port}"
    assert settings.clearinghouse_url is not None
    entries = roster_entries(practice, payer_routings(container))
    loaded = await asyncio.to_thread(load_rosters, settings.clearinghouse_url, entries)
    if portal is not None:
        urls["payer_portal"] = portal.base_url
        await asyncio.to_thread(portal.load, practice)
    return loaded


async def _serve_workflows(
    stack: AsyncExitStack, settings: Settings, container: Container, options: DemoOptions, urls: dict[str, str]
) -> Client:
    """The codec server, the Temporal dev server and (unless they run elsewhere) the workers; returns the client."""
    from workers.stack import serve_codec_server
    from workers.temporal import embedded_stack

    codec_url = None
    if settings.embedded_temporal:  # the Web UI decodes through it, for holders of its token only
        codec_url = await stack.enter_async_context(serve_codec_server(settings))
        urls["codec_server"] = codec_url
    temporal = await stack.enter_async_context(embedded_stack(settings, codec_endpoint=codec_url))
    if temporal.ui_url:
        urls["temporal_ui"] = temporal.ui_url
    if options.run_workers:
        await _run_workers(stack, temporal.client, container)
    return temporal.client


async def _send_practice(
    stack: AsyncExitStack,
    settings: Settings,
    container: Container,
    client: Client,
    practice: DemoPractice,
    options: DemoOptions,
    urls: dict[str, str],
) -> tuple[str, str, Sent, Hl7Sent]:
    """The FHIR API and the HL7 listener served, RemittanceIntake started, then the practice sent through both
    doors; returns the API's URL, its token and what each door took."""
    from workers.api import serve_api
    from workers.demo_fhir import send_practice, started_journeys
    from workers.demo_hl7 import encounter_workflows, hl7_share, send_visits
    from workers.hl7 import serve_hl7

    api_url = await stack.enter_async_context(serve_api(settings, container, client, demo_policy(options.time_scale)))
    urls["fhir_api"] = api_url
    await start_remittance_intake(client, options)
    token = await asyncio.to_thread(demo_api_token, container)
    listener = await stack.enter_async_context(
        serve_hl7(container, client, port=0, policy=demo_policy(options.time_scale))
    )
    urls["hl7"] = listener.address
    share = hl7_share(practice)
    sent = await send_practice(api_url, token, practice, visits_elsewhere=share)
    if sent.refused:
        log.warning("the API refused some of the practice's bundles", extra={"count": len(sent.refused)})
    hl7_sent = await send_visits(listener.server.host, listener.server.port, practice, share)
    encounters = await asyncio.to_thread(encounter_workflows, container, practice, hl7_sent.visits)
    for mrn, workflow_id in encounters.items():  # the HL7 visit's Encounter joins its patient's journey
        if mrn in sent.journey_of_mrn:
            place = sent.journey_of_mrn[mrn]
            sent.journeys[place] = (*sent.journeys[place], workflow_id)
    sent.journeys = await asyncio.to_thread(started_journeys, container, sent.journeys)
    return api_url, token, sent, hl7_sent


async def _run_workers(stack: AsyncExitStack, client: Client, container: Container) -> None:
    from workers.registry import build_workers
    from workers.runtime import run_workers_until

    stop = asyncio.Event()
    task = asyncio.create_task(run_workers_until(build_workers(client, container), stop))

    async def drain() -> None:
        stop.set()
        await task

    stack.push_async_callback(drain)
