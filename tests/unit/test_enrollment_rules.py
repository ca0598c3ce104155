"""Payer enrollment (domain.enrollment) and the provider claim edits PROVIDER_NOT_ENROLLED / PROVIDER_EXCLUDED."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import pytest

from domain.claim_edits import ProviderStanding, ScrubContext, scrub
from domain.enrollment import Enrollment, enrolled_on, enrollment_change, enrollment_state
from domain.errors import ValidationError
from domain.exclusions import ExclusionPeriod
from tests.unit.x12.helpers import PAYER, self_claim

DOS = date(2026, 1, 6)  # self_claim's date of service
PAYER_ID = PAYER.payer_id
ACTIVE = Enrollment(PAYER_ID, "active", date(2025, 1, 1))


def _codes(standing: ProviderStanding | None, **claim_changes: object) -> list[str]:
    claim = replace(self_claim(), **claim_changes)  # type: ignore[arg-type]
    return [f.code for f in scrub(claim, ScrubContext(today=date(2026, 2, 1), provider=standing))]


def test_an_active_or_terminated_enrollment_covers_its_dates_pending_covers_nothing() -> None:
    assert enrolled_on([ACTIVE], PAYER_ID, DOS)
    assert not enrolled_on([ACTIVE], "OTHER", DOS)
    assert not enrolled_on([replace(ACTIVE, effective_from=date(2026, 1, 7))], PAYER_ID, DOS)
    terminated = Enrollment(PAYER_ID, "terminated", date(2025, 1, 1), date(2026, 1, 5))
    assert enrolled_on([terminated], PAYER_ID, date(2026, 1, 5))
    assert not enrolled_on([terminated], PAYER_ID, DOS)
    assert not enrolled_on([Enrollment(PAYER_ID, "pending", date(2025, 1, 1))], PAYER_ID, DOS)
    assert enrolled_on([terminated, Enrollment(PAYER_ID, "active", DOS)], PAYER_ID, DOS)  # re-enrolled


def test_enrollment_state_for_people() -> None:
    assert enrollment_state(ACTIVE, DOS) == "active"
    assert enrollment_state(replace(ACTIVE, effective_from=date(2026, 2, 1)), DOS) == "not_yet_effective"
    assert enrollment_state(replace(ACTIVE, effective_to=date(2026, 1, 1)), DOS) == "ended"
    assert enrollment_state(Enrollment(PAYER_ID, "pending"), DOS) == "pending"


def test_enrollment_changes_follow_pending_active_terminated() -> None:
    first = enrollment_change(None, payer_id=PAYER_ID, status="pending", number=" N1 ")
    assert first.new_row and first.enrollment == Enrollment(PAYER_ID, "pending", number="N1")
    approved = enrollment_change(first.enrollment, payer_id=PAYER_ID, status="active", effective_from=DOS)
    assert not approved.new_row and approved.enrollment.effective_from == DOS and approved.enrollment.number == "N1"
    ended = enrollment_change(approved.enrollment, payer_id=PAYER_ID, status="terminated", effective_to=DOS)
    assert ended.enrollment.status == "terminated" and ended.enrollment.effective_to == DOS
    again = enrollment_change(ended.enrollment, payer_id=PAYER_ID, status="active", effective_from=date(2026, 3, 1))
    assert again.new_row and again.enrollment.effective_to is None


@pytest.mark.parametrize(
    ("current", "changes", "message"),
    [
        (None, {"status": "terminated", "effective_to": DOS}, "no current enrollment"),
        (None, {"status": "active"}, "needs its effective date"),
        (ACTIVE, {"status": "pending"}, "cannot go back to pending"),
        (ACTIVE, {"status": "terminated"}, "needs its last day"),
        (ACTIVE, {"status": "terminated", "effective_to": date(2024, 1, 1)}, "before its effective date"),
        (Enrollment(PAYER_ID, "pending"), {"status": "terminated", "effective_to": DOS}, "never active"),
        (None, {"status": "approved"}, "must be one of"),
    ],
)
def test_an_impossible_change_is_refused(current: Enrollment | None, changes: dict[str, object], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        enrollment_change(current, payer_id=PAYER_ID, **changes)  # type: ignore[arg-type]


def test_not_enrolled_on_the_date_of_service_stops_the_claim() -> None:
    assert _codes(ProviderStanding(enrollments=(ACTIVE,))) == []
    assert _codes(ProviderStanding()) == ["PROVIDER_NOT_ENROLLED"]
    pending = ProviderStanding(enrollments=(Enrollment(PAYER_ID, "pending", date(2025, 1, 1)),))
    assert _codes(pending) == ["PROVIDER_NOT_ENROLLED"]
    assert _codes(ProviderStanding(enrollment_required=False)) == []
    assert _codes(None) == []  # no standing at hand: the provider edits are not run
    failure = scrub(self_claim(), ScrubContext(today=date(2026, 2, 1), provider=ProviderStanding()))[0]
    assert PAYER_ID in failure.message and "2026-01-06" in failure.message and "staff enroll" in failure.fix_hint


def test_an_exclusion_stops_the_claim_from_its_date() -> None:
    def period(**changes: object) -> ProviderStanding:
        base = ExclusionPeriod("OIG", "name_dob", "open", date(2026, 1, 1))
        return ProviderStanding(exclusions=(replace(base, **changes),), enrollments=(ACTIVE,))  # type: ignore[arg-type]

    assert _codes(period()) == ["PROVIDER_EXCLUDED"]
    assert _codes(period(excluded_on=date(2026, 1, 7))) == []  # excluded after the service
    assert _codes(period(reinstated_on=date(2026, 1, 6))) == []  # reinstated by then
    assert _codes(period(status="cleared")) == []  # a person found it is not this provider
    assert _codes(period(basis="name")) == []  # a possible match blocks only once confirmed
    assert _codes(period(basis="name", status="confirmed")) == ["PROVIDER_EXCLUDED"]
    assert _codes(period(), frequency_code="8", original_claim_number="PCN1") == []  # a void is never stopped
    failure = scrub(self_claim(), ScrubContext(today=date(2026, 2, 1), provider=period()))[0]
    assert failure.message == (
        "rendering provider 1245319599 is on the OIG exclusion list from 2026-01-01 (date of service 2026-01-06)"
    )
