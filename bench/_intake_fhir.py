"""The FHIR half of ``bench/intake.py`` (run it from there: ``--part fhir``).

* **Bundles/s accepted.** The demo practice's patients (coverages, yesterday's visit: appointment, finished
  encounter, conditions, charges) as FHIR transaction Bundles POSTed to ``carecycle api`` (its own process: the
  store, intake, the outbox, the Temporal starts after the answer, an audit event per call and per record) against
  a bare FastAPI endpoint (its own process) that only reads and parses the same payloads (JSON, then the same
  fhir.resources Bundle validation) and answers. Same client, same concurrency, rounds alternating (bare, ours,
  ours, bare, ...) so load from elsewhere weighs on both. Each Bundle is a new patient (the create path, the
  heaviest). Goal: ours >= 0.5 of bare. The dev server runs without workers here: the starts are real, their
  workflows wait.
* **The same with ``Prefer: respond-async``** (a third side of the same alternating rounds, to the same API
  process): Bundles/s accepted (``202``: authenticated, rate-limited, parsed, validated, journaled sealed), and,
  so that the figure is honest about sustained throughput, Bundles/s applied: from the round's first POST until
  the API's applier has applied every Bundle of it (read in the store; each must end ``done``).
* **Latency from the Encounter POST to the claim submitted** (p50/p95, engine time: from the moment the POST
  is sent to the claim's ``submitted_at`` in the store) on the full stack (dev server, workers, sandbox
  clearinghouse, the API in the bench's process), against the same coded visit seeded straight into the store
  with its Encounter workflow started directly (no API, no intake): the ratio is what the door adds.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import os
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

# This file is named like the ``intake`` package: keep its directory off the path so ``import intake`` finds the
# package, and put the repository root first.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import httpx  # noqa: E402 - after the path is set
from fastapi import Request  # noqa: E402
from fastapi.responses import Response  # noqa: E402

from tests.support.environ import environ_without_ours  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


@dataclasses.dataclass
class Figure:
    name: str
    value: float
    baseline: float
    unit: str
    goal: str

    @property
    def ratio(self) -> float:
        return self.value / self.baseline if self.baseline else float("nan")


# --- the bare endpoint ---------------------------------------------------------------------------------------


def bare_app() -> Any:
    """Read the body, parse it like the API does (JSON with exact decimals, the fhir.resources Bundle model)."""
    from fastapi import FastAPI

    from api.fhir.parse import load_json, validate

    app = FastAPI()

    @app.post("/fhir")
    async def parse_only(request: Request) -> Response:
        data = load_json(await request.body())
        validate("Bundle", data, expected="Bundle")
        return Response(b'{"resourceType":"OperationOutcome","issue":[]}', media_type="application/fhir+json")

    return app


def serve_bare(port: int) -> None:
    import uvicorn

    uvicorn.run(bare_app(), host="127.0.0.1", port=port, log_level="warning", access_log=False)


# --- set-up ---------------------------------------------------------------------------------------------------


def prepare_store(url: str, patients: int, seed: int) -> tuple[list[dict[str, Any]], str, str]:
    """The practice's set-up in the store, an API client, and one Bundle per synthetic patient."""
    from sqlalchemy import select

    from api.clients import add_client
    from domain import models as m
    from domain.store.engine import make_engine, make_session_factory
    from domain.store.migrate import upgrade
    from workers.demo_fhir import bundle, demo_practice, seed_practice_setup
    from workers.synthetic import SyntheticPractice

    engine = make_engine(url)
    upgrade(engine)
    factory = make_session_factory(engine)
    generated = SyntheticPractice(seed).generate(patients)
    with factory() as session:
        seed_practice_setup(session, generated)
        session.flush()
        practice = demo_practice(session, generated, seed)
        token = add_client(session, "bench", ("intake", "read"), actor="bench")
        npi = session.execute(select(m.Provider.npi).order_by(m.Provider.npi)).scalars().first()
        session.commit()
    engine.dispose()
    assert npi is not None
    return [_plain(bundle(p, practice.day)) for p in practice.patients], token, npi


def _plain(value: Any) -> Any:
    return json.loads(json.dumps(value, default=lambda v: float(v) if isinstance(v, Decimal) else str(v)))


