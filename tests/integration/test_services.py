"""The service processes as a deployment runs them: `carecycle console` and `carecycle codec-server` alone, with
/health and /ready; refused without the secret every instance must share; and worker versioning on the dev server
(`carecycle worker` as a version of a deployment, `carecycle deployment promote` / `status`)."""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import sys
import uuid
from pathlib import Path

import httpx
import pytest

from flows.workitems import StandaloneWorkItemInput, StandaloneWorkItemWorkflow
from tests.support.dev_stack import dev_stack, env_for, free_port, run_cli

pytestmark = pytest.mark.temporal

CARECYCLE = str(Path(sys.executable).parent / "carecycle")


def _start(command: list[str], env: dict[str, str], log: Path) -> tuple[subprocess.Popen[str], str]:
    with log.open("a") as errors:
        process = subprocess.Popen([CARECYCLE, *command], env=env, stdout=subprocess.PIPE, stderr=errors, text=True)
    assert process.stdout is not None
    line = process.stdout.readline()
    if not line:
        process.wait(30)
        raise AssertionError(f"carecycle {' '.join(command)} exited: {log.read_text()[-2000:]}")
    return process, line


def _stop(process: subprocess.Popen[str]) -> int:
    process.send_signal(signal.SIGTERM)
    code = process.wait(60)
    if process.stdout is not None:
        process.stdout.close()
    return code


async def test_the_console_and_the_codec_server_run_alone(tmp_path: Path, sqlite_url: str) -> None:
    async with dev_stack(tmp_path / "home", sqlite_url, workers=False) as stack:
        env = {**stack.env, "CARECYCLE_CONSOLE_PORT": str(free_port()), "CARECYCLE_CODEC_SERVER_PORT": str(free_port())}
        env["CARECYCLE_CODEC_SERVER_TOKEN"] = "codec-token-for-the-test"
        env["CARECYCLE_CODEC_CORS_ORIGINS"] = "https://cloud.temporal.io"
        log = tmp_path / "services.log"
        console, banner = _start(["console"], env, log)
        codec, codec_banner = _start(["codec-server"], env, log)
        try:
            console_url = f"http://127.0.0.1:{env['CARECYCLE_CONSOLE_PORT']}"
            codec_url = f"http://127.0.0.1:{env['CARECYCLE_CODEC_SERVER_PORT']}"
            assert console_url in banner and codec_url in codec_banner
            async with httpx.AsyncClient(timeout=10) as web:
                assert (await web.get(f"{console_url}/health")).json() == {"status": "ok"}
                ready = (await web.get(f"{console_url}/ready")).json()
                assert ready == {"status": "ready", "checks": {"store": "ok", "temporal": "ok"}}
                assert (await web.get(f"{console_url}/queues")).status_code == 303  # sign-in first
                assert (await web.get(f"{codec_url}/ready")).json() == {"status": "ready", "checks": {}}
                assert (await web.post(f"{codec_url}/decode", json={"payloads": []})).status_code == 401
                bearer = {"Authorization": "Bearer codec-token-for-the-test"}
                assert (await web.post(f"{codec_url}/decode", json={"payloads": []}, headers=bearer)).status_code == 200
                preflight = await web.options(
                    f"{codec_url}/decode",
                    headers={"Origin": "https://cloud.temporal.io", "Access-Control-Request-Method": "POST"},
                )
                assert preflight.headers["access-control-allow-origin"] == "https://cloud.temporal.io"
        finally:
            assert _stop(console) == 0 and _stop(codec) == 0


def test_outside_the_embedded_stack_the_shared_secrets_are_required(tmp_path: Path, sqlite_url: str) -> None:
    env = {
        "CARECYCLE_HOME": str(tmp_path / "home"),
        "CARECYCLE_DATABASE_URL": sqlite_url,
        "TEMPORAL_ADDRESS": f"127.0.0.1:{free_port()}",
    }
    console = run_cli(env, "console")
    assert (console.returncode, console.stderr) == (
        1,
        "error: CARECYCLE_CONSOLE_SESSION_SECRET must be set: every instance of this service must use the same one\n",
    )
    codec = run_cli(env, "codec-server")
    assert codec.returncode == 1 and codec.stderr.startswith("error: CARECYCLE_CODEC_SERVER_TOKEN must be set")


async def test_a_versioned_worker_takes_work_once_its_build_is_promoted(tmp_path: Path, sqlite_url: str) -> None:
    deployment = f"cc-{uuid.uuid4().hex[:6]}"
    async with dev_stack(tmp_path / "home", sqlite_url, workers=False) as stack:
        base = {**env_for(stack.settings), "CARECYCLE_WORKER_DEPLOYMENT": deployment}
        log = tmp_path / "workers.log"
        with log.open("a") as errors:
            first = subprocess.Popen(
                [CARECYCLE, "worker", "--queue", "revenue"],
                env={**base, "CARECYCLE_BUILD_ID": "build-1", "CARECYCLE_METRICS_PORT": str(free_port())},
                stdout=subprocess.DEVNULL,
                stderr=errors,
            )
        try:
            promoted = await asyncio.to_thread(run_cli, base, "deployment", "promote", "build-1", "--wait", "300")
            assert promoted.returncode == 0, promoted.stderr
            assert promoted.stdout == f"deployment {deployment}: build build-1 is current\n"
            entity = str(uuid.uuid4())
            handle = await stack.client.start_workflow(
                StandaloneWorkItemWorkflow.run,
                StandaloneWorkItemInput(
                    reason="manual_task", entity_type="claim", entity_id=entity, summary="v", sla_seconds=600
                ),
                id=f"workitem-claim-{entity}",
                task_queue="revenue",
            )
            for _ in range(300):
                if await handle.query(StandaloneWorkItemWorkflow.open_work_items):
                    break
                await asyncio.sleep(0.2)
            else:
                raise AssertionError("the promoted version never ran the workflow")
            described = await handle.describe()
            assert described.raw_description.workflow_execution_info.versioning_info.deployment_version.build_id == (
                "build-1"
            )
            with log.open("a") as errors:
                second = subprocess.Popen(
                    [CARECYCLE, "worker", "--queue", "revenue"],
                    env={**base, "CARECYCLE_BUILD_ID": "build-2", "CARECYCLE_METRICS_PORT": str(free_port())},
                    stdout=subprocess.DEVNULL,
                    stderr=errors,
                )
            try:
                ramp = await asyncio.to_thread(
                    run_cli, base, "deployment", "promote", "build-2", "--ramp", "25", "--wait", "300"
                )
                assert ramp.returncode == 0, ramp.stderr
                status = await asyncio.to_thread(run_cli, base, "deployment", "status", "--json")
                state = json.loads(status.stdout)
                assert (state["current_build_id"], state["ramping_build_id"]) == ("build-1", "build-2")
                assert state["ramping_percentage"] == 25 and set(state["build_ids"]) == {"build-1", "build-2"}
            finally:
                second.terminate()
                second.wait(60)
        finally:
            first.terminate()
            first.wait(60)
