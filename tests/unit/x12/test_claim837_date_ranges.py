"""837P service lines with a date range (DTP*472*RD8), as real 837P files send them: parsed, written back, valid
for pyx12; and `edi validate` lists every problem of a file in one run, with segment positions."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import pytest

from domain.x12.claim837 import ServiceLine, parse_837p
from domain.x12.documents import validate_document
from domain.x12.envelope import X12Error
from tests.unit.x12.helpers import fixture, self_claim
from tests.unit.x12.pyx12_check import pyx12_errors
from tests.unit.x12.test_claim837 import _write

GUIDE = fixture("837p_x222a1_example1_commercial.x12")
RANGE = GUIDE.replace("DTP*472*D8*20061003~LX*2", "DTP*472*RD8*20061001-20061003~LX*2")


def test_a_line_with_a_date_range_is_read() -> None:
    assert RANGE != GUIDE and pyx12_errors(RANGE) == []
    (claim,) = parse_837p(RANGE)
    first, second = claim.lines[:2]
    assert (first.service_date, first.service_date_end) == (date(2006, 10, 1), date(2006, 10, 3))
    assert (second.service_date, second.service_date_end) == (date(2006, 10, 3), None)


def test_a_date_range_is_written_and_read_back() -> None:
    claim = self_claim()
    ranged = replace(claim.lines[0], service_date=date(2026, 1, 5), service_date_end=date(2026, 1, 9))
    claim = replace(claim, lines=(ranged, claim.lines[1]))
    text = _write([claim])
    assert "DTP*472*RD8*20260105-20260109~" in text and "DTP*472*D8*20260106~" in text
    assert pyx12_errors(text) == []
    assert parse_837p(text) == [claim]


def test_a_one_day_range_is_one_day() -> None:
    (claim,) = parse_837p(GUIDE.replace("DTP*472*D8*20061003~LX*2", "DTP*472*RD8*20061003-20061003~LX*2"))
    assert (claim.lines[0].service_date, claim.lines[0].service_date_end) == (date(2006, 10, 3), None)


@pytest.mark.parametrize("period", ["20061003", "20061003-", "20061010-20061001", "2006X003-20061004"])
def test_a_bad_range_names_its_segment(period: str) -> None:
    with pytest.raises(X12Error, match="segment 34 DTP"):
        parse_837p(GUIDE.replace("DTP*472*D8*20061003~LX*2", f"DTP*472*RD8*{period}~LX*2"))


def test_a_range_must_not_end_before_it_starts() -> None:
    with pytest.raises(X12Error, match="start on or before its end"):
        ServiceLine("99213", 100, service_date=date(2026, 1, 9), service_date_end=date(2026, 1, 5))


def test_validate_lists_every_problem_with_its_position() -> None:
    bad = (
        GUIDE.replace("DTP*472*D8*20061003~LX*2", "DTP*472*D8*2006XX03~LX*2")
        .replace("SV1*HC:87070*15*", "SV1*HC:87070*1x5*")
        .replace("DTP*472*D8*20061010~LX*4", "DTP*472*RD8*20061010-20061001~LX*4")
        .replace("HI*BK:0340*BF:V7389~", "HI*BK:0340*BF:V7389~~zz*1~")
    )
    problems = validate_document(bad)
    errors = [(p.position, p.segment_id, p.element, p.reason.split(":")[0]) for p in problems if p.severity == "error"]
    assert errors == [
        (32, None, None, "empty segment"),
        (33, None, None, "not a segment identifier"),
        (36, "DTP", 3, "not a date (CCYYMMDD)"),
        (38, "SV1", 2, "not an amount"),
        (42, "DTP", 3, "date range ends before it starts"),
        (46, "SE", 1, "SE01 says 42, the set has 43 segments"),
    ]
    # The claim total (CLM02) cannot be checked against a line amount in error: a warning says so, not an error.
    (warning,) = [p for p in problems if p.severity == "warning"]
    assert warning.position == 29 and "not checked" in warning.reason


def test_validate_of_a_good_file_finds_nothing() -> None:
    assert validate_document(GUIDE) == [] and validate_document(RANGE) == []
