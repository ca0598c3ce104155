"""Pure validators for the identifiers and code sets a claim is built from."""

from __future__ import annotations

import re

from domain.errors import InvalidCode, InvalidNPI

_NPI_PREFIX = "80840"


def npi_check_digit(first_nine: str) -> int:
    """The Luhn check digit of an NPI's first nine digits, computed over the 80840 card-issuer prefix."""
    digits = [int(c) for c in _NPI_PREFIX + first_nine]
    total = 0
    # Luhn doubles every second digit counting from the right, where the check digit will stand.
    for index, digit in enumerate(reversed(digits)):
        if index % 2 == 0:
            doubled = digit * 2
            total += doubled - 9 if doubled > 9 else doubled
        else:
            total += digit
    return (10 - total % 10) % 10


def is_valid_npi(npi: str) -> bool:
    if len(npi) != 10 or not npi.isascii() or not npi.isdigit() or npi[0] not in "12":
        return False
    return npi_check_digit(npi[:9]) == int(npi[9])


def validate_npi(npi: str) -> str:
    if not is_valid_npi(npi):
        raise InvalidNPI(f"invalid NPI {npi!r}: must be 10 digits starting with 1 or 2 with a valid check digit")
    return npi


def make_npi(first_nine: str) -> str:
    return first_nine + str(npi_check_digit(first_nine))


# ICD-10-CM: a letter, a digit, an alphanumeric, then optionally a dot and 1-4 alphanumerics.
_ICD10 = re.compile(r"^[A-TV-Z][0-9][0-9A-Z](\.?[0-9A-Z]{1,4})?$")
# HCPCS level I (CPT: 5 digits, or 4 digits + F/T/U) and level II (a letter A-V and 4 digits).
_HCPCS = re.compile(r"^([0-9]{5}|[0-9]{4}[FTU]|[A-V][0-9]{4})$")
_MODIFIER = re.compile(r"^[0-9A-Z]{2}$")


def normalize_icd10(code: str) -> str:
    """ICD-10-CM without the dot, upper case (the X12 form)."""
    return code.strip().upper().replace(".", "")


def validate_icd10(code: str) -> str:
    cleaned = code.strip().upper()
    if not _ICD10.fullmatch(cleaned):
        raise InvalidCode(f"malformed ICD-10-CM code {code!r}")
    return normalize_icd10(cleaned)


def validate_hcpcs(code: str) -> str:
    cleaned = code.strip().upper()
    if not _HCPCS.fullmatch(cleaned):
        raise InvalidCode(f"malformed HCPCS/CPT code {code!r}")
    return cleaned


def validate_modifier(code: str) -> str:
    cleaned = code.strip().upper()
    if not _MODIFIER.fullmatch(cleaned):
        raise InvalidCode(f"malformed modifier {code!r}")
    return cleaned


PLACES_OF_SERVICE: dict[str, str] = {
    "02": "Telehealth provided other than in patient's home",
    "10": "Telehealth provided in patient's home",
    "11": "Office",
    "12": "Home",
    "19": "Off campus outpatient hospital",
    "20": "Urgent care facility",
    "21": "Inpatient hospital",
    "22": "On campus outpatient hospital",
    "23": "Emergency room - hospital",
    "31": "Skilled nursing facility",
    "32": "Nursing facility",
    "49": "Independent clinic",
    "50": "Federally qualified health center",
    "71": "Public health clinic",
    "72": "Rural health clinic",
    "81": "Independent laboratory",
}
TELEHEALTH_POS = frozenset({"02", "10"})
TELEHEALTH_MODIFIERS = frozenset({"95", "93", "GT", "FQ"})


def validate_place_of_service(code: str) -> str:
    if code not in PLACES_OF_SERVICE:
        raise InvalidCode(f"unknown place of service {code!r}")
    return code
