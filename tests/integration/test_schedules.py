"""The portal payers' EOB Temporal Schedules against a real dev server: apply creates one per portal payer with
the right action, is idempotent, follows an interval change (a paused schedule stays paused) and a payer
leaving portal routing; a trigger starts a PortalEobIntake run; `carecycle up` applies them; the CLI answers a
bad id or an unreachable Temporal with one line and exit 1."""

from __future__ import annotations

import asyncio
import contextlib
import json
import subprocess
import sys
from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TypeVar

import pytest
from temporalio.client import (
    Client,
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleIntervalSpec,
    ScheduleOverlapPolicy,
    ScheduleSpec,
    WorkflowExecutionStatus,
)
from temporalio.service import RPCError, RPCStatusCode

from activities.contracts.portal import PortalEobIntakeInput
from domain import models as m
from domain.enums import PayerKind, PayerRouting
from domain.store.engine import make_engine, make_session_factory
from tests.support.dev_stack import DevStack, dev_stack, env_for, run_cli, stack_settings
from workers.security.codec import ENCODING
from workers.temporal.schedules import SCHEDULE_PREFIX, ScheduleChanges, apply_schedules, list_schedules

pytestmark = pytest.mark.temporal

CARECYCLE = str(Path(sys.executable).parent / "carecycle")
CC, HH = f"{SCHEDULE_PREFIX}SBXCC", f"{SCHEDULE_PREFIX}SBXHH"
T = TypeVar("T")


def seed_payers(database_url: str, routings: dict[str, PayerRouting]) -> None:
    engine = make_engine(database_url)
    try:
        with make_session_factory(engine)() as session:
            for payer_id, routing in routings.items():
                found = session.query(m.Payer).filter_by(payer_id=payer_id).one_or_none()
                if found is None:
                    session.add(
                        m.Payer(
                            payer_id=payer_id,
                            name=f"Plan {payer_id}",
                            kind=PayerKind.COMMERCIAL,
                            routing=routing,
                            portal_variant="cascade" if routing == PayerRouting.PORTAL else None,
                        )
                    )
                else:
                    found.routing = routing
            session.commit()
    finally:
        engine.dispose()


async def eventually(probe: Callable[[], Awaitable[T | None]], what: str, tries: int = 100) -> T:
    """The visibility store (listing) lags a moment behind the schedules themselves."""
    for _ in range(tries):
        found = await probe()
        if found:
            return found
        await asyncio.sleep(0.1)
    raise AssertionError(f"never saw {what}")


async def listed_ids(client: Client) -> list[str]:
    return [view.schedule_id for view in await list_schedules(client)]


async def apply(stack: DevStack, **overrides: int) -> ScheduleChanges:
    return await apply_schedules(
        stack.client,
        stack.container.session_factory,
        replace(stack.settings, **overrides),  # type: ignore[arg-type]
    )


async def test_apply_creates_updates_and_deletes_the_portal_payers_schedules(tmp_path: Path, sqlite_url: str) -> None:
    seed_payers(
        sqlite_url, {"SBXCC": PayerRouting.PORTAL, "SBXHH": PayerRouting.PORTAL, "SBXBM": PayerRouting.CLEARINGHOUSE}
    )
    async with dev_stack(tmp_path / "home", sqlite_url, workers=False) as stack:
        client = stack.client
        foreign = client.get_schedule_handle("someone-elses-schedule")
        await client.create_schedule(
            foreign.id,
            Schedule(
                action=ScheduleActionStartWorkflow("Other", id="other", task_queue="elsewhere"),
                spec=ScheduleSpec(intervals=[ScheduleIntervalSpec(every=timedelta(hours=1))]),
            ),
        )

        first = await apply(stack)
        assert first == ScheduleChanges(created=(CC, HH))
        described = await client.get_schedule_handle(CC).describe()
        action = described.schedule.action
        assert isinstance(action, ScheduleActionStartWorkflow)
        assert (action.workflow, action.task_queue, action.id) == ("PortalEobIntake", "portal", "portal-eobs-SBXCC")
        assert [i.every for i in described.schedule.spec.intervals] == [timedelta(minutes=240)]
        offsets = {
            (await client.get_schedule_handle(sid).describe()).schedule.spec.intervals[0].offset for sid in (CC, HH)
        }
        assert len(offsets) == 2 and all(timedelta(0) <= o < timedelta(minutes=240) for o in offsets if o)
        assert described.schedule.policy.overlap == ScheduleOverlapPolicy.SKIP
        assert described.schedule.policy.catchup_window == timedelta(minutes=240)
        payloads = list(action.args)
        assert payloads[0].metadata["encoding"] == ENCODING  # the input is encrypted like any payload
        assert await client.data_converter.decode(payloads, [PortalEobIntakeInput]) == [PortalEobIntakeInput("SBXCC")]

        assert await apply(stack) == ScheduleChanges(unchanged=(CC, HH))  # idempotent

        await client.get_schedule_handle(CC).pause(note="portal down for maintenance")
        assert await apply(stack, portal_eob_interval_minutes=60) == ScheduleChanges(updated=(CC, HH))
        changed = await client.get_schedule_handle(CC).describe()
        assert [i.every for i in changed.schedule.spec.intervals] == [timedelta(minutes=60)]
        assert changed.schedule.state.paused and changed.schedule.state.note == "portal down for maintenance"
        assert await apply(stack, portal_eob_interval_minutes=60) == ScheduleChanges(unchanged=(CC, HH))

        await eventually(lambda: _both_listed(client), "both schedules listed")
        seed_payers(sqlite_url, {"SBXHH": PayerRouting.CLEARINGHOUSE})
        assert await apply(stack, portal_eob_interval_minutes=60) == ScheduleChanges(deleted=(HH,), unchanged=(CC,))
        with pytest.raises(RPCError) as gone:
            await client.get_schedule_handle(HH).describe()
        assert gone.value.status == RPCStatusCode.NOT_FOUND

        await eventually(lambda: _only_cc_listed(client), "the deleted schedule leave the listing")
        assert await apply(stack, portal_eob_interval_minutes=0) == ScheduleChanges(deleted=(CC,))
        assert (await foreign.describe()).id == foreign.id  # not ours: never touched


