from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.codes import (
    is_valid_npi,
    make_npi,
    validate_hcpcs,
    validate_icd10,
    validate_modifier,
    validate_npi,
    validate_place_of_service,
)
from domain.errors import InvalidCode, InvalidNPI


def test_known_valid_npi_from_the_cms_example() -> None:
    # CMS's published example: 123456789 with the 80840 prefix gives check digit 3.
    assert is_valid_npi("1234567893")
    assert not is_valid_npi("1234567890")


@given(st.from_regex(r"[12][0-9]{8}", fullmatch=True))
def test_made_npis_validate_and_any_other_last_digit_fails(first_nine: str) -> None:
    npi = make_npi(first_nine)
    assert is_valid_npi(npi)
    for digit in "0123456789":
        if digit != npi[-1]:
            assert not is_valid_npi(first_nine + digit)


@pytest.mark.parametrize("bad", ["", "123456789", "12345678901", "3234567893", "12345abc93"])
def test_invalid_npi_is_a_typed_error(bad: str) -> None:
    with pytest.raises(InvalidNPI, match="invalid NPI"):
        validate_npi(bad)


@pytest.mark.parametrize(
    ("code", "normal"), [("E11.9", "E119"), ("i10", "I10"), ("Z00.00", "Z0000"), ("F32.A", "F32A")]
)
def test_icd10_accepts_and_normalises(code: str, normal: str) -> None:
    assert validate_icd10(code) == normal


@pytest.mark.parametrize("bad", ["", "E1", "11.9", "U07.1X", "E11.99999", "E11-9"])
def test_icd10_rejects_malformed(bad: str) -> None:
    with pytest.raises(InvalidCode):
        validate_icd10(bad)


@pytest.mark.parametrize("code", ["99213", "0001F", "G0439", "J1100"])
def test_hcpcs_accepts(code: str) -> None:
    assert validate_hcpcs(code) == code


@pytest.mark.parametrize("bad", ["9921", "992134", "W1234", "ABCDE", ""])
def test_hcpcs_rejects(bad: str) -> None:
    with pytest.raises(InvalidCode):
        validate_hcpcs(bad)


def test_modifier_and_pos() -> None:
    assert validate_modifier("95") == "95"
    with pytest.raises(InvalidCode):
        validate_modifier("9")
    assert validate_place_of_service("10") == "10"
    with pytest.raises(InvalidCode):
        validate_place_of_service("99")
