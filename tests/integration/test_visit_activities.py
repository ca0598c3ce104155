"""The Visit and VirtualVisit store activities on SQLite and PostgreSQL: what they read and write, and what they
refuse (the licensure rule, a busy provider), with the video vendor faked (the real one: test_visit_vendors)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from temporalio.exceptions import ApplicationError

from activities.contracts import visits as c
from activities.telehealth import Room, TelehealthActivities
from activities.visits import VisitActivities
from domain import models as m
from domain.ledger.checks import run_ledger_checks
from domain.ledger.store import guarantor_balance
from domain.services import appointments as svc
from domain.store.uow import UnitOfWork
from tests.support.visits import Clinic, add_patient, add_provider, make_clinic

START = (datetime.now(UTC) + timedelta(days=3)).replace(hour=18, minute=0, second=0, microsecond=0)


class FakeVideo:
    provider = "fake"

    def __init__(self) -> None:
        self.rooms: dict[str, int] = {}
        self.tokens: list[tuple[str, str]] = []

    def open_room(self, name: str, expires_epoch: int) -> tuple[Room, bool]:
        created = name not in self.rooms
        self.rooms[name] = expires_epoch
        return Room(name, f"https://video.example/{name}"), created

    def meeting_token(self, room: str, user_id: str, is_owner: bool, expires_epoch: int) -> str:
        self.tokens.append((room, user_id))
        return f"tok{len(self.tokens)}"

    def delete_room(self, name: str) -> bool:
        return self.rooms.pop(name, None) is not None


@pytest.fixture
def clinic(session_factory: sessionmaker[Session]) -> Clinic:
    clinic = make_clinic(session_factory)
    add_provider(session_factory, clinic, "ana", licensed_in=("OR",))
    add_provider(session_factory, clinic, "wes", licensed_in=("OR", "WA"))
    add_provider(session_factory, clinic, "olu", licensed_in=("OR",))
    add_patient(session_factory, clinic, "ada", state="WA")
    return clinic


def _book(factory: sessionmaker[Session], clinic: Clinic, provider: str, kind: str = "telehealth") -> str:
    with UnitOfWork(factory) as uow:
        booked = svc.book(
            uow.session,
            svc.BookingRequest(clinic.patients["ada"], clinic.providers[provider], START, 30, kind),
            now=datetime.now(UTC),
            actor="test",
        )
        uow.commit()
    return booked.appointment_id


def test_licensure_block_and_reassignment(session_factory: sessionmaker[Session], clinic: Clinic) -> None:
    appointment_id = _book(session_factory, clinic, "ana")
    _book(session_factory, clinic, "olu", kind="in_person")  # olu is busy then
    video = FakeVideo()
    telehealth = TelehealthActivities(session_factory, video)
    plan = telehealth.prepare(c.AppointmentRef(appointment_id))
    assert plan.patient_state == "WA" and plan.problem is not None and "active in: OR" in plan.problem
    options = {o.provider_id: o for o in plan.candidates}
    assert {lic.state for lic in options[clinic.providers["wes"]].licenses} == {"OR", "WA"}
    assert options[clinic.providers["wes"]].free and not options[clinic.providers["olu"]].free
    with pytest.raises(ApplicationError) as refused:
        telehealth.reassign(c.Reassignment(appointment_id, clinic.providers["olu"], "WA", "coord"))
    assert refused.value.type == "not_licensed"
    telehealth.open_room(c.RoomRequest(appointment_id, START + timedelta(hours=12)))
    plan = telehealth.reassign(c.Reassignment(appointment_id, clinic.providers["wes"], "WA", "coord"))
    assert plan.problem is None and plan.provider_id == clinic.providers["wes"]
    assert video.tokens[-1] == (c.room_name(appointment_id), f"provider:{clinic.providers['wes']}")
    with session_factory() as session:
        assert session.get(m.Appointment, appointment_id).provider_id == clinic.providers["wes"]  # type: ignore[union-attr]


def test_consent_check_in_and_the_encounter_of_an_audio_only_visit(
    session_factory: sessionmaker[Session], clinic: Clinic
) -> None:
    appointment_id = _book(session_factory, clinic, "wes")
    telehealth = TelehealthActivities(session_factory, FakeVideo())
    now = datetime.now(UTC)
    telehealth.consent(c.ConsentRecord(appointment_id, "verbal", "WA", now, "coord"))
    plan = telehealth.check_in(c.CheckInRecord(appointment_id, "other", "WA", now, "coord"))
    assert plan.consent_on_file and plan.problem is None
    telehealth.record(c.TelehealthEvent(appointment_id, "audio_fallback", "in_progress", now, "dr.wes"))
    finished = telehealth.finish(
        c.VisitFinish(appointment_id, True, now, now + timedelta(minutes=14, seconds=10), "dr")
    )
    assert (finished.place_of_service, finished.modifier, finished.duration_minutes) == ("02", "93", 15)
    again = telehealth.finish(c.VisitFinish(appointment_id, True, now, now + timedelta(minutes=14, seconds=10), "dr"))
    assert again.encounter_id == finished.encounter_id
    with session_factory() as session:
        encounter = session.get(m.Encounter, finished.encounter_id)
        assert encounter is not None and encounter.telehealth_modifier == "93" and encounter.place_of_service == "02"
        assert session.get(m.Appointment, appointment_id).status == "fulfilled"  # type: ignore[union-attr]
        consent = session.execute(select(m.TelehealthConsent)).scalar_one()
        assert (consent.method, consent.patient_state) == ("verbal", "WA")
        actions = set(
            session.execute(select(m.AuditEvent.action).where(m.AuditEvent.entity_id == appointment_id)).scalars()
        )
    assert {
        "telehealth.consent",
        "telehealth.checked_in",
        "telehealth.audio_fallback",
        "telehealth.finished",
    } <= actions


def test_visit_activities_eligibility_fingerprint_and_no_show(
    session_factory: sessionmaker[Session], clinic: Clinic
) -> None:
    appointment_id = _book(session_factory, clinic, "ana", kind="in_person")
    visits = VisitActivities(session_factory)
    schedule = visits.load(c.AppointmentRef(appointment_id))
    assert schedule.status == "booked" and schedule.starts_at == START
    coverage = visits.coverage(c.AppointmentRef(appointment_id))
    assert len(coverage.coverage_ids) == 1 and not coverage.changed and coverage.last_status is None
    visits.record_eligibility(c.VisitEligibility(appointment_id, "active", {}))
    assert not visits.coverage(c.AppointmentRef(appointment_id)).changed
    with UnitOfWork(session_factory) as uow:
        uow.session.execute(select(m.Coverage)).scalar_one().member_id = "NEWMEMBER1"
        uow.commit()
    changed = visits.coverage(c.AppointmentRef(appointment_id))
    assert changed.changed and changed.last_status == "active"
    result = visits.no_show(c.NoShow(appointment_id, 3500, "workflow:test"))
    assert result.marked and result.guarantor_id is not None
    assert visits.no_show(c.NoShow(appointment_id, 3500, "workflow:test")).fee_cents == 3500  # posted once
    with session_factory() as session:
        assert guarantor_balance(session, result.guarantor_id) == 3500
        assert run_ledger_checks(session).ok
    with pytest.raises(ApplicationError) as refused:
        visits.set_status(c.StatusChange(appointment_id, "fulfilled", "desk"))
    assert refused.value.type == "illegal_transition"
    assert visits.set_status(c.StatusChange(appointment_id, "arrived", "desk")).status == "arrived"
