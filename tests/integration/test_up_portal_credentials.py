"""`carecycle up` opens biller accounts on the sandbox payer portal it serves and gives them to its workers: a
fresh stack's EOB schedule run logs in through Chromium (no portal_credentials_missing work item), and the
accounts are kept as 0600 secrets so the next start uses the same ones."""

from __future__ import annotations

import asyncio
import json
from dataclasses import replace
from pathlib import Path

import pytest
from temporalio.client import WorkflowExecutionStatus

from activities.contracts.portal import PortalEobIntakeResult
from domain import models as m
from domain.enums import PayerRouting
from tests.integration.test_schedules import CC, eventually, seed_payers
from tests.support.dev_stack import stack_settings
from workers.sandbox_accounts import SANDBOX_PORTAL_PAYERS, accounts_file
from workers.stack import running_stack
from workers.temporal.client import connect

pytestmark = [pytest.mark.temporal, pytest.mark.browser]


async def test_a_fresh_up_logs_in_to_the_sandbox_portal(tmp_path: Path, sqlite_url: str) -> None:
    seed_payers(sqlite_url, {"SBXCC": PayerRouting.PORTAL})
    settings = replace(stack_settings(tmp_path / "home", sqlite_url), codec_server_token="portal-test")
    async with running_stack(settings) as info:
        assert any(str(accounts_file(settings)) in note for note in info.notes)
        client = await connect(settings, target=info.temporal_target)
        await client.get_schedule_handle(CC).trigger()

        async def started() -> str | None:
            running = (await client.get_schedule_handle(CC).describe()).info.recent_actions
            return getattr(running[-1].action, "workflow_id", None) if running else None

        workflow_id = await eventually(started, "the scheduled intake", tries=600)
        handle = client.get_workflow_handle(workflow_id, result_type=PortalEobIntakeResult)
        # Without credentials the run would wait for a person (portal_credentials_missing) instead of ending.
        result = await asyncio.wait_for(handle.result(), timeout=180)
        assert result.payer_id == "SBXCC" and not result.gave_up
        assert (await handle.describe()).status == WorkflowExecutionStatus.COMPLETED
        await client.get_schedule_handle(CC).delete()
    from domain.store.engine import make_engine, make_session_factory

    engine = make_engine(sqlite_url)
    with make_session_factory(engine)() as session:
        items = session.query(m.WorkItem).filter_by(entity_type="payer").all()
    engine.dispose()
    assert [i.summary for i in items] == []  # nothing asked a person for credentials
    stored = accounts_file(settings)
    assert stored.stat().st_mode & 0o777 == 0o600
    accounts = json.loads(stored.read_text())["accounts"]
    assert sorted(accounts) == sorted(SANDBOX_PORTAL_PAYERS)
