"""One money parser for text from people, files and pages (issue 11: money parsing).

Each defect the issue lists is a test here that failed on the code before the change: the portal truncated
"12.345" and returned None on garbage, the X12 reader took Arabic-Indic digits for ASCII ones and raised a bare
ValueError on "²" or on thousands of digits.
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from activities.eob.templates import cents as eob_cents
from activities.portals.base import parse_money
from activities.portals.errors import PortalLayoutChanged
from domain.errors import InvalidAmount
from domain.money import MAX_WHOLE_DIGITS, format_cents, format_dollars, parse_amount
from domain.x12.envelope import X12Error, cents

HOSTILE = [
    "12.345",
    "\u0661\u0662",
    "²",
    "1" * 5000,
    "12.3.4",
    "1e3",
    "--5",
    "+5",
    "",
    "   ",
    ".",
    "abc",
    "\x00",
    "5\n6",
    "1_000",
]


@pytest.mark.parametrize(
    ("text", "expected"),
    [("25", 2500), ("25.00", 2500), ("7.5", 750), (".5", 50), ("12.340", 1234), ("0", 0), (" 3.10 ", 310)],
)
def test_plain_amounts(text: str, expected: int) -> None:
    assert parse_amount(text) == expected


@pytest.mark.parametrize("text", HOSTILE)
def test_anything_else_is_one_typed_error_with_a_one_line_message(text: str) -> None:
    with pytest.raises(InvalidAmount) as caught:
        parse_amount(text, allow_negative=True, formatted=True)
    message = str(caught.value)
    assert "\n" not in message and len(message) < 160


def test_fractions_of_a_cent_are_refused_not_truncated() -> None:
    with pytest.raises(InvalidAmount, match="fractions of a cent"):
        parse_amount("12.345")


def test_formatted_amounts_only_where_the_caller_reads_pages() -> None:
    assert parse_amount("$1,234.56", formatted=True) == 123456
    assert parse_amount("-$5.00", allow_negative=True, formatted=True) == -500
    for text in ("$1,234.56", "1,234"):
        with pytest.raises(InvalidAmount):
            parse_amount(text)
    for text in ("12,34.00", "1,2345", ",123"):
        with pytest.raises(InvalidAmount, match="groups of three"):
            parse_amount(text, formatted=True)


def test_negative_only_when_allowed() -> None:
    with pytest.raises(InvalidAmount, match="negative"):
        parse_amount("-5.00")
    assert parse_amount("-0.05", allow_negative=True) == -5


def test_length_is_bounded() -> None:
    assert parse_amount("9" * MAX_WHOLE_DIGITS) == int("9" * MAX_WHOLE_DIGITS) * 100
    with pytest.raises(InvalidAmount, match="digits of dollars"):
        parse_amount("9" * (MAX_WHOLE_DIGITS + 1))


@given(st.integers(min_value=-(10**14), max_value=10**14))
def test_format_then_parse_round_trips(value: int) -> None:
    assert parse_amount(format_cents(value), allow_negative=True) == value
    assert parse_amount(format_dollars(value), allow_negative=True, formatted=True) == value


@given(st.text(max_size=30))
def test_any_text_gives_cents_or_invalid_amount(text: str) -> None:
    try:
        value = parse_amount(text, allow_negative=True, formatted=True)
    except InvalidAmount:
        return
    assert isinstance(value, int)
    assert text.strip().lstrip("-$").replace(",", "").replace(".", "").isascii()


# --- the callers: X12 files, portal pages, EOB PDFs use the one rule ------------------------------------


@pytest.mark.parametrize("text", ["\u0661\u0662", "²", "1" * 5000, "12.345", "\u0661\u0662.\u0665\u0660"])
def test_x12_amounts_refuse_what_the_rule_refuses_as_an_x12_error(text: str) -> None:
    with pytest.raises(X12Error) as caught:
        cents(text, 7, "CLP", 3)
    assert caught.value.position == 7


@given(st.text(max_size=40))
def test_x12_amounts_never_raise_anything_but_x12_error(text: str) -> None:
    try:
        value = cents(text, 1, "AMT", 2)
    except X12Error:
        return
    assert value == parse_amount(text, allow_negative=True)


def test_x12_amounts_keep_their_shapes() -> None:
    assert [cents(t, 1, "AMT", 2) for t in ("12", "12.5", "-0.05", ".5", "100.00")] == [1200, 1250, -5, 50, 10000]


def test_portal_amounts_are_not_truncated_and_garbage_is_a_changed_page() -> None:
    assert parse_money("$1,234.56") == 123456
    assert parse_money("") is None and parse_money(" - ") is None
    with pytest.raises(PortalLayoutChanged, match="fractions of a cent"):
        parse_money("12.345")
    with pytest.raises(PortalLayoutChanged):
        parse_money("twelve dollars")
    with pytest.raises(PortalLayoutChanged):
        parse_money("\u0661\u0662")


def test_eob_amounts_use_the_rule() -> None:
    assert eob_cents("$1,234.56") == 123456
    assert eob_cents("-12.00") == -1200
    with pytest.raises(InvalidAmount):
        eob_cents("1,2345.00")
