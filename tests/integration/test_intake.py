"""The intake module on SQLite and PostgreSQL: records, identifiers, versions, the outbox, all-or-nothing units.

Process starts are recorded by a starter that keeps what it was asked (the Temporal side is tested in
tests/workflows/test_intake_starts.py with the real workflows).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from domain import models as m
from domain.enums import AppointmentStatus, CoverageRank
from domain.errors import DuplicatePatient, InvalidCode, UnknownPayer
from intake import (
    Actor,
    AlreadyBilled,
    BusinessId,
    Change,
    CoverageData,
    CoverageEntry,
    EncounterStatus,
    IdentifierConflict,
    IfExists,
    Intake,
    IntakeUnit,
    InvalidEvent,
    Outcome,
    PatientData,
    PendingStart,
    RecordCharge,
    RecordCondition,
    RecordCoverage,
    RecordEncounter,
    Ref,
    RegisterPatient,
    ScheduleAppointment,
    UnknownReference,
    VersionConflict,
)
from workers.synthetic import seed_practice

MRN = "urn:oid:2.16.840.1.113883.19.5|mrn"
SYSTEM = "urn:test:ehr"
ACTOR = Actor("api", "test-ehr")
DAY = date(2026, 3, 2)


@dataclass
class RecordingStarter:
    started: list[tuple[str, str, str, str]] = field(default_factory=list)
    fail: bool = False

    async def start(self, pending: PendingStart) -> None:
        if self.fail:
            raise ConnectionError("temporal is down")
        self.started.append((pending.process, pending.entity_id, pending.workflow_id, pending.detail))


@pytest.fixture
def practice(session_factory: sessionmaker[Session]) -> dict[str, str]:
    with session_factory() as session:
        seed_practice(session, patients=0, seed=3, as_of=DAY)
        session.commit()
        provider = session.execute(select(m.Provider).order_by(m.Provider.npi)).scalars().first()
        assert provider is not None
        return {"npi": provider.npi}


@pytest.fixture
def starter() -> RecordingStarter:
    return RecordingStarter()


@pytest.fixture
def intake(session_factory: sessionmaker[Session], starter: RecordingStarter) -> Intake:
    return Intake(session_factory, starter, today=lambda: DAY)


def patient(**changes: object) -> PatientData:
    data = PatientData(
        "Ada", "Testcase", date(1980, 5, 17), "F", "1 Test Way", "Springfield", "OR", "97477", "5415550100"
    )
    return replace(data, **changes)  # type: ignore[arg-type]


def register(mrn: str = "A1", member: str = "BM123456789", **changes: object) -> RegisterPatient:
    coverage = CoverageData("SBXBM", member, effective_from=date(2025, 1, 1))
    return RegisterPatient(
        BusinessId(SYSTEM, mrn), patient(**changes), (CoverageEntry(coverage, BusinessId(SYSTEM, f"cov-{mrn}")),)
    )


def visit(npi: str, mrn: str = "A1", *, codes: tuple[str, ...] = ("99213", "36415")) -> object:
    """A transaction: appointment, finished encounter with two diagnoses and charges."""

    def work(unit: IntakeUnit) -> list[Outcome]:
        who = Ref.by(SYSTEM, mrn)
        out = [
            unit.schedule_appointment(
                ScheduleAppointment(
                    BusinessId(SYSTEM, f"appt-{mrn}"), who, npi, datetime(2026, 3, 1, 15, 0, tzinfo=UTC)
                )
            ),
            unit.record_encounter(
                RecordEncounter(
                    BusinessId(SYSTEM, f"enc-{mrn}"),
                    who,
                    npi,
                    date(2026, 3, 1),
                    EncounterStatus.FINISHED,
                    ("I10", "E11.9"),
                    appointment=Ref.by(SYSTEM, f"appt-{mrn}"),
                )
            ),
        ]
        encounter = Ref.by(SYSTEM, f"enc-{mrn}")
        out.append(unit.record_condition(RecordCondition(who, "I10", encounter)))
        for code in codes:
            out.append(unit.record_charge(RecordCharge(who, encounter, code, reason_codes=("E119",))))
        return out

    return work


def count(session_factory: sessionmaker[Session], model: type[m.Base]) -> int:
    with session_factory() as session:
        return int(session.execute(select(func.count()).select_from(model)).scalar_one())


def test_a_new_patient_is_registered_once_and_a_repeat_changes_nothing(
    intake: Intake, session_factory: sessionmaker[Session], starter: RecordingStarter, practice: dict[str, str]
) -> None:
    first = intake.handle(ACTOR, register())
    assert first.result.change is Change.CREATED and first.result.version == 1
    assert [o.change for o in first.result.related] == [Change.CREATED]
    assert first.result.starts == (f"registration-{first.result.id}",)
    report = asyncio.run(intake.dispatch(first.start_ids))
    assert report.started == (f"registration-{first.result.id}",)
    assert starter.started == [("registration", first.result.id, f"registration-{first.result.id}", "created")]

    again = intake.handle(ACTOR, register())
    assert again.result.id == first.result.id and again.result.change is Change.UNCHANGED
    assert again.start_ids == () and again.result.related[0].change is Change.UNCHANGED
    assert count(session_factory, m.Patient) == 1 and count(session_factory, m.Coverage) == 1
    with session_factory() as session:
        events = session.execute(select(m.AuditEvent).where(m.AuditEvent.action.like("intake.%"))).scalars().all()
        registered = session.execute(select(m.AuditEvent).where(m.AuditEvent.action == "patient.registered")).scalars()
        events = [*events, *registered]
        assert {e.actor for e in events} == {"api:test-ehr"}
        assert [e.action for e in events] == ["patient.registered"]  # once: a repeat is not an event of its own
        text = repr([e.details for e in events])
        assert "Testcase" not in text and "BM123456789" not in text and "1980" not in text


def test_a_changed_patient_gets_a_new_version_and_registration_runs_again(
    intake: Intake, starter: RecordingStarter, practice: dict[str, str], session_factory: sessionmaker[Session]
) -> None:
    first = intake.handle(ACTOR, register()).result
    moved = intake.handle(ACTOR, register(address_line="2 Other Road"))
    assert moved.result.change is Change.UPDATED and moved.result.version == 2
    assert moved.result.starts == (f"registration-{first.id}",)
    with session_factory() as session:
        row = session.get(m.Patient, first.id)
        assert row is not None and row.address_line == "2 Other Road"
    with pytest.raises(VersionConflict):
        intake.handle(ACTOR, replace(register(address_line="3 Third St"), expected_version=1))
    updated = intake.handle(ACTOR, replace(register(address_line="3 Third St"), expected_version=2))
    assert updated.result.version == 3


def test_the_domain_duplicate_rule_refuses_a_second_record_and_writes_nothing(
    intake: Intake, session_factory: sessionmaker[Session], practice: dict[str, str]
) -> None:
    intake.handle(ACTOR, register())
    before = (count(session_factory, m.Patient), count(session_factory, m.ProcessStart))
    with pytest.raises(DuplicatePatient):
        intake.handle(ACTOR, register(mrn="A2"))  # same person, same member id, another MRN
    assert (count(session_factory, m.Patient), count(session_factory, m.ProcessStart)) == before
    assert count(session_factory, m.ExternalIdentifier) == 2  # the first patient's and coverage's only


def test_create_modes_keep_and_refuse(intake: Intake, practice: dict[str, str]) -> None:
    first = intake.handle(ACTOR, register()).result
    kept = intake.handle(ACTOR, replace(register(city="Elsewhere"), if_exists=IfExists.KEEP)).result
    assert kept.id == first.id and kept.change is Change.UNCHANGED and kept.version == 1
    retried = intake.handle(ACTOR, replace(register(), if_exists=IfExists.REFUSE)).result
    assert retried.change is Change.UNCHANGED
    with pytest.raises(IdentifierConflict):
        intake.handle(ACTOR, replace(register(city="Elsewhere"), if_exists=IfExists.REFUSE))


def test_a_finished_encounter_is_coded_from_its_charges_and_queues_the_encounter_workflow(
    intake: Intake, session_factory: sessionmaker[Session], practice: dict[str, str], starter: RecordingStarter
) -> None:
    patient_id = intake.handle(ACTOR, register()).result.id
    applied = intake.run(ACTOR, visit(practice["npi"]))  # type: ignore[arg-type]
    appointment, encounter, *_ = applied.result
    assert all(o.change is Change.CREATED for o in applied.result)
    assert encounter.starts == (f"encounter-{appointment.id}",)
    asyncio.run(intake.dispatch(applied.start_ids))
    assert ("encounter", appointment.id, f"encounter-{appointment.id}", "") in starter.started
    assert ("appointment", appointment.id, f"visit-{appointment.id}", "booked") in starter.started
    with session_factory() as session:
        row = session.get(m.Encounter, encounter.id)
        assert row is not None and row.coded and row.patient_id == patient_id
        assert row.diagnosis_codes == ["I10", "E119"]
        lines = [(s.procedure_code, s.charge_cents, s.diagnosis_pointers) for s in row.service_lines]
        assert [code for code, _, _ in lines] == ["99213", "36415"]
        assert all(cents > 0 and pointers == [2] for _, cents, pointers in lines)
        status = session.get(m.Appointment, appointment.id)
        assert status is not None and status.status == AppointmentStatus.COMPLETED
    # The same transaction again: nothing new, nothing queued.
    again = intake.run(ACTOR, visit(practice["npi"]))  # type: ignore[arg-type]
    assert [o.change for o in again.result] == [Change.UNCHANGED] * 5 and again.start_ids == ()
    assert count(session_factory, m.Encounter) == 1 and count(session_factory, m.ClinicalEntry) == 3


def test_a_closed_encounter_does_not_change(intake: Intake, practice: dict[str, str]) -> None:
    intake.handle(ACTOR, register())
    intake.run(ACTOR, visit(practice["npi"]))  # type: ignore[arg-type]
    with pytest.raises(AlreadyBilled):
        intake.run(ACTOR, visit(practice["npi"], codes=("99214",)))  # type: ignore[arg-type]
    cancel = RecordEncounter(
        BusinessId(SYSTEM, "enc-A1"), Ref.by(SYSTEM, "A1"), practice["npi"], date(2026, 3, 1), EncounterStatus.CANCELLED
    )
    with pytest.raises(AlreadyBilled):
        intake.handle(ACTOR, cancel)


def test_a_bad_code_anywhere_leaves_nothing_of_the_unit(
    intake: Intake, session_factory: sessionmaker[Session], practice: dict[str, str]
) -> None:
    intake.handle(ACTOR, register())
    before = {model: count(session_factory, model) for model in (m.Appointment, m.Encounter, m.ProcessStart)}
    with pytest.raises(InvalidCode):
        intake.run(ACTOR, visit(practice["npi"], codes=("99213", "XYZ")))  # type: ignore[arg-type]
    assert {model: count(session_factory, model) for model in before} == before
    assert count(session_factory, m.ClinicalEntry) == 0


def test_unknown_references_and_payers_are_typed_errors(intake: Intake, practice: dict[str, str]) -> None:
    with pytest.raises(UnknownReference):
        intake.handle(ACTOR, RecordCoverage(Ref.by(SYSTEM, "nobody"), CoverageData("SBXBM", "X1")))
    intake.handle(ACTOR, register())
    with pytest.raises(UnknownPayer):
        intake.handle(ACTOR, RecordCoverage(Ref.by(SYSTEM, "A1"), CoverageData("NOPE", "X1")))
    with pytest.raises(UnknownReference):
        intake.handle(
            ACTOR,
            ScheduleAppointment(BusinessId(SYSTEM, "ap"), Ref.by(SYSTEM, "A1"), "1234567893", datetime.now(UTC)),
        )
    with pytest.raises(InvalidEvent):
        intake.handle(
            ACTOR,
            ScheduleAppointment(BusinessId(SYSTEM, "ap"), Ref.by(SYSTEM, "A1"), practice["npi"], datetime(2026, 3, 3)),
        )


def test_an_encounter_without_charges_closes_uncoded_for_the_coders(
    intake: Intake, session_factory: sessionmaker[Session], practice: dict[str, str]
) -> None:
    intake.handle(ACTOR, register())
    applied = intake.handle(
        ACTOR,
        RecordEncounter(
            BusinessId(SYSTEM, "walk-in"), Ref.by(SYSTEM, "A1"), practice["npi"], DAY, EncounterStatus.FINISHED
        ),
    )
    with session_factory() as session:
        encounter = session.get(m.Encounter, applied.result.id)
        assert encounter is not None and not encounter.coded and encounter.appointment_id is not None
        walk_in = session.get(m.Appointment, encounter.appointment_id)
        assert walk_in is not None and walk_in.status == AppointmentStatus.COMPLETED
    assert applied.result.starts == (f"encounter-{encounter.appointment_id}",)


def test_a_new_coverage_and_a_cancelled_appointment(
    intake: Intake, session_factory: sessionmaker[Session], practice: dict[str, str], starter: RecordingStarter
) -> None:
    patient_id = intake.handle(ACTOR, register()).result.id
    second = intake.handle(
        ACTOR,
        RecordCoverage(Ref.to(patient_id), CoverageData("SBXSM", "SM777", rank=CoverageRank.SECONDARY)),
    )
    assert second.result.change is Change.CREATED and second.result.starts == (f"registration-{patient_id}",)
    with pytest.raises(Exception, match="primary coverage"):
        intake.handle(ACTOR, RecordCoverage(Ref.to(patient_id), CoverageData("SBXMD", "MD1")))
    booking = ScheduleAppointment(
        BusinessId(SYSTEM, "appt-9"), Ref.to(patient_id), practice["npi"], datetime(2026, 3, 9, 16, tzinfo=UTC)
    )
    booked = intake.handle(ACTOR, booking).result
    moved = replace(booking, starts_at=datetime(2026, 3, 10, 16, tzinfo=UTC))
    assert intake.handle(ACTOR, moved).result.change is Change.UPDATED
    assert intake.handle(ACTOR, moved).result.change is Change.UNCHANGED
    cancelled = intake.handle(ACTOR, replace(moved, status=AppointmentStatus.CANCELLED)).result
    assert cancelled.id == booked.id and cancelled.version == 3
    asyncio.run(intake.dispatch())
    details = [d for p, e, _, d in starter.started if p == "appointment" and e == booked.id]
    assert details == ["booked", "rescheduled", "cancelled"]
    with session_factory() as session:
        row = session.get(m.Appointment, booked.id)
        assert row is not None and row.status == AppointmentStatus.CANCELLED


def test_a_start_that_fails_stays_pending_until_the_next_dispatch(
    intake: Intake, starter: RecordingStarter, practice: dict[str, str], session_factory: sessionmaker[Session]
) -> None:
    starter.fail = True
    applied = intake.handle(ACTOR, register())
    report = asyncio.run(intake.dispatch(applied.start_ids))
    assert report.started == () and report.failed == (f"registration-{applied.result.id}",)
    assert intake.pending_count() == 1
    starter.fail = False
    assert asyncio.run(intake.dispatch()).started == (f"registration-{applied.result.id}",)
    assert intake.pending_count() == 0
    with session_factory() as session:
        row = session.execute(select(m.ProcessStart)).scalar_one()
        assert row.attempts == 2 and row.last_error == "ConnectionError"


def test_two_bookings_of_one_provider_at_one_time_in_one_unit_are_refused_whole(
    intake: Intake, session_factory: sessionmaker[Session], practice: dict[str, str]
) -> None:
    """A unit writes its visit rows at its end: the double-booking rule still sees the unit's own appointments."""
    from domain.errors import DomainError

    intake.handle(ACTOR, register())
    intake.handle(ACTOR, register("B2", "BM223456789", first_name="Other", birth_date=date(1960, 5, 6)))
    at = datetime(2026, 3, 9, 16, tzinfo=UTC)
    before = count(session_factory, m.Appointment)

    def both(unit: IntakeUnit) -> None:
        for mrn in ("A1", "B2"):
            unit.schedule_appointment(
                ScheduleAppointment(BusinessId(SYSTEM, f"appt-{mrn}"), Ref.by(SYSTEM, mrn), practice["npi"], at)
            )

    with pytest.raises(DomainError, match="already has appointment"):
        intake.run(ACTOR, both)
    assert count(session_factory, m.Appointment) == before


