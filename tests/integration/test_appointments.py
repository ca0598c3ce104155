"""Booking, rescheduling and cancelling appointments on SQLite and PostgreSQL; every refusal stores nothing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from domain import models as m
from domain.errors import IllegalTransition, NotFound, ValidationError
from domain.ledger import post_no_show_fee
from domain.ledger.checks import run_ledger_checks
from domain.ledger.store import guarantor_balance
from domain.services import appointments as svc
from domain.services.licensure import provider_licenses
from domain.store.uow import UnitOfWork
from domain.visits import DoubleBooking, NoContact, VisitInPast
from tests.support.visits import Clinic, add_patient, add_provider, make_clinic

NOW = datetime.now(UTC).replace(microsecond=0)
TOMORROW_9 = (NOW + timedelta(days=1)).replace(hour=17, minute=0, second=0)


@pytest.fixture
def clinic(session_factory: sessionmaker[Session]) -> Clinic:
    clinic = make_clinic(session_factory)
    add_provider(session_factory, clinic, "ana")
    add_patient(session_factory, clinic, "ada")
    add_patient(session_factory, clinic, "bo", phone="", email=None)
    return clinic


def _book(factory: sessionmaker[Session], clinic: Clinic, **overrides: object) -> svc.BookedAppointment:
    fields: dict[str, object] = {
        "patient_id": clinic.patients["ada"],
        "provider_id": clinic.providers["ana"],
        "starts_at": TOMORROW_9,
        "duration_minutes": 30,
    }
    fields.update(overrides)
    with UnitOfWork(factory) as uow:
        booked = svc.book(uow.session, svc.BookingRequest(**fields), now=NOW, actor="test")  # type: ignore[arg-type]
        uow.commit()
    return booked


def _count(factory: sessionmaker[Session]) -> int:
    with factory() as session:
        return int(session.execute(select(func.count()).select_from(m.Appointment)).scalar_one())


def test_book_reschedule_cancel(session_factory: sessionmaker[Session], clinic: Clinic) -> None:
    booked = _book(session_factory, clinic)
    assert booked.created
    again = _book(session_factory, clinic, appointment_id=booked.appointment_id)
    assert not again.created and _count(session_factory) == 1
    with UnitOfWork(session_factory) as uow:
        moved = svc.reschedule(uow.session, booked.appointment_id, TOMORROW_9 + timedelta(hours=2), now=NOW, actor="t")
        uow.commit()
        assert moved.ends_at == TOMORROW_9 + timedelta(hours=2, minutes=30)
    # The old slot is free again: another patient takes it.
    _book(session_factory, clinic, patient_id=clinic.patients["ada"], starts_at=TOMORROW_9)
    with UnitOfWork(session_factory) as uow:
        svc.cancel(uow.session, booked.appointment_id, "patient", now=NOW, actor="t")
        uow.commit()
    with UnitOfWork(session_factory) as uow, pytest.raises(IllegalTransition):
        svc.cancel(uow.session, booked.appointment_id, "patient", now=NOW, actor="t")
    with session_factory() as session:
        actions = session.execute(
            select(m.AuditEvent.action).where(m.AuditEvent.entity_id == booked.appointment_id)
        ).scalars()
        assert sorted(actions) == ["appointment.booked", "appointment.cancelled", "appointment.rescheduled"]


@pytest.mark.parametrize(
    ("overrides", "error"),
    [
        ({"patient_id": "no-such-patient"}, NotFound),
        ({"provider_id": "no-such-provider"}, NotFound),
        ({"starts_at": NOW - timedelta(hours=1)}, VisitInPast),
        ({"visit_type": "spa_day"}, ValidationError),
        ({"kind": "telehealth", "patient": "bo"}, NoContact),
    ],
)
def test_bad_bookings_store_nothing(
    session_factory: sessionmaker[Session], clinic: Clinic, overrides: dict[str, object], error: type[Exception]
) -> None:
    fields = dict(overrides)
    if "patient" in fields:
        fields["patient_id"] = clinic.patients[str(fields.pop("patient"))]
    with pytest.raises(error):
        _book(session_factory, clinic, **fields)
    assert _count(session_factory) == 0


def test_a_double_booking_is_refused(session_factory: sessionmaker[Session], clinic: Clinic) -> None:
    _book(session_factory, clinic)
    with pytest.raises(DoubleBooking):
        _book(session_factory, clinic, starts_at=TOMORROW_9 + timedelta(minutes=15))
    assert _count(session_factory) == 1
    add_provider(session_factory, clinic, "ben")
    _book(session_factory, clinic, provider_id=clinic.providers["ben"])  # another provider is free
    assert _count(session_factory) == 2


def test_licenses_come_from_the_staff_credentials(session_factory: sessionmaker[Session], clinic: Clinic) -> None:
    add_provider(session_factory, clinic, "wes", licensed_in=("OR", "WA"))
    with session_factory() as session:
        states = sorted(lic.state for lic in provider_licenses(session, clinic.providers["wes"]))
    assert states == ["OR", "WA"]


def test_a_no_show_fee_is_a_balanced_guarantor_charge(session_factory: sessionmaker[Session], clinic: Clinic) -> None:
    booked = _book(session_factory, clinic)
    with UnitOfWork(session_factory) as uow:
        guarantor_id, posting = post_no_show_fee(uow.session, booked.appointment_id, 2500, actor="t")
        _, again = post_no_show_fee(uow.session, booked.appointment_id, 2500, actor="t")
        uow.commit()
    assert posting.entries_written == 1 and again.already_posted
    with session_factory() as session:
        assert guarantor_balance(session, guarantor_id) == 2500
        assert run_ledger_checks(session).ok
