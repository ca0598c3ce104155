"""`carecycle audit` on a real dev server: replay verdicts (clean and tampered), a decoded timeline with
activities, timers and who resolved, and export of encrypted histories."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from sqlalchemy import select

from domain import models as m
from flows.workitems import StandaloneWorkItemInput, StandaloneWorkItemWorkflow
from tests.support.actors import signed_resolve
from tests.support.dev_stack import CliResult, DevStack, dev_stack, run_cli
from workers.security.actors import os_user

pytestmark = pytest.mark.temporal

CARECYCLE = str(Path(sys.executable).parent / "carecycle")
NOTE = "payer confirmed by phone ref Q-7781"


def carecycle(stack: DevStack, *args: str) -> subprocess.CompletedProcess[str]:
    """The real executable: exit codes as a user sees them."""
    return subprocess.run([CARECYCLE, *args], env=stack.env, capture_output=True, text=True, timeout=60)


def cli(stack: DevStack, *args: str) -> CliResult:
    return run_cli(stack.env, *args)


async def test_replay_timeline_and_export(tmp_path: Path, sqlite_url: str) -> None:
    async with dev_stack(tmp_path / "home", sqlite_url) as stack:
        entity = str(uuid.uuid4())
        handle = await stack.client.start_workflow(
            StandaloneWorkItemWorkflow.run,
            StandaloneWorkItemInput(
                reason="eligibility_inconclusive",
                entity_type="coverage",
                entity_id=entity,
                summary="AAA 42",
                sla_seconds=1,
            ),
            id=f"workitem-coverage-{entity}",
            task_queue="revenue",
        )
        for _ in range(100):
            views = await handle.query(StandaloneWorkItemWorkflow.open_work_items)
            if views and views[0].escalation_level >= 1:
                break
            await asyncio.sleep(0.2)
        item_id = views[0].work_item_id
        await handle.execute_update(
            StandaloneWorkItemWorkflow.resolve,
            signed_resolve(stack.settings, handle.id, item_id, "confirm_eligibility", note=NOTE),
        )
        await handle.result()

        replayed = await asyncio.to_thread(carecycle, stack, "audit", "replay", handle.id)
        assert replayed.returncode == 0, replayed.stderr
        out = replayed.stdout
        assert out.startswith(f"OK: {handle.id} replays deterministically")
        assert "activity workitems.open completed" in out
        assert "timer started: 1s (SLA of work item" in out and "timer fired" in out
        assert "activity workitems.escalate completed" in out
        assert "update resolve accepted from ann" in out and NOTE in out  # decoded through the codec
        assert "search attributes: WorkQueue=eligibility" in out
        assert "workflow completed" in out

        with stack.container.uow() as uow:  # printing a decoded history is a PHI view, by the OS user
            views = uow.session.execute(
                select(m.AuditEvent.actor, m.AuditEvent.details).where(
                    m.AuditEvent.action == "phi.view", m.AuditEvent.workflow_id == handle.id
                )
            ).all()
        assert views == [(f"cli:{os_user()}", {"via": "cli", "command": "audit replay"})]
        as_json = await asyncio.to_thread(cli, stack, "audit", "replay", handle.id, "--json")
        parsed = json.loads(as_json.stdout)
        assert parsed["ok"] is True and any(e["kind"] == "update" and e.get("by") == "ann" for e in parsed["timeline"])

        exported = await asyncio.to_thread(
            cli, stack, "audit", "export", "--closed-since", "2000-01-01", "--to", str(tmp_path / "out")
        )
        assert exported.returncode == 0, exported.stderr
        [path] = list((tmp_path / "out").glob("*.json"))
        raw = path.read_text()
        assert NOTE not in raw and "Q-7781" not in raw  # exported still encrypted
        from_file = await asyncio.to_thread(cli, stack, "audit", "replay", "--history", str(path))
        assert from_file.returncode == 0 and NOTE in from_file.stdout

        tampered = tmp_path / f"tampered__{path.stem.split('__')[1]}.json"
        tampered.write_text(raw.replace('"workitems.escalate"', '"workitems.something_else"'))
        bad = await asyncio.to_thread(cli, stack, "audit", "replay", "--history", str(tampered))
        assert bad.returncode == 1 and bad.stdout.startswith("NON-DETERMINISTIC")

        missing = await asyncio.to_thread(cli, stack, "audit", "replay", "no-such-workflow")
        assert missing.returncode == 1 and missing.stderr.strip() == "error: no workflow no-such-workflow"
        nofile = await asyncio.to_thread(cli, stack, "audit", "replay", "--history", str(tmp_path / "nope.json"))
        assert nofile.returncode == 1 and "no such file" in nofile.stderr
