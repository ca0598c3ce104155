"""The claim edits: each one fires on the fault it names and stays quiet on a clean claim."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import pytest

from domain.catalog import DIAGNOSES
from domain.claim_edits import ClaimFingerprint, EditFailure, ScrubContext, fingerprint, icd10_subset, scrub
from domain.codes import make_npi
from domain.x12.claim837 import ProfessionalClaim, ServiceLine
from tests.unit.x12.helpers import RENDERING, dependent_secondary_claim, self_claim

TODAY = date(2026, 2, 1)
CONTEXT = ScrubContext(today=TODAY, timely_filing_days=90)


def _codes(claim: ProfessionalClaim, context: ScrubContext = CONTEXT) -> list[str]:
    return [f.code for f in scrub(claim, context)]


def _with_line(claim: ProfessionalClaim, **changes: object) -> ProfessionalClaim:
    line = replace(claim.lines[0], **changes)  # type: ignore[arg-type]
    lines = (line, *claim.lines[1:])
    return replace(claim, lines=lines, total_charge_cents=sum(x.charge_cents for x in lines))


def test_clean_claims_pass() -> None:
    assert scrub(self_claim(), CONTEXT) == []
    assert scrub(dependent_secondary_claim(), CONTEXT) == [
        EditFailure(
            "SUB_BIRTH_DATE",
            "subscriber birth date is missing (the patient is not the subscriber)",
            "enter the subscriber's birth date on the coverage",
        )
    ]


def test_every_failure_has_code_message_and_fix_hint() -> None:
    broken = replace(self_claim(), diagnoses=("11X",), place_of_service="99")
    failures = scrub(broken, CONTEXT)
    assert failures and all(f.code and f.message and f.fix_hint for f in failures)


def test_npi_check_digit() -> None:
    claim = self_claim()
    bad = replace(claim, billing_provider=replace(claim.billing_provider, npi="1234567890"))
    assert "NPI_BILLING" in _codes(bad)
    assert "NPI_RENDERING" in _codes(replace(claim, rendering_provider=replace(RENDERING, npi="1245319590")))
    good = replace(claim, billing_provider=replace(claim.billing_provider, npi=make_npi("123456789")))
    assert "NPI_BILLING" not in _codes(good)


def test_icd10_format_and_subset() -> None:
    assert set(DIAGNOSES) <= icd10_subset()
    assert len(icd10_subset()) > 300
    assert "DX_FORMAT" in _codes(replace(self_claim(), diagnoses=("E11.9XYZW", "I10")))  # at most 7 characters
    assert "DX_FORMAT" in _codes(replace(self_claim(), diagnoses=("U7", "I10")))
    assert "DX_UNKNOWN" in _codes(replace(self_claim(), diagnoses=("Q8789", "I10")))
    assert "DX_MISSING" in _codes(replace(self_claim(), diagnoses=()))
    assert "DX_REPEATED" in _codes(replace(self_claim(), diagnoses=("I10", "I10")))


def test_hcpcs_modifier_and_units() -> None:
    assert "PX_FORMAT" in _codes(_with_line(self_claim(), procedure="9921"))
    assert "PX_FORMAT" not in _codes(_with_line(self_claim(), procedure="G0439"))
    assert "MOD_FORMAT" in _codes(_with_line(self_claim(), modifiers=("2",)))
    assert "MOD_TOO_MANY" in _codes(_with_line(self_claim(), modifiers=("25", "59", "76", "77", "GT")))


def test_diagnosis_pointers() -> None:
    assert "PTR_RANGE" in _codes(_with_line(self_claim(), diagnosis_pointers=(3,)))
    assert "PTR_MISSING" in _codes(_with_line(self_claim(), diagnosis_pointers=()))
    assert "PTR_REPEATED" in _codes(_with_line(self_claim(), diagnosis_pointers=(1, 1)))
    assert "PTR_TOO_MANY" in _codes(_with_line(self_claim(), diagnosis_pointers=(1, 2, 1, 2, 1)))


def test_telehealth_place_of_service_and_modifiers() -> None:
    assert "TELEHEALTH_MODIFIER" in _codes(self_claim(pos="10"))
    assert "TELEHEALTH_MODIFIER" in _codes(self_claim(pos="02"))
    assert _codes(self_claim(pos="10", modifiers=("95",))) == []
    assert _codes(self_claim(pos="02", modifiers=("93",))) == []
    assert "OFFICE_MODIFIER_95" in _codes(self_claim(pos="11", modifiers=("95",)))
    assert "POS_UNKNOWN" in _codes(self_claim(pos="99"))
    # Non-E/M lines (venipuncture) on a telehealth claim need no 95.
    codes = _codes(self_claim(pos="10", modifiers=("95",)))
    assert "TELEHEALTH_MODIFIER" not in codes


def test_dates_future_and_timely_filing() -> None:
    future = _with_line(self_claim(), service_date=date(2026, 2, 2))
    assert "DOS_FUTURE" in _codes(future)
    old = replace(
        self_claim(), lines=tuple(replace(line, service_date=date(2025, 10, 1)) for line in self_claim().lines)
    )
    assert "TIMELY_FILING" in _codes(old)
    assert "TIMELY_FILING" not in _codes(old, replace(CONTEXT, timely_filing_days=365))
    assert "DOS_MISSING" in _codes(_with_line(self_claim(), service_date=None))


def test_required_subscriber_data() -> None:
    claim = self_claim()
    assert "SUB_MEMBER_ID" in _codes(replace(claim, subscriber=replace(claim.subscriber, member_id=" ")))
    nameless = replace(claim.subscriber, person=replace(claim.subscriber.person, first_name=""))
    assert "SUB_NAME" in _codes(replace(claim, subscriber=nameless))
    dependent = dependent_secondary_claim()
    assert "PATIENT_MISSING" in _codes(replace(dependent, patient=None))


def test_frequency_and_charges() -> None:
    assert "ORIGINAL_CLAIM_NUMBER" in _codes(replace(self_claim(), frequency_code="8"))
    assert "CHARGE_TOTAL" in _codes(replace(self_claim(), total_charge_cents=1))
    lines = (ServiceLine("99213", 0, 1, (), (1,), date(2026, 1, 6)),)
    assert "CHARGE_ZERO" in _codes(replace(self_claim(), lines=lines, total_charge_cents=0))


@pytest.mark.parametrize(("same_patient", "expected"), [(True, True), (False, False)])
def test_duplicates(same_patient: bool, expected: bool) -> None:
    claim = self_claim("new")
    mine = fingerprint(claim, "patient-1")
    other = ClaimFingerprint("old", "patient-1" if same_patient else "patient-2", mine.service_dates, mine.procedures)
    context = replace(CONTEXT, open_claims=[other, mine], self_fingerprint=mine)
    assert ("DUPLICATE" in _codes(claim, context)) is expected
    different = replace(other, procedures=frozenset({"99214"}))
    assert "DUPLICATE" not in _codes(claim, replace(context, open_claims=[different]))
