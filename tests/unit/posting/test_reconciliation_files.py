"""Bank file parsers: BAI2 (with continuations and funds types) and CSV; bad files get one clear error."""

from __future__ import annotations

from datetime import date

import pytest

from domain.reconciliation import BankFileError, parse_bai2, parse_bank_csv, parse_bank_file

BAI2 = """01,BANKID,CLINIC,260321,0600,1,80,1,2/
02,CLINIC,BANKID,1,260321,0600,USD,2/
03,123456789,USD,010,500000,,/
16,165,1234500,0,BR001,EFT900,ACH CREDIT PAYER A/
88,TRN*1*EFT900*1512345678\\
16,169,5000,V,260321,0600,BR002,,CARD BATCH/
16,475,2000,0,BR003,CHK17,CHECK PAID/
16,165,7700,S,7700,0,0,BR004,,ACH CREDIT/
88,TRN*1*EFT901*1512345678\\
49,1248000,5/
98,1248000,1,7/
99,1248000,1,9/
"""


def test_bai2_credits_with_traces() -> None:
    lines = parse_bai2(BAI2)
    assert [(line.amount_cents, line.trace_number) for line in lines] == [
        (1234500, "EFT900"),
        (5000, None),
        (7700, "EFT901"),
    ]
    assert lines[0].posted_on == date(2026, 3, 21) and [line.line_number for line in lines] == [1, 2, 3]
    assert parse_bank_file(BAI2) == lines


def test_csv_and_errors() -> None:
    lines = parse_bank_csv("date,amount,trace,description\n2026-03-21,12345.00,EFT900,ERA\n2026-03-21,-5.00,X,fee\n")
    assert [(line.amount_cents, line.trace_number) for line in lines] == [(1234500, "EFT900")]
    with pytest.raises(BankFileError, match="line 2: amount"):
        parse_bank_csv("date,amount,trace\n2026-03-21,12.345,T\n")
    with pytest.raises(BankFileError, match="columns"):
        parse_bank_csv("when,how much\n")
    with pytest.raises(BankFileError, match="file header"):
        parse_bai2("02,X/\n99,0/\n")
    with pytest.raises(BankFileError, match="trailer"):
        parse_bai2("01,A,B,260321,0600,1,80,1,2/\n")
    with pytest.raises(BankFileError, match="format"):
        parse_bank_file("x", "ofx")
