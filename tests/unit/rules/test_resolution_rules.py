"""The pure rules behind every work-item resolution (issue 11, item 1): the messages people see, and that any input
gives an accepted resolution or one InvalidResolution, never another exception."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.claim_corrections import ClaimFacts, check_claim_resolution, parse_claim_changes
from domain.collections_policy import CollectionsPolicy, payment_plan_from_fields, requested_installments
from domain.errors import DomainError, InvalidResolution, ValidationError
from domain.workitems import ACTIONS, REASONS, Resolution, validate_resolution

TODAY = date(2026, 3, 10)


@pytest.mark.parametrize(
    ("reason", "action", "fields", "message"),
    [
        ("missing_codes", "add_codes", {"procedure_code": "99213", "diagnosis_codes": "XYZ"}, "ICD-10-CM code 'XYZ'"),
        ("missing_codes", "add_codes", {"procedure_code": "99999", "diagnosis_codes": "I10"}, "fee schedule"),
        ("claim_rejected", "correct_and_resubmit", {"place_of_service": "99"}, "unknown place of service '99'"),
        ("claim_rejected", "correct_and_resubmit", {"billing_npi": "1234567893"}, "does not take"),
        ("claim_rejected", "correct_and_resubmit", {"rendering_npi": "1234567890"}, "invalid NPI"),
        ("claim_rejected", "correct_and_resubmit", {"line0.units": "2"}, "numbered from 1"),
        ("claim_rejected", "correct_and_resubmit", {"line2.diagnosis_codes": "I10"}, "only line fields"),
        ("claim_rejected", "correct_and_resubmit", {"frequency_code": "9"}, "1 (original), 7"),
        ("claim_rejected", "correct_and_resubmit", {"charge_cents": "12.50"}, "whole number of cents"),
        ("claim_rejected", "correct_and_resubmit", {"charge_cents": "\u0661\u0662"}, "whole number of cents"),
        ("claim_rejected", "correct_and_resubmit", {"member_id": "A B"}, "member_id must be"),
        ("claim_denied", "bill_patient", {"amount_cents": "100"}, "does not take"),
        ("patient_balance_overdue", "payment_plan", {"installments": "\u0663"}, "positive whole number"),
        ("patient_balance_overdue", "settle", {"amount_cents": "-5"}, "whole number of cents"),
        ("eligibility_inactive", "update_coverage", {"effective_from": "2026-02-30"}, "must be a date"),
        (
            "eligibility_inactive",
            "update_coverage",
            {"effective_from": "2026-02-01", "effective_to": "2026-01-01"},
            "before effective_from",
        ),
    ],
)
def test_each_rule_refuses_with_its_message(reason: str, action: str, fields: dict[str, str], message: str) -> None:
    with pytest.raises(InvalidResolution) as refused:
        validate_resolution(reason, Resolution(action, "ann", fields, note="n"))
    assert message in str(refused.value)
    assert "\n" not in str(refused.value)


def test_line_fields_name_their_line() -> None:
    ok = Resolution("correct_and_resubmit", "ann", {"line2.modifiers": "25", "units": "2", "line1.charge_cents": "9"})
    assert validate_resolution("claim_rejected", ok) is ok
    changes = parse_claim_changes(ok.fields)
    assert changes.line_edit(2).modifiers == ("25",) and changes.line_edit(2).units == 2
    assert changes.line_edit(1).charge_cents == 9 and changes.line_edit(1).modifiers is None


def test_the_claim_facts_the_workflow_knows_are_checked() -> None:
    facts = ClaimFacts("rejected", 1, 3, lines=2, diagnoses=1, today=TODAY, line_pointers=(1, 1))
    with pytest.raises(ValidationError, match=r"say which one, e\.g\. line2\.procedure_code"):
        check_claim_resolution("correct_and_resubmit", {"procedure_code": "99214"}, facts)
    with pytest.raises(ValidationError, match="the claim has 2 line"):
        check_claim_resolution("correct_and_resubmit", {"line3.units": "2"}, facts)
    with pytest.raises(ValidationError, match="points at no diagnosis"):
        check_claim_resolution("correct_and_resubmit", {"diagnosis_pointers": "2"}, facts)
    with pytest.raises(ValidationError, match="in the future"):
        check_claim_resolution("correct_and_resubmit", {"service_date": "2026-03-11"}, facts)
    with pytest.raises(ValidationError, match="the most the policy allows"):
        check_claim_resolution("correct_and_resubmit", {"units": "1"}, ClaimFacts("denied", 4, 3))
    with pytest.raises(DomainError, match="cannot go from submitted to appealed"):
        check_claim_resolution("appeal", {}, ClaimFacts("submitted", 1, 3))
    check_claim_resolution("appeal", {}, ClaimFacts("denied", 1, 3))
    two = ClaimFacts("denied", 1, 3, lines=2, diagnoses=2, today=TODAY, line_pointers=(2, 1))
    with pytest.raises(ValidationError, match="line 1 points at diagnosis 2"):
        check_claim_resolution("correct_and_resubmit", {"diagnosis_codes": "I10"}, two)
    check_claim_resolution("correct_and_resubmit", {"diagnosis_codes": "I10", "diagnosis_pointers": "1"}, two)


def test_a_plan_of_100_installments_is_refused_by_the_plan_rule() -> None:
    policy = CollectionsPolicy()
    with pytest.raises(ValidationError, match="1 to 12 installments, not 100"):
        payment_plan_from_fields(policy, {"installments": "100"}, 50000, TODAY)
    plan = payment_plan_from_fields(policy, {"installments": "2", "first_due": "2026-04-01"}, 5001, TODAY)
    assert [(i.due_on.isoformat(), i.amount_cents) for i in plan] == [("2026-04-01", 2501), ("2026-05-01", 2500)]
    assert requested_installments({"installments": "\u0663"}) == 0  # refused by the rule, never read as 3


FIELD_NAMES = ["procedure_code", "diagnosis_codes", "modifiers", "units", "line2.units", "installments"]
FIELD_NAMES += ["first_due", "place_of_service", "amount_cents", "member_id", "effective_to", "reason_code", "x"]
field_names = st.sampled_from([*FIELD_NAMES, "line9.charge_cents"])


@given(
    st.sampled_from(sorted(REASONS)),
    st.sampled_from(sorted(ACTIONS)),
    st.dictionaries(field_names, st.text(max_size=12), max_size=4),
    st.text(max_size=5),
)
def test_any_resolution_is_accepted_or_refused_with_invalid_resolution(
    reason: str, action: str, fields: dict[str, str], note: str
) -> None:
    try:
        validate_resolution(reason, Resolution(action, "ann", fields, note))
    except InvalidResolution as exc:
        assert "\n" not in str(exc)
