"""The interstate-licensure rule (domain.licensure): an active license of the patient's state on the visit day."""

from __future__ import annotations

from datetime import date

from domain.licensure import License, license_states, licensed_in, normalize_state, state_of_issuer

DAY = date(2026, 6, 15)


def _license(state: str = "WA", status: str = "active", **dates: date | None) -> License:
    return License(
        state=state,
        status=status,
        issued_on=dates.get("issued_on") or date(2025, 1, 1),
        expires_on=dates.get("expires_on", date(2027, 1, 1)),
    )


def test_an_active_license_of_the_state_on_the_day_counts() -> None:
    assert licensed_in([_license("OR"), _license("WA")], "WA", DAY)
    assert licensed_in([_license("WA")], " wa ", DAY)


def test_another_state_does_not_count() -> None:
    assert not licensed_in([_license("OR")], "WA", DAY)
    assert not licensed_in([], "WA", DAY)


def test_dates_bound_the_license() -> None:
    assert not licensed_in([_license(issued_on=date(2026, 7, 1))], "WA", DAY)
    assert not licensed_in([_license(expires_on=date(2026, 6, 14))], "WA", DAY)
    assert licensed_in([_license(expires_on=DAY)], "WA", DAY)  # the last day still counts
    assert licensed_in([_license(expires_on=None)], "WA", DAY)


def test_pending_and_revoked_never_count_a_lapsed_one_counts_inside_its_dates() -> None:
    assert not licensed_in([_license(status="pending")], "WA", DAY)
    assert not licensed_in([_license(status="revoked")], "WA", DAY)
    lapsed = _license(status="expired", expires_on=date(2026, 6, 30))
    assert licensed_in([lapsed], "WA", DAY)
    assert not licensed_in([lapsed], "WA", date(2026, 7, 1))


def test_a_state_that_is_no_state_is_never_licensed() -> None:
    assert normalize_state("XX") == ""
    assert not licensed_in([License(state="", status="active", issued_on=date(2020, 1, 1))], "", DAY)


def test_license_states_and_issuer_states() -> None:
    licenses = [_license("WA"), _license("OR"), _license("CA", status="revoked"), _license("ID", expires_on=DAY)]
    assert license_states(licenses, DAY) == ["ID", "OR", "WA"]
    assert state_of_issuer("OR Medical Board") == "OR"
    assert state_of_issuer("DEA") == ""
    assert state_of_issuer("Medical Board of California") == ""
