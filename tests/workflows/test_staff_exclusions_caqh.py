"""StaffCredentialing's newer paths on the time-skipping server, real activities over SQLite: an already expired
credential opens as expired and escalated; the CAQH attestation is due every 120 days and is recorded by
`record_attestation`; an exclusion match from a screening of a synthetic LEIE file is adopted and decided
(cleared, or confirmed) through the workflow's validated Update."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from temporalio.client import WorkflowHandle, WorkflowUpdateFailedError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from activities.contracts.staff import StaffPolicy, StaffTrackingInput, credentialing_workflow_id
from activities.staff import StaffActivities
from activities.staff.screening import ExclusionScreening, ListFile
from activities.workitems import WorkItemActivities
from domain import models as m
from domain.enums import CredentialKind, WorkItemState
from domain.store.engine import make_engine, make_session_factory
from domain.workitems import ResolveRequest
from flows.staff import StaffCredentialingWorkflow
from flows.workitems import OpenWorkItemView
from sandbox.exclusions import Planted, write_leie
from tests.support.staff import add_credential, add_staff
from workers.registry import workflow_runner

pytestmark = pytest.mark.temporal

POLICY = StaffPolicy(reread_days=5000)  # leads 90 days (CAQH 30), SLA 14 days (exclusions 3)


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
            workflows=[StaffCredentialingWorkflow],
            activities=[*WorkItemActivities(factory).all(), *StaffActivities(factory).all()],
            activity_executor=executor,
            workflow_runner=workflow_runner(),
        ):
            yield name


async def _start(env: WorkflowEnvironment, queue: str, staff_id: str) -> WorkflowHandle[Any, Any]:
    return await env.client.start_workflow(
        StaffCredentialingWorkflow.run,
        StaffTrackingInput(staff_id=staff_id, policy=POLICY),
        id=credentialing_workflow_id(staff_id),
        task_queue=queue,
    )


async def _items(handle: WorkflowHandle[Any, Any], count: int = 1, level: int = 0) -> list[OpenWorkItemView]:
    for _ in range(1200):
        views: list[OpenWorkItemView] = await handle.query("work_items", result_type=list[OpenWorkItemView])
        if len(views) >= count and all(v.escalation_level >= level for v in views):
            return views
        await asyncio.sleep(0.05)
    raise AssertionError(f"expected {count} open work item(s) at escalation level {level}")


async def _until(check: Callable[[], bool]) -> None:
    for _ in range(1200):
        if check():
            return
        await asyncio.sleep(0.05)
    raise AssertionError("the store never reached the expected state")


def _row(factory: sessionmaker[Session], model: type[Any], row_id: str) -> Any:
    with factory() as session:
        row = session.get(model, row_id)
        assert row is not None
        session.expunge(row)
        return row


async def _resolve(handle: WorkflowHandle[Any, Any], item: str, action: str, **kwargs: Any) -> None:
    await handle.execute_update(
        StaffCredentialingWorkflow.resolve, ResolveRequest(work_item_id=item, action=action, by="cred", **kwargs)
    )


async def test_an_expired_credential_opens_as_expired_and_escalated(
    time_skipping_env: WorkflowEnvironment, queue: str, factory: sessionmaker[Session]
) -> None:
    env = time_skipping_env
    today = (await env.get_current_time()).date()
    staff_id = add_staff(factory)
    expired_on = today - timedelta(days=20)
    credential_id = add_credential(factory, staff_id, expired_on, status="expired")
    handle = await _start(env, queue, staff_id)
    [view] = await _items(handle, level=1)  # escalated at once, not after its SLA
    item = _row(factory, m.WorkItem, view.work_item_id)
    assert (item.reason_code, item.escalation_level) == ("credential_expired", 1)
    assert item.summary == f"state_license (OR Medical Board) expired {expired_on.isoformat()}"
    await env.sleep(timedelta(days=15))
    await _items(handle, level=2)  # and it goes on escalating per SLA
    renewed = today + timedelta(days=700)
    await _resolve(handle, view.work_item_id, "record_renewal", fields={"new_expires_on": renewed.isoformat()})
    await _until(lambda: _row(factory, m.Credential, credential_id).status == "active")
    await handle.terminate("test over")


async def test_caqh_attestation_is_due_every_120_days(
    time_skipping_env: WorkflowEnvironment, queue: str, factory: sessionmaker[Session]
) -> None:
    env = time_skipping_env
    today = (await env.get_current_time()).date()
    staff_id = add_staff(factory)
    due = today + timedelta(days=60)
    caqh = add_credential(
        factory, staff_id, due, kind=CredentialKind.CAQH, issuer="CAQH", issued_on=due - timedelta(120)
    )
    handle = await _start(env, queue, staff_id)
    await asyncio.sleep(0.5)
    assert await handle.query(StaffCredentialingWorkflow.open_work_items) == []  # 30 days before, not 90
    await env.sleep(timedelta(days=31))
    [view] = await _items(handle)
    item = _row(factory, m.WorkItem, view.work_item_id)
    assert (item.reason_code, item.escalation_level) == ("caqh_attestation_due", 0)

    now = (await env.get_current_time()).date()
    for bad in ((now + timedelta(days=5)).isoformat(), (due - timedelta(days=121)).isoformat(), "soon"):
        with pytest.raises(WorkflowUpdateFailedError):  # in the future; not later than the last; no date
            await _resolve(handle, view.work_item_id, "record_attestation", fields={"attested_on": bad})
    with pytest.raises(WorkflowUpdateFailedError):  # an attestation is not a training
        await _resolve(handle, view.work_item_id, "record_completion", fields={"completed_on": now.isoformat()})
    attested = now - timedelta(days=1)
    await _resolve(handle, view.work_item_id, "record_attestation", fields={"attested_on": attested.isoformat()})
    next_due = attested + timedelta(days=120)
    await _until(lambda: _row(factory, m.Credential, caqh).expires_on == next_due)
    assert _row(factory, m.WorkItem, view.work_item_id).state == WorkItemState.RESOLVED
    await env.sleep(timedelta(days=80))
    assert await handle.query(StaffCredentialingWorkflow.open_work_items) == []
    await env.sleep(timedelta(days=12))  # 30 days before the next attestation
    [second] = await _items(handle)
    assert _row(factory, m.WorkItem, second.work_item_id).context["expires_on"] == next_due.isoformat()
    await handle.terminate("test over")


def _screen(factory: sessionmaker[Session], folder: Path, staff_id: str, today: date) -> Any:
    with factory() as session:
        staff = session.get(m.Staff, staff_id)
        assert staff is not None
        staff.birth_date = date(1971, 4, 5)
        session.commit()
        first, last = staff.first_name, staff.last_name
    leie = write_leie(folder / "UPDATED.csv", count=50, plant=[Planted(first, last, date(1971, 4, 5))])
    return ExclusionScreening(factory).run([ListFile("OIG", leie)], today, actor="test")


@pytest.mark.parametrize(("action", "status"), [("clear_exclusion", "cleared"), ("confirm_exclusion", "confirmed")])
async def test_an_exclusion_match_is_adopted_and_decided_through_the_workflow(
    time_skipping_env: WorkflowEnvironment,
    queue: str,
    factory: sessionmaker[Session],
    tmp_path: Path,
    action: str,
    status: str,
) -> None:
    env = time_skipping_env
    today = (await env.get_current_time()).date()
    staff_id = add_staff(factory, role="nurse")  # no expiring credential: the match alone needs the workflow
    summary = _screen(factory, tmp_path, staff_id, today)
    [hit] = summary.matches
    assert (hit.staff_id, hit.basis, hit.new, summary.work_items_opened) == (staff_id, "name_dob", True, 1)
    handle = await _start(env, queue, staff_id)
    [view] = await _items(handle)
    assert view.work_item_id == hit.work_item_id  # adopted, not a second item
    assert _row(factory, m.WorkItem, view.work_item_id).reason_code == "exclusion_match"
    await env.sleep(timedelta(days=3, hours=1))
    await _items(handle, level=1)  # a held provider is urgent: three days, not fourteen

    with pytest.raises(WorkflowUpdateFailedError):  # a decision says why
        await _resolve(handle, view.work_item_id, action)
    assert _row(factory, m.ExclusionMatch, hit.match_id).status == "open"
    await _resolve(handle, view.work_item_id, action, note="compared NPI and birth date with the OIG record")
    await _until(lambda: _row(factory, m.ExclusionMatch, hit.match_id).status == status)
    match = _row(factory, m.ExclusionMatch, hit.match_id)
    assert match.decided_by == "cred"
    with factory() as session:
        decided = session.scalars(
            select(m.AuditEvent).where(
                m.AuditEvent.action == "exclusion.match_decided", m.AuditEvent.entity_id == staff_id
            )
        ).one()
        assert decided.details["decision"] == status and decided.workflow_id == handle.id

    # Next month's file holds the same record: the same match, no new item, nothing asked again.
    again = _screen(factory, tmp_path, staff_id, today + timedelta(days=30))
    assert [(h.match_id, h.new, h.status) for h in again.matches] == [(hit.match_id, False, status)]
    assert again.work_items_opened == 0
    await asyncio.sleep(0.3)
    assert await handle.query(StaffCredentialingWorkflow.open_work_items) == []
    await handle.terminate("test over")
