"""The staff activities on both stores (SQLite and PostgreSQL): reading credentials (the newest of a kind
from an issuer, revoked ones left out, the state of the item under the shared business key), recording a
renewal (later only, once, audited), marking a lapse (only an active credential at that expiry), reading the
training standing (roles, never completed) and recording a completion (once, audited)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from temporalio.exceptions import ApplicationError

from activities.contracts import staff as contract
from activities.contracts.workitems import OpenWorkItemInput, RecordResolutionInput
from activities.staff import StaffActivities
from activities.workitems import WorkItemActivities
from domain import models as m
from domain.enums import CredentialKind
from domain.errors import InvalidResolution
from domain.staff import credential_item_key
from tests.support.staff import add_credential, add_staff, add_training, deactivate

TODAY = date(2026, 3, 2)


def _audit(factory: sessionmaker[Session], entity_id: str) -> list[tuple[str, str]]:
    with factory() as session:
        rows = session.execute(
            select(m.AuditEvent.action, m.AuditEvent.actor).where(m.AuditEvent.entity_id == entity_id)
        ).all()
        return [(action, actor) for action, actor in rows]


def _open_item(factory: sessionmaker[Session], credential_id: str, expires_on: date) -> str:
    return (
        WorkItemActivities(factory)
        .open(
            OpenWorkItemInput(
                reason="credential_expiring",
                queue="credentialing",
                summary="state_license expires",
                entity_type="credential",
                entity_id=credential_id,
                workflow_id="credentialing-x",
                dedupe_key=credential_item_key(credential_id, expires_on),
                sla_due_at=datetime(2026, 3, 9, tzinfo=UTC),
            )
        )
        .work_item_id
    )


def test_read_credentials_takes_the_newest_of_each_kind_and_reports_its_item(
    session_factory: sessionmaker[Session],
) -> None:
    activities = StaffActivities(session_factory)
    staff_id = add_staff(session_factory)
    add_credential(session_factory, staff_id, TODAY + timedelta(days=10))  # superseded by the next
    license_id = add_credential(session_factory, staff_id, TODAY + timedelta(days=700))
    dea_id = add_credential(session_factory, staff_id, TODAY - timedelta(days=3), kind=CredentialKind.DEA, issuer="DEA")
    with session_factory() as session:
        session.get(m.Credential, dea_id).status = "expired"  # type: ignore[union-attr]
        session.commit()
    add_credential(session_factory, staff_id, TODAY + timedelta(days=5), kind=CredentialKind.CAQH, status="revoked")
    item_id = _open_item(session_factory, license_id, TODAY + timedelta(days=700))

    snapshot = activities.read_credentials(contract.ReadCredentialsInput(staff_id))
    assert snapshot.active
    views = {v.credential_id: v for v in snapshot.credentials}
    assert set(views) == {license_id, dea_id}
    assert (views[license_id].item_open, views[license_id].item_done, views[license_id].lapsed) == (True, False, False)
    assert views[dea_id].lapsed and not views[dea_id].item_open
    assert views[license_id].expires_on == (TODAY + timedelta(days=700)).isoformat()

    WorkItemActivities(session_factory).record_resolution(
        RecordResolutionInput(work_item_id=item_id, action="complete", by="cred", terminal=True)
    )
    again = {
        v.credential_id: v for v in activities.read_credentials(contract.ReadCredentialsInput(staff_id)).credentials
    }
    assert (again[license_id].item_open, again[license_id].item_done) == (False, True)

    deactivate(session_factory, staff_id)
    assert activities.read_credentials(contract.ReadCredentialsInput(staff_id)) == contract.CredentialSnapshot(
        staff_id=staff_id, active=False
    )
    assert not activities.read_credentials(contract.ReadCredentialsInput("no-such-staff")).active


def test_a_renewal_must_be_later_is_recorded_once_and_audited(session_factory: sessionmaker[Session]) -> None:
    activities = StaffActivities(session_factory)
    staff_id = add_staff(session_factory)
    expires = TODAY + timedelta(days=30)
    credential_id = add_credential(session_factory, staff_id, expires, status="expired")

    def renewal(new: date) -> contract.RecordRenewalInput:
        return contract.RecordRenewalInput(
            credential_id=credential_id,
            expected_expires_on=expires.isoformat(),
            new_expires_on=new.isoformat(),
            by="cred",
            workflow_id=f"credentialing-{staff_id}",
            work_item_id="item-1",
            number="MD777",
        )

    with pytest.raises(ApplicationError) as refused:
        activities.record_renewal(renewal(expires))
    assert refused.value.non_retryable and refused.value.type == InvalidResolution.code
    assert _audit(session_factory, credential_id) == []

    new = expires + timedelta(days=730)
    assert activities.record_renewal(renewal(new)) == contract.RenewalRecorded(credential_id, new.isoformat(), True)
    assert activities.record_renewal(renewal(new)) == contract.RenewalRecorded(credential_id, new.isoformat(), False)
    with session_factory() as session:
        credential = session.get(m.Credential, credential_id)
        assert credential is not None
        assert (credential.expires_on, credential.status, credential.number) == (new, "active", "MD777")
    assert _audit(session_factory, credential_id) == [("credential.renewed", "cred")]

    with pytest.raises(ApplicationError) as missing:
        activities.record_renewal(
            contract.RecordRenewalInput("nope", expires.isoformat(), new.isoformat(), "cred", "wf", "item")
        )
    assert missing.value.non_retryable


def test_a_credential_lapses_only_if_still_active_at_that_expiry(session_factory: sessionmaker[Session]) -> None:
    activities = StaffActivities(session_factory)
    staff_id = add_staff(session_factory)
    expires = TODAY - timedelta(days=1)
    credential_id = add_credential(session_factory, staff_id, expires)
    workflow_id = f"credentialing-{staff_id}"

    assert not activities.mark_lapsed(
        contract.MarkLapsedInput(credential_id, (expires - timedelta(days=1)).isoformat(), workflow_id)
    )
    assert activities.mark_lapsed(contract.MarkLapsedInput(credential_id, expires.isoformat(), workflow_id))
    assert not activities.mark_lapsed(contract.MarkLapsedInput(credential_id, expires.isoformat(), workflow_id))
    with session_factory() as session:
        assert session.get(m.Credential, credential_id).status == "expired"  # type: ignore[union-attr]
    assert _audit(session_factory, credential_id) == [("credential.lapsed", f"workflow:{workflow_id}"[:60])]


def test_training_standing_and_a_completion_recorded_once(session_factory: sessionmaker[Session]) -> None:
    activities = StaffActivities(session_factory)
    hired = date(2025, 6, 1)
    staff_id = add_staff(session_factory, role="nurse", hired_on=hired)
    hipaa = add_training(session_factory, staff_id, TODAY - timedelta(days=400))
    add_training(session_factory, staff_id, TODAY - timedelta(days=40))  # the latest HIPAA completion counts
    other = add_staff(session_factory, role="physician")
    add_training(session_factory, other, TODAY, code="CPR_MD", roles=["physician"])  # not a nurse's
    with session_factory() as session:
        fwa = m.TrainingRequirement(code="FWA", name="Fraud, waste and abuse", roles=[], renewal_days=365)
        session.add(fwa)
        session.commit()
        fwa_id = fwa.id

    snapshot = activities.read_training(contract.ReadTrainingInput(staff_id))
    views = {v.code: v for v in snapshot.requirements}
    assert set(views) == {"HIPAA", "FWA"}
    assert views["HIPAA"].due_on == (TODAY - timedelta(days=40) + timedelta(days=365)).isoformat()
    assert views["HIPAA"].last_completed_on == (TODAY - timedelta(days=40)).isoformat()
    assert (views["FWA"].due_on, views["FWA"].last_completed_on) == (hired.isoformat(), "")  # never completed

    request = contract.RecordCompletionInput(
        staff_id=staff_id,
        requirement_id=fwa_id,
        completed_on=TODAY.isoformat(),
        by="hr",
        workflow_id=f"training-{staff_id}",
        work_item_id="item-2",
    )
    first = activities.record_completion(request)
    assert first.created and first.expires_on == (TODAY + timedelta(days=365)).isoformat()
    assert activities.record_completion(request) == contract.CompletionRecorded(
        first.training_record_id, first.expires_on, created=False
    )
    assert _audit(session_factory, first.training_record_id) == [("training.completed", "hr")]
    after = {v.code: v for v in activities.read_training(contract.ReadTrainingInput(staff_id)).requirements}
    assert after["FWA"].due_on == first.expires_on
    assert hipaa  # the requirement row was shared by both HIPAA completions
