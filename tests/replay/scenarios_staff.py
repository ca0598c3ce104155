"""Replay scenarios of the staff workflows (see tests/replay/scenarios.py for how they are run)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

from activities.contracts.staff import (
    CREDENTIALS_CHANGED_SIGNAL,
    STAFF_TASK_QUEUE,
    TRAINING_CHANGED_SIGNAL,
    StaffPolicy,
    StaffTrackingInput,
    StaffTrackingResult,
    credentialing_workflow_id,
    training_workflow_id,
)
from domain.enums import CredentialKind
from domain.workitems import ResolveRequest
from flows.staff import StaffCredentialingWorkflow, TrainingRenewalWorkflow
from flows.workitems import OpenWorkItemView
from tests.replay.scenarios import ReplayRun, Scenario
from tests.support.staff import add_credential, add_staff, add_training, deactivate

POLICY = StaffPolicy(credential_lead_days=90, training_lead_days=30, work_item_sla_days=14, reread_days=5000)


async def _open_items(handle: Any, count: int) -> list[OpenWorkItemView]:
    for _ in range(400):
        views: list[OpenWorkItemView] = await handle.query("work_items", result_type=list[OpenWorkItemView])
        if len(views) >= count:
            return views
        await asyncio.sleep(0.05)
    raise RuntimeError(f"expected {count} open work item(s)")


async def staff_credentialing_renewed_and_lapsed(run: ReplayRun) -> str:
    """Two credentials inside the lead time: one renewed (after a refused earlier date), the other lapses at
    its expiry and its item is cancelled; the staff member leaves and the workflow ends."""
    factory = run.container.session_factory
    today = datetime.now(UTC).date()
    staff_id = add_staff(factory)
    license_id = add_credential(factory, staff_id, today + timedelta(days=30))
    add_credential(factory, staff_id, today + timedelta(days=10), kind=CredentialKind.DEA, issuer="DEA")
    handle = await run.client.start_workflow(
        StaffCredentialingWorkflow.run,
        StaffTrackingInput(staff_id=staff_id, policy=POLICY),
        id=credentialing_workflow_id(staff_id),
        task_queue=STAFF_TASK_QUEUE,
    )
    views = await _open_items(handle, 2)
    by_entity = {}
    for view in views:
        item = await asyncio.to_thread(_entity_of, run, view.work_item_id)
        by_entity[item] = view.work_item_id
    license_item = by_entity[license_id]
    dea_item = next(item for entity, item in by_entity.items() if entity != license_id)
    try:
        await handle.execute_update(
            StaffCredentialingWorkflow.resolve,
            ResolveRequest(
                work_item_id=license_item,
                action="record_renewal",
                by="cred",
                fields={"new_expires_on": today.isoformat()},
            ),
        )
    except Exception:  # refused by the validator (not later than the current expiry): no trace in history
        pass
    await handle.execute_update(
        StaffCredentialingWorkflow.resolve,
        ResolveRequest(
            work_item_id=license_item,
            action="record_renewal",
            by="cred",
            fields={"new_expires_on": (today + timedelta(days=760)).isoformat(), "number": "MD000002"},
        ),
    )
    await run.skip_time(timedelta(days=11))  # the DEA registration lapses
    await handle.execute_update(
        StaffCredentialingWorkflow.resolve,
        ResolveRequest(work_item_id=dea_item, action="cancel", by="cred", note="no longer prescribes"),
    )
    deactivate(factory, staff_id)
    await handle.signal(CREDENTIALS_CHANGED_SIGNAL)
    result: StaffTrackingResult = await handle.result()
    if result.items_resolved != 2:
        raise RuntimeError(f"expected two resolved items, got {result.items_resolved}")
    return handle.id


def _signed(
    run: ReplayRun, workflow_id: str, work_item_id: str, action: str, fields: dict[str, str], note: str
) -> ResolveRequest:
    """A resolution as the CLI sends it: signed, so the workers' actor interceptor lets it through."""
    from workers.security.actors import load_actor_keys, sign_cli_resolution

    keys = load_actor_keys(run.container.settings)
    actor = sign_cli_resolution(keys, workflow_id, work_item_id, action, fields, note, by="cred")
    return ResolveRequest(work_item_id, action, actor.label, fields, note, actor=actor)


