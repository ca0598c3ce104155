"""Starting the per-staff StaffCredentialing and TrainingRenewal workflows (``carecycle staff start-tracking``
and ``carecycle up``): one of each per active staff member who needs it, idempotent by business id."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sqlalchemy.orm import Session, sessionmaker
    from temporalio.client import Client

    from activities.contracts.staff import StaffPolicy


@dataclass
class TrackingStarted:
    started: list[str] = field(default_factory=list)
    already_running: list[str] = field(default_factory=list)


def tracked_staff(session_factory: sessionmaker[Session], staff_id: str | None = None) -> dict[str, list[str]]:
    """Active staff id -> the workflow ids they need: credentialing if they hold a credential with an
    expiry (not revoked) or an open exclusion match, training if a requirement applies to their role."""
    from sqlalchemy import select

    from activities.contracts.staff import credentialing_workflow_id, training_workflow_id
    from domain import models as m
    from domain.exclusions import MATCH_OPEN
    from domain.staff import CREDENTIAL_REVOKED, training_applies

    with session_factory() as session:
        query = select(m.Staff.id, m.Staff.role).where(m.Staff.active.is_(True)).order_by(m.Staff.id)
        if staff_id is not None:
            query = query.where(m.Staff.id == staff_id)
        staff = session.execute(query).all()
        holders = set(
            session.execute(
                select(m.Credential.staff_id).where(
                    m.Credential.expires_on.is_not(None), m.Credential.status != CREDENTIAL_REVOKED
                )
            ).scalars()
        )
        # An exclusion match waits for a person through the staff member's credentialing workflow.
        holders |= set(
            session.execute(select(m.ExclusionMatch.staff_id).where(m.ExclusionMatch.status == MATCH_OPEN)).scalars()
        )
        role_lists = [list(roles) for roles in session.execute(select(m.TrainingRequirement.roles)).scalars()]
    wanted: dict[str, list[str]] = {}
    for sid, role in staff:
        ids = []
        if sid in holders:
            ids.append(credentialing_workflow_id(sid))
        if any(training_applies(roles, role) for roles in role_lists):
            ids.append(training_workflow_id(sid))
        wanted[sid] = ids
    return wanted


async def start_tracking(
    client: Client,
    session_factory: sessionmaker[Session],
    *,
    staff_id: str | None = None,
    policy: StaffPolicy | None = None,
) -> TrackingStarted:
    """Start each missing workflow; one already running under its business id is left as it is."""
    from temporalio.exceptions import WorkflowAlreadyStartedError

    from activities.contracts.staff import STAFF_TASK_QUEUE, StaffPolicy, StaffTrackingInput
    from flows.staff import StaffCredentialingWorkflow, TrainingRenewalWorkflow

    outcome = TrackingStarted()
    for sid, workflow_ids in tracked_staff(session_factory, staff_id).items():
        for workflow_id in workflow_ids:
            workflow = (
                StaffCredentialingWorkflow.run
                if workflow_id.startswith("credentialing-")
                else TrainingRenewalWorkflow.run
            )
            try:
                await client.start_workflow(
                    workflow,
                    StaffTrackingInput(staff_id=sid, policy=policy or StaffPolicy()),
                    id=workflow_id,
                    task_queue=STAFF_TASK_QUEUE,
                )
            except WorkflowAlreadyStartedError:
                outcome.already_running.append(workflow_id)
            else:
                outcome.started.append(workflow_id)
    return outcome
