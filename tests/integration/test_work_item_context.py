"""Issue 11, item 7 (what work items carry): the ``workitems.open`` activity stores, beside the workflow's codes,
what a person needs to act: the visit type, the provider, the place of service in words, the dates, the amounts
in dollars and the reason in words. From the store, into the work item's row only (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from activities.contracts import workitems as contract
from activities.workitems import WorkItemActivities
from domain import models as m
from domain.claim_status import ClaimStatus
from domain.enums import AppointmentKind, AppointmentStatus
from domain.store.uow import UnitOfWork
from tests.unit.posting.factory import make_claim, make_patient, make_practice


def _open(factory: Any, reason: str, entity_type: str, entity_id: str, context: dict[str, str]) -> dict[str, Any]:
    opened = WorkItemActivities(factory).open(
        contract.OpenWorkItemInput(
            reason=reason,
            queue="denials",
            summary="codes only",
            entity_type=entity_type,
            entity_id=entity_id,
            workflow_id="wf-1",
            dedupe_key=f"{entity_id}/{reason}",
            sla_due_at=datetime.now(UTC),
            context=context,
        )
    )
    with UnitOfWork(factory) as uow:
        item = uow.session.get(m.WorkItem, opened.work_item_id)
        assert item is not None
        return dict(item.context)


@pytest.fixture
def claim(uow: UnitOfWork) -> dict[str, str]:
    with uow:
        practice = make_practice(uow.session)
        patient = make_patient(uow.session, practice)
        ids = make_claim(uow.session, practice, patient, status=ClaimStatus.DENIED)
        row = uow.session.get(m.Claim, ids.claim_id)
        assert row is not None
        appointment = m.Appointment(
            patient_id=patient.patient_id,
            provider_id=practice.provider_id,
            location_id=practice.location_id,
            kind=AppointmentKind.IN_PERSON,
            status=AppointmentStatus.COMPLETED,
            starts_at=datetime(2026, 3, 2, 9, 0, tzinfo=UTC),
        )
        uow.session.add(appointment)
        uow.session.flush()
        encounter = uow.session.get(m.Encounter, row.encounter_id)
        assert encounter is not None
        encounter.appointment_id = appointment.id
        uow.commit()
        return {"claim": ids.claim_id, "guarantor": patient.guarantor_id}


def test_a_claim_item_says_what_a_biller_needs(session_factory: Any, claim: dict[str, str]) -> None:
    context = _open(session_factory, "claim_denied", "claim", claim["claim"], {"codes": "CO-50"})
    assert context["codes"] == "CO-50"  # the workflow's own keys are kept
    assert context["reason_in_words"] == "the payer denied the claim (see CARC/RARC)"
    assert context["visit_type"] == "in person: Office visit, established, low complexity (99213)"
    assert context["provider"].startswith("Ada Synth, MD (NPI ")
    assert context["place_of_service"] == "11 (Office)"
    assert context["date_of_service"] == "2026-03-02"
    assert (context["charge"], context["paid"]) == ("$150.00", "$0.00")
    assert context["payer"] == "Payer PAYA (PAYA)" and context["claim_status"] == "denied"
    assert context["lines"] == "1: 99213 x1 $100.00 on 2026-03-02; 2: 85025 x1 $50.00 on 2026-03-02"


def test_amounts_a_workflow_passes_in_cents_are_shown_in_dollars(session_factory: Any, claim: dict[str, str]) -> None:
    context = _open(
        session_factory, "patient_balance_overdue", "guarantor", claim["guarantor"], {"balance_cents": "123456"}
    )
    assert context["balance"] == "$1,234.56" and context["balance_cents"] == "123456"
    assert context["reason_in_words"] == "the patient balance is past its statement cycle"
    assert context["guarantor_account"].startswith("G")


def test_an_entity_the_store_does_not_know_keeps_the_workflows_context(session_factory: Any) -> None:
    context = _open(session_factory, "manual_task", "claim", "no-such-claim", {"activity": "claims.scrub"})
    assert context == {"activity": "claims.scrub", "reason_in_words": "a task opened by hand or by a batch sweep"}
