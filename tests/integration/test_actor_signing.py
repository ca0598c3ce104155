"""Who acted, provably: on a real dev server with the carecycle workers, a raw Temporal client that sends the
``resolve`` Update unsigned, as "anyone", with a signature of another key, one made for another work item or
action, or with ``by`` different from the signed actor is refused (type ForgedActor) and nothing changes; a
properly signed one is accepted, recorded under the signed actor and written to the audit trail."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import replace
from pathlib import Path

import pytest
from sqlalchemy import select
from temporalio.api.enums.v1 import EventType
from temporalio.client import WorkflowUpdateFailedError

from domain import models as m
from domain.actors import ActorKeys, resolve_scope, sign_actor
from domain.audit import RESOLUTION_ACTION
from domain.workitems import ResolveRequest
from flows.workitems import StandaloneWorkItemInput, StandaloneWorkItemWorkflow
from tests.support.actors import signed_resolve
from tests.support.dev_stack import dev_stack
from workers.security.actors import FORGED_ACTOR

pytestmark = pytest.mark.temporal

OTHER_KEYS = ActorKeys({"a1": b"not the workers' key, 32 bytes!!"}, "a1")


async def test_forged_and_unsigned_resolutions_are_refused(tmp_path: Path, sqlite_url: str) -> None:
    async with dev_stack(tmp_path / "home", sqlite_url) as stack:
        entity = str(uuid.uuid4())
        handle = await stack.client.start_workflow(
            StandaloneWorkItemWorkflow.run,
            StandaloneWorkItemInput(
                reason="claim_denied", entity_type="claim", entity_id=entity, summary="CO-50", sla_seconds=86400
            ),
            id=f"workitem-claim-{entity}",
            task_queue="revenue",
        )
        for _ in range(100):
            views = await handle.query(StandaloneWorkItemWorkflow.open_work_items)
            if views:
                break
            await asyncio.sleep(0.1)
        item = views[0].work_item_id
        good = signed_resolve(stack.settings, handle.id, item, "appeal", fields={"appeal_level": "1"}, note="records")
        assert good.actor is not None
        other_item = signed_resolve(stack.settings, handle.id, str(uuid.uuid4()), "appeal", note="records")
        foreign_scope = resolve_scope(handle.id, item, "appeal", {"appeal_level": "1"}, "records")
        forgeries = {
            "unsigned, as anyone": ResolveRequest(item, "appeal", "anyone", {"appeal_level": "1"}, "records"),
            "another key": replace(good, actor=sign_actor(OTHER_KEYS, "console", "ann", scope=foreign_scope)),
            "signed for another item": replace(good, actor=other_item.actor),
            "signed for another action": replace(good, action="write_off", fields={"reason_code": "bad_debt"}),
            "another note": replace(good, note="something else"),
            "by someone else": replace(good, by="mallory"),
            "a changed principal": replace(good, by="mallory", actor=replace(good.actor, principal="mallory")),
        }
        for what, request in forgeries.items():
            with pytest.raises(WorkflowUpdateFailedError) as refused:
                await handle.execute_update(StandaloneWorkItemWorkflow.resolve, request)
            cause = refused.value.cause
            assert getattr(cause, "type", None) == FORGED_ACTOR, what
        with stack.container.uow() as uow:
            row = uow.session.get(m.WorkItem, item)
            assert row is not None and row.state == "open" and row.resolved_by is None
        history = await handle.fetch_history()
        accepted = EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED
        assert not any(e.event_type == accepted for e in history.events)  # refused in the validator: no trace

        outcome = await handle.execute_update(StandaloneWorkItemWorkflow.resolve, good)
        assert outcome.action == "appeal"
        result = await handle.result()
        assert result.by == "ann"
        with stack.container.uow() as uow:
            row = uow.session.get(m.WorkItem, item)
            assert row is not None and row.resolved_by == "ann"
            trail = uow.session.execute(
                select(m.AuditEvent.actor, m.AuditEvent.details).where(m.AuditEvent.action == RESOLUTION_ACTION)
            ).all()
        assert trail == [("ann", {"action": "appeal", "terminal": True, "fields": ["appeal_level"]})]
