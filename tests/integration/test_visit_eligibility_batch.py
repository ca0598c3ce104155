"""The nightly "eligibility for tomorrow's visits" batch for real: a SQLite store, the sandbox clearinghouse in
process (real 270s and 271s), Prefect's local server. Which visits are due is the domain's rule; the checks run
at most ``concurrency`` at a time; the answers are recorded on the appointments; a second night asks only about
what is still not clear."""

from __future__ import annotations

import json
import threading
import uuid
from datetime import UTC, datetime, time, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from activities.revenue import Envelope
from activities.visits import coverage_fingerprint, coverages_for_visit
from domain import models as m
from domain.enums import AppointmentKind, AppointmentStatus
from flows.batch.visit_eligibility import VisitEligibilityPorts, VisitEligibilityResult, build_visit_eligibility
from sandbox.clearinghouse.service import ClearinghouseService
from tests.integration.test_revenue_activities import InProcessClearinghouse
from tests.support.practice import roster_entries
from tests.support.visits import add_patient, add_provider, make_clinic
from workers.batch import BatchPaths, Reports, prefect_local
from workers.composition import Container
from workers.settings import Settings
from workers.visit_eligibility import ACTOR, VisitEligibilityChecks

# The recorded answers carry the real clock's time, so the night is today's.
NOW = datetime.now(UTC)
AS_OF = NOW.date()
TOMORROW = AS_OF + timedelta(days=1)


def _book(container: Container, clinic: object, patient_id: str, provider_id: str, **row: object) -> str:
    starts = row.pop("starts_at", datetime.combine(TOMORROW, time(9, 0), tzinfo=UTC))
    with container.session_factory() as session:
        appointment = m.Appointment(
            patient_id=patient_id,
            provider_id=provider_id,
            location_id=clinic.location_id,  # type: ignore[attr-defined]
            kind=AppointmentKind.IN_PERSON,
            status=row.pop("status", AppointmentStatus.BOOKED),
            starts_at=starts,
            source="test",
            **row,
        )
        session.add(appointment)
        session.commit()
        return appointment.id


def _answer(container: Container, appointment_id: str, status: str, age: timedelta, fingerprint: str | None) -> None:
    with container.session_factory() as session:
        row = session.get(m.Appointment, appointment_id)
        assert row is not None
        row.eligibility_status = status
        row.eligibility_checked_at = NOW - age
        row.eligibility_fingerprint = fingerprint or coverage_fingerprint(coverages_for_visit(session, row))
        session.commit()


@pytest.fixture
def world(sqlite_url: str, tmp_path: Path) -> tuple[Container, dict[str, str], ClearinghouseService]:
    container = Container(Settings(home=tmp_path, database_url=sqlite_url))
    factory = container.session_factory
    clinic = make_clinic(factory)
    doc = add_provider(factory, clinic, "ana")
    patients = {name: add_patient(factory, clinic, name) for name in ("ann", "bea", "cal", "dan", "eve", "fay")}
    service = ClearinghouseService(tmp_path / "sandbox", seed=3, time_scale=0.0, random_mix=False)
    service.load_roster(roster_entries(container))
    # Not on the payer's roster: the 271 says the subscriber is not found (AAA), inconclusive.
    # No coverage at all: self pay, nothing to ask.
    patients["hal"] = add_patient(factory, clinic, "hal")
    patients["gus"] = add_patient(factory, clinic, "gus", coverage=False)
    visits = {name: _book(container, clinic, patient, doc) for name, patient in patients.items() if name != "fay"}
    visits["fay"] = _book(container, clinic, patients["fay"], doc, starts_at=NOW + timedelta(days=2))
    _answer(container, visits["bea"], "active", timedelta(hours=1), None)  # fresh: not asked again
    _answer(container, visits["cal"], "active", timedelta(days=8), None)  # stale (older than a week)
    _answer(container, visits["dan"], "active", timedelta(hours=1), "0" * 64)  # the coverage changed since
    with factory() as session:
        row = session.get(m.Appointment, visits["eve"])
        assert row is not None
        row.status = AppointmentStatus.CANCELLED
        session.commit()
    return container, visits, service


