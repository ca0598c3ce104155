"""`carecycle demo` end to end: the summary, PHI never leaving the store, and a worker killed mid-run.

Each test runs the real command in a sub-process on free ports with its own CARECYCLE_HOME: the embedded
Temporal dev server, the sandbox clearinghouse and payers, real 270/271, 837P, 999/277CA and 835 traffic.
"""

from __future__ import annotations

import asyncio
import json
import signal
import sqlite3
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from temporalio.client import Client

from tests.support.dev_stack import free_port
from tests.support.environ import environ_without_ours
from workers.security.keys import new_key_entry
from workers.settings import Settings

pytestmark = [pytest.mark.e2e, pytest.mark.temporal]

CARECYCLE = [sys.executable, "-c", "from workers.cli import main; main()"]


@dataclass
class DemoRun:
    home: Path  # the demo's own home, $CARECYCLE_HOME/demo: its store, workflows, documents and logs
    env: dict[str, str]
    summary: dict[str, object]
    stdout: str
    stderr: str


def demo_env(home: Path) -> dict[str, str]:
    env = environ_without_ours()
    env.update(
        CARECYCLE_HOME=str(home),
        CARECYCLE_TEMPORAL_PORT=str(free_port()),
        CARECYCLE_TEMPORAL_UI_PORT=str(free_port()),
        CARECYCLE_SANDBOX_PORT=str(free_port()),
        CARECYCLE_CODEC_SERVER_PORT=str(free_port()),
        CARECYCLE_CONSOLE_PORT=str(free_port()),
        CARECYCLE_API_PORT=str(free_port()),
        CARECYCLE_CODEC_KEYS=new_key_entry("e2e1"),
        CARECYCLE_METRICS_PORT=str(free_port()),
        CARECYCLE_METRICS_INTERVAL_SECONDS="1",
        CARECYCLE_PREFECT_PORT=str(free_port()),
        CARECYCLE_BATCH_SERVE="0",  # `up` after the demo: the batch plane has its own tests
        CARECYCLE_WORKER_GRACEFUL_SHUTDOWN_SECONDS="1",
    )
    return env


def run_demo(home: Path, *args: str, env: dict[str, str] | None = None, timeout: float = 400) -> DemoRun:
    env = env or demo_env(home)
    done = subprocess.run(
        [*CARECYCLE, "demo", "--json", *args], env=env, capture_output=True, text=True, timeout=timeout, check=False
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return DemoRun(home / "demo", env, json.loads(done.stdout), done.stdout, done.stderr)


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory: pytest.TempPathFactory) -> DemoRun:
    home = tmp_path_factory.mktemp("demo") / "home"
    return run_demo(home, "--patients", "10", "--auto-resolve", "--time-scale", "0.2")


def test_demo_runs_the_practice_through_the_cycle(demo_run: DemoRun) -> None:
    summary = demo_run.summary
    journeys = summary["journeys"]
    assert isinstance(journeys, dict)
    assert journeys["started"] == 10 and journeys["failed"] == 0
    assert journeys["completed"] + journeys["waiting"] == journeys["started"]
    # Each unfinished journey says what it does: its workflows still running, followed down (workers.demo_running).
    running = journeys["running"]
    assert len(running) >= min(journeys["waiting"], 1), journeys
    assert all(entry["workflow_id"].startswith(("registration-", "encounter-")) for entry in running), running
    assert summary["ledger_balanced"] is True
    claims = summary["claims_by_status"]
    assert isinstance(claims, dict) and sum(claims.values()) > 0
    assert int(summary["payments_posted_cents"]) > 0  # type: ignore[call-overload]
    assert int(summary["remittances_posted"]) > 0  # type: ignore[call-overload]
    for key in ("patient_balance_cents", "open_work_items", "elapsed_seconds", "ui"):
        assert key in summary
    # Some visits came as HL7 SIU^S12 + DFT^P03 over MLLP, all accepted, and joined their patients' journeys.
    front_door = summary["front_door"]
    assert isinstance(front_door, dict) and front_door["hl7_visits_sent"] >= 1
    assert (
        front_door["hl7_messages_refused"] == []
        and front_door["hl7_messages_accepted"] == 2 * front_door["hl7_visits_sent"]
    )
    with sqlite3.connect(demo_run.home / "carecycle.db") as db:
        journaled = db.execute("SELECT message_type, status FROM hl7_messages").fetchall()
    assert sorted(set(journaled)) == [("DFT^P03", "processed"), ("SIU^S12", "processed")]
    # Visits booked as FHIR Appointments: in person and virtual, a no-show, an audio-only fallback, a licensure
    # block resolved by reassigning the visit (the virtual steps through the CLI's services).
    visits = summary["visits"]
    assert isinstance(visits, dict) and visits["refused"] == [], visits
    assert (visits["in_person"], visits["virtual"]) == (2, 2), visits
    assert (visits["in_person_fulfilled"], visits["no_shows"]) == (1, 1), visits
    assert visits["virtual_no_shows"] in (0, 1), visits  # the reassigned visit's provider may not join in time
    assert (visits["audio_only"], visits["licensure_blocks_resolved_by_reassignment"]) == (1, 1), visits
    assert list((demo_run.home / "documents" / "hl7").rglob("*.hl7"))  # the raw messages, sealed
    # Real X12 went through the sandbox: 837P batches and 835s are in the document store.
    documents = demo_run.home / "documents" / "edi"
    assert list((documents / "837").glob("*.x12")) and list((documents / "835").glob("*.x12"))


