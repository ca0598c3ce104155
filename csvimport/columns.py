"""The CSV column layouts of `carecycle import` (kept apart from the readers so the CLI's help stays light)."""

from __future__ import annotations

from dataclasses import dataclass

DEFAULT_MRN_SYSTEM = "urn:carecycle:mrn"
DEFAULT_APPOINTMENT_SYSTEM = "urn:carecycle:appointment"


@dataclass(frozen=True)
class Column:
    name: str
    required: bool
    meaning: str  # for the documentation and `carecycle import --help`


COVERAGE_COLUMNS = (
    Column("payer_id", False, "the payer's X12 payer id (as in `carecycle` payers), e.g. SBXBM"),
    Column("member_id", False, "the member id on the insurance card (required with payer_id)"),
    Column("group_number", False, "the group number"),
    Column("rank", False, "primary (default), secondary or tertiary"),
    Column("relationship", False, "the patient to the subscriber: self (default), spouse, child, other"),
    Column("effective_from", False, "YYYY-MM-DD (default: today)"),
    Column("effective_to", False, "YYYY-MM-DD, empty while in force"),
    Column("subscriber_first_name", False, "when the patient is not the subscriber"),
    Column("subscriber_last_name", False, "when the patient is not the subscriber"),
    Column("subscriber_birth_date", False, "YYYY-MM-DD, when the patient is not the subscriber"),
)

LAYOUTS: dict[str, tuple[Column, ...]] = {
    "patients": (
        Column("mrn", True, "the practice's medical record number (keys the patient: a re-run updates it)"),
        Column("first_name", True, "given name"),
        Column("last_name", True, "family name"),
        Column("birth_date", True, "YYYY-MM-DD"),
        Column("sex", True, "F, M or U"),
        Column("address_line", False, "street address"),
        Column("city", False, "city"),
        Column("state", True, "two-letter state code"),
        Column("postal_code", False, "ZIP code"),
        Column("phone", False, "digits"),
        Column("email", False, "e-mail address"),
        *COVERAGE_COLUMNS,
    ),
    "coverages": (
        Column("mrn", True, "the patient's MRN (imported before)"),
        *(Column(c.name, c.name in ("payer_id", "member_id"), c.meaning) for c in COVERAGE_COLUMNS),
        Column("active", False, "yes (default) or no: no ends the coverage"),
    ),
    "appointments": (
        Column("appointment_id", True, "the scheduling system's appointment id (keys it: a re-run updates it)"),
        Column("mrn", True, "the patient's MRN (imported before)"),
        Column("provider_npi", True, "the rendering provider's NPI"),
        Column("starts_at", True, "ISO 8601, e.g. 2026-03-02T09:00:00-06:00 (no offset: --timezone)"),
        Column("duration_minutes", False, "whole minutes (default 20)"),
        Column("kind", False, "in_person (default) or telehealth"),
        Column("status", False, "booked (default) or cancelled"),
    ),
}