def cpu_seconds(pid: int) -> float:
    """A process's CPU seconds so far (user + system, from /proc): unlike Bundles/s, not moved by other load."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _wait_http(url: str, timeout: float = 240.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=2).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{url} never answered")


# --- throughput ------------------------------------------------------------------------------------------------


async def post_all(
    url: str, token: str, bundles: list[dict[str, Any]], concurrency: int, *, respond_async: bool = False
) -> tuple[float, int]:
    """POST every Bundle (``concurrency`` at a time; ``respond_async``: with ``Prefer: respond-async``, each
    answered 202); returns (seconds, refusals)."""
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/fhir+json"}
    if respond_async:
        headers["Prefer"] = "respond-async"
    expected = 202 if respond_async else 200
    bodies = [json.dumps(b).encode() for b in bundles]
    gate = asyncio.Semaphore(concurrency)
    refused = 0
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(timeout=120, limits=limits) as client:

        async def one(body: bytes) -> None:
            nonlocal refused
            async with gate:
                answer = await client.post(url, content=body, headers=headers)
                if answer.status_code != expected:
                    refused += 1
                    print(f"refused: {answer.status_code} {answer.text[:200]}", file=sys.stderr)

        began = time.perf_counter()
        await asyncio.gather(*(one(body) for body in bodies))
        return time.perf_counter() - began, refused


def throughput(args: argparse.Namespace, work: Path, store: str) -> list[Figure]:
    from workers.security.keys import new_key_entry

    total = args.bundles * args.rounds * 3 + 8
    bundles, token, _ = prepare_store(store, total, seed=29)
    from tests.support.ports import free_port  # below the ephemeral range, as the tests pick theirs

    api_port, bare_port, temporal_port = free_port(), free_port(), free_port()
    env = environ_without_ours()
    env.update(
        CARECYCLE_HOME=str(work / "home"),
        CARECYCLE_DATABASE_URL=store,
        CARECYCLE_API_PORT=str(api_port),
        CARECYCLE_API_RATE_PER_MINUTE="1000000000",  # counted (as in production), never reached
        CARECYCLE_CODEC_KEYS=new_key_entry("bench1"),
        TEMPORAL_ADDRESS=f"127.0.0.1:{temporal_port}",
        CARECYCLE_LOG_LEVEL="WARNING",
    )
    from workers.settings import Settings
    from workers.temporal import dev_server_for

    dev = Settings(home=work, database_url=store, temporal_port=temporal_port, temporal_ui_port=0)
    (work / "logs").mkdir(exist_ok=True)
    temporal = dev_server_for(dev, ui=False)
    temporal.start()
    asyncio.run(temporal.wait_ready())
    carecycle = [sys.executable, "-c", "from workers.cli import main; main()"]
    if getattr(args, "profile", None):  # the API process under cProfile; its stats written when it stops
        carecycle[2] = (
            f"import sys; sys.path.insert(0, {str(ROOT)!r}); from bench._profiled import profile_cli; "
            f"profile_cli({str(Path(args.profile).resolve())!r}, sys.argv[1:])"
        )
    ours = subprocess.Popen(
        [*carecycle, "api"], env=env, stdout=subprocess.DEVNULL, stderr=(work / "api.log").open("w")
    )
    bare = subprocess.Popen(
        [sys.executable, str(Path(__file__).resolve()), "--serve-bare", str(bare_port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=(work / "bare.log").open("w"),
    )
    try:
        _wait_http(f"http://127.0.0.1:{api_port}/fhir/metadata")
        _wait_http(f"http://127.0.0.1:{bare_port}/docs")
        urls = {"ours": f"http://127.0.0.1:{api_port}/fhir", "bare": f"http://127.0.0.1:{bare_port}/fhir"}
        asyncio.run(post_all(urls["ours"], token, bundles[:4], 4))  # warm both up
        asyncio.run(post_all(urls["bare"], token, bundles[4:8], 4))
        sides = ("bare", "ours", "async")
        rates: dict[str, list[float]] = {side: [] for side in sides}
        drains: list[float] = []  # async: Bundles/s applied, from the first POST until the last one is applied
        # CPU ms per Bundle, per round (async: while accepting; async-drained: until all applied)
        cpu: dict[str, list[float]] = {"ours": [], "bare": [], "async": [], "async-drained": [], "temporal": []}
        pids = {"ours": ours.pid, "bare": bare.pid, "async": ours.pid}
        next_bundle = 8
        for round_number in range(args.rounds):
            order = sides[round_number % 3 :] + sides[: round_number % 3]  # each side first, second, third in turn
            for side in order:
                chunk = bundles[next_bundle : next_bundle + args.bundles]
                next_bundle += args.bundles
                before, server_before = cpu_seconds(pids[side]), _temporal_cpu(temporal)
                url = urls["bare" if side == "bare" else "ours"]
                seconds, refused = asyncio.run(
                    post_all(url, token, chunk, args.concurrency, respond_async=side == "async")
                )
                cpu[side].append((cpu_seconds(pids[side]) - before) * 1000 / len(chunk))
                if side == "async":  # the same Bundles applied: the sustained figure
                    drained, failed = _drained(store)
                    drains.append(len(chunk) / (seconds + drained))
                    cpu["async-drained"].append((cpu_seconds(pids[side]) - before) * 1000 / len(chunk))
                    refused += failed
                if side != "bare":  # the dev server starting what the API dispatched (its dispatches lag a little)
                    cpu["temporal"].append((_temporal_cpu(temporal) - server_before) * 1000 / len(chunk))
                if refused:
                    logs = (work / "api.log").read_text()[-800:] + (work / "bare.log").read_text()[-800:]
                    raise RuntimeError(f"{side}: {refused} bundles refused: {logs}")
                rates[side].append(len(chunk) / seconds)
        shown = {side: [round(r, 1) for r in values] for side, values in rates.items()}
        print(f"bundles/s per round: ours {shown['ours']}, async accepted {shown['async']}, bare {shown['bare']}")
        print(f"async applied (first POST to last applied) bundles/s per round: {[round(d, 1) for d in drains]}")
        for side in ("ours", "async"):
            ratios = [o / b for o, b in zip(rates[side], rates["bare"], strict=True)]
            print(f"ratio per round, {side}: {[round(r, 3) for r in ratios]}")
        print(
            "CPU ms per Bundle (median of the rounds): "
            + ", ".join(f"{side} {statistics.median(v):.1f}" for side, v in cpu.items() if v)
            + f"; ours per round {[round(v, 1) for v in cpu['ours']]}"
        )
        bare_rate = statistics.median(rates["bare"])
        return [
            Figure("FHIR transaction Bundles accepted", statistics.median(rates["ours"]), bare_rate, *GOAL),
            Figure("FHIR Bundles accepted, Prefer: respond-async", statistics.median(rates["async"]), bare_rate, *GOAL),
            Figure("FHIR Bundles applied, respond-async (drain)", statistics.median(drains), bare_rate, *SUSTAINED),
        ]
    finally:
        for process in (ours, bare):
            process.terminate()
        for process in (ours, bare):
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
        temporal.stop()


GOAL = ("bundles/s", "ratio >= 0.5")
SUSTAINED = ("bundles/s", "sustained: what is applied")


def _drained(store: str, timeout: float = 600.0) -> tuple[float, int]:
    """Seconds until no async Bundle is queued any more (read in the store beside the API), and how many of
    them were refused (failed)."""
    from sqlalchemy import create_engine, func, select

    from domain import models as m

    engine = create_engine(store)
    began = time.perf_counter()
    try:
        with engine.connect() as connection:
            while time.perf_counter() - began < timeout:
                counts = dict(
                    connection.execute(
                        select(m.FhirAsyncRequest.status, func.count()).group_by(m.FhirAsyncRequest.status)
                    ).all()
                )
                connection.rollback()
                if not counts.get("queued"):
                    return time.perf_counter() - began, int(counts.get("failed", 0))
                time.sleep(0.02)
    finally:
        engine.dispose()
    raise RuntimeError("the async Bundles were never all applied")


def _temporal_cpu(temporal: Any) -> float:
    process = getattr(temporal, "process", None) or getattr(temporal, "_process", None)
    pid = getattr(process, "pid", None)
    try:
        return cpu_seconds(pid) if pid else 0.0
    except OSError:
        return 0.0


# --- latency: Encounter POST to claim submitted ---------------------------------------------------------------


async def latency(args: argparse.Namespace, work: Path, store: str) -> list[Figure]:
    from activities.clearinghouse.sandbox_admin import RosterEntry, SandboxAdmin
    from sandbox.server import create_app
    from tests.support.dev_stack import dev_stack
    from workers.api import serve_api
    from workers.stack import serve_asgi

    _, token, npi = await asyncio.to_thread(prepare_store, store, 0, 31)
    fronts: list[float] = []
    directs: list[float] = []
    async with dev_stack(work / "latency-home", store) as stack:
        settings = stack.settings
        sandbox = create_app(work / "sandbox", seed=31, time_scale=86400, poll_seconds=0.5, random_mix=False)
        async with serve_asgi(sandbox, settings.bind_host, settings.sandbox_port, name="sandbox"):
            admin = SandboxAdmin(settings.clearinghouse_endpoint)
            members = [f"BM7{n:08d}" for n in range(args.visits)]
            entries = [
                RosterEntry(
                    "SBXBM", member, datetime(1970, 1, 1).date() + timedelta(days=n), datetime(2024, 1, 1).date()
                )
                for n, member in enumerate(members)
            ]
            await asyncio.to_thread(admin.load_roster, entries)
            async with serve_api(settings, stack.container, stack.client) as url:
                for n, member in enumerate(members):
                    fronts.append(await _front_door_visit(stack, url, token, npi, n, member))
                    directs.append(await _direct_visit(stack, npi, n))
    print(f"latency front door (s): {[round(x, 2) for x in fronts]}")
    print(f"latency direct start (s): {[round(x, 2) for x in directs]}")
    return [
        Figure(
            "Encounter POST -> claim submitted, p50", _pct(fronts, 50), _pct(directs, 50), "s", "what the door adds"
        ),
        Figure(
            "Encounter POST -> claim submitted, p95", _pct(fronts, 95), _pct(directs, 95), "s", "what the door adds"
        ),
    ]


def _pct(values: list[float], pct: int) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(pct / 100 * (len(ordered) - 1)))]


async def _submitted(stack: Any, patient_id: str, since: datetime, timeout: float = 120.0) -> float:
    from sqlalchemy import select

    from domain import models as m

    def read() -> datetime | None:
        with stack.container.uow() as uow:
            found: datetime | None = uow.session.execute(
                select(m.Claim.submitted_at).where(m.Claim.patient_id == patient_id, m.Claim.submitted_at.is_not(None))
            ).scalar()
            return found

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        at = await asyncio.to_thread(read)
        if at is not None:
            at = at if at.tzinfo else at.replace(tzinfo=UTC)
            return (at - since).total_seconds()
        await asyncio.sleep(0.05)
    raise RuntimeError("a claim was never submitted")


async def _front_door_visit(stack: Any, url: str, token: str, npi: str, n: int, member: str) -> float:
    from tests.support.fhir import transaction

    body = transaction(
        npi,
        mrn=f"LAT{n}",
        member=member,
        birth=(datetime(1970, 1, 1) + timedelta(days=n)).date().isoformat(),
        given=f"Lat{n}",
    )
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/fhir+json"}
    async with httpx.AsyncClient(timeout=60) as client:
        since = datetime.now(UTC)
        answer = await client.post(url, json=body, headers=headers)
    if answer.status_code != 200:
        raise RuntimeError(f"the API refused the latency Bundle: {answer.status_code} {answer.text[:300]}")
    patient_id = next(
        e["response"]["location"].split("/")[1]
        for e in answer.json()["entry"]
        if e["response"]["location"].startswith("Patient/")
    )
    return await _submitted(stack, patient_id, since)


async def _direct_visit(stack: Any, npi: str, n: int) -> float:
    """The baseline: the same coded visit written straight into the store, its Encounter workflow started here."""
    from activities.contracts import revenue as c
    from flows.revenue import EncounterWorkflow, encounter_workflow_id

    patient_id, appointment_id = await asyncio.to_thread(_seed_visit, stack, npi, n)
    since = datetime.now(UTC)
    await stack.client.start_workflow(
        EncounterWorkflow.run,
        c.EncounterInput(appointment_id, c.RevenuePolicy()),
        id=encounter_workflow_id(appointment_id),
        task_queue=c.REVENUE_TASK_QUEUE,
    )
    return await _submitted(stack, patient_id, since)


def _seed_visit(stack: Any, npi: str, n: int) -> tuple[str, str]:
    from sqlalchemy import select

    from domain import models as m
    from domain.enums import AppointmentKind, AppointmentStatus, CoverageRank
    from domain.services.encounters import EncounterInput, ServiceLineInput, record_encounter
    from domain.services.registration import CoverageInput, PatientInput, register_patient

    day = datetime.now(UTC).date() - timedelta(days=1)
    with stack.container.uow() as uow:
        session = uow.session
        registered = register_patient(
            session,
            PatientInput(
                f"Direct{n}",
                "Baseline",
                datetime(1960, 1, 1).date() + timedelta(days=n),
                "F",
                "1 Way",
                "Bend",
                "OR",
                "97701",
                "5415550100",
                coverages=(
                    CoverageInput(
                        "SBXBM", f"BM8{n:08d}", CoverageRank.PRIMARY, effective_from=datetime(2024, 1, 1).date()
                    ),
                ),
            ),
            actor="bench",
        )
        provider = session.execute(select(m.Provider).where(m.Provider.npi == npi)).scalar_one()
        location = session.execute(select(m.Location).order_by(m.Location.name)).scalars().first()
        assert location is not None
        appointment = m.Appointment(
            patient_id=registered.patient_id,
            provider_id=provider.id,
            location_id=location.id,
            kind=AppointmentKind.IN_PERSON,
            status=AppointmentStatus.COMPLETED,
            starts_at=datetime.combine(day, datetime.min.time(), tzinfo=UTC),
        )
        session.add(appointment)
        session.flush()
        record_encounter(
            session,
            EncounterInput(
                registered.patient_id,
                provider.id,
                location.id,
                day,
                location.place_of_service,
                ("I10",),
                (ServiceLineInput("99213", 13_500),),
                appointment.id,
            ),
            actor="bench",
        )
        uow.commit()
        return registered.patient_id, appointment.id


# --- the FHIR part, as bench/intake.py runs it ------------------------------------------------------------------


def fhir_part(throughput_url: str, latency_url: str, folder: Path, args: argparse.Namespace) -> dict[str, Any]:
    """Both FHIR figures; ``throughput_url`` and ``latency_url`` are two fresh, empty stores."""
    figures = throughput(args, folder, throughput_url)
    if args.visits > 0:  # --visits 0: the throughput alone
        figures += asyncio.run(latency(args, folder, latency_url))
    for f in figures:
        print(
            f"  {f.name:<44} ours {f.value:8.2f} baseline {f.baseline:8.2f} ratio {f.ratio:6.3f}  {f.goal} ({f.unit})"
        )
    accepted, accepted_async, drained = figures[:3]
    return {
        "bundles_per_round": args.bundles,
        "concurrency": args.concurrency,
        "api_bundles_per_s": round(accepted.value, 1),
        "bare_bundles_per_s": round(accepted.baseline, 1),
        "ratio": round(accepted.ratio, 3),
        "async_accepted_bundles_per_s": round(accepted_async.value, 1),
        "async_ratio": round(accepted_async.ratio, 3),
        "async_applied_bundles_per_s": round(drained.value, 1),
        "async_applied_ratio": round(drained.ratio, 3),
        "goal": 0.5,
        "goal_met": accepted.ratio >= 0.5,
        "async_goal_met": accepted_async.ratio >= 0.5,
        **(
            {
                "latency_p50_s": round(figures[3].value, 3),
                "latency_p50_direct_s": round(figures[3].baseline, 3),
                "latency_p95_s": round(figures[4].value, 3),
                "latency_p95_direct_s": round(figures[4].baseline, 3),
            }
            if len(figures) == 5
            else {}
        ),
    }


if __name__ == "__main__" and len(sys.argv) == 3 and sys.argv[1] == "--serve-bare":
    serve_bare(int(sys.argv[2]))