def test_tomorrows_unknown_or_stale_visits_are_checked_with_bounded_concurrency(
    world: tuple[Container, dict[str, str], ClearinghouseService], tmp_path: Path
) -> None:
    container, visits, service = world
    checks = VisitEligibilityChecks(
        container.session_factory, InProcessClearinghouse(service), Envelope(), now=lambda: NOW
    )
    lock, in_flight, seen = threading.Lock(), [0], [0]

    def counted(appointment_id: str) -> VisitEligibilityResult:
        with lock:
            in_flight[0] += 1
            seen[0] = max(seen[0], in_flight[0])
        try:
            return checks.check(appointment_id)
        finally:
            with lock:
                in_flight[0] -= 1

    paths = BatchPaths.of(container.settings)
    flow = build_visit_eligibility(
        VisitEligibilityPorts(checks.due, counted, Reports(paths.reports).write_json, lambda: AS_OF, concurrency=2)
    )
    with prefect_local(paths):
        first = flow()
        report = json.loads(Path(first.report).read_text())  # the next night's report takes its place
        second = flow()
    due = {"ann": "unknown", "cal": "stale", "dan": "coverage_changed", "gus": "unknown", "hal": "unknown"}
    assert (first.visit_day, first.visits_due, first.failed) == (TOMORROW, len(due), 0)
    assert (first.active, first.inconclusive, first.self_pay) == (3, 1, 1)
    assert 1 <= seen[0] <= 2  # never more than `concurrency` checks at once
    by_id = {line["appointment_id"]: line for line in report["visits"]}
    names = {appointment_id: name for name, appointment_id in visits.items()}
    assert {names[i]: line["due_because"] for i, line in by_id.items()} == due
    assert {names[i]: line["status"] for i, line in by_id.items()} == {
        "ann": "active", "cal": "active", "dan": "active", "gus": "self_pay", "hal": "inconclusive"
    }  # fmt: skip
    with container.session_factory() as session:
        rows = {a.id: a for a in session.execute(select(m.Appointment)).scalars()}
        assert rows[visits["hal"]].eligibility_status == "inconclusive"  # the payer does not know the member
        assert rows[visits["fay"]].eligibility_status is None and rows[visits["eve"]].eligibility_status is None
        actors = session.execute(
            select(m.AuditEvent.entity_id).where(
                m.AuditEvent.action == "appointment.eligibility", m.AuditEvent.actor == ACTOR
            )
        ).scalars()
        assert sorted(actors) == sorted([*by_id, visits["hal"]])  # the first night's five, the second's one
    # The next night: only the visit whose answer is still not clear is asked again.
    assert (second.visits_due, second.inconclusive, second.active) == (1, 1, 0)


def test_a_failed_check_is_reported_and_the_others_still_run(
    world: tuple[Container, dict[str, str], ClearinghouseService], tmp_path: Path
) -> None:
    container, visits, service = world
    checks = VisitEligibilityChecks(
        container.session_factory, InProcessClearinghouse(service), Envelope(), now=lambda: NOW
    )

    def flaky(appointment_id: str) -> VisitEligibilityResult:
        if appointment_id == visits["ann"]:
            raise ConnectionError(f"clearinghouse down {uuid.uuid4()}")
        return checks.check(appointment_id)

    paths = BatchPaths.of(container.settings)
    flow = build_visit_eligibility(
        VisitEligibilityPorts(checks.due, flaky, Reports(paths.reports).write_json, lambda: AS_OF, concurrency=3)
    )
    with prefect_local(paths):
        summary = flow()
    assert (summary.visits_due, summary.failed, summary.checked) == (5, 1, 4)
    report = json.loads(Path(summary.report).read_text())
    failed = [line for line in report["visits"] if line["status"] == "failed"]
    assert failed == [
        {"appointment_id": visits["ann"], "due_because": "unknown", "status": "failed", "coverages_checked": 0,
         "error": "ConnectionError"}
    ]  # fmt: skip
