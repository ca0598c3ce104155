"""`carecycle up` as a user runs it: it prints its UIs, runs workflows, stops cleanly on Ctrl-C with no
orphan processes, and a second start resumes the in-flight workflow from the same files."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import httpx
import pytest

from flows.workitems import StandaloneWorkItemInput, StandaloneWorkItemResult, StandaloneWorkItemWorkflow
from tests.support.dev_stack import free_port
from tests.support.environ import environ_without_ours
from workers.security.actors import os_user
from workers.security.keys import new_key_entry
from workers.settings import load_settings
from workers.temporal.client import connect

pytestmark = [pytest.mark.temporal, pytest.mark.e2e]

CARECYCLE = str(Path(sys.executable).parent / "carecycle")


def _env(home: Path) -> dict[str, str]:
    env = environ_without_ours()
    env.update(
        CARECYCLE_HOME=str(home),
        CARECYCLE_TEMPORAL_PORT=str(free_port()),
        CARECYCLE_TEMPORAL_UI_PORT=str(free_port()),
        CARECYCLE_CODEC_SERVER_PORT=str(free_port()),
        CARECYCLE_CONSOLE_PORT=str(free_port()),
        CARECYCLE_API_PORT=str(free_port()),
        CARECYCLE_SANDBOX_PORT=str(free_port()),
        CARECYCLE_HL7_PORT=str(free_port()),
        CARECYCLE_METRICS_PORT=str(free_port()),
        CARECYCLE_PREFECT_PORT=str(free_port()),
        CARECYCLE_BATCH_SERVE="0",  # the batch plane under `up`: tests/integration/test_batch_plane.py
        CARECYCLE_WORKER_GRACEFUL_SHUTDOWN_SECONDS="2",
    )
    return env


def _start(env: dict[str, str], log: Path, *args: str) -> tuple[subprocess.Popen[str], str]:
    with log.open("a") as errors:
        process = subprocess.Popen(
            [CARECYCLE, "up", *args], env=env, stdout=subprocess.PIPE, stderr=errors, text=True, start_new_session=True
        )
    assert process.stdout is not None
    lines = []
    deadline = time.monotonic() + 90
    try:
        while time.monotonic() < deadline:
            line = process.stdout.readline()
            if not line:
                raise AssertionError(f"carecycle up exited early: {log.read_text()[-2000:]}")
            lines.append(line)
            if line.startswith("Press Ctrl-C"):
                return process, "".join(lines)
        raise AssertionError("carecycle up never became ready")
    except BaseException:
        _reap(process)  # a failed start leaves nothing running for the next test
        raise


def _reap(process: subprocess.Popen[str]) -> None:
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
    process.wait(30)
    if process.stdout is not None:
        process.stdout.close()


def _children(pid: int) -> list[int]:
    out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(pid)], capture_output=True, text=True).stdout
    return [int(p) for p in out.split()]


def _stop(process: subprocess.Popen[str]) -> tuple[int, list[int]]:
    children = _children(process.pid)
    process.send_signal(signal.SIGINT)
    code = process.wait(60)
    if process.stdout is not None:
        process.stdout.close()
    return code, children


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat")
    return stat.exists() and stat.read_text().split()[2] != "Z"


async def test_up_stops_cleanly_and_resumes_in_flight_workflows(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path / "home"
    env = _env(home)
    log = tmp_path / "up.log"
    process, banner = _start(env, log)
    try:
        lines = {line.split("http")[0].strip(): line.split()[-1] for line in banner.splitlines() if "http" in line}
        assert lines["temporal ui"] == f"http://127.0.0.1:{env['CARECYCLE_TEMPORAL_UI_PORT']}"
        assert lines["codec server"] == f"http://127.0.0.1:{env['CARECYCLE_CODEC_SERVER_PORT']}"
        assert f"hl7            mllp://127.0.0.1:{env['CARECYCLE_HL7_PORT']}" in banner
        async with httpx.AsyncClient() as web:
            # The Web UI is behind the console's sign-in (workers.security.ui_proxy): nothing without it.
            assert (await web.get(f"{lines['temporal ui']}/api/v1/settings")).status_code == 401
            # Authorization is always on: the codec server wants the generated token, the console a user.
            token_file = home / "secrets" / "codec-server-token"
            admin_file = home / "secrets" / "console-admin-password"
            assert str(token_file) in banner and str(admin_file) in banner
            assert token_file.read_text().strip() not in banner and admin_file.read_text().strip() not in banner
            decode = f"{lines['codec server']}/decode"
            assert (await web.post(decode, json={"payloads": []})).status_code == 401
            bearer = {"Authorization": f"Bearer {token_file.read_text().strip()}"}
            assert (await web.post(decode, json={"payloads": []}, headers=bearer)).status_code == 200
            assert (await web.get(f"{lines['console']}/queues")).status_code == 303
            login_form = (await web.get(f"{lines['console']}/login")).text
            csrf = login_form.split('name="csrf" value="')[1].split('"')[0]
            admin = {"username": "admin", "password": admin_file.read_text().strip(), "csrf": csrf}
            assert (await web.post(f"{lines['console']}/login", data=admin)).status_code == 303
            assert (await web.get(f"{lines['console']}/queues")).status_code == 200
            # From the console, the Web UI lets the admin in and decodes through its own origin's /codec.
            grant = await web.get(f"{lines['console']}/temporal-ui")
            assert grant.status_code == 303 and grant.headers["location"].startswith(lines["temporal ui"])
            assert (await web.get(grant.headers["location"])).status_code == 303
            ui_settings = (await web.get(f"{lines['temporal ui']}/api/v1/settings")).json()
            assert ui_settings["Codec"]["Endpoint"] == f"{lines['temporal ui']}/codec"
            # The integration API: its CapabilityStatement is public, everything else wants a token.
            assert lines["fhir api"] == f"http://127.0.0.1:{env['CARECYCLE_API_PORT']}/fhir"
            assert (await web.get(f"{lines['fhir api']}/metadata")).json()["resourceType"] == "CapabilityStatement"
            assert (await web.get(f"{lines['fhir api']}/Patient")).status_code == 401
        secrets = ("codec-keys", "codec-server-token", "console-session-key", "console-admin-password", "actor-keys")
        for secret in secrets:
            assert (home / "secrets" / secret).stat().st_mode & 0o777 == 0o600
        for name, value in env.items():
            if name.startswith("CARECYCLE_"):
                monkeypatch.setenv(name, value)
        settings = load_settings()
        client = await connect(settings)
        entity = str(uuid.uuid4())
        handle = await client.start_workflow(
            StandaloneWorkItemWorkflow.run,
            StandaloneWorkItemInput(
                reason="manual_task", entity_type="claim", entity_id=entity, summary="check", sla_seconds=3600
            ),
            id=f"workitem-claim-{entity}-manual_task",
            task_queue="revenue",
        )
        for _ in range(100):
            views = await handle.query(StandaloneWorkItemWorkflow.open_work_items)
            if views:
                break
            await asyncio.sleep(0.1)
        item_id = views[0].work_item_id
    finally:
        code, children = _stop(process)
    assert code == 0, log.read_text()[-2000:]
    assert children, "the dev server should have been a child process"
    assert not [pid for pid in children if _alive(pid)], "orphan processes after Ctrl-C"
    assert (home / "temporal.db").exists()

    process, _ = _start(env, log)
    try:
        client = await connect(settings)
        resolved = subprocess.run(
            [CARECYCLE, "tasks", "resolve", item_id, "--action", "complete", "--by", "ann"],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert resolved.returncode == 0, resolved.stderr
        result = await client.get_workflow_handle(handle.id, result_type=StandaloneWorkItemResult).result()
        assert result == StandaloneWorkItemResult(action="complete", by=f"cli:{os_user()} (ann)", fields={})
    finally:
        code, _ = _stop(process)
    assert code == 0


@pytest.mark.postgres
async def test_up_against_an_external_cluster_starts_only_workers(
    tmp_path: Path, pg_server: object, _pg_template: str | None
) -> None:
    """TEMPORAL_ADDRESS + a PostgreSQL store: no dev server child, no UIs, the workers serve the cluster
    (unversioned: CARECYCLE_WORKER_DEPLOYMENT is not set)."""
    from tests.conftest import _fresh_url
    from tests.support.dev_stack import stack_settings
    from workers.temporal import embedded_stack

    database_url = _fresh_url("postgres", tmp_path, tmp_path / "unused.db", pg_server, _pg_template)  # type: ignore[arg-type]
    cluster = stack_settings(tmp_path / "cluster", database_url)
    async with embedded_stack(cluster, ui=False) as temporal:
        env = _env(tmp_path / "workers-home")
        env.update(
            TEMPORAL_ADDRESS=temporal.target,
            CARECYCLE_DATABASE_URL=database_url,
            CARECYCLE_CODEC_KEYS=cluster.codec_keys or "",
            CARECYCLE_ACTOR_KEYS=new_key_entry("a1"),  # workers against a cluster hold the actor key they are given
        )
        log = tmp_path / "up-remote.log"
        process, banner = _start(env, log)
        try:
            assert f"temporal       {temporal.target}" in banner
            # No UIs: the workers' own metrics endpoint is the only address.
            assert [line.split()[0] for line in banner.splitlines() if "http" in line] == ["metrics"]
            assert not _children(process.pid), "no dev server may be started against an external cluster"
            entity = str(uuid.uuid4())
            handle = await temporal.client.start_workflow(
                StandaloneWorkItemWorkflow.run,
                StandaloneWorkItemInput(
                    reason="manual_task", entity_type="claim", entity_id=entity, summary="remote", sla_seconds=600
                ),
                id=f"workitem-claim-{entity}",
                task_queue="revenue",
            )
            views = []
            for _ in range(300):
                views = await handle.query(StandaloneWorkItemWorkflow.open_work_items)
                if views:
                    break
                await asyncio.sleep(0.1)
            assert views, "the workers never ran the workflow"
        finally:
            code, _ = _stop(process)
        assert code == 0, log.read_text()[-2000:]


def test_up_with_a_taken_port_fails_in_one_line(tmp_path: Path) -> None:
    env = _env(tmp_path / "home")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", int(env["CARECYCLE_CODEC_SERVER_PORT"])))
        taken.listen()
        result = subprocess.run([CARECYCLE, "up"], env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 1
    port = env["CARECYCLE_CODEC_SERVER_PORT"]
    assert result.stderr.strip().splitlines()[-1] == (
        f"error: the codec server could not listen on 127.0.0.1:{port} (is the port in use?)"
    )
    assert "carecycle is up" not in result.stdout
