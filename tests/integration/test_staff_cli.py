"""The defect end to end on a real dev server with the registered workers: an item the credential-expiry
sweep opened for `credentialing-<staff id>` could not be resolved while no such workflow existed; after
`carecycle staff start-tracking` (and `staff changed`) the workflow adopts it, `carecycle tasks resolve`
refuses an earlier expiry and records a later one."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from activities.contracts.staff import credentialing_workflow_id, training_workflow_id
from domain import models as m
from flows.workitems import OpenWorkItemView
from tests.support.dev_stack import dev_stack, run_cli
from tests.support.staff import add_credential, add_staff
from workers.batch import BatchStore

pytestmark = pytest.mark.temporal


async def test_a_swept_item_is_resolved_through_the_credentialing_workflow(tmp_path: Path, sqlite_url: str) -> None:
    async with dev_stack(tmp_path / "home", sqlite_url) as stack:
        factory = stack.container.session_factory
        today = datetime.now(UTC).date()
        staff_id = add_staff(factory)
        expires = today + timedelta(days=120)  # outside the workflow's 90-day lead: only the sweep opens it now
        credential_id = add_credential(factory, staff_id, expires)
        store = BatchStore(factory)
        [swept] = [c for c in store.find_expiring(today, 130).credentials if c.credential_id == credential_id]
        assert store.open_credential_work_item(swept, today)
        with factory() as session:
            item = session.query(m.WorkItem).filter(m.WorkItem.entity_id == credential_id).one()
            item_id, owner = item.id, item.workflow_id
        assert owner == credentialing_workflow_id(staff_id)

        def cli(*args: str) -> tuple[int, str, str]:
            result = run_cli(stack.env, *args)
            return result.returncode, result.stdout, result.stderr

        renewal = (expires + timedelta(days=730)).isoformat()
        code, _, err = await asyncio.to_thread(
            cli,
            "tasks",
            "resolve",
            item_id,
            "--action",
            "record_renewal",
            "--set",
            f"new_expires_on={renewal}",
            "--by",
            "cred",
        )
        assert code == 1 and "no longer running" in err  # the defect: nobody owns the item yet

        code, out, err = await asyncio.to_thread(cli, "staff", "start-tracking", "--json")
        assert code == 0, err
        started = json.loads(out)["started"]
        assert credentialing_workflow_id(staff_id) in started and training_workflow_id(staff_id) not in started
        code, out, err = await asyncio.to_thread(cli, "staff", "changed", staff_id)
        assert code == 0 and f"signalled {owner}" in out, err

        handle = stack.client.get_workflow_handle(owner)
        for _ in range(200):
            views = await handle.query("work_items", result_type=list[OpenWorkItemView])
            if views:
                break
            await asyncio.sleep(0.1)
        assert [v.work_item_id for v in views] == [item_id]  # adopted: the sweep's item, not a second one

        code, _, err = await asyncio.to_thread(
            cli,
            "tasks",
            "resolve",
            item_id,
            "--action",
            "record_renewal",
            "--set",
            f"new_expires_on={(expires - timedelta(days=1)).isoformat()}",
            "--by",
            "cred",
        )
        assert code == 1 and "resolution rejected" in err and "later" in err
        code, out, err = await asyncio.to_thread(
            cli,
            "tasks",
            "resolve",
            item_id,
            "--action",
            "record_renewal",
            "--set",
            f"new_expires_on={renewal}",
            "--by",
            "cred",
        )
        assert code == 0 and "resolved: record_renewal" in out, err
        for _ in range(100):
            with factory() as session:
                credential = session.get(m.Credential, credential_id)
                assert credential is not None
                if credential.expires_on == expires + timedelta(days=730):
                    break
            await asyncio.sleep(0.1)
        else:
            raise AssertionError("the renewal was never recorded")

        code, out, err = await asyncio.to_thread(cli, "staff", "start-tracking", "--json")
        assert code == 0 and json.loads(out)["started"] == [], err
        code, _, err = await asyncio.to_thread(cli, "staff", "changed", "no-such-staff")
        assert code == 1 and "no staff workflow runs" in err
        await handle.terminate("test over")
