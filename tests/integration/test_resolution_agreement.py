"""Issue 11, item 1, shown per rule family: for generated resolutions, what the Update validator accepts (the
``validate_resolution`` every door runs, plus the rule the workflow runs with its own facts) is exactly what the
activity then applies, and what it refuses the activity would refuse too. On SQLite and PostgreSQL, against the
real activities.

Facts that only the store has and no workflow carries (whether a payer code names a payer, a coverage's current
dates) are left out of the generated inputs: a refusal on those opens one item that says why
(tests/workflows/test_resolution_rules.py).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy.orm import Session, sessionmaker
from temporalio.exceptions import ApplicationError

from activities.contracts import revenue as c
from activities.documents.local import LocalDocumentStore
from activities.revenue import (
    ClaimActivities,
    CollectionsActivities,
    EligibilityActivities,
    EncounterActivities,
    Envelope,
)
from domain import models as m
from domain.claim_corrections import ClaimFacts, check_claim_resolution
from domain.claim_status import ClaimStatus
from domain.coding import requested_units, split_codes
from domain.collections_policy import requested_installments
from domain.collections_policy_store import current_policy
from domain.errors import DomainError
from domain.ledger.service import post_charge, post_patient_charge
from domain.store.uow import UnitOfWork
from domain.workitems import Resolution, validate_resolution
from flows.revenue.collections_base import check_collections_resolution
from tests.unit.posting.factory import make_claim, make_patient, make_practice

AGREE = settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
)
TODAY = datetime.now(UTC).date()


def _validator(reason: str, action: str, fields: dict[str, str], check: Any = None) -> str | None:
    """None when accepted, else the message (what ``tasks resolve`` would print)."""
    try:
        validate_resolution(reason, Resolution(action, "biller.ann", dict(fields), "note"))
        if check is not None:
            check()
    except DomainError as exc:
        return exc.message
    return None


def _activity(run: Any) -> str | None:
    try:
        run()
    except ApplicationError as exc:
        assert exc.non_retryable, exc
        return exc.message
    return None


@pytest.fixture
def store(session_factory: sessionmaker[Session]) -> dict[str, Any]:
    with UnitOfWork(session_factory) as uow:
        practice = make_practice(uow.session)
        patient = make_patient(uow.session, practice)
        claim = make_claim(uow.session, practice, patient, status=ClaimStatus.REJECTED)
        row = uow.session.get(m.Claim, claim.claim_id)
        assert row is not None
        row.payer_claim_control_number = "ICN-1"
        post_charge(uow.session, claim.claim_id)
        billed = make_claim(uow.session, practice, patient, status=ClaimStatus.VOID)  # its visit billed to the patient
        row = uow.session.get(m.Claim, billed.claim_id)
        assert row is not None
        post_patient_charge(uow.session, row.encounter_id, actor="t")
        uncoded = m.Encounter(  # a visit left for the coders (procedures captured at checkout, no diagnosis)
            patient_id=patient.patient_id,
            provider_id=practice.provider_id,
            location_id=practice.location_id,
            date_of_service=TODAY,
            place_of_service="11",
            diagnosis_codes=[],
            coded=False,
        )
        uncoded.service_lines = [
            m.ServiceLine(line_number=1, procedure_code="99213", units=1, charge_cents=13500, diagnosis_pointers=[1])
        ]
        uow.session.add(uncoded)
        uow.session.flush()
        provider = uow.session.get(m.Provider, practice.provider_id)
        coverage = uow.session.query(m.Coverage).filter_by(patient_id=patient.patient_id).one()
        uow.commit()
        return {
            "factory": session_factory,
            "claim": claim.claim_id,
            "encounter": uncoded.id,
            "guarantor": patient.guarantor_id,
            "coverage": coverage.id,
            "npi": provider.npi if provider else "",
        }


# --- claim corrections ---------------------------------------------------------------------------------------

codes = st.sampled_from(["99213", "85025", "XYZ", "9921", "G0439", "\u0669\u0669\u0662\u0661\u0663"])
correction_values = {
    "line1.procedure_code": codes,
    "line2.procedure_code": codes,
    "procedure_code": codes,
    "modifiers": st.sampled_from(["25", "25,59", "ZZZ", "1", "25,59,76,77,78"]),
    "line2.modifiers": st.sampled_from(["59", "x"]),
    "units": st.sampled_from(["1", "2", "0", "10000", "\u0662"]),
    "line3.units": st.just("2"),
    "line1.charge_cents": st.sampled_from(["12500", "0", "-5", "12.50"]),
    "charge_cents": st.just("9000"),
    "diagnosis_pointers": st.sampled_from(["1", "1,2", "3", "0", "1,2,3,4,5"]),
    "line2.diagnosis_pointers": st.sampled_from(["2", "1"]),
    "service_date": st.sampled_from(["2026-03-01", (TODAY + timedelta(days=3)).isoformat(), "2026-13-01"]),
    "diagnosis_codes": st.sampled_from(["J20.9", "J209,I10", "XYZ", "I10,E119,Z23"]),
    "place_of_service": st.sampled_from(["11", "99", "02", "1"]),
    "rendering_npi": st.sampled_from(["1234567890", "12345"]),
    "prior_auth": st.sampled_from(["PA-1", "bad auth!"]),
    "member_id": st.sampled_from(["M123", "bad id!"]),
    "frequency_code": st.sampled_from(["1", "7", "8", "9"]),
    "original_claim_number": st.sampled_from(["ICN-2", "bad*number"]),
    "billing_npi": st.just("1234567893"),
    "colour": st.just("red"),
}


@AGREE
@given(st.dictionaries(st.sampled_from(sorted(correction_values)), st.none(), min_size=1, max_size=4), st.data())
def test_claim_corrections_agree(store: dict[str, Any], names: dict[str, None], data: st.DataObject) -> None:
    fields = {name: data.draw(correction_values[name], label=name) for name in names}
    factory = store["factory"]
    with UnitOfWork(factory) as uow:
        claim = uow.session.get(m.Claim, store["claim"])
        encounter = uow.session.get(m.Encounter, claim.encounter_id) if claim else None
        assert claim is not None and encounter is not None
        facts = ClaimFacts(  # what the Claim workflow knows from its last scrub
            status=str(claim.status),
            submissions=1,
            max_resubmissions=3,
            lines=len(claim.lines),
            diagnoses=len(encounter.diagnosis_codes),
            today=TODAY,
            line_pointers=tuple(max(line.diagnosis_pointers or [0]) for line in claim.lines),
        )
    check = lambda: check_claim_resolution("correct_and_resubmit", fields, facts)  # noqa: E731
    verdict = _validator("claim_rejected", "correct_and_resubmit", fields, check)
    activities = ClaimActivities(factory, clearinghouse=None, envelope=Envelope())  # type: ignore[arg-type]
    outcome = _activity(lambda: activities.correct(c.ClaimCorrection(store["claim"], fields, "7", "biller.ann")))
    assert (verdict is None) == (outcome is None), (fields, verdict, outcome)


# --- coding ------------------------------------------------------------------------------------------------

coding_values = {
    "procedure_code": st.sampled_from(["99213", "99213,36415", "12345", "XYZ", "99213,", " 85025 "]),
    "diagnosis_codes": st.sampled_from(["I10", "XYZ", "E11.9;I10", "I10\n", ",".join(["I10"] * 13), "\u0661"]),
    "modifiers": st.sampled_from(["25", "25,59", "Q", "25,59,76,77,78"]),
    "units": st.sampled_from(["1", "2", "1,2", "1,2,3", "0", "x"]),
}


@AGREE
@given(
    st.dictionaries(st.sampled_from(sorted(coding_values)), st.none(), min_size=0, max_size=4),
    st.data(),
)
def test_coding_agrees(store: dict[str, Any], names: dict[str, None], data: st.DataObject) -> None:
    fields = {name: data.draw(coding_values[name], label=name) for name in names}
    verdict = _validator("missing_codes", "add_codes", fields)
    if "procedure_code" not in fields or "diagnosis_codes" not in fields:
        assert verdict is not None  # required: the activity is never reached
        return
    activities = EncounterActivities(store["factory"])
    record = c.RecordCodes(  # as the Encounter workflow builds it from the resolution
        encounter_id=store["encounter"],
        diagnosis_codes=split_codes(fields["diagnosis_codes"]),
        procedure_codes=split_codes(fields["procedure_code"]),
        modifiers=split_codes(fields.get("modifiers", "")),
        actor="biller.ann",
        units=requested_units(fields.get("units", "")),
    )
    outcome = _activity(lambda: activities.record_codes(record))
    assert (verdict is None) == (outcome is None), (fields, verdict, outcome)


# --- coverage updates ----------------------------------------------------------------------------------------

coverage_values = {
    "member_id": st.sampled_from(["BM123", "bad id!", "x" * 31]),
    "payer_id": st.sampled_from(["PAYA", "payb", "not a code"]),
    "group_number": st.sampled_from(["G 100", "g#1"]),
    "dates": st.sampled_from(
        [("2025-01-01", "2027-01-01"), ("2027-01-01", "2025-01-01"), ("2025-02-30", "open"), ("2025-01-01", "open")]
    ),
}


@AGREE
@given(st.dictionaries(st.sampled_from(sorted(coverage_values)), st.none(), min_size=1, max_size=4), st.data())
def test_coverage_updates_agree(store: dict[str, Any], names: dict[str, None], data: st.DataObject) -> None:
    drawn = {name: data.draw(coverage_values[name], label=name) for name in names}
    fields = {name: value for name, value in drawn.items() if name != "dates"}
    if "dates" in drawn:  # both ends together: the coverage's current dates are a store fact the workflow lacks
        fields["effective_from"], fields["effective_to"] = drawn["dates"]
    verdict = _validator("eligibility_inactive", "update_coverage", fields)
    activities = EligibilityActivities(store["factory"], clearinghouse=None, envelope=Envelope())  # type: ignore[arg-type]
    outcome = _activity(
        lambda: activities.update_coverage(c.CoverageUpdate(store["coverage"], dict(fields), "biller.ann"))
    )
    assert (verdict is None) == (outcome is None), (fields, verdict, outcome)


# --- payment plans -------------------------------------------------------------------------------------------


@AGREE
@given(
    st.sampled_from(["1", "3", "6", "7", "12", "13", "100", "0", "x", "\u0663"]),
    st.sampled_from([None, "", (TODAY + timedelta(days=10)).isoformat(), "2001-01-01", "2026-02-30"]),
    st.integers(min_value=0, max_value=10**9),
)
def test_payment_plans_agree(
    store: dict[str, Any], tmp_path: Path, installments: str, first_due: str | None, nonce: int
) -> None:
    fields = {"installments": installments} | ({"first_due": first_due} if first_due is not None else {})
    policy = c.RevenuePolicy()
    balance = 15000  # what the workflow read (the ledger's balance: nothing was paid)

    def check() -> None:  # what the PatientCollections workflow's validator runs, with the policy in force
        with UnitOfWork(store["factory"]) as uow:
            rules = current_policy(uow.session).policy
        resolution = Resolution("payment_plan", "biller.ann", dict(fields))
        check_collections_resolution(resolution, rules=rules, balance=balance, today=TODAY, hardship=False)

    verdict = _validator("patient_balance_overdue", "payment_plan", {k: v for k, v in fields.items() if v}, check)
    if first_due == "":
        fields.pop("first_due")  # an empty field is refused by every door before any rule
        verdict = _validator("patient_balance_overdue", "payment_plan", fields, check)
    collections = CollectionsActivities(store["factory"], LocalDocumentStore(tmp_path / "documents"))
    request = c.PaymentPlanRequest(  # as the PatientCollections workflow builds it from the resolution
        store["guarantor"],
        requested_installments(fields),
        fields.get("first_due") or None,
        policy.min_installment_cents,
        policy.max_installments,
        policy.installment_interval_days,
        f"agree/{nonce}/{installments}/{first_due}",
    )
    outcome = _activity(lambda: collections.create_payment_plan(request))
    assert (verdict is None) == (outcome is None), (fields, verdict, outcome)


def test_the_fixture_balance_is_what_the_plan_test_assumes(store: dict[str, Any]) -> None:
    from domain.ledger.store import guarantor_balance

    with UnitOfWork(store["factory"]) as uow:
        assert guarantor_balance(uow.session, store["guarantor"]) == 15000
    assert date.fromisoformat(TODAY.isoformat()) == TODAY
