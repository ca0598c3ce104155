from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.claim_status import ALLOWED_TRANSITIONS, ClaimStatus, check_transition
from domain.errors import IllegalTransition, InvalidAmount
from domain.money import format_cents, parse_amount


@pytest.mark.parametrize(("text", "cents"), [("25.00", 2500), ("7.5", 750), ("0", 0), ("1234.56", 123456)])
def test_parse_amount(text: str, cents: int) -> None:
    assert parse_amount(text) == cents


@pytest.mark.parametrize("bad", ["", "abc", "1.234", "1,000.00", "1e3", "-5.00", "$5"])
def test_parse_amount_rejects(bad: str) -> None:
    with pytest.raises(InvalidAmount):
        parse_amount(bad)


@given(st.integers(min_value=-(10**12), max_value=10**12))
def test_format_then_parse_round_trips(cents: int) -> None:
    assert parse_amount(format_cents(cents), allow_negative=True) == cents


def test_every_status_has_transitions_listed() -> None:
    assert set(ALLOWED_TRANSITIONS) == set(ClaimStatus)


def test_legal_and_illegal_transitions() -> None:
    assert check_transition(ClaimStatus.READY, ClaimStatus.SUBMITTED) is ClaimStatus.SUBMITTED
    with pytest.raises(IllegalTransition, match="cannot go from draft to paid"):
        check_transition(ClaimStatus.DRAFT, ClaimStatus.PAID)
    with pytest.raises(IllegalTransition):
        check_transition(ClaimStatus.VOID, ClaimStatus.READY)
