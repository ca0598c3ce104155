"""Intake's starts on a real Temporal server (time-skipping), with the real workflows and activities mocked by name:
each process starts once under its business id, a repeated dispatch or event starts nothing new, and a changed
patient runs registration again."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from temporalio import activity
from temporalio.client import WorkflowExecutionStatus
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from activities.contracts import revenue as c
from domain import models as m
from domain.store.engine import make_engine, make_session_factory
from flows.revenue import WORKFLOWS
from intake import (
    Actor,
    AppointmentChange,
    BusinessId,
    CoverageData,
    CoverageEntry,
    EncounterStatus,
    Intake,
    IntakeUnit,
    Outcome,
    PatientData,
    PendingStart,
    RecordCharge,
    RecordEncounter,
    Ref,
    RegisterPatient,
    TemporalStarter,
)
from tests.workflows.test_revenue_cycle import World
from workers.registry import workflow_runner
from workers.synthetic import seed_practice

pytestmark = pytest.mark.temporal

ACTOR = Actor("api", "test-ehr")
SYSTEM = "urn:test:ehr"


@dataclass
class Hook:
    changes: list[AppointmentChange]

    async def appointment_changed(self, client: object, change: AppointmentChange) -> None:
        self.changes.append(change)


def _registration(address: str = "1 Test Way") -> RegisterPatient:
    return RegisterPatient(
        BusinessId(SYSTEM, "mrn-1"),
        PatientData("Ada", "Testcase", date(1980, 5, 17), "F", address, "Springfield", "OR", "97477", "5415550100"),
        (CoverageEntry(CoverageData("SBXBM", "BM1", effective_from=date(2025, 1, 1))),),
    )


@pytest.fixture
def store(sqlite_url: str) -> sessionmaker[Session]:
    factory = make_session_factory(make_engine(sqlite_url))
    with factory() as session:
        seed_practice(session, patients=0, seed=3)
        session.commit()
    return factory


async def test_each_process_starts_once_and_a_repeat_starts_nothing(
    time_skipping_env: WorkflowEnvironment, store: sessionmaker[Session]
) -> None:
    env, queue, world = time_skipping_env, f"intake-{uuid.uuid4()}", World()
    mocks = [a for a in world.activities() if a.__name__ != "prepare"]

    @activity.defn(name=c.ENCOUNTER_PREPARE)
    async def prepare(ref: c.AppointmentRef) -> c.PreparedEncounter:
        world.calls.append((c.ENCOUNTER_PREPARE, ref))
        return c.PreparedEncounter("enc-1", "p-1", "g-1", True, None, "none")

    hook = Hook([])
    starter = TemporalStarter(env.client, c.RevenuePolicy(), task_queue=queue, visits=hook)
    intake = Intake(store, starter)
    with store() as session:
        npi = session.execute(select(m.Provider.npi).order_by(m.Provider.npi)).scalars().first()
    assert npi is not None
    async with Worker(
        env.client,
        task_queue=queue,
        workflows=list(WORKFLOWS),
        activities=[*mocks, prepare],
        workflow_runner=workflow_runner(),
    ):
        patient = await intake.submit(ACTOR, _registration())
        registration = env.client.get_workflow_handle(f"registration-{patient.id}", result_type=c.RegistrationResult)
        result = await registration.result()
        assert result.encounters == ()  # intake's registrations never bill: intake starts each visit's Encounter
        assert world.called(c.ENCOUNTER_LIST_BILLABLE) == []
        first_run = (await registration.describe()).run_id

        # The same event again: unchanged, nothing queued, no new run.
        again = await intake.submit(ACTOR, _registration())
        assert again.starts == () and (await registration.describe()).run_id == first_run
        # The same start dispatched twice (a crash before it was marked done): the run that covered it stands.
        with store() as session:
            row = session.execute(select(m.ProcessStart).where(m.ProcessStart.process == "registration")).scalar_one()
            pending = PendingStart(row.id, row.process, row.entity_id, row.workflow_id, row.detail, row.created_at)
        await starter.start(pending)
        assert (await registration.describe()).run_id == first_run

        # A changed patient: registration runs again under the same business id.
        moved = await intake.submit(ACTOR, _registration("2 Other Road"))
        assert moved.starts == (f"registration-{patient.id}",)
        rerun = await registration.describe()
        assert rerun.run_id != first_run
        await registration.result()

        # A finished encounter: Encounter runs once; dispatching its start again starts nothing new.
        who = Ref.by(SYSTEM, "mrn-1")
        applied = await _visit(intake, who, npi)
        appointment_id = applied.starts[0].removeprefix("encounter-")
        encounter = env.client.get_workflow_handle(applied.starts[0], result_type=c.EncounterResult)
        assert (await encounter.result()).claim is None
        run = (await encounter.describe()).run_id
        await starter.start(PendingStart("y", "encounter", appointment_id, applied.starts[0], "", datetime.now(UTC)))
        described = await encounter.describe()
        assert described.run_id == run and described.status == WorkflowExecutionStatus.COMPLETED
        assert len(world.called(c.ENCOUNTER_PREPARE)) == 1
        assert [change.change for change in hook.changes] == ["fulfilled"]


async def _visit(intake: Intake, who: Ref, npi: str) -> Outcome:
    def work(unit: IntakeUnit) -> Outcome:
        encounter = unit.record_encounter(
            RecordEncounter(BusinessId(SYSTEM, "enc-1"), who, npi, date.today(), EncounterStatus.FINISHED, ("I10",))
        )
        unit.record_charge(RecordCharge(who, Ref.by(SYSTEM, "enc-1"), "99213"))
        return encounter

    applied = await asyncio.to_thread(intake.run, ACTOR, work)
    await intake.dispatch(applied.start_ids)
    return applied.result


async def test_a_new_patient_with_a_closed_visit_is_one_process_that_registers_and_bills(
    time_skipping_env: WorkflowEnvironment, store: sessionmaker[Session]
) -> None:
    """A unit that creates a patient and closes its visit (a FHIR transaction of both) starts the visit's
    Encounter alone, folding the patient's registration into it: the registration's steps (the record's check,
    the coverage's eligibility) run in that Encounter, and no PatientRegistration runs. A unit with the patient
    alone, and a later visit of a known patient, start as before."""
    env, queue, world = time_skipping_env, f"intake-{uuid.uuid4()}", World()
    mocks = [a for a in world.activities() if a.__name__ != "prepare"]

    @activity.defn(name=c.ENCOUNTER_PREPARE)
    async def prepare(ref: c.AppointmentRef) -> c.PreparedEncounter:
        world.calls.append((c.ENCOUNTER_PREPARE, ref))
        return c.PreparedEncounter("enc-1", "p-1", "g-1", True, None, "none")

    starter = TemporalStarter(env.client, c.RevenuePolicy(), task_queue=queue, visits=Hook([]))
    intake = Intake(store, starter)
    with store() as session:
        npi = session.execute(select(m.Provider.npi).order_by(m.Provider.npi)).scalars().first()
    assert npi is not None

    def patient_and_visit(unit: IntakeUnit) -> Outcome:
        unit.handle(_registration())
        return _record_visit(unit, Ref.by(SYSTEM, "mrn-1"), npi, "enc-1")

    async with Worker(
        env.client,
        task_queue=queue,
        workflows=list(WORKFLOWS),
        activities=[*mocks, prepare],
        workflow_runner=workflow_runner(),
    ):
        applied = await asyncio.to_thread(intake.run, ACTOR, patient_and_visit)
        revenue = [(s.process, s.detail) for s in applied.starts if s.process != "appointment"]  # and the visit hook
        assert revenue == [("encounter", "registers_patient")]
        with store() as session:  # the outbox holds the one start: the folded registration was never written
            assert "registration" not in session.execute(select(m.ProcessStart.process)).scalars().all()
            patient_id = session.execute(select(m.Patient.id)).scalar_one()
        report = await intake.dispatch(applied.start_ids)
        assert applied.result.starts[0] in report.started
        encounter = env.client.get_workflow_handle(applied.result.starts[0], result_type=c.EncounterResult)
        result = await encounter.result()
        assert result.registration is not None and result.registration.patient_id == "p-1"
        assert [e.status for e in result.registration.eligibility] == ["active"]
        assert world.called(c.REGISTRATION_VALIDATE) == [c.PatientRef("p-1")]
        assert len(world.called(c.ELIGIBILITY_CHECK)) == 1
        with pytest.raises(RPCError):  # no PatientRegistration of its own
            await env.client.get_workflow_handle(f"registration-{patient_id}").describe()

        # The same patient's next visit: an Encounter that only bills.
        later = await asyncio.to_thread(
            intake.run, ACTOR, lambda unit: _record_visit(unit, Ref.by(SYSTEM, "mrn-1"), npi, "enc-2")
        )
        assert [(s.process, s.detail) for s in later.starts if s.process != "appointment"] == [("encounter", "")]
        await intake.dispatch(later.start_ids)
        second = env.client.get_workflow_handle(later.result.starts[0], result_type=c.EncounterResult)
        assert (await second.result()).registration is None
        assert len(world.called(c.REGISTRATION_VALIDATE)) == 1


def _record_visit(unit: IntakeUnit, who: Ref, npi: str, identifier: str) -> Outcome:
    encounter = unit.record_encounter(
        RecordEncounter(BusinessId(SYSTEM, identifier), who, npi, date.today(), EncounterStatus.FINISHED, ("I10",))
    )
    unit.record_charge(RecordCharge(who, Ref.by(SYSTEM, identifier), "99213"))
    return encounter