def test_portal_payers_claims_are_answered_by_eobs_read_through_chromium(demo_run: DemoRun) -> None:
    portal = demo_run.summary["portal"]
    assert isinstance(portal, dict)
    assert portal["eligibility_checks"] > 0  # through a real browser session on the sandbox portal
    assert portal["eobs_read"] > 0 and portal["eob_remittances_posted"] > 0
    # Harbor's follow-up window ends before its EOB comes: the claims' status was searched on its portal, not 276.
    assert portal["claim_status_checks"] > 0
    assert demo_run.summary["ledger_balanced"] is True
    assert list((demo_run.home / "documents" / "eob").rglob("*.pdf"))  # the PDFs Chromium downloaded
    with sqlite3.connect(demo_run.home / "carecycle.db") as db:
        # The portal payers' claims were decided by an EOB: posted from it, the claim paid or denied by it.
        decided = db.execute(
            "SELECT c.status, count(*) FROM claims c JOIN payers p ON p.id = c.payer_id"
            " JOIN remittance_claims rc ON rc.claim_id = c.id JOIN remittances r ON r.id = rc.remittance_id"
            " WHERE p.routing = 'portal' AND r.source = 'eob_pdf' GROUP BY c.status"
        ).fetchall()
        # No portal payer's claim is left written off as unroutable (the clearinghouse forwards them now).
        unroutable = db.execute(
            "SELECT count(*) FROM claims c JOIN payers p ON p.id = c.payer_id"
            " WHERE p.routing = 'portal' AND c.status = 'rejected'"
        ).fetchone()[0]
    statuses = dict(decided)
    assert set(statuses) <= {"paid", "partially_paid", "denied", "written_off", "closed"}, statuses
    assert sum(n for status, n in statuses.items() if status in ("paid", "partially_paid", "denied")) > 0
    assert unroutable == 0


def _phi(home: Path) -> list[str]:
    db = sqlite3.connect(home / "carecycle.db")
    values: set[str] = set()
    for first, last, birth in db.execute("SELECT first_name, last_name, birth_date FROM patients"):
        values |= {
            f"{first} {last}",
            f"{last.upper()}*{first.upper()}",
            f"{last}, {first}",
            birth,
            birth.replace("-", ""),
        }
    for (member,) in db.execute("SELECT member_id FROM coverages"):
        values.add(member)
    db.close()
    return sorted(values)


async def _raw_temporal_text(home: Path, env: dict[str, str]) -> str:
    """Every history (undecoded: payloads stay encrypted), workflow id and search attribute, as text."""
    from workers.temporal import dev_server_for

    settings = Settings(
        home=home,
        database_url=f"sqlite:///{home / 'carecycle.db'}",
        temporal_port=free_port(),
        temporal_ui_port=0,
    )
    parts: list[str] = []
    async with dev_server_for(settings, ui=False) as server:
        client = await Client.connect(server.target)  # no codec: what the server stores
        async for execution in client.list_workflows():
            parts.append(execution.id)
            parts.append(repr(execution.search_attributes))
            history = await client.get_workflow_handle(execution.id, run_id=execution.run_id).fetch_history()
            parts.append(history.to_json())
    return "\n".join(parts)


def test_no_phi_in_histories_search_attributes_workflow_ids_or_logs(demo_run: DemoRun) -> None:
    phi = _phi(demo_run.home)
    assert len(phi) > 30
    raw = asyncio.run(_raw_temporal_text(demo_run.home, demo_run.env))
    assert "PatientRegistration" in raw and "registration-" in raw  # the scan did read the histories
    logs = "\n".join(p.read_text(errors="replace") for p in (demo_run.home / "logs").glob("*") if p.is_file())
    haystacks = {"temporal": raw, "logs": logs, "stderr": demo_run.stderr, "summary": demo_run.stdout}
    leaks = [(where, value) for where, text in haystacks.items() for value in phi if value in text]
    assert leaks == []


