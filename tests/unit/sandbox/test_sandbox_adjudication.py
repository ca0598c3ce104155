"""The sandbox payers' adjudication as pure functions: cost sharing, forced rules, balancing invariants."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from domain.catalog import PROCEDURES
from sandbox.clearinghouse.adjudication import (
    adjudicate,
    initial_deductible_met,
    prompt_pay_interest,
    reversal_of,
    secondary,
)
from sandbox.clearinghouse.model import Member, SubmittedClaim, SubmittedLine
from sandbox.clearinghouse.payers import PLANS, fee_schedule, fee_schedule_amount
from tests.unit.sandbox.claims_factory import BILLING_NPI, RENDERING_NPI

DOS = date(2026, 3, 2)
RECEIVED = date(2026, 3, 9)


def submitted(payer: str, *lines: tuple[str, int], **overrides: object) -> SubmittedClaim:
    value = SubmittedClaim(
        claim_id="C1",
        payer_id=payer,
        billing_npi=BILLING_NPI,
        billing_name="RIVERBEND",
        member_id="M1",
        subscriber_birth_date=date(1950, 1, 1),
        subscriber_last_name="TESTPERSON",
        subscriber_first_name="ALEX",
        rendering_npi=RENDERING_NPI,
        place_of_service="11",
        frequency_code="1",
        charge_cents=sum(charge for _, charge in lines),
        diagnoses=("I10",),
        lines=tuple(SubmittedLine(code, (), charge, 1, DOS) for code, charge in lines),
    )
    return replace(value, **overrides)  # type: ignore[arg-type]


def enrolled(payer: str, **overrides: object) -> Member:
    return replace(Member(payer, "M1", date(1950, 1, 1), date(2020, 1, 1)), **overrides)  # type: ignore[arg-type]


def decide(claim: SubmittedClaim, member: Member, met: int = 0):  # type: ignore[no-untyped-def]
    return adjudicate(
        claim,
        member,
        PLANS[claim.payer_id],
        seed=1,
        received=RECEIVED,
        payer_claim_number="ICN1",
        deductible_met_cents=met,
        random_mix=False,
    )


def test_fee_schedules_are_lower_for_medicare_and_medicaid() -> None:
    commercial, medicare, medicaid = (fee_schedule(PLANS[p]) for p in ("SBXBM", "SBXMC", "SBXMD"))
    assert set(commercial) == {p.code for p in PROCEDURES}
    for code, amount in commercial.items():
        assert medicaid[code] <= medicare[code] <= amount
        assert amount % 100 == 0  # whole dollars, as published
    assert fee_schedule_amount(PLANS["SBXBM"], "00000") is None


def test_medicare_after_the_deductible_pays_80_percent_no_copay() -> None:
    plan = PLANS["SBXMC"]
    decision = decide(submitted("SBXMC", ("99213", 13500)), enrolled("SBXMC"), met=plan.deductible_cents)
    [line] = decision.payment.service_lines
    allowed = fee_schedule_amount(plan, "99213")
    assert allowed is not None
    coinsurance = (allowed * 2000 + 5000) // 10000
    assert [(a.group, a.reason, a.amount_cents) for a in line.adjustments] == [
        ("CO", "45", 13500 - allowed),
        ("PR", "2", coinsurance),
    ]
    assert line.paid_cents == allowed - coinsurance
    assert decision.payment.claim_filing_indicator == "MB"
    assert decision.payment.remarks == ("MA01",) and decision.payment.remark_source == "MOA"


def test_medicaid_has_no_patient_responsibility() -> None:
    decision = decide(submitted("SBXMD", ("99214", 19500), ("85025", 3500)), enrolled("SBXMD"))
    assert decision.payment.patient_responsibility_cents == 0
    assert decision.payment.paid_cents == sum(line.allowed_cents or 0 for line in decision.payment.service_lines)


def test_preventive_visits_have_no_cost_sharing_and_deductible_applies_once() -> None:
    preventive = decide(submitted("SBXBM", ("99396", 24000)), enrolled("SBXBM"))
    assert preventive.payment.patient_responsibility_cents == 0 and preventive.deductible_applied_cents == 0
    visit = decide(submitted("SBXBM", ("99213", 13500), ("85025", 3500)), enrolled("SBXBM"), met=49000)
    assert visit.deductible_applied_cents == 1000
    reasons = [(a.reason, a.amount_cents) for line in visit.payment.service_lines for a in line.adjustments]
    assert ("3", 2500) in reasons and ("1", 1000) in reasons


def test_member_overrides_copay_and_coinsurance() -> None:
    decision = decide(
        submitted("SBXBM", ("99213", 13500)),
        enrolled("SBXBM", copay_cents=4000, coinsurance_bp=0),
        met=50000,
    )
    [line] = decision.payment.service_lines
    assert [(a.group, a.reason, a.amount_cents) for a in line.adjustments if a.group == "PR"] == [("PR", "3", 4000)]


def test_secondary_payer_pays_what_the_primary_left() -> None:
    claim = submitted("SBXMD", ("99213", 13500), payer_responsibility="S", prior_payer_paid_cents=5000)
    payment = secondary(decide(claim, enrolled("SBXMD")).payment)
    assert payment.status_code == "2"
    [line] = payment.service_lines
    assert ("CO", "23", 5000) in [(a.group, a.reason, a.amount_cents) for a in line.adjustments]
    assert line.paid_cents == (line.allowed_cents or 0) - 5000


def test_secondary_payer_pays_at_most_what_the_primary_left_to_the_patient_when_the_837_says_it() -> None:
    # The primary paid nothing and left 2000 to the patient on the line (2430 SVD/CAS PR): the secondary's own allowed
    # amount would leave room for more, but it pays the patient's balance and no more (the crossover).
    line = SubmittedLine("99213", (), 13500, 1, DOS, prior_paid_cents=0, prior_patient_cents=2000)
    claim = submitted("SBXMD", ("99213", 13500), payer_responsibility="S", prior_payer_paid_cents=0)
    payment = secondary(decide(replace(claim, lines=(line,)), enrolled("SBXMD")).payment)
    [paid] = payment.service_lines
    assert (paid.allowed_cents or 0) > 2000
    assert paid.paid_cents == 2000
    assert sum(a.amount_cents for a in paid.adjustments if a.group == "PR") == 0


def test_coverage_ended_after_acceptance_is_denied_co27() -> None:
    decision = decide(submitted("SBXBM", ("99213", 13500)), enrolled("SBXBM", effective_to=DOS - timedelta(days=1)))
    assert decision.payment.status_code == "4"
    assert decision.payment.service_lines[0].adjustments[0].reason == "27"


def test_prompt_pay_interest_counts_only_days_past_the_window() -> None:
    plan = PLANS["SBXMD"]
    assert prompt_pay_interest(100000, RECEIVED, RECEIVED + timedelta(days=30), plan) == 0
    # 5 days late at 9% a year: 100000 * 0.09 * 5 / 365 = 123.29 cents -> 123.
    assert prompt_pay_interest(100000, RECEIVED, RECEIVED + timedelta(days=35), plan) == 123


def test_reversal_negates_every_amount() -> None:
    original = decide(submitted("SBXBM", ("99213", 13500), ("85025", 3500)), enrolled("SBXBM"), met=50000).payment
    reversal = reversal_of(original)
    assert reversal.status_code == "22"
    assert (reversal.charge_cents, reversal.paid_cents) == (-original.charge_cents, -original.paid_cents)
    for before, after in zip(original.service_lines, reversal.service_lines, strict=True):
        assert [a.amount_cents for a in after.adjustments] == [-a.amount_cents for a in before.adjustments]


def test_seeded_starting_deductible_is_stable() -> None:
    member = enrolled("SBXBM", member_id="M77")
    assert initial_deductible_met(5, member, 50000) == initial_deductible_met(5, member, 50000)
    assert initial_deductible_met(5, replace(member, deductible_met_cents=123), 50000) == 123


codes = st.sampled_from([p.code for p in PROCEDURES] + ["99999"])
lines = st.lists(st.tuples(codes, st.integers(min_value=1, max_value=90000)), min_size=1, max_size=6)


@settings(max_examples=150, deadline=None)
@given(
    payer=st.sampled_from(sorted(PLANS)),
    lines=lines,
    met=st.integers(min_value=0, max_value=200000),
    place=st.sampled_from(["11", "02", "10"]),
    first_dx=st.sampled_from(["I10", "Z0000"]),
    seed=st.integers(min_value=0, max_value=50),
    share=st.sampled_from([9000, 10000, 11000]),
)
def test_every_decision_balances(
    payer: str, lines: list[tuple[str, int]], met: int, place: str, first_dx: str, seed: int, share: int
) -> None:
    claim = submitted(payer, *lines, place_of_service=place, diagnoses=(first_dx, "E119"))
    decision = adjudicate(
        claim,
        enrolled(payer),
        PLANS[payer],
        seed=seed,
        received=RECEIVED,
        payer_claim_number="ICN",
        deductible_met_cents=met,
        allowed_share_bp=share,
    )
    payment = decision.payment
    for line in payment.service_lines:
        assert line.paid_cents >= 0
        assert line.charge_cents - sum(a.amount_cents for a in line.adjustments) == line.paid_cents
        assert all(a.amount_cents > 0 for a in line.adjustments)
    assert payment.charge_cents - sum(a.amount_cents for a in payment.all_adjustments()) == payment.paid_cents
    assert payment.patient_responsibility_cents == sum(
        a.amount_cents for a in payment.all_adjustments() if a.group == "PR"
    )
    assert 0 <= decision.deductible_applied_cents <= max(0, PLANS[payer].deductible_cents - met)
    assert payment.status_code in ("1", "4")