async def _both_listed(client: Client) -> bool:
    return await listed_ids(client) == [CC, HH]


async def _only_cc_listed(client: Client) -> bool:
    return await listed_ids(client) == [CC]


async def test_cli_apply_list_trigger_pause_and_bad_ids(tmp_path: Path, sqlite_url: str) -> None:
    seed_payers(sqlite_url, {"SBXCC": PayerRouting.PORTAL})
    async with dev_stack(tmp_path / "home", sqlite_url, workers=False) as stack:
        env = {**stack.env, "CARECYCLE_PORTAL_EOB_INTERVAL_MINUTES": "120"}

        def cli(*args: str) -> tuple[int, str, str]:
            result = run_cli(env, *args)
            return result.returncode, result.stdout, result.stderr

        code, out, _ = await asyncio.to_thread(cli, "schedules", "apply", "--json")
        assert code == 0 and json.loads(out)["created"] == [CC] and json.loads(out)["interval_minutes"] == 120

        async def listed() -> list[dict[str, object]] | None:
            code, out, _ = await asyncio.to_thread(cli, "schedules", "list", "--json")
            assert code == 0
            return json.loads(out)["schedules"] or None

        (view,) = await eventually(listed, "the schedule listed")
        assert (view["schedule_id"], view["payer_id"], view["interval_minutes"], view["paused"]) == (
            CC,
            "SBXCC",
            120,
            False,
        )
        assert view["workflow_type"] == "PortalEobIntake" and view["task_queue"] == "portal"

        code, out, err = await asyncio.to_thread(cli, "schedules", "trigger", "SBXCC")  # the payer id will do
        assert (code, err) == (0, "") and CC in out

        async def started() -> str | None:
            running = (await stack.client.get_schedule_handle(CC).describe()).info.running_actions
            return getattr(running[0], "workflow_id", None) if running else None

        workflow_id = await eventually(started, "the triggered run")
        assert workflow_id.startswith("portal-eobs-SBXCC-")  # the business id and the start time: no PHI
        run = await stack.client.get_workflow_handle(workflow_id).describe()
        assert (run.workflow_type, run.task_queue, run.status) == (
            "PortalEobIntake",
            "portal",
            WorkflowExecutionStatus.RUNNING,  # no worker in this test: it waits for one
        )

        code, _, err = await asyncio.to_thread(cli, "schedules", "trigger", CC)  # one run at a time per payer
        assert code == 1 and err.startswith(f"error: schedule {CC} has a run going") and err.count("\n") == 1

        code, out, _ = await asyncio.to_thread(cli, "schedules", "pause", "SBXCC", "--note", "portal outage")
        assert code == 0 and f"schedule {CC} paused" in out
        code, out, _ = await asyncio.to_thread(cli, "schedules", "list", "--json")
        paused = json.loads(out)["schedules"][0]
        assert paused["paused"] and paused["note"] == "portal outage" and paused["next_run_at"] is None
        code, out, _ = await asyncio.to_thread(cli, "schedules", "unpause", CC)
        assert code == 0 and f"schedule {CC} unpaused" in out
        code, out, _ = await asyncio.to_thread(cli, "schedules", "list")
        assert code == 0 and "active" in out and CC in out

        for command in ("trigger", "pause", "unpause"):
            code, out, err = await asyncio.to_thread(cli, "schedules", command, "NOPAYER")
            assert code == 1 and out == ""
            assert err == f"error: no schedule {SCHEDULE_PREFIX}NOPAYER (see `carecycle schedules list`)\n"

        # The real executable: the same one line and exit code, no traceback.
        result = await asyncio.to_thread(
            subprocess.run,
            [CARECYCLE, "schedules", "trigger", "NOPAYER"],
            env=stack.env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert result.returncode == 1
        assert result.stderr == f"error: no schedule {SCHEDULE_PREFIX}NOPAYER (see `carecycle schedules list`)\n"


def test_cli_without_a_reachable_temporal_says_so_in_one_line(tmp_path: Path, sqlite_url: str) -> None:
    settings = stack_settings(tmp_path / "home", sqlite_url)  # its Temporal port is free: nothing listens
    for args in (["list"], ["trigger", "SBXCC"], ["apply"]):
        result = subprocess.run(
            [CARECYCLE, "schedules", *args], env=env_for(settings), capture_output=True, text=True, timeout=120
        )
        assert result.returncode == 1, result.stderr
        assert result.stderr.startswith("error: cannot reach Temporal at 127.0.0.1:") and result.stderr.count("\n") == 1
    bad = subprocess.run(
        [CARECYCLE, "schedules", "apply"],
        env={**env_for(settings), "CARECYCLE_PORTAL_EOB_INTERVAL_MINUTES": "-5"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert (bad.returncode, bad.stderr) == (
        1,
        "error: CARECYCLE_PORTAL_EOB_INTERVAL_MINUTES must not be negative, got -5\n",
    )


async def test_the_stack_applies_the_schedules_when_it_runs_workers(tmp_path: Path, sqlite_url: str) -> None:
    """`carecycle up` with workers: the portal payers' EOB schedules, and each staff member's credentialing and
    training workflows (so the credential sweep's items have a workflow to be resolved through)."""
    from activities.contracts.staff import credentialing_workflow_id
    from tests.support.staff import add_credential, add_staff
    from workers.stack import running_stack
    from workers.temporal.client import connect

    seed_payers(sqlite_url, {"SBXCC": PayerRouting.PORTAL, "SBXBM": PayerRouting.CLEARINGHOUSE})
    engine = make_engine(sqlite_url)
    staff_id = add_staff(make_session_factory(engine))
    add_credential(make_session_factory(engine), staff_id, datetime.now(UTC).date() + timedelta(days=400))
    engine.dispose()
    settings = replace(stack_settings(tmp_path / "home", sqlite_url), codec_server_token="schedules-test")
    async with running_stack(settings) as info:
        client = await connect(settings, target=info.temporal_target)
        described = await client.get_schedule_handle(CC).describe()
        assert [i.every for i in described.schedule.spec.intervals] == [timedelta(minutes=240)]
        tracking = await client.get_workflow_handle(credentialing_workflow_id(staff_id)).describe()
        assert tracking.status == WorkflowExecutionStatus.RUNNING
        with contextlib.suppress(Exception):
            await client.get_schedule_handle(CC).delete()  # its runs would need a browser; not this test's subject


async def test_a_scheduled_run_is_the_real_intake_on_the_workers(tmp_path: Path, sqlite_url: str) -> None:
    """With the workers serving: the schedule's stored (encrypted) input starts PortalEobIntake for its payer,
    which asks a person for the portal credentials nobody configured here."""
    seed_payers(sqlite_url, {"SBXCC": PayerRouting.PORTAL})
    async with dev_stack(tmp_path / "home", sqlite_url) as stack:
        await apply(stack)
        await stack.client.get_schedule_handle(CC).trigger()

        async def waiting_stage() -> str | None:
            running = (await stack.client.get_schedule_handle(CC).describe()).info.running_actions
            if not running:
                return None
            handle = stack.client.get_workflow_handle(getattr(running[0], "workflow_id", ""))
            stage = str((await handle.query("state"))["stage"])
            return stage if stage.startswith("waiting:") else None

        assert await eventually(waiting_stage, "the intake waiting on a person", tries=600) == (
            "waiting:portal_credentials_missing"
        )
        with stack.container.uow() as uow:
            (item,) = uow.session.query(m.WorkItem).filter_by(entity_type="payer", entity_id="SBXCC").all()
        assert item.state == "open" and "portal_credentials_missing" in item.summary
