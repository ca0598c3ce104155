"""The batch plane for real: `carecycle batch serve` serves every flow of workers.batch_plane as a Prefect deployment
with its cron schedule on a long-lived local Prefect server; `carecycle batch run` records its run in the same
history, which survives a restart; a deployment run is executed by the served runner. The history archive exports
closed histories (still encrypted) and the audit log with a manifest that `carecycle audit verify-archive` checks
(and fails after one byte changes), to a folder and to an object-locked S3 bucket. `carecycle batch server` keeps
Prefect's state in a database of its own beside a PostgreSQL store."""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.dev_stack import dev_stack, free_port, run_cli
from tests.support.environ import environ_without_ours

CARECYCLE = [sys.executable, "-c", "from workers.cli import main; main()"]


def _env(home: Path, **extra: str) -> dict[str, str]:
    env = environ_without_ours("PREFECT_")
    env.update(
        CARECYCLE_HOME=str(home),
        CARECYCLE_PREFECT_PORT=str(free_port()),
        CARECYCLE_METRICS_PORT=str(free_port()),
        PREFECT_SERVER_ANALYTICS_ENABLED="false",
        **extra,
    )
    return env


def _cli(env: dict[str, str], *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CARECYCLE, *args], env=env, capture_output=True, text=True, timeout=timeout)


def _serve(env: dict[str, str], log: Path) -> subprocess.Popen[str]:
    with log.open("a") as errors:
        process = subprocess.Popen(
            [*CARECYCLE, "batch", "serve"], env=env, stdout=subprocess.PIPE, stderr=errors, text=True
        )
    assert process.stdout is not None
    line = process.stdout.readline()  # printed once the local Prefect server answers
    assert line.startswith("serving the batch flows"), log.read_text()[-3000:]
    return process


def _stop(process: subprocess.Popen[str]) -> None:
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(60)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
        raise AssertionError("batch serve did not stop on SIGTERM") from None
    if process.stdout is not None:
        process.stdout.close()


def _api(env: dict[str, str]) -> str:
    return f"http://127.0.0.1:{env['CARECYCLE_PREFECT_PORT']}/api"


def _wait(probe: Any, what: str, seconds: float = 180) -> Any:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        found = probe()
        if found:
            return found
        time.sleep(1)
    raise AssertionError(f"never saw {what}")


def _deployments(api: str) -> dict[str, dict[str, Any]]:
    listed = httpx.post(f"{api}/deployments/filter", json={"limit": 100}, timeout=30).json()
    return {d["name"]: d for d in listed}


def _completed_runs(api: str) -> list[dict[str, Any]]:
    """Finished runs only: the schedules keep many future runs scheduled ahead."""
    query = {"limit": 200, "flow_runs": {"state": {"type": {"any_": ["COMPLETED"]}}}}
    return httpx.post(f"{api}/flow_runs/filter", json=query, timeout=30).json()


def _flow_names(api: str) -> dict[str, str]:
    flows = httpx.post(f"{api}/flows/filter", json={"limit": 100}, timeout=30).json()
    return {f["id"]: f["name"] for f in flows}


