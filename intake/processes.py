"""Starting a patient's processes after commit: the one place that starts PatientRegistration, Encounter and
(through the ``VisitHook`` seam) the visit workflows.

Workflow ids are business keys (``registration-<patient id>``, ``encounter-<appointment id>``), and every start
uses ``USE_EXISTING`` for a running workflow, so a repeated dispatch starts nothing new:

- PatientRegistration runs once for a new patient (``ALLOW_DUPLICATE_FAILED_ONLY``) and again for a changed
  patient or coverage once the earlier run has closed (``ALLOW_DUPLICATE``, unless a run that began after the
  change was queued already covered it): the new run validates the record and checks the new coverage's
  eligibility. It never bills encounters (``bill_encounters=False``): intake starts each visit's Encounter.
- Encounter (coding, then Claim) is started once per visit (``ALLOW_DUPLICATE_FAILED_ONLY``): a visit that was
  billed is never billed again by a repeated event; only a run that failed or was terminated may be replaced.
  A new patient whose visit was closed in the unit that created the patient (detail ``REGISTERS``) has no
  PatientRegistration of its own: that visit's Encounter runs the registration's steps (``register_patient``),
  one execution instead of two.
- An appointment booked, rescheduled, changed or cancelled goes to the ``VisitHook`` (one first seen past booking,
  sent arrived, fulfilled, no-show or cancelled, has no visit process: nothing goes to the hook for it). The
  default hook does nothing (what happens before a visit — reminders, eligibility, telehealth — is the visits
  area's); the visits team plugs in a hook that starts, signals or cancels the Visit workflow for the appointment.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

from temporalio.client import Client
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from activities.contracts import revenue as c
from activities.contracts import visits as visits_contract
from activities.contracts.queues import TaskQueue
from domain.enums import AppointmentKind
from flows.revenue import (
    EncounterWorkflow,
    PatientRegistrationWorkflow,
    encounter_workflow_id,
    registration_workflow_id,
)
from flows.revenue.encounter import ENCOUNTER_STARTS_AT
from flows.revenue.registration import REGISTRATION_STARTS_AT

REGISTRATION = "registration"
ENCOUNTER = "encounter"
APPOINTMENT = "appointment"
# An Encounter start's detail when the unit folded the new patient's registration into it (UnitContext.queue_encounter)
REGISTERS = "registers_patient"


def visit_workflow_id(appointment_id: str, kind: str = AppointmentKind.IN_PERSON) -> str:
    """The business id of an appointment's visit process (the hook's to start; recorded with each event): the
    Visit's ``visit-<id>`` for an in-person appointment, the VirtualVisit's ``virtual-visit-<id>`` for a virtual one."""
    if kind == AppointmentKind.TELEHEALTH:
        return visits_contract.virtual_visit_workflow_id(appointment_id)
    return visits_contract.visit_workflow_id(appointment_id)


def workflow_id_for(process: str, entity_id: str, kind: str = AppointmentKind.IN_PERSON) -> str:
    if process == REGISTRATION:
        return registration_workflow_id(entity_id)
    if process == ENCOUNTER:
        return encounter_workflow_id(entity_id)
    if process == APPOINTMENT:
        return visit_workflow_id(entity_id, kind)
    raise ValueError(f"unknown process {process!r}")


@dataclass(frozen=True)
class AppointmentChange:
    """What happened to an appointment: booked, rescheduled, updated, cancelled, or its new status (arrived,
    fulfilled, noshow: ``AppointmentStatus`` values; fulfilled when its encounter was closed for billing).

    Opaque ids only: the hook reads the appointment (time, provider, kind) from the store."""

    appointment_id: str
    change: str
    workflow_id: str


class VisitHook(Protocol):
    """The seam where an appointment's visit process starts (the visits area implements it).

    Called after commit, at least once per change (a crash before the start is marked done calls it again):
    it must be idempotent, e.g. start ``visit_workflow_id(appointment_id)`` with ``USE_EXISTING``, or signal it.
    """

    async def appointment_changed(self, client: Client, change: AppointmentChange) -> None: ...


class NoVisitProcess:
    """The default hook: appointments are stored; no visit workflow exists yet."""

    async def appointment_changed(self, client: Client, change: AppointmentChange) -> None:
        return None


@dataclass(frozen=True)
class PendingStart:
    """A queued start (a ``process_starts`` row): ids and a change word only."""

    id: str
    process: str
    entity_id: str
    workflow_id: str
    detail: str
    queued_at: datetime


class ProcessStarter(Protocol):
    async def start(self, pending: PendingStart) -> None: ...


class TemporalStarter:
    """Starts the processes on Temporal with the revenue policy of this deployment (business-day length)."""

    def __init__(
        self,
        client: Client,
        policy: c.RevenuePolicy | None = None,
        *,
        task_queue: str = TaskQueue.REVENUE.value,
        visits: VisitHook | None = None,
    ) -> None:
        self.client = client
        self.policy = policy or c.RevenuePolicy()
        self.task_queue = task_queue
        self.visits: VisitHook = visits or NoVisitProcess()

    async def start(self, pending: PendingStart) -> None:
        process, entity_id, workflow_id = pending.process, pending.entity_id, pending.workflow_id
        try:
            if process == REGISTRATION:
                new_patient = pending.detail == "created"
                if not new_patient and await self._ran_since(workflow_id, pending.queued_at):
                    return  # a run that began after this change was queued has covered it
                await self.client.start_workflow(
                    PatientRegistrationWorkflow.run,
                    c.RegistrationInput(entity_id, self.policy, bill_encounters=False),
                    id=workflow_id,
                    task_queue=self.task_queue,
                    search_attributes=REGISTRATION_STARTS_AT,  # its first stage, free at the start
                    id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
                    # A new patient's first registration runs once; a change's runs again once the last one closed.
                    id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE_FAILED_ONLY
                    if new_patient
                    else WorkflowIDReusePolicy.ALLOW_DUPLICATE,
                )
            elif process == ENCOUNTER:
                await self.client.start_workflow(
                    EncounterWorkflow.run,
                    c.EncounterInput(entity_id, self.policy, register_patient=pending.detail == REGISTERS),
                    id=workflow_id,
                    task_queue=self.task_queue,
                    search_attributes=ENCOUNTER_STARTS_AT,  # its first stage, free at the start
                    id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
                    id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE_FAILED_ONLY,
                )
            elif process == APPOINTMENT:
                change = AppointmentChange(entity_id, pending.detail, workflow_id)
                await self.visits.appointment_changed(self.client, change)
            else:
                raise ValueError(f"unknown process {process!r}")
        except WorkflowAlreadyStartedError:
            return  # it ran before (a repeated dispatch): nothing new starts

    async def _ran_since(self, workflow_id: str, queued_at: datetime) -> bool:
        """Whether the latest run of ``workflow_id`` started at or after ``queued_at`` (a repeated dispatch of
        one change must not run a closed registration again)."""
        try:
            described = await self.client.get_workflow_handle(workflow_id).describe()
        except RPCError as exc:
            if exc.status == RPCStatusCode.NOT_FOUND:
                return False
            raise
        started = described.start_time
        queued = queued_at if queued_at.tzinfo else queued_at.replace(tzinfo=UTC)
        return started >= queued
