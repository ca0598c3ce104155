"""Work items on the time-skipping server: the Update validator rejects, a valid resolution goes through,
assignment keeps the item open, and a late item escalates. Real activities over a real (SQLite) store."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from temporalio import workflow
from temporalio.client import WorkflowHandle, WorkflowUpdateFailedError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

# The workflow sandbox re-imports this module: the store side is passed through, not re-imported.
with workflow.unsafe.imports_passed_through():
    from sqlalchemy.orm import Session, sessionmaker

    from activities.contracts.workitems import OpenWorkItemInput
    from activities.workitems import WorkItemActivities
    from domain import models as m
    from domain.enums import WorkItemState
    from domain.store.engine import make_engine, make_session_factory
    from domain.workitems import Reason
    from flows.workitems import ResolveOutcome, ResolveRequest, WorkItemRequest, WorkItemsMixin

pytestmark = pytest.mark.temporal


@dataclass(frozen=True)
class DenialInput:
    claim_id: str
    sla_hours: int


@workflow.defn(name="DenialForTest")
class DenialWorkflow(WorkItemsMixin):
    @workflow.run
    async def run(self, job: DenialInput) -> str:
        resolution = await self.work_items.open_and_wait(
            WorkItemRequest(
                reason=Reason.CLAIM_DENIED,
                entity_type="claim",
                entity_id=job.claim_id,
                summary="CO-50 line 1",
                context={"carc": "50"},
                sla=timedelta(hours=job.sla_hours),
            )
        )
        await workflow.wait_condition(workflow.all_handlers_finished)
        return f"{resolution.action}:{resolution.by}:{resolution.note}"


@pytest.fixture
def factory(sqlite_url: str) -> sessionmaker[Session]:
    return make_session_factory(make_engine(sqlite_url))


@pytest.fixture
async def running(
    time_skipping_env: WorkflowEnvironment, factory: sessionmaker[Session]
) -> AsyncIterator[tuple[str, WorkItemActivities]]:
    queue = f"tq-{uuid.uuid4()}"
    activities = WorkItemActivities(factory)
    with ThreadPoolExecutor(4) as executor:
        async with Worker(
            time_skipping_env.client,
            task_queue=queue,
            workflows=[DenialWorkflow],
            activities=activities.all(),
            activity_executor=executor,
        ):
            yield queue, activities


async def _open_item(
    env: WorkflowEnvironment, queue: str, factory: sessionmaker[Session], sla_hours: int = 24
) -> tuple[WorkflowHandle[DenialWorkflow, str], str]:
    claim_id = str(uuid.uuid4())
    handle = await env.client.start_workflow(
        DenialWorkflow.run,
        DenialInput(claim_id=claim_id, sla_hours=sla_hours),
        id=f"claim-{claim_id}",
        task_queue=queue,
    )
    for _ in range(200):
        views = await handle.query(DenialWorkflow.open_work_items)
        if views:
            return handle, views[0].work_item_id
        await asyncio.sleep(0.05)
    raise AssertionError("the work item was never opened")


def _row(factory: sessionmaker[Session], work_item_id: str) -> m.WorkItem:
    with factory() as session:
        item = session.get(m.WorkItem, work_item_id)
        assert item is not None
        session.expunge(item)
        return item


async def test_invalid_resolution_is_rejected_and_changes_nothing_then_a_valid_one_completes(
    time_skipping_env: WorkflowEnvironment, running: tuple[str, WorkItemActivities], factory: sessionmaker[Session]
) -> None:
    queue, _ = running
    handle, item_id = await _open_item(time_skipping_env, queue, factory)
    row = _row(factory, item_id)
    assert (row.queue, row.reason_code, row.state) == ("denials", "claim_denied", WorkItemState.OPEN)
    assert row.workflow_id == handle.id

    with pytest.raises(WorkflowUpdateFailedError) as rejected:
        await handle.execute_update(
            DenialWorkflow.resolve, ResolveRequest(work_item_id=item_id, action="appeal", by="ann")
        )
    assert "appeal needs a note" in str(rejected.value.cause)
    with pytest.raises(WorkflowUpdateFailedError) as wrong_action:
        await handle.execute_update(
            DenialWorkflow.resolve,
            ResolveRequest(work_item_id=item_id, action="confirm_eligibility", by="ann", note="x"),
        )
    assert "not allowed for claim_denied" in str(wrong_action.value.cause)
    after = _row(factory, item_id)
    assert after.state == WorkItemState.OPEN and after.resolution is None and after.version_id == row.version_id
    history = await handle.fetch_history()
    assert not any(e.HasField("workflow_execution_update_accepted_event_attributes") for e in history.events)

    outcome = await handle.execute_update(
        DenialWorkflow.resolve,
        ResolveRequest(work_item_id=item_id, action="appeal", by="ann", note="medical necessity letter attached"),
    )
    assert outcome == ResolveOutcome(work_item_id=item_id, action="appeal", terminal=True)
    assert await handle.result() == "appeal:ann:medical necessity letter attached"
    done = _row(factory, item_id)
    assert done.state == WorkItemState.RESOLVED
    assert (done.resolution_action, done.resolved_by) == ("appeal", "ann")


async def test_assign_keeps_the_item_open_and_resolving_twice_is_rejected(
    time_skipping_env: WorkflowEnvironment, running: tuple[str, WorkItemActivities], factory: sessionmaker[Session]
) -> None:
    queue, _ = running
    handle, item_id = await _open_item(time_skipping_env, queue, factory)
    outcome = await handle.execute_update(
        DenialWorkflow.resolve,
        ResolveRequest(work_item_id=item_id, action="assign", by="lead", fields={"assignee": "bob"}),
    )
    assert outcome.terminal is False
    views = await handle.query(DenialWorkflow.open_work_items)
    assert views[0].assignee == "bob"
    assert _row(factory, item_id).state == WorkItemState.CLAIMED
    await handle.execute_update(
        DenialWorkflow.resolve,
        ResolveRequest(work_item_id=item_id, action="write_off", by="bob", fields={"reason_code": "timely_filing"}),
    )
    assert (await handle.result()).startswith("write_off:bob")
    with pytest.raises(Exception):
        await handle.execute_update(
            DenialWorkflow.resolve,
            ResolveRequest(work_item_id=item_id, action="write_off", by="bob", fields={"reason_code": "bad_debt"}),
        )
    assert _row(factory, item_id).resolution == {"fields": {"reason_code": "timely_filing"}, "note": ""}


async def test_an_item_past_its_sla_escalates(
    time_skipping_env: WorkflowEnvironment, running: tuple[str, WorkItemActivities], factory: sessionmaker[Session]
) -> None:
    queue, _ = running
    handle, item_id = await _open_item(time_skipping_env, queue, factory, sla_hours=4)
    await time_skipping_env.sleep(timedelta(hours=9))
    # The timers have fired; the escalation activities they started may still be writing (a busy machine).
    for _ in range(200):
        views = await handle.query(DenialWorkflow.open_work_items)
        if _row(factory, item_id).escalation_level == 2 and views[0].escalation_level == 2:
            break
        await asyncio.sleep(0.05)
    assert _row(factory, item_id).escalation_level == 2
    assert views[0].escalation_level == 2
    await handle.execute_update(
        DenialWorkflow.resolve, ResolveRequest(work_item_id=item_id, action="appeal", by="ann", note="late but done")
    )
    assert (await handle.result()).startswith("appeal")


def test_opening_is_idempotent_by_dedupe_key(factory: sessionmaker[Session]) -> None:
    activities = WorkItemActivities(factory)
    request = OpenWorkItemInput(
        reason="claim_denied",
        queue="denials",
        summary="CO-50",
        entity_type="claim",
        entity_id=str(uuid.uuid4()),
        workflow_id="claim-x",
        dedupe_key=f"claim-x/run/claim_denied/{uuid.uuid4()}",
        sla_due_at=datetime.now(UTC) + timedelta(days=1),
    )
    first = activities.open(request)
    second = activities.open(request)
    assert first.created and not second.created
    assert first.work_item_id == second.work_item_id
