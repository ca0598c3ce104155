"""999, 277CA, 270/271 and 276/277: round trips, guide-style fixtures and pyx12 validity where pyx12 has a map."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import pytest

from domain.x12.ack277ca import ClaimAck, ClaimAcknowledgment, StatusCode, parse_277ca, write_277ca
from domain.x12.ack999 import Acknowledgment999, ElementError, SegmentError, TransactionAck, parse_999, write_999
from domain.x12.eligibility import (
    Benefit,
    EligibilityInquiry,
    EligibilityResponse,
    RequestError,
    parse_270,
    parse_271,
    write_270,
    write_271,
)
from domain.x12.envelope import X12Error
from domain.x12.status276 import ClaimStatusInquiry, ClaimStatusResult, parse_276, parse_277, write_276, write_277
from tests.unit.x12.helpers import CONTROL, RECEIVER, SENDER, WHEN, fixture
from tests.unit.x12.pyx12_check import pyx12_errors

ENVELOPE = {"sender": SENDER, "receiver": RECEIVER, "control": CONTROL, "when": WHEN}


def _ack999() -> Acknowledgment999:
    accepted = TransactionAck("837", "0001", "A", "005010X222A1")
    element = ElementError(9, "7", "67", None, "X")
    rejected = TransactionAck(
        "837", "0002", "R", "005010X222A1", (SegmentError("NM1", 24, "8", "2010", (element,)),), ("5",)
    )
    return Acknowledgment999.for_transactions("HC", "17", "005010X222A1", [accepted, rejected])


def test_999_round_trip_and_pyx12() -> None:
    ack = _ack999()
    assert (ack.group_status, ack.sets_accepted) == ("P", 1)
    text = write_999([ack], **ENVELOPE)  # type: ignore[arg-type]
    (parsed,) = parse_999(text)
    assert replace(parsed, control_number="") == ack
    assert [t.accepted for t in parsed.transactions] == [True, False]
    assert pyx12_errors(text) == []


def test_999_guide_style_fixture() -> None:
    (ack,) = parse_999(fixture("999_x231a1_partial.x12"))
    assert ack.group_control_number == "17456" and ack.group_status == "P"
    assert ack.transactions[1].errors[0].elements[0].bad_value == "100.00X"


def _ack277() -> ClaimAcknowledgment:
    accepted = ClaimAck(
        "c1",
        (StatusCode("A2", "20"),),
        13500,
        "1234567893",
        "GOOD PRACTICE",
        "M123",
        "DOE",
        "JANE",
        date(2026, 1, 21),
        "PCN1",
        "TRACE1",
        date(2026, 1, 5),
        date(2026, 1, 5),
    )
    rejected = ClaimAck(
        "c2",
        (StatusCode("A7", "21", "85"), StatusCode("A7", "562", "85")),
        8500,
        "1234567893",
        "GOOD PRACTICE",
        "M555",
        "ROE",
        "RICK",
        date(2026, 1, 21),
        None,
        None,
        date(2026, 1, 6),
        date(2026, 1, 6),
    )
    return ClaimAcknowledgment(
        "ACME",
        "60054",
        "GOOD PRACTICE",
        "PRACTICE01",
        "TR1",
        date(2026, 1, 21),
        date(2026, 1, 21),
        (accepted, rejected),
        "17",
    )


def test_277ca_round_trip_and_pyx12() -> None:
    ack = _ack277()
    text = write_277ca([ack], **ENVELOPE)  # type: ignore[arg-type]
    (parsed,) = parse_277ca(text)
    assert replace(parsed, control_number="") == ack
    assert [c.claim_id for c in parsed.accepted] == ["c1"] and [c.claim_id for c in parsed.rejected] == ["c2"]
    assert "QTY*90*1~" in text and "AMT*YY*85~" in text
    assert pyx12_errors(text) == []


def test_277ca_guide_style_fixture() -> None:
    (ack,) = parse_277ca(fixture("277ca_x214_mixed.x12"))
    assert [(c.claim_id, c.accepted, c.charge_cents) for c in ack.claims] == [
        ("ABC1234", True, 100000),
        ("ABC1235", False, 60000),
    ]
    assert ack.claims[0].payer_claim_number == "0222222222"
    assert ack.claims[1].service_from == date(2005, 8, 4) and ack.claims[1].service_to == date(2005, 8, 6)


def test_277ca_parser_refuses_a_claim_status_277() -> None:
    result = _status_result()
    with pytest.raises(X12Error, match="no 277CA"):
        parse_277ca(write_277([result], **ENVELOPE))  # type: ignore[arg-type]


def _inquiry() -> EligibilityInquiry:
    return EligibilityInquiry(
        "EL-1",
        "ACME",
        "60054",
        "GOOD PRACTICE",
        "1234567893",
        "M123",
        "DOE",
        "JANE",
        date(1982, 3, 4),
        date(2026, 1, 21),
    )


def test_270_round_trip() -> None:
    text = write_270([_inquiry(), replace(_inquiry(), trace="EL-2", member_id="M9")], **ENVELOPE)  # type: ignore[arg-type]
    assert parse_270(text) == [_inquiry(), replace(_inquiry(), trace="EL-2", member_id="M9")]
    assert "EQ*30~" in text and "DTP*291*D8*20260121~" in text


def test_271_active_copay_deductible_inactive_and_errors() -> None:
    active = EligibilityResponse(
        "EL-1",
        "ACME",
        "60054",
        "GOOD PRACTICE",
        "1234567893",
        "M123",
        "DOE",
        "JANE",
        date(1982, 3, 4),
        (
            Benefit("1", plan_description="GOLD PPO"),
            Benefit("B", "IND", ("98", "30"), time_period="27", amount_cents=2500, in_network="Y"),
            Benefit("C", "IND", ("30",), time_period="23", amount_cents=150000),
            Benefit("C", "IND", ("30",), time_period="29", amount_cents=50000),
        ),
        (),
        date(2026, 1, 1),
    )
    inactive = replace(active, trace="EL-2", benefits=(Benefit("6"),), plan_begin=None)
    error = EligibilityResponse(
        "EL-3", "ACME", "60054", "GOOD PRACTICE", "1234567893", "BAD", "DOE", "JANE", errors=(RequestError("72", "C"),)
    )
    source_down = replace(error, trace="EL-4", errors=(RequestError("42", "R", "source"),))
    text = write_271([active, inactive, error, source_down], **ENVELOPE)  # type: ignore[arg-type]
    assert "EB*B*IND*98^30***27*25*****Y~" in text and "EB*C*IND*30***29*500~" in text and "AAA*N**72*C~" in text
    parsed = parse_271(text)
    assert [replace(p, control_number="") for p in parsed] == [active, inactive, error, source_down]
    first, second, third, fourth = parsed
    assert (first.active, first.copay_cents, first.deductible_remaining_cents) == (True, 2500, 50000)
    assert second.active is False and third.active is None and third.errors[0].code == "72"
    assert fourth.errors == (RequestError("42", "R", "source"),)


def _status_result() -> ClaimStatusResult:
    return ClaimStatusResult(
        "ST-1",
        "ACME",
        "60054",
        "GOOD PRACTICE",
        "PRACTICE01",
        "GOOD PRACTICE",
        "1234567893",
        "M123",
        "DOE",
        "JANE",
        "c1",
        (StatusCode("F1", "65"),),
        date(2026, 1, 22),
        13500,
        10000,
        date(2026, 1, 20),
        "ACH",
        date(2026, 1, 21),
        "TR123",
        "PCN1",
        date(2026, 1, 5),
        date(2026, 1, 5),
    )


def test_276_277_round_trip() -> None:
    inquiry = ClaimStatusInquiry(
        "ST-1",
        "ACME",
        "60054",
        "GOOD PRACTICE",
        "PRACTICE01",
        "GOOD PRACTICE",
        "1234567893",
        "M123",
        "DOE",
        "JANE",
        "c1",
        13500,
        date(2026, 1, 5),
        date(2026, 1, 5),
        "PCN1",
        date(1982, 3, 4),
    )
    text = write_276([inquiry], **ENVELOPE)  # type: ignore[arg-type]
    assert parse_276(text) == [inquiry]
    pending = replace(
        _status_result(),
        trace="ST-2",
        statuses=(StatusCode("P1", "20"),),
        paid_cents=None,
        adjudication_date=None,
        payment_method="",
        check_date=None,
        check_number="",
    )
    text = write_277([_status_result(), pending], **ENVELOPE)  # type: ignore[arg-type]
    parsed = [replace(p, control_number="") for p in parse_277(text)]
    assert parsed == [_status_result(), pending]
    assert parsed[0].finalized and not parsed[1].finalized