@pytest.mark.e2e
def test_batch_serve_serves_the_deployments_on_their_schedules_with_a_lasting_history(tmp_path: Path) -> None:
    from workers.batch_plane import BATCH_PLANE

    home = tmp_path / "home"
    env = _env(home, CARECYCLE_BATCH_TIMEZONE="America/New_York")
    assert _cli(env, "db", "upgrade").returncode == 0
    assert _cli(env, "db", "seed", "--patients", "25", "--seed", "3").returncode == 0
    api = _api(env)
    log = tmp_path / "serve.log"
    serve = _serve(env, log)
    try:
        deployments = _wait(lambda: len(_deployments(api)) == len(BATCH_PLANE) and _deployments(api), "deployments")
        for flow in BATCH_PLANE:
            schedules = [s["schedule"] for s in deployments[flow.name]["schedules"]]
            expected = [{"cron": flow.cron, "timezone": "America/New_York"}] if flow.cron else []
            assert [{"cron": s.get("cron"), "timezone": s.get("timezone")} for s in schedules] == expected, flow.name

        # /ready of the batch service: the store and the Prefect API.
        def probe() -> dict[str, Any] | None:
            try:
                answer = httpx.get(f"http://127.0.0.1:{env['CARECYCLE_METRICS_PORT']}/ready", timeout=10)
            except httpx.ConnectError:  # once refused in a full run: the serve's log says why (port taken?)
                return None
            return dict(answer.json())

        ready = None
        for _ in range(30):
            ready = probe()
            if ready is not None:
                break
            time.sleep(1)
        assert ready == {"status": "ready", "checks": {"store": "ok", "prefect": "ok"}}, log.read_text()[-3000:]

        # A one-off run, recorded in the served server's history.
        run = _cli(env, "batch", "run", "ar-kpi-report", "--as-of", date.today().isoformat(), "--json")
        assert run.returncode == 0, run.stderr[-3000:]
        summary = json.loads(run.stdout)
        pdf = Path(summary["pdf"])
        assert pdf.read_bytes().startswith(b"%PDF") and Path(summary["csv"]).read_text().startswith("payer_id,")
        names = _flow_names(api)
        recorded = {names[r["flow_id"]] for r in _completed_runs(api)}
        assert "ar-kpi-report" in recorded, "the one-off run is in the served server's history"
        import pdfplumber

        with pdfplumber.open(pdf) as document:
            text = document.pages[0].extract_text() or ""
        assert "AR and KPI report" in text and "Days in AR" in text and summary["days_in_ar"] in text

        # A deployment run, executed by the served runner (its own process).
        sweep = deployments["credential-expiry-sweep"]["id"]
        created = httpx.post(f"{api}/deployments/{sweep}/create_flow_run", json={}, timeout=30).json()

        def finished() -> str | None:
            state = httpx.get(f"{api}/flow_runs/{created['id']}", timeout=30).json()["state"]["type"]
            return state if state in ("COMPLETED", "FAILED", "CRASHED") else None

        assert _wait(finished, "the served deployment's run") == "COMPLETED", log.read_text()[-3000:]
    finally:
        _stop(serve)
    assert not _answers(api), "the local Prefect server outlived batch serve"

    serve = _serve(env, log)  # a restart: the history is still there
    try:

        def finished() -> set[str]:
            names = _flow_names(api)
            return {names[r["flow_id"]] for r in _completed_runs(api)}

        seen: set[str] = set()

        def both_there() -> bool:
            seen.update(finished())
            return {"ar-kpi-report", "credential-expiry-sweep"} <= seen

        assert _wait(both_there, "the earlier runs", 60), seen
    finally:
        _stop(serve)
    assert not _answers(api), "the local Prefect server outlived the restarted batch serve"


@pytest.mark.e2e
@pytest.mark.temporal
def test_up_serves_the_batch_plane_and_stops_it(tmp_path: Path) -> None:
    """`carecycle up` starts a long-lived Prefect server (its UI in the banner) and `batch serve` beside the rest;
    the deployments appear; Ctrl-C stops both with the stack (their whole process groups)."""
    from tests.integration.test_stack import _alive, _start, _stop
    from tests.integration.test_stack import _env as up_env
    from workers.batch_plane import BATCH_PLANE

    env = {**up_env(tmp_path / "home"), "CARECYCLE_BATCH_SERVE": "1"}
    process, banner = _start(env, tmp_path / "up.log")
    api = _api(env)
    try:
        urls = {" ".join(line.split()[:-1]): line.split()[-1] for line in banner.splitlines() if "http" in line}
        assert urls["prefect ui"] == f"http://127.0.0.1:{env['CARECYCLE_PREFECT_PORT']}"
        _wait(lambda: _answers(api) and len(_deployments(api)) == len(BATCH_PLANE), "the deployments", seconds=300)
        groups = _process_groups(process.pid)
        assert len(groups) >= 2, groups  # the Prefect server's and batch serve's own sessions
    finally:
        code, _ = _stop(process)
    assert code == 0, (tmp_path / "up.log").read_text()[-2000:]
    assert not _answers(api)
    assert not [pid for pid in _members(groups) if _alive(pid)], "a batch-plane process outlived up"


def _process_groups(parent: int) -> set[int]:
    out = subprocess.run(["ps", "-o", "pid=,pgid=", "--ppid", str(parent)], capture_output=True, text=True).stdout
    return {int(pgid) for pid, pgid in (line.split() for line in out.splitlines()) if int(pid) == int(pgid)}


def _members(groups: set[int]) -> list[int]:
    out = subprocess.run(["ps", "-eo", "pid=,pgid="], capture_output=True, text=True).stdout
    return [int(pid) for pid, pgid in (line.split() for line in out.splitlines()) if int(pgid) in groups]


def _answers(api: str) -> bool:
    try:
        with urllib.request.urlopen(f"{api}/health", timeout=2):
            return True
    except OSError:
        return False


# --- the history archive ---------------------------------------------------------------------------------------


