"""The demo follows each patient's journey by the workflows intake queued for it (its outbox), not by a guess: a new
patient whose visit came in its Bundle has no PatientRegistration of its own (the visit's Encounter ran it), and a
demo run again in the same home sends patients that exist already, whose earlier run decided what ran."""

from __future__ import annotations

from datetime import UTC, datetime
from types import SimpleNamespace

from sqlalchemy.orm import Session, sessionmaker

from domain import models as m
from workers.demo_fhir import started_journeys


def _queued(session_factory: sessionmaker[Session], *starts: tuple[str, str, str]) -> None:
    with session_factory() as session:
        for process, workflow_id, detail in starts:
            session.add(
                m.ProcessStart(
                    id=m.new_id(),
                    process=process,
                    entity_id=m.new_id(),
                    workflow_id=workflow_id,
                    detail=detail,
                    created_at=datetime.now(UTC),
                    attempts=0,
                )
            )
        session.commit()


def test_a_journey_is_the_workflows_intake_queued_for_it(session_factory: sessionmaker[Session]) -> None:
    _queued(
        session_factory,
        ("encounter", "encounter-a1", "registers_patient"),  # patient 1 and its visit in one Bundle: folded
        ("registration", "registration-p2", "created"),  # patient 2's visit came by HL7, in a unit of its own
        ("encounter", "encounter-a2", ""),
    )
    container = SimpleNamespace(session_factory=session_factory)
    journeys = [
        ("registration-p1", "encounter-a1"),
        ("registration-p2", "encounter-a2"),
        ("registration-p3", "encounter-a3"),  # refused or not yet queued: nothing to follow
    ]
    assert started_journeys(container, journeys) == [  # type: ignore[arg-type]
        ("encounter-a1",),
        ("registration-p2", "encounter-a2"),
        (),
    ]
