"""`carecycle worker --queue NAME` against a running server: it serves its queue, logs JSON lines without
payload values, and a SIGTERM drains it and exits 0."""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from flows.workitems import StandaloneWorkItemInput, StandaloneWorkItemWorkflow
from tests.support.dev_stack import env_for, stack_settings
from workers.temporal import embedded_stack

pytestmark = pytest.mark.temporal

CARECYCLE = str(Path(sys.executable).parent / "carecycle")


async def test_worker_serves_its_queue_and_stops_on_sigterm(tmp_path: Path, sqlite_url: str) -> None:
    settings = stack_settings(tmp_path / "home", sqlite_url)
    env = {
        **env_for(settings),
        "CARECYCLE_WORKER_CONCURRENCY": "revenue=3",
        "CARECYCLE_WORKER_GRACEFUL_SHUTDOWN_SECONDS": "2",
    }
    async with embedded_stack(settings, ui=False) as temporal:
        log = tmp_path / "worker.log"
        with log.open("w") as errors:
            worker = subprocess.Popen(
                [CARECYCLE, "worker", "--queue", "revenue"], env=env, stdout=subprocess.DEVNULL, stderr=errors
            )
        try:
            entity = str(uuid.uuid4())
            handle = await temporal.client.start_workflow(
                StandaloneWorkItemWorkflow.run,
                StandaloneWorkItemInput(
                    reason="manual_task",
                    entity_type="claim",
                    entity_id=entity,
                    summary="secret-free",
                    sla_seconds=600,
                    context={"note_ref": "Q-5521"},
                ),
                id=f"workitem-claim-{entity}",
                task_queue="revenue",
            )
            views = []
            for _ in range(300):
                views = await handle.query(StandaloneWorkItemWorkflow.open_work_items)
                if views:
                    break
                await asyncio.sleep(0.2)
            assert views, "the worker never ran the workflow"
        finally:
            worker.send_signal(signal.SIGTERM)
            code = await asyncio.to_thread(worker.wait, 60)
    assert code == 0
    lines = [json.loads(line) for line in log.read_text().splitlines() if line.startswith("{")]
    messages = [entry["msg"] for entry in lines]
    assert "worker started" in messages and "workers stopped" in messages
    assert any(entry.get("work_item_id") == views[0].work_item_id for entry in lines)
    assert "Q-5521" not in log.read_text()  # activity inputs are never logged


def test_worker_rejects_an_unknown_queue(tmp_path: Path) -> None:
    result = subprocess.run([CARECYCLE, "worker", "--queue", "billing"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert result.stderr.strip() == "error: unknown task queue 'billing'; known: revenue, portal, documents"


def test_merged_queue_names_still_select_the_queue_that_took_their_place() -> None:
    from activities.contracts.queues import TaskQueue, parse_task_queue

    assert parse_task_queue("edi") is TaskQueue.REVENUE and parse_task_queue("collections") is TaskQueue.REVENUE
    assert [q.value for q in TaskQueue] == ["revenue", "portal", "documents"]