async def _closed_workflow(stack: Any) -> str:
    from domain.workitems import RESOLVE_UPDATE
    from flows.workitems import StandaloneWorkItemInput, StandaloneWorkItemWorkflow
    from tests.support.actors import signed_resolve

    entity = str(uuid.uuid4())
    handle = await stack.client.start_workflow(
        StandaloneWorkItemWorkflow.run,
        StandaloneWorkItemInput(
            reason="manual_task", entity_type="claim", entity_id=entity, summary="zebra-summary", sla_seconds=600
        ),
        id=f"workitem-claim-{entity}",
        task_queue="revenue",
    )
    for _ in range(200):
        views = await handle.query(StandaloneWorkItemWorkflow.open_work_items)
        if views:
            break
        await asyncio.sleep(0.1)
    await handle.execute_update(
        RESOLVE_UPDATE, signed_resolve(stack.settings, handle.id, views[0].work_item_id, "complete")
    )
    await handle.result()
    return handle.id


@pytest.mark.temporal
@pytest.mark.e2e
async def test_the_archive_flow_exports_histories_and_the_audit_log_and_verifies(
    tmp_path: Path, sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import flows.batch.archive
    from domain.audit import record

    # The window ends a settling margin before now; this workflow closes a moment before the run: move the end on.
    monkeypatch.setattr(flows.batch.archive, "SETTLE", timedelta(minutes=-5))
    async with dev_stack(tmp_path / "home", sqlite_url) as stack:
        workflow_id = await _closed_workflow(stack)
        with stack.container.uow() as uow:
            record(uow.session, actor="ann", action="test.archived", entity_type="claim", entity_id=str(uuid.uuid4()))
            uow.commit()
        result = await asyncio.to_thread(run_cli, stack.env, "batch", "run", "history-archive", "--json")
        assert result.returncode == 0, result.stderr[-3000:]
        summary = json.loads(result.stdout)
        assert summary["histories"] >= 1 and summary["audit_rows"] >= 1
    archive = stack.settings.home / "archive"
    (run,) = (archive / "runs").iterdir()
    mine = next(p for p in (run / "histories").iterdir() if p.name.startswith(workflow_id))
    history = mine.read_text()
    assert '"events"' in history and "zebra-summary" not in history  # payloads stay encrypted
    audit = (run / "audit-events.jsonl").read_text().splitlines()
    assert any(json.loads(line)["action"] == "test.archived" for line in audit)
    verify = run_cli(stack.env, "audit", "verify-archive", "--json")
    assert verify.returncode == 0, verify.stderr
    assert json.loads(verify.stdout)["ok"] is True

    # One byte changed in a history: the verification fails and names the file.
    mine.chmod(0o640)
    data = bytearray(mine.read_bytes())
    data[len(data) // 2] ^= 0x01
    mine.write_bytes(bytes(data))
    tampered = run_cli(stack.env, "audit", "verify-archive")
    assert tampered.returncode == 1
    assert f"FAIL runs/{run.name}/histories/{mine.name}: content differs from its checksum" in tampered.stdout


def test_verification_catches_a_removed_or_swapped_manifest(tmp_path: Path) -> None:
    from workers.archive import FolderArchive, RunWriter, run_stamp, verify_archive

    archive = FolderArchive(tmp_path / "archive")
    start = datetime(2026, 1, 1, tzinfo=UTC)
    for day in range(3):
        until = start + timedelta(days=day + 1)
        writer = RunWriter(archive, run_stamp(until))
        writer.write("audit-events.jsonl", f"row {day}\n".encode())
        writer.finish(start + timedelta(days=day), until, {"audit_rows": 1})
    report = verify_archive(archive)
    assert report.ok and (report.runs, report.files) == (3, 3)
    # A run written without its manifest (it failed half way) is noted, not a failure.
    RunWriter(archive, run_stamp(start + timedelta(days=9))).write("audit-events.jsonl", b"half\n")
    report = verify_archive(archive)
    assert report.ok and report.as_dict()["unfinished_runs"] == [f"runs/{run_stamp(start + timedelta(days=9))}"]
    # The middle manifest removed: the next one no longer links.
    middle = tmp_path / "archive" / "runs" / run_stamp(start + timedelta(days=2)) / "manifest.json"
    middle.chmod(0o640)
    middle.unlink()
    report = verify_archive(archive)
    assert not report.ok
    assert any("does not link to the previous run's manifest" in p for p in report.problems)


@pytest.fixture(scope="module")
def moto_server() -> Iterator[str]:
    server = Path(sys.executable).parent / "moto_server"
    if not server.exists():
        pytest.skip("moto's server is not installed")
    port = free_port()
    process = subprocess.Popen(
        [str(server), "-H", "127.0.0.1", "-p", str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait(lambda: _answers_url(f"{url}/moto-api/"), "moto's server", seconds=60)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)


def _answers_url(url: str) -> bool:
    try:
        urllib.request.urlopen(url, timeout=2).close()
        return True
    except OSError:
        return False


@pytest.mark.s3
def test_the_s3_archive_is_written_once_under_compliance_retention(
    moto_server: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import boto3

    from workers.archive import RunWriter, open_archive, run_stamp, verify_archive

    for name, value in {
        "AWS_ACCESS_KEY_ID": "t",
        "AWS_SECRET_ACCESS_KEY": "t",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(name, value)
    s3 = boto3.client("s3", endpoint_url=moto_server)
    bucket = f"cc-archive-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=bucket, ObjectLockEnabledForBucket=True)
    archive = open_archive(f"s3://{bucket}/archive", retention_days=2190, endpoint_url=moto_server)
    until = datetime(2026, 2, 1, tzinfo=UTC)
    writer = RunWriter(archive, run_stamp(until))
    writer.write("histories/claim-1__run.json", b'{"events": []}')
    writer.finish(None, until, {"histories": 1})
    assert verify_archive(archive).ok
    key = f"archive/runs/{run_stamp(until)}/histories/claim-1__run.json"
    head = s3.head_object(Bucket=bucket, Key=key)
    assert head["ObjectLockMode"] == "COMPLIANCE"
    assert head["ObjectLockRetainUntilDate"] > datetime.now(UTC) + timedelta(days=2180)
    with pytest.raises(s3.exceptions.ClientError):  # a locked version cannot be deleted, not even by its writer
        s3.delete_object(Bucket=bucket, Key=key, VersionId=head["VersionId"])
    # Overwriting leaves the checksummed version in place underneath, but the verification reads the latest: fails.
    s3.put_object(Bucket=bucket, Key=key, Body=b'{"events": [1]}', ChecksumAlgorithm="SHA256")
    report = verify_archive(archive)
    assert not report.ok and key.removeprefix("archive/") + ": content differs" in report.problems[0]


# --- `carecycle batch server`: Prefect's own database beside a PostgreSQL store ---------------------------------


@pytest.mark.postgres
@pytest.mark.e2e
def test_batch_server_keeps_prefect_in_its_own_database_beside_the_store(
    tmp_path: Path, pg_server: Any, _pg_template: str | None
) -> None:
    from sqlalchemy import text

    from domain.store.engine import make_engine
    from tests.conftest import _fresh_url

    database_url = _fresh_url("postgres", tmp_path, tmp_path / "unused.db", pg_server, _pg_template)
    prefect_db = f"prefect_{uuid.uuid4().hex[:8]}"
    env = _env(tmp_path / "home", CARECYCLE_DATABASE_URL=database_url, CARECYCLE_PREFECT_DATABASE=prefect_db)
    log = tmp_path / "server.log"
    with log.open("w") as output:
        server = subprocess.Popen([*CARECYCLE, "batch", "server"], env=env, stdout=output, stderr=output)
    try:
        _wait(lambda: _answers(_api(env)), "the Prefect server", seconds=300)
        admin = make_engine(pg_server.admin_url)
        with admin.connect() as connection:
            tables = connection.execute(
                text("SELECT count(*) FROM pg_database WHERE datname = :name"), {"name": prefect_db}
            ).scalar_one()
        admin.dispose()
        assert tables == 1
        prefect = make_engine(pg_server.url(prefect_db))
        with prefect.connect() as connection:
            assert connection.execute(text("SELECT count(*) FROM flow")).scalar_one() == 0  # Prefect's schema
        prefect.dispose()
        assert not (tmp_path / "home" / "prefect" / "prefect.db").exists()
    finally:
        server.terminate()
        server.wait(60)
    assert "created the Prefect database" in log.read_text()


# --- the KPI rules ----------------------------------------------------------------------------------------------


def test_kpi_ratios() -> None:
    from flows.batch.kpi import days_in_ar, denial_rate_percent

    assert days_in_ar(0, 0) == Decimal(0)
    assert days_in_ar(90_000, 900_000) == Decimal("9.0")  # AR is 9 average days of charges
    assert days_in_ar(100, 300) == Decimal("30.0")
    assert denial_rate_percent(1, 8) == Decimal("12.5")
    assert denial_rate_percent(0, 0) == Decimal(0)


def test_every_served_flow_can_be_run_in_a_process_of_its_own(sqlite_url: str, tmp_path: Path) -> None:
    """Served runs get the flow pickled into a fresh process, where Prefect validates the parameters against the
    function's annotations: they must be objects there (not names only the defining module knows), and the ports
    must pickle without an open connection."""
    import cloudpickle

    from workers.batch_plane import BATCH_PLANE, BatchContext
    from workers.settings import Settings

    context = BatchContext(Settings(home=tmp_path, database_url=sqlite_url))
    for spec in BATCH_PLANE:
        flow = spec.build(context)
        if flow is None:
            continue
        copy = cloudpickle.loads(cloudpickle.dumps(flow))
        for name, annotation in copy.fn.__annotations__.items():
            assert not isinstance(annotation, str), f"{spec.name}: parameter {name} is annotated by name only"