def _entity_of(run: ReplayRun, work_item_id: str) -> str:
    from domain import models as m

    with run.container.session_factory() as session:
        item = session.get(m.WorkItem, work_item_id)
        assert item is not None
        return item.entity_id


async def training_renewal_completed(run: ReplayRun) -> str:
    """HIPAA due in two weeks: the completion is recorded; the staff member leaves and the workflow ends."""
    factory = run.container.session_factory
    today = datetime.now(UTC).date()
    staff_id = add_staff(factory, role="nurse")
    add_training(factory, staff_id, today - timedelta(days=350), code="HIPAA_REPLAY")
    handle = await run.client.start_workflow(
        TrainingRenewalWorkflow.run,
        StaffTrackingInput(staff_id=staff_id, policy=POLICY),
        id=training_workflow_id(staff_id),
        task_queue=STAFF_TASK_QUEUE,
    )
    [view] = await _open_items(handle, 1)
    await handle.execute_update(
        TrainingRenewalWorkflow.resolve,
        ResolveRequest(
            work_item_id=view.work_item_id,
            action="record_completion",
            by="hr",
            fields={"completed_on": today.isoformat()},
        ),
    )
    deactivate(factory, staff_id)
    await handle.signal(TRAINING_CHANGED_SIGNAL)
    result: StaffTrackingResult = await handle.result()
    if result.items_resolved != 1:
        raise RuntimeError(f"expected one resolved item, got {result.items_resolved}")
    return handle.id


async def staff_credentialing_exclusion_caqh_expired(run: ReplayRun) -> str:
    """The paths behind the exclusions/CAQH/expired patch: an expired license opens escalated and is renewed; the
    CAQH attestation is recorded (next due 120 days on); an exclusion match from a screening of a synthetic LEIE
    file is adopted and cleared with a note; the staff member leaves and the workflow ends."""
    import tempfile
    from pathlib import Path

    from activities.staff.screening import ExclusionScreening, ListFile
    from domain import models as m
    from sandbox.exclusions import Planted, write_leie

    factory = run.container.session_factory
    today = datetime.now(UTC).date()
    staff_id = add_staff(factory)
    license_id = add_credential(factory, staff_id, today - timedelta(days=10), status="expired")
    add_credential(factory, staff_id, today + timedelta(days=20), kind=CredentialKind.CAQH, issuer="CAQH")
    with factory() as session:
        staff = session.get(m.Staff, staff_id)
        assert staff is not None
        staff.birth_date = datetime(1970, 2, 3).date()
        session.commit()
        planted = Planted(staff.first_name, staff.last_name, staff.birth_date)
    with tempfile.TemporaryDirectory() as folder:
        leie = write_leie(Path(folder) / "UPDATED.csv", count=20, plant=[planted])
        ExclusionScreening(factory).run([ListFile("OIG", leie)], today, actor="replay")
    handle = await run.client.start_workflow(
        StaffCredentialingWorkflow.run,
        StaffTrackingInput(staff_id=staff_id, policy=POLICY),
        id=credentialing_workflow_id(staff_id),
        task_queue=STAFF_TASK_QUEUE,
    )
    views = await _open_items(handle, 3)
    for view in views:
        entity = await asyncio.to_thread(_entity_of, run, view.work_item_id)
        if entity == license_id:
            action, fields, note = "record_renewal", {"new_expires_on": (today + timedelta(days=700)).isoformat()}, ""
        elif entity == staff_id:
            action, fields, note = "clear_exclusion", {}, "birth date differs on file"
        else:
            action, fields, note = "record_attestation", {"attested_on": (today - timedelta(days=1)).isoformat()}, ""
        await handle.execute_update(
            StaffCredentialingWorkflow.resolve, _signed(run, handle.id, view.work_item_id, action, fields, note)
        )
    deactivate(factory, staff_id)
    await handle.signal(CREDENTIALS_CHANGED_SIGNAL)
    result: StaffTrackingResult = await handle.result()
    if result.items_resolved != 3:
        raise RuntimeError(f"expected three resolved items, got {result.items_resolved}")
    return handle.id


SCENARIOS: dict[str, Scenario] = {
    "staff_credentialing_renewed_and_lapsed": staff_credentialing_renewed_and_lapsed,
    "staff_credentialing_exclusion_caqh_expired": staff_credentialing_exclusion_caqh_expired,
    "training_renewal_completed": training_renewal_completed,
}
