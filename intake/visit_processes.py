"""The visits area's ``VisitHook``: an appointment's Visit or VirtualVisit workflow, started, told, or cancelled.

Intake calls it after commit for every appointment change it stored (at least once per change). Each call reads the
appointment (kind, status) from the store and acts on Temporal idempotently:

- booked (or changed while still booked) and not over yet: the workflow is started under its business id
  (``visit-<id>`` for an in-person visit, ``virtual-visit-<id>`` for a virtual one) with ``USE_EXISTING``; a running
  one is told to read the appointment again (``appointment_changed``: a reschedule moves its timers);
- cancelled: the running workflow is told (``appointment_cancelled``: timers dropped, a virtual visit's room
  deleted); none running: nothing to do;
- arrived / fulfilled (the EHR's check-in and check-out, or ``carecycle visits arrive|close``): an in-person
  Visit gets its ``arrive`` / ``close`` Update (refused quietly when it is there already), sent as whoever caused
  the change (``domain.actors.acting_as``: the API client, the console user, the OS user, ``system:hl7:<sender>``),
  or ``system:intake`` from a sweep, and signed for the workers' check by the client (workers.security.actor_headers).

This module is part of intake, the one place that starts a patient's processes (tests/unit/test_intake_owns_starts).
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy.orm import Session, sessionmaker
from temporalio.client import Client, WorkflowUpdateFailedError
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.service import RPCError, RPCStatusCode

from activities.contracts import visits as c
from domain import models as m
from domain.actors import SignedActor, acting_as, current_actor
from domain.enums import AppointmentKind, AppointmentStatus
from flows.visits import VirtualVisitWorkflow, VisitWorkflow
from intake.processes import AppointmentChange, visit_workflow_id

log = logging.getLogger("carecycle.intake.visits")

ARRIVALS = frozenset({"checked_in", "arrived"})
CLOSES = frozenset({"completed", "fulfilled"})


@dataclass(frozen=True)
class _Appointment:
    kind: str
    status: str
    ends_at: datetime


def workflow_id_of(appointment_id: str, kind: str) -> str:
    """The workflow id the hook acts on: the one intake records for the appointment (intake.processes)."""
    return visit_workflow_id(appointment_id, kind)


class VisitProcesses:
    def __init__(
        self,
        session_factory: sessionmaker[Session],
        policy: c.VisitPolicy | None = None,
        *,
        task_queue: str = c.VISIT_TASK_QUEUE,
        actor: str = "intake",
    ) -> None:
        self._session_factory = session_factory
        self.policy = policy or c.VisitPolicy()
        self.task_queue = task_queue
        self.actor = actor

    def _read(self, appointment_id: str) -> _Appointment | None:
        with self._session_factory() as session:
            row = session.get(m.Appointment, appointment_id)
            if row is None:
                return None
            ends = row.ends_at if row.ends_at.tzinfo else row.ends_at.replace(tzinfo=UTC)
            return _Appointment(str(row.kind), str(row.status), ends)

    async def appointment_changed(self, client: Client, change: AppointmentChange) -> None:
        appointment = await asyncio.to_thread(self._read, change.appointment_id)
        if appointment is None:
            return
        workflow_id = workflow_id_of(change.appointment_id, appointment.kind)
        handle = client.get_workflow_handle(workflow_id)
        if appointment.status == AppointmentStatus.CANCELLED or change.change == "cancelled":
            await _quietly(handle.signal(c.CANCELLED_SIGNAL))
            return
        if appointment.status == AppointmentStatus.BOOKED:
            if appointment.ends_at < datetime.now(UTC):
                # A late entry of a visit already over (an EHR feed): no reminders, no no-show fee for it.
                log.info(
                    "no visit process for an appointment already over", extra={"appointment_id": change.appointment_id}
                )
                return
            await self.start(client, change.appointment_id, appointment.kind)
            if change.change != "booked":  # a reschedule: a running workflow reads the appointment again
                await _quietly(handle.signal(c.CHANGED_SIGNAL))
            return
        if appointment.kind == AppointmentKind.TELEHEALTH:
            return  # a virtual visit's arrival and end come from the video room
        acting = current_actor() or SignedActor("system", self.actor)  # a sweep's dispatch: intake itself
        with acting_as(acting.kind, acting.principal, acting.note):  # signed by the client: the workers check it
            by = c.ActorRequest(acting.label)
            if change.change in ARRIVALS or appointment.status == AppointmentStatus.ARRIVED:
                await _quietly(handle.execute_update(c.ARRIVE_UPDATE, by))
            if change.change in CLOSES or appointment.status == AppointmentStatus.FULFILLED:
                await _quietly(handle.execute_update(c.ARRIVE_UPDATE, by))
                await _quietly(handle.execute_update(c.CLOSE_UPDATE, by))

    async def start(self, client: Client, appointment_id: str, kind: str) -> None:
        """Start the appointment's workflow unless it runs (or ended well: one visit process per appointment)."""
        workflow_id = workflow_id_of(appointment_id, kind)
        run = VirtualVisitWorkflow.run if kind == AppointmentKind.TELEHEALTH else VisitWorkflow.run
        await client.start_workflow(
            run,
            c.VisitInput(appointment_id, self.policy),
            id=workflow_id,
            task_queue=self.task_queue,
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
            id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE_FAILED_ONLY,
        )


async def _quietly(call: object) -> None:
    """A signal or Update the workflow may no longer take (ended, or there already): not an error of intake's."""
    try:
        await call  # type: ignore[misc]
    except RPCError as exc:
        if exc.status != RPCStatusCode.NOT_FOUND:
            raise
    except WorkflowUpdateFailedError as exc:
        log.info("visit update not applied: %s", exc.cause)