def _wait_for(predicate: object, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return
        time.sleep(0.5)
    raise AssertionError("timed out")


@pytest.fixture
def worker_processes() -> Iterator[list[subprocess.Popen[str]]]:
    started: list[subprocess.Popen[str]] = []
    yield started
    for process in started:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()


def test_a_worker_killed_mid_run_loses_nothing_and_posts_nothing_twice(
    tmp_path: Path, worker_processes: list[subprocess.Popen[str]]
) -> None:
    env = demo_env(tmp_path / "home")
    home = tmp_path / "home" / "demo"  # the demo's own home: its workers serve the demo's store
    worker_env = {
        **env,
        "CARECYCLE_HOME": str(home),
        "TEMPORAL_ADDRESS": f"127.0.0.1:{env['CARECYCLE_TEMPORAL_PORT']}",
    }
    demo = subprocess.Popen(
        [
            *CARECYCLE,
            "demo",
            "--json",
            "--external-workers",
            "--patients",
            "8",
            "--auto-resolve",
            "--time-scale",
            "0.2",
            # The default wait (110 s + 2.5 s a patient) is for a run nobody kills: here the killed worker's
            # activities must time out before the second worker retries them, and CI's machine is loaded.
            "--max-seconds",
            "360",
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        db_path = home / "carecycle.db"

        def submitted() -> bool:
            if not db_path.exists():
                return False
            try:
                with sqlite3.connect(db_path) as db:
                    row = db.execute("SELECT count(*) FROM audit_events WHERE action = 'claim.submitted'").fetchone()
            except sqlite3.OperationalError:
                return False
            return bool(row and row[0] >= 2)

        def start_worker() -> subprocess.Popen[str]:
            process = subprocess.Popen(
                [*CARECYCLE, "worker", "--queue", "all"],
                env=worker_env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                text=True,
            )
            worker_processes.append(process)
            return process

        # The demo's Temporal server comes up first; the worker connects to it.
        _wait_for(lambda: (home / "temporal.db").exists(), 120)
        time.sleep(2)
        first = start_worker()
        _wait_for(submitted, 180)
        first.kill()  # SIGKILL in the middle of the run: no graceful shutdown
        first.wait(timeout=20)
        time.sleep(1)
        start_worker()
        stdout, stderr = demo.communicate(timeout=500)
    finally:
        if demo.poll() is None:
            demo.kill()
    assert demo.returncode == 0, stderr[-3000:]
    summary = json.loads(stdout)
    # A string, not a dict: pytest shortens a dict's repr, and the list of what still runs is the clue.
    what_waits = json.dumps(
        {key: summary.get(key) for key in ("journeys", "waiting_on", "open_work_items", "elapsed_seconds")}
    )
    assert summary["journeys"]["failed"] == 0, what_waits
    assert summary["journeys"]["completed"] == summary["journeys"]["started"] == 8, what_waits
    assert summary["ledger_balanced"] is True
    with sqlite3.connect(home / "carecycle.db") as db:
        # Each remittance posted once (one row per payer trace), each claim charged once.
        assert db.execute(
            "SELECT count(*) FROM (SELECT payer_id, trace_number FROM remittances GROUP BY 1, 2 HAVING count(*) > 1)"
        ).fetchone() == (0,)
        assert (
            db.execute(
                "SELECT count(*) FROM journal_entries WHERE kind = 'charge' GROUP BY claim_id HAVING count(*) > 1"
            ).fetchall()
            == []
        )
        assert db.execute("SELECT count(*) FROM remittances").fetchone()[0] > 0
        by_status = dict(db.execute("SELECT status, count(*) FROM claims GROUP BY status").fetchall())
        remittances = db.execute("SELECT count(*) FROM remittances WHERE source = '835'").fetchone()[0]

    # The surviving worker's /metrics after the demo: the Temporal SDK's metrics and the practice's (sampled from
    # the store every second: the last sample after the demo settled shows its final counts).
    url = f"http://127.0.0.1:{env['CARECYCLE_METRICS_PORT']}/metrics"
    claim_lines = [
        f'carecycle_claims{{service_name="temporal-core-sdk",status="{status}"}} {count}'
        for status, count in by_status.items()
    ]
    assert claim_lines

    def scrape() -> str:
        return urllib.request.urlopen(url, timeout=10).read().decode()

    _wait_for(lambda: all(line in scrape() for line in claim_lines), 30)  # every status, with the store's count
    text = scrape()
    assert "temporal_activity_execution_latency" in text and "temporal_workflow_completed" in text
    assert f'carecycle_remittances_posted{{service_name="temporal-core-sdk",source="835"}} {remittances}' in text
    assert "carecycle_remittance_posted_cents{" in text and "carecycle_work_items{" in text
    assert 'carecycle_journeys{service_name="temporal-core-sdk",stage=' in text


async def _workflow_ids(port: str) -> list[str]:
    client = await Client.connect(f"127.0.0.1:{port}")  # ids only: no payload is decoded
    return [execution.id async for execution in client.list_workflows()]


def test_up_after_the_demo_keeps_real_time_and_serves_the_demo_only_when_told(
    demo_run: DemoRun, tmp_path: Path
) -> None:
    """`carecycle demo --auto-resolve --json` then `carecycle up` in the same CARECYCLE_HOME: the practice's home
    runs in real time with none of the demo's compressed workflows; the demo's home is served only at its speed."""
    from tests.integration.test_stack import _start, _stop
    from workers.clock import read_clock

    practice = demo_run.home.parent
    env = dict(demo_run.env)
    assert read_clock(practice) is None and not (practice / "temporal.db").exists()
    process, banner = _start(env, tmp_path / "up.log")
    try:
        assert "carecycle is up" in banner and "compressed" not in banner
        ids = asyncio.run(_workflow_ids(env["CARECYCLE_TEMPORAL_PORT"]))
        assert not [i for i in ids if i.startswith(("registration-", "claim-", "collections-"))]
    finally:
        code, _ = _stop(process)
    assert code == 0 and read_clock(practice) is None

    look_again = demo_run.summary["look_again"]
    assert look_again == f"CARECYCLE_HOME={demo_run.home} carecycle up --time-scale 0.2"
    demo_home_env = {**env, "CARECYCLE_HOME": str(demo_run.home)}
    refused = subprocess.run(
        [CARECYCLE[0], *CARECYCLE[1:], "up"], env=demo_home_env, capture_output=True, text=True, timeout=120
    )
    assert refused.returncode == 1 and "carecycle is up" not in refused.stdout
    assert "runs compressed (0.2 s per business day" in refused.stderr and "--time-scale 0.2" in refused.stderr

    process, banner = _start(demo_home_env, tmp_path / "up-demo.log", "--time-scale", "0.2")
    try:
        assert "business clock 0.2 s per business day (compressed)" in banner
        ids = asyncio.run(_workflow_ids(env["CARECYCLE_TEMPORAL_PORT"]))
        # the demo's own journeys: each patient's visit has its Encounter (which registered the patient when the visit
        # came in the patient's Bundle); only the patients whose visit came by HL7 have a PatientRegistration of its own
        assert len([i for i in ids if i.startswith("encounter-")]) >= 10
        hl7 = demo_run.summary["front_door"]["hl7_visits_sent"]
        assert 0 < len([i for i in ids if i.startswith("registration-")]) <= hl7 < 10
    finally:
        code, _ = _stop(process)
    assert code == 0


@pytest.mark.postgres
def test_db_copy_moves_the_demo_practice_to_postgresql(
    demo_run: DemoRun, pg_server: object, _pg_template: str | None
) -> None:
    """`carecycle db copy` from the demo's home (the embedded SQLite store) to a throwaway PostgreSQL database:
    every row arrives, and `db check` passes on the copy."""
    import uuid

    from sqlalchemy import text as sql

    from domain.store.engine import make_engine

    if pg_server is None:
        pytest.skip("PostgreSQL is not available here")
    name = f"demo_{uuid.uuid4().hex[:10]}"
    admin = make_engine(pg_server.admin_url, isolation_level="AUTOCOMMIT")  # type: ignore[attr-defined]
    with admin.connect() as connection:
        connection.execute(sql(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    target = pg_server.url(name)  # type: ignore[attr-defined]
    env = {**demo_run.env, "CARECYCLE_HOME": str(demo_run.home)}  # the demo keeps its own home
    copied = subprocess.run(
        [*CARECYCLE, "db", "copy", "--to", target, "--json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert copied.returncode == 0, copied.stderr
    report = json.loads(copied.stdout)
    with sqlite3.connect(demo_run.home / "carecycle.db") as db:
        source = {table: db.execute(f'SELECT count(*) FROM "{table}"').fetchone()[0] for table in report["tables"]}
    assert report["tables"] == source and source["claims"] > 0 and source["journal_entries"] > 0
    checked = subprocess.run(
        [*CARECYCLE, "db", "check", "--json"],
        env={**env, "CARECYCLE_DATABASE_URL": target},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert checked.returncode == 0, checked.stdout[-2000:]
    assert json.loads(checked.stdout)["ok"] is True