def test_a_new_patients_registration_is_folded_into_the_visit_closed_in_the_same_unit(
    intake: Intake, session_factory: sessionmaker[Session], starter: RecordingStarter, practice: dict[str, str]
) -> None:
    """A unit that creates a patient, books its next visit (which writes the unit's rows so far, the queued
    registration among them, for the double-booking rule) and closes today's visit: the registration is taken back
    from the outbox and the closed visit's Encounter runs it (detail ``registers_patient``); the booking goes to the
    visit hook as before."""
    npi = practice["npi"]

    def work(unit: IntakeUnit) -> list[Outcome]:
        first = unit.handle(register("A2"))
        later = ScheduleAppointment(BusinessId(SYSTEM, "next-A2"), Ref.by(SYSTEM, "A2"), npi, datetime(2026, 3, 9, 15))
        booked = unit.schedule_appointment(replace(later, starts_at=later.starts_at.replace(tzinfo=UTC)))
        return [first, booked, *visit(npi, "A2")(unit)]  # type: ignore[operator]

    applied = intake.run(ACTOR, work)
    patient_id = applied.result[0].id
    with session_factory() as session:
        queued = session.execute(select(m.ProcessStart.process, m.ProcessStart.detail)).all()
    assert sorted((p, d) for p, d in queued if p != "appointment") == [("encounter", "registers_patient")]
    assert f"registration-{patient_id}" not in [s.workflow_id for s in applied.starts]
    asyncio.run(intake.dispatch(applied.start_ids))
    assert [(p, d) for p, _, _, d in starter.started if p != "appointment"] == [("encounter", "registers_patient")]

    # A later change of the record, in a unit of its own: a PatientRegistration of its own checks it.
    again = intake.run(ACTOR, lambda unit: unit.handle(register("A2", address_line="9 Moved St")))
    assert [(s.process, s.detail) for s in again.starts] == [("registration", "")]
