"""The operations console on a real dev server: queues, a work item's resolve form (rejected, then
accepted through the same Update, as the signed-in biller whatever the form says), running processes by
stage, and the audit page with its replay verdict for an auditor."""

from __future__ import annotations

import asyncio
import re
import uuid
from pathlib import Path

import httpx
import pytest

from console.accounts import Role, add_user
from console.app import create_app
from domain import models as m
from flows.workitems import StandaloneWorkItemInput, StandaloneWorkItemWorkflow
from tests.support.dev_stack import dev_stack, free_port
from workers.console_wiring import replay_for_console
from workers.security.actors import load_actor_keys
from workers.stack import serve_asgi

pytestmark = pytest.mark.temporal

PASSWORD = "a console password"


async def test_console_queues_resolve_processes_and_audit(tmp_path: Path, sqlite_url: str) -> None:
    async with dev_stack(tmp_path / "home", sqlite_url) as stack:
        entity = str(uuid.uuid4())
        handle = await stack.client.start_workflow(
            StandaloneWorkItemWorkflow.run,
            StandaloneWorkItemInput(
                reason="claim_denied", entity_type="claim", entity_id=entity, summary="CO-16 N290", sla_seconds=86400
            ),
            id=f"workitem-claim-{entity}",
            task_queue="revenue",
        )
        for _ in range(100):
            views = await handle.query(StandaloneWorkItemWorkflow.open_work_items)
            if views:
                break
            await asyncio.sleep(0.1)
        item_id = views[0].work_item_id
        with stack.container.uow() as uow:
            for name, role in (("ann", Role.BILLER), ("otto", Role.OPERATIONS), ("aud", Role.AUDITOR)):
                add_user(uow.session, name, role, PASSWORD)
            uow.commit()
        app = create_app(
            stack.client,
            stack.container.session_factory,
            session_secret=b"a console session key of 32 bytes",
            replay=replay_for_console(stack.client),
            actor_keys=load_actor_keys(stack.settings),
        )
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        async with (
            serve_asgi(app, "127.0.0.1", port),
            httpx.AsyncClient(base_url=base, timeout=60) as web,
            httpx.AsyncClient(base_url=base, timeout=60) as otto,
            httpx.AsyncClient(base_url=base, timeout=60) as aud,
        ):
            for client, name in ((web, "ann"), (otto, "otto"), (aud, "aud")):
                form = re.search(r'name="csrf" value="([^"]+)"', (await client.get("/login")).text)
                assert form is not None
                signed = await client.post(
                    "/login", data={"username": name, "password": PASSWORD, "csrf": form.group(1)}
                )
                assert signed.status_code == 303, signed.text
            queues = await web.get("/queues")
            assert queues.status_code == 200
            assert f"/work-items/{item_id}" in queues.text and "CO-16 N290" in queues.text
            assert "/work-items/" not in (await web.get("/queues?queue=coding")).text

            page = await web.get(f"/work-items/{item_id}")
            assert page.status_code == 200 and 'value="appeal"' in page.text and "write_off" in page.text
            found = re.search(r'name="csrf" value="([^"]+)"', page.text)
            assert found is not None
            csrf = found.group(1)
            operations_page = await otto.get(f"/work-items/{item_id}")
            found = re.search(r'name="csrf" value="([^"]+)"', operations_page.text)
            assert found is not None
            refused = await otto.post(
                f"/work-items/{item_id}/resolve",
                data={"action": "appeal", "f.appeal_level": "1", "note": "n", "csrf": found.group(1)},
            )
            assert refused.status_code == 403

            for _ in range(50):  # visibility is eventually consistent
                processes = await web.get("/processes?stage=work_item")
                if handle.id in processes.text:
                    break
                await asyncio.sleep(0.2)
            assert handle.id in processes.text and "denials" in processes.text

            rejected = await web.post(
                f"/work-items/{item_id}/resolve",
                data={"action": "appeal", "fields": "", "note": "", "csrf": csrf},
            )
            assert rejected.status_code == 422 and "appeal needs a note" in rejected.text
            wrong_field = await web.post(
                f"/work-items/{item_id}/resolve",
                data={
                    "action": "write_off",
                    "f.reason_code": "timely_filing",
                    "fields": "color=red",
                    "note": "",
                    "csrf": csrf,
                },
            )
            assert wrong_field.status_code == 422 and "does not take the field(s) color" in wrong_field.text
            with stack.container.uow() as uow:
                row = uow.session.get(m.WorkItem, item_id)
                assert row is not None and row.state == "open"

            accepted = await web.post(
                f"/work-items/{item_id}/resolve",
                data={
                    "action": "appeal",
                    "by": "mallory",  # a form field cannot choose who acted: the signed-in user did
                    "f.appeal_level": "1",
                    "note": "records attached",
                    "csrf": csrf,
                },
            )
            assert accepted.status_code == 303 and accepted.headers["location"] == f"/work-items/{item_id}?done=appeal"
            result = await handle.result()
            assert result.action == "appeal"
            after = await web.get(f"/work-items/{item_id}")
            assert "appeal by ann" in after.text and "Send resolution" not in after.text
            with stack.container.uow() as uow:
                row = uow.session.get(m.WorkItem, item_id)
                assert row is not None and row.resolved_by == "ann"

            assert (await web.get(f"/workflows/{handle.id}")).status_code == 403  # a biller is no auditor
            audit = await aud.get(f"/workflows/{handle.id}")
            assert audit.status_code == 200
            assert "Replays deterministically" in audit.text
            assert "Update resolve accepted: appeal (records attached)" in audit.text
            assert re.search(r"<td>ann <span[^>]*>signed</span>", audit.text)  # the actor's signature verifies
            assert "mallory" not in audit.text
            assert (await aud.get("/workflows/no-such-workflow")).status_code == 404
            assert (await aud.get(f"/audit/{handle.id}")).headers["location"] == f"/workflows/{handle.id}"
            assert (await web.get("/work-items/nope")).status_code == 404
