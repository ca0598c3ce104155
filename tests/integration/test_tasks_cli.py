"""`carecycle tasks` against a real dev server: list, show, a rejected resolution (exit 1, one line,
nothing changes) and an accepted one that completes the waiting workflow."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from temporalio.client import WorkflowHandle

from domain import models as m
from flows.workitems import (
    StandaloneWorkItemInput,
    StandaloneWorkItemResult,
    StandaloneWorkItemWorkflow,
)
from tests.support.dev_stack import CliResult, DevStack, dev_stack, run_cli
from workers.security.actors import os_user

pytestmark = pytest.mark.temporal

CARECYCLE = str(Path(sys.executable).parent / "carecycle")


def carecycle(stack: DevStack, *args: str) -> subprocess.CompletedProcess[str]:
    """The real executable: exit codes and one-line errors as a user sees them."""
    return subprocess.run([CARECYCLE, *args], env=stack.env, capture_output=True, text=True, timeout=60)


def cli(stack: DevStack, *args: str) -> CliResult:
    return run_cli(stack.env, *args)


async def start_item(stack: DevStack, reason: str = "claim_denied") -> tuple[WorkflowHandle[object, object], str]:
    claim_id = str(uuid.uuid4())
    handle = await stack.client.start_workflow(
        StandaloneWorkItemWorkflow.run,
        StandaloneWorkItemInput(
            reason=reason, entity_type="claim", entity_id=claim_id, summary="CO-50 line 1", sla_seconds=86400
        ),
        id=f"workitem-claim-{claim_id}-{reason}",
        task_queue="revenue",
    )
    for _ in range(100):
        views = await handle.query(StandaloneWorkItemWorkflow.open_work_items)
        if views:
            return handle, views[0].work_item_id  # type: ignore[return-value]
        await asyncio.sleep(0.1)
    raise AssertionError("no work item opened")


async def test_tasks_list_show_reject_and_resolve(tmp_path: Path, sqlite_url: str) -> None:
    async with dev_stack(tmp_path / "home", sqlite_url) as stack:
        handle, item_id = await start_item(stack)
        await start_item(stack, reason="eligibility_inconclusive")

        listed = await asyncio.to_thread(cli, stack, "tasks", "list", "--json")
        assert listed.returncode == 0, listed.stderr
        items = json.loads(listed.stdout)["work_items"]
        assert {i["queue"] for i in items} == {"denials", "eligibility"}
        only = await asyncio.to_thread(cli, stack, "tasks", "list", "--queue", "denials", "--json")
        assert [i["id"] for i in json.loads(only.stdout)["work_items"]] == [item_id]
        table = await asyncio.to_thread(cli, stack, "tasks", "list")
        assert item_id[:8] in table.stdout and "claim_denied" in table.stdout

        shown = await asyncio.to_thread(cli, stack, "tasks", "show", item_id[:8])
        assert shown.returncode == 0 and "appeal" in shown.stdout and "--note" in shown.stdout

        # Rejected locally (wrong action for the reason): one line, exit 1, nothing changed.
        wrong = await asyncio.to_thread(
            carecycle,
            stack,
            "tasks",
            "resolve",
            item_id,
            "--action",
            "confirm_eligibility",
            "--note",
            "x",
            "--by",
            "ann",
        )
        assert wrong.returncode == 1
        assert wrong.stderr.strip().count("\n") == 0 and "not allowed for claim_denied" in wrong.stderr
        missing = await asyncio.to_thread(
            cli,
            stack,
            "tasks",
            "resolve",
            item_id,
            "--action",
            "write_off",
            "--set",
            "reason_code=oops",
            "--by",
            "ann",
        )
        assert missing.returncode == 1 and "reason_code must be one of" in missing.stderr
        with stack.container.uow() as uow:
            row = uow.session.get(m.WorkItem, item_id)
            assert row is not None and row.state == "open" and row.resolution is None

        ok = await asyncio.to_thread(
            carecycle,
            stack,
            "tasks",
            "resolve",
            item_id,
            "--action",
            "write_off",
            "--set",
            "reason_code=timely_filing",
            "--by",
            "ann",
        )
        assert ok.returncode == 0, ok.stderr
        # Signed as the operating-system user running the command; --by is only a display note.
        by = f"cli:{os_user()} (ann)"
        assert f"resolved: write_off by {by}" in ok.stdout
        result = await handle.result()
        assert result == StandaloneWorkItemResult(action="write_off", by=by, fields={"reason_code": "timely_filing"})

        again = await asyncio.to_thread(
            cli,
            stack,
            "tasks",
            "resolve",
            item_id,
            "--action",
            "write_off",
            "--set",
            "reason_code=bad_debt",
            "--by",
            "bob",
        )
        assert again.returncode == 1 and "already resolved" in again.stderr
        unknown = await asyncio.to_thread(cli, stack, "tasks", "show", "nonexistent-id")
        assert unknown.returncode == 1 and unknown.stderr.startswith("error: no work item")


async def test_the_server_side_validator_rejects_what_the_cli_cannot_see(tmp_path: Path, sqlite_url: str) -> None:
    """An item already being resolved or not open in the workflow: the Update is refused by the workflow."""
    async with dev_stack(tmp_path / "home", sqlite_url) as stack:
        handle, item_id = await start_item(stack)
        with stack.container.uow() as uow:
            row = uow.session.get(m.WorkItem, item_id)
            assert row is not None
            other = m.WorkItem(
                queue="denials",
                reason_code="claim_denied",
                summary="stray",
                entity_type="claim",
                entity_id=str(uuid.uuid4()),
                workflow_id=handle.id,
                dedupe_key=f"stray-{uuid.uuid4()}",
                sla_due_at=row.sla_due_at,
            )
            uow.session.add(other)
            uow.commit()
            other_id = other.id
        refused = await asyncio.to_thread(
            cli, stack, "tasks", "resolve", other_id, "--action", "appeal", "--note", "n", "--by", "ann"
        )
        assert refused.returncode == 1
        assert (
            refused.stderr.strip() == f"error: resolution rejected: work item {other_id} is not open in this workflow"
        )


async def test_tasks_open_is_idempotent_and_shows_a_summary(tmp_path: Path, sqlite_url: str) -> None:
    async with dev_stack(tmp_path / "home", sqlite_url) as stack:
        entity = str(uuid.uuid4())
        args = ("tasks", "open", "--reason", "manual_task", "--entity-type", "claim", "--entity-id", entity)
        first = await asyncio.to_thread(cli, stack, *args, "--summary", "recheck CO-45", "--sla-hours", "2")
        second = await asyncio.to_thread(cli, stack, *args, "--summary", "recheck CO-45")
        assert first.returncode == 0 and second.returncode == 0, first.stderr + second.stderr
        workflow_id = f"workitem-claim-{entity}-manual_task"
        assert workflow_id in first.stdout and workflow_id in second.stdout
        handle = stack.client.get_workflow_handle(workflow_id)
        description = await handle.describe()
        assert await description.static_summary() == "Work item: manual_task (general)"
        for _ in range(100):
            listed = json.loads((await asyncio.to_thread(cli, stack, "tasks", "list", "--json")).stdout)["work_items"]
            if listed:
                break
            await asyncio.sleep(0.1)
        assert [(i["entity_id"], i["queue"]) for i in listed] == [(entity, "general")]
        bad = await asyncio.to_thread(
            cli,
            stack,
            "tasks",
            "open",
            "--reason",
            "whim",
            "--entity-type",
            "claim",
            "--entity-id",
            entity,
            "--summary",
            "x",
        )
        assert bad.returncode == 1 and bad.stderr.strip() == "error: unknown work item reason 'whim'"
