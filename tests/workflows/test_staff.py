"""StaffCredentialing and TrainingRenewal on the time-skipping server, with the real activities over SQLite:
expiry -> work item -> record_renewal -> the next cycle; no renewal -> lapsed (and escalated); an earlier
expiry is refused by the Update validator and changes nothing; training due -> completion recorded; an
item the credential-expiry sweep opened is adopted by the workflow and resolvable."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from datetime import date, timedelta
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from temporalio.client import WorkflowHandle, WorkflowUpdateFailedError
from temporalio.common import WorkflowIDConflictPolicy
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from activities.contracts.staff import (
    StaffPolicy,
    StaffTrackingInput,
    credentialing_workflow_id,
    training_workflow_id,
)
from activities.staff import StaffActivities
from activities.workitems import WorkItemActivities
from domain import models as m
from domain.enums import WorkItemState
from domain.store.engine import make_engine, make_session_factory
from domain.workitems import ResolveOutcome, ResolveRequest
from flows.staff import StaffCredentialingWorkflow, TrainingRenewalWorkflow
from flows.workitems import OpenWorkItemView
from tests.support.staff import add_credential, add_staff, add_training, deactivate
from workers.registry import workflow_runner

pytestmark = pytest.mark.temporal

# Re-reads far apart so the time-skipping server jumps straight to the timers that matter.
POLICY = StaffPolicy(credential_lead_days=90, training_lead_days=30, work_item_sla_days=14, reread_days=5000)


@pytest.fixture
def factory(sqlite_url: str) -> sessionmaker[Session]:
    return make_session_factory(make_engine(sqlite_url))


@pytest.fixture
async def queue(time_skipping_env: WorkflowEnvironment, factory: sessionmaker[Session]) -> AsyncIterator[str]:
    name = f"tq-{uuid.uuid4()}"
    with ThreadPoolExecutor(4) as executor:
        async with Worker(
            time_skipping_env.client,
            task_queue=name,
            workflows=[StaffCredentialingWorkflow, TrainingRenewalWorkflow],
            activities=[*WorkItemActivities(factory).all(), *StaffActivities(factory).all()],
            activity_executor=executor,
            workflow_runner=workflow_runner(),
        ):
            yield name


async def _today(env: WorkflowEnvironment) -> date:
    return (await env.get_current_time()).date()


async def _start(env: WorkflowEnvironment, queue: str, workflow: Any, workflow_id: str, staff_id: str) -> Any:
    return await env.client.start_workflow(
        workflow,
        StaffTrackingInput(staff_id=staff_id, policy=POLICY),
        id=workflow_id,
        task_queue=queue,
        id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
    )


async def _items(handle: WorkflowHandle[Any, Any], count: int = 1, level: int = 0) -> list[OpenWorkItemView]:
    for _ in range(1200):  # up to a minute on a busy machine
        views: list[OpenWorkItemView] = await handle.query("work_items", result_type=list[OpenWorkItemView])
        if len(views) >= count and all(v.escalation_level >= level for v in views):
            return views
        await asyncio.sleep(0.05)
    raise AssertionError(f"expected {count} open work item(s) at escalation level {level}")


async def _until(check: Any) -> None:
    for _ in range(1200):  # up to a minute on a busy machine
        if check():
            return
        await asyncio.sleep(0.05)
    raise AssertionError("the store never reached the expected state")


def _credential(factory: sessionmaker[Session], credential_id: str) -> m.Credential:
    with factory() as session:
        credential = session.get(m.Credential, credential_id)
        assert credential is not None
        session.expunge(credential)
        return credential


def _audit(factory: sessionmaker[Session], entity_id: str) -> list[str]:
    with factory() as session:
        return list(
            session.execute(
                select(m.AuditEvent.action)
                .where(m.AuditEvent.entity_id == entity_id)
                .order_by(m.AuditEvent.occurred_at)
            ).scalars()
        )


def _item(factory: sessionmaker[Session], work_item_id: str) -> m.WorkItem:
    with factory() as session:
        item = session.get(m.WorkItem, work_item_id)
        assert item is not None
        session.expunge(item)
        return item


async def test_expiry_opens_an_item_a_renewal_is_recorded_and_the_next_cycle_follows(
    time_skipping_env: WorkflowEnvironment, queue: str, factory: sessionmaker[Session]
) -> None:
    env = time_skipping_env
    today = await _today(env)
    staff_id = add_staff(factory)
    expires = today + timedelta(days=100)
    credential_id = add_credential(factory, staff_id, expires)
    workflow_id = credentialing_workflow_id(staff_id)
    handle = await _start(env, queue, StaffCredentialingWorkflow.run, workflow_id, staff_id)
    again = await _start(env, queue, StaffCredentialingWorkflow.run, workflow_id, staff_id)
    assert again.result_run_id == handle.result_run_id  # starting twice is idempotent

    await asyncio.sleep(0.5)
    assert await handle.query(StaffCredentialingWorkflow.open_work_items) == []  # not before the lead time
    await env.sleep(timedelta(days=11))
    [view] = await _items(handle)
    row = _item(factory, view.work_item_id)
    assert (row.reason_code, row.queue, row.workflow_id, row.entity_id) == (
        "credential_expiring",
        "credentialing",
        workflow_id,
        credential_id,
    )

    # An earlier (or equal) expiry is refused by the validator: nothing in history, nothing in the store.
    for bad in ((today + timedelta(days=50)).isoformat(), expires.isoformat(), "next year"):
        with pytest.raises(WorkflowUpdateFailedError):
            await handle.execute_update(
                StaffCredentialingWorkflow.resolve,
                ResolveRequest(
                    work_item_id=view.work_item_id, action="record_renewal", by="cred", fields={"new_expires_on": bad}
                ),
            )
    assert _item(factory, view.work_item_id).state == WorkItemState.OPEN
    assert _credential(factory, credential_id).expires_on == expires
    history = await handle.fetch_history()
    assert not any(e.HasField("workflow_execution_update_accepted_event_attributes") for e in history.events)

    renewed = expires + timedelta(days=730)
    outcome = await handle.execute_update(
        StaffCredentialingWorkflow.resolve,
        ResolveRequest(
            work_item_id=view.work_item_id,
            action="record_renewal",
            by="cred",
            fields={"new_expires_on": renewed.isoformat(), "number": "MD000002"},
        ),
    )
    assert outcome == ResolveOutcome(work_item_id=view.work_item_id, action="record_renewal", terminal=True)
    await _until(lambda: _credential(factory, credential_id).expires_on == renewed)
    credential = _credential(factory, credential_id)
    assert (credential.status, credential.number) == ("active", "MD000002")
    assert _audit(factory, credential_id) == ["credential.renewed"]
    assert _item(factory, view.work_item_id).state == WorkItemState.RESOLVED

    # The next cycle: nothing until 90 days before the new expiry, then a new item for the new expiry.
    await env.sleep(timedelta(days=100))
    assert await handle.query(StaffCredentialingWorkflow.open_work_items) == []
    await env.sleep(timedelta(days=730 - 90))
    [second] = await _items(handle)
    assert second.work_item_id != view.work_item_id
    assert _item(factory, second.work_item_id).context["expires_on"] == renewed.isoformat()

    # The staff member leaves: once the open item is dealt with, the workflow ends.
    deactivate(factory, staff_id)
    await handle.execute_update(
        StaffCredentialingWorkflow.resolve,
        ResolveRequest(work_item_id=second.work_item_id, action="cancel", by="cred", note="left the practice"),
    )
    result = await handle.result()
    assert (result.items_resolved, result.ended_because) == (2, "staff_inactive")


async def test_an_unrenewed_credential_escalates_then_lapses_and_a_late_renewal_reactivates_it(
    time_skipping_env: WorkflowEnvironment, queue: str, factory: sessionmaker[Session]
) -> None:
    env = time_skipping_env
    today = await _today(env)
    staff_id = add_staff(factory)
    expires = today + timedelta(days=20)  # already inside the lead time: the item opens at once
    credential_id = add_credential(factory, staff_id, expires)
    handle = await _start(env, queue, StaffCredentialingWorkflow.run, credentialing_workflow_id(staff_id), staff_id)
    [view] = await _items(handle)
    await env.sleep(timedelta(days=15))
    [escalated] = await _items(handle, level=1)
    assert _item(factory, escalated.work_item_id).escalation_level >= 1
    assert _credential(factory, credential_id).status == "active"

    await env.sleep(timedelta(days=6))
    await _until(lambda: _credential(factory, credential_id).status == "expired")
    assert _audit(factory, credential_id) == ["credential.lapsed"]
    assert _item(factory, view.work_item_id).state != WorkItemState.RESOLVED  # still asks for the renewal

    renewed = expires + timedelta(days=365)
    await handle.execute_update(
        StaffCredentialingWorkflow.resolve,
        ResolveRequest(
            work_item_id=view.work_item_id,
            action="record_renewal",
            by="cred",
            fields={"new_expires_on": renewed.isoformat()},
        ),
    )
    await _until(lambda: _credential(factory, credential_id).status == "active")
    assert _credential(factory, credential_id).expires_on == renewed
    assert _audit(factory, credential_id) == ["credential.lapsed", "credential.renewed"]
    await handle.terminate("test over")


async def test_training_due_opens_an_item_and_a_completion_writes_a_record(
    time_skipping_env: WorkflowEnvironment, queue: str, factory: sessionmaker[Session]
) -> None:
    env = time_skipping_env
    today = await _today(env)
    staff_id = add_staff(factory, role="nurse")
    requirement_id = add_training(factory, staff_id, today - timedelta(days=350))  # due in 15 days
    add_training(factory, staff_id, today - timedelta(days=10), code="CPR_PHYSICIAN", roles=["physician"])
    handle = await _start(env, queue, TrainingRenewalWorkflow.run, training_workflow_id(staff_id), staff_id)
    [view] = await _items(handle)  # HIPAA only: the physicians' requirement does not apply to a nurse
    row = _item(factory, view.work_item_id)
    assert (row.reason_code, row.context["requirement_id"]) == ("training_due", requirement_id)

    for bad in ((today + timedelta(days=3)).isoformat(), (today - timedelta(days=400)).isoformat()):
        with pytest.raises(WorkflowUpdateFailedError):
            await handle.execute_update(
                TrainingRenewalWorkflow.resolve,
                ResolveRequest(
                    work_item_id=view.work_item_id, action="record_completion", by="hr", fields={"completed_on": bad}
                ),
            )
    await handle.execute_update(
        TrainingRenewalWorkflow.resolve,
        ResolveRequest(
            work_item_id=view.work_item_id,
            action="record_completion",
            by="hr",
            fields={"completed_on": today.isoformat()},
        ),
    )

    def completed_today() -> bool:
        with factory() as session:
            return (
                session.execute(
                    select(m.TrainingRecord).where(
                        m.TrainingRecord.staff_id == staff_id, m.TrainingRecord.completed_on == today
                    )
                ).scalar_one_or_none()
                is not None
            )

    await _until(completed_today)
    with factory() as session:
        record = session.execute(
            select(m.TrainingRecord).where(
                m.TrainingRecord.staff_id == staff_id, m.TrainingRecord.completed_on == today
            )
        ).scalar_one()
        assert record.expires_on == today + timedelta(days=365)
    await env.sleep(timedelta(days=300))
    assert await handle.query(TrainingRenewalWorkflow.open_work_items) == []
    await env.sleep(timedelta(days=40))
    [next_item] = await _items(handle)
    assert _item(factory, next_item.work_item_id).context["due_on"] == (today + timedelta(days=365)).isoformat()
    await handle.terminate("test over")


async def test_an_item_the_sweep_opened_is_adopted_and_resolvable(
    time_skipping_env: WorkflowEnvironment, queue: str, factory: sessionmaker[Session]
) -> None:
    from workers.batch import BatchStore

    env = time_skipping_env
    today = await _today(env)
    staff_id = add_staff(factory)
    expires = today + timedelta(days=120)  # outside the workflow's 90-day lead, inside the sweep's window
    credential_id = add_credential(factory, staff_id, expires)
    store = BatchStore(factory)
    [expiring] = [c for c in store.find_expiring(today, 130).credentials if c.credential_id == credential_id]
    assert store.open_credential_work_item(expiring, today)
    with factory() as session:
        swept = session.execute(select(m.WorkItem).where(m.WorkItem.entity_id == credential_id)).scalar_one()
        swept_id, owner = swept.id, swept.workflow_id

    handle = await _start(env, queue, StaffCredentialingWorkflow.run, owner or "", staff_id)
    assert handle.id == credentialing_workflow_id(staff_id)
    [view] = await _items(handle)
    assert view.work_item_id == swept_id  # adopted, not a second item
    renewed = expires + timedelta(days=730)
    await handle.execute_update(
        StaffCredentialingWorkflow.resolve,
        ResolveRequest(
            work_item_id=swept_id, action="record_renewal", by="cred", fields={"new_expires_on": renewed.isoformat()}
        ),
    )
    await _until(lambda: _credential(factory, credential_id).expires_on == renewed)
    assert _item(factory, swept_id).state == WorkItemState.RESOLVED
    with factory() as session:
        assert session.query(m.WorkItem).filter(m.WorkItem.entity_id == credential_id).count() == 1
    await handle.terminate("test over")


async def test_continue_as_new_keeps_what_was_handled(
    time_skipping_env: WorkflowEnvironment, queue: str, factory: sessionmaker[Session]
) -> None:
    env = time_skipping_env
    today = await _today(env)
    staff_id = add_staff(factory)
    credential_id = add_credential(factory, staff_id, today + timedelta(days=60))
    handle = await env.client.start_workflow(
        StaffCredentialingWorkflow.run,
        StaffTrackingInput(staff_id=staff_id, policy=StaffPolicy(reread_days=1, reads_per_run=2)),
        id=credentialing_workflow_id(staff_id),
        task_queue=queue,
    )
    [view] = await _items(handle)
    # Handled outside carecycle: the item is done, the expiry is what it is (it lapses in 60 days).
    await handle.execute_update(
        StaffCredentialingWorkflow.resolve,
        ResolveRequest(work_item_id=view.work_item_id, action="complete", by="cred"),
    )
    # The resolution wakes the loop for its second read, after which the run continues as new.
    latest = env.client.get_workflow_handle(handle.id)
    for _ in range(1200):  # up to a minute on a busy machine
        if (await latest.describe()).run_id != handle.result_run_id:
            break
        await asyncio.sleep(0.05)
    else:
        raise AssertionError("the run never continued as new")
    for _ in range(3):  # a few daily reads in the new runs (short skips: each read is an activity)
        await env.sleep(timedelta(days=1))
    assert await latest.query(StaffCredentialingWorkflow.open_work_items) == []  # not asked again
    with factory() as session:
        assert session.query(m.WorkItem).filter(m.WorkItem.entity_id == credential_id).count() == 1
    await latest.terminate("test over")


async def test_start_tracking_starts_each_staff_members_workflows_once(
    time_skipping_env: WorkflowEnvironment, factory: sessionmaker[Session]
) -> None:
    from workers.staff import start_tracking

    today = await _today(time_skipping_env)
    holder = add_staff(factory)
    add_credential(factory, holder, today + timedelta(days=400))
    nurse = add_staff(factory, role="nurse")
    add_training(factory, nurse, today - timedelta(days=10), code="HIPAA_START")
    leaver = add_staff(factory)
    add_credential(factory, leaver, today + timedelta(days=400))
    deactivate(factory, leaver)

    first = await start_tracking(time_skipping_env.client, factory)
    assert sorted(first.started) == sorted(
        [credentialing_workflow_id(holder), training_workflow_id(holder), training_workflow_id(nurse)]
    )
    assert first.already_running == []
    second = await start_tracking(time_skipping_env.client, factory)
    assert (second.started, sorted(second.already_running)) == ([], sorted(first.started))
    for workflow_id in first.started:
        await time_skipping_env.client.get_workflow_handle(workflow_id).terminate("test over")
