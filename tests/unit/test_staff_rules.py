"""domain.staff and the staff work-item actions: a renewal must move the expiry later, a completion must be
neither in the future nor before the last one, the training due date, and the typed resolutions."""

from __future__ import annotations

from datetime import date

import pytest

from domain.errors import InvalidResolution
from domain.staff import (
    completion_date,
    credential_item_key,
    renewed_expiry,
    training_applies,
    training_standing,
)
from domain.workitems import Resolution, allowed_actions, queue_of, validate_resolution

D = date(2026, 3, 2)


def test_a_renewal_must_be_later_than_the_current_expiry() -> None:
    assert renewed_expiry({"new_expires_on": "2028-03-02"}, D) == date(2028, 3, 2)
    for bad in ("2026-03-02", "2026-01-01", "soon", ""):
        with pytest.raises(InvalidResolution):
            renewed_expiry({"new_expires_on": bad}, D)


def test_a_completion_is_not_in_the_future_and_after_the_last_one() -> None:
    assert completion_date({"completed_on": "2026-03-01"}, date(2025, 3, 1), D) == date(2026, 3, 1)
    assert completion_date({"completed_on": "2026-03-02"}, None, D) == D
    with pytest.raises(InvalidResolution, match="future"):
        completion_date({"completed_on": "2026-03-03"}, None, D)
    with pytest.raises(InvalidResolution, match="later"):
        completion_date({"completed_on": "2025-03-01"}, date(2025, 3, 1), D)


def test_training_is_due_when_the_latest_record_expires_or_from_the_hire_date() -> None:
    hired = date(2024, 1, 8)
    assert training_standing([], hired).due_on == hired
    standing = training_standing([(date(2024, 2, 1), date(2025, 2, 1)), (date(2025, 1, 20), date(2026, 1, 20))], hired)
    assert (standing.due_on, standing.last_completed_on) == (date(2026, 1, 20), date(2025, 1, 20))
    assert training_applies([], "biller") and training_applies(["nurse"], "nurse")
    assert not training_applies(["physician"], "nurse")


def test_the_sweep_and_the_workflow_share_one_item_key() -> None:
    assert credential_item_key("c-1", D) == "credential-expiring:c-1:2026-03-02"


def test_staff_reasons_and_their_typed_resolutions() -> None:
    assert "record_renewal" in allowed_actions("credential_expiring")
    assert "record_completion" in allowed_actions("training_due")
    assert str(queue_of("training_due")) == "credentialing"
    ok = Resolution(action="record_renewal", by="cred", fields={"new_expires_on": "2028-01-31", "number": "MD2"})
    assert validate_resolution("credential_expiring", ok) == ok
    for fields in ({}, {"new_expires_on": "31/01/2028"}, {"new_expires_on": "2028-01-31", "colour": "x"}):
        with pytest.raises(InvalidResolution):
            validate_resolution("credential_expiring", Resolution(action="record_renewal", by="cred", fields=fields))
    with pytest.raises(InvalidResolution, match="not allowed"):
        validate_resolution(
            "training_due", Resolution(action="record_renewal", by="hr", fields={"new_expires_on": "2028-01-31"})
        )
    with pytest.raises(InvalidResolution, match="completed_on must be a date"):
        validate_resolution(
            "training_due", Resolution(action="record_completion", by="hr", fields={"completed_on": "yesterday"})
        )


def test_the_business_clock_maps_dates_onto_workflow_time_compressed_or_not() -> None:
    from datetime import UTC, datetime, timedelta

    from activities.contracts.staff import BusinessClock

    start = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
    real = BusinessClock(origin_at=start, origin_day="2026-03-02", day_seconds=86400)
    assert real.at(date(2026, 3, 12)) == start + timedelta(days=10)
    assert real.today(start + timedelta(days=10, hours=1)) == date(2026, 3, 12)
    demo = BusinessClock(origin_at=start, origin_day="2026-03-02", day_seconds=6)  # a day in six seconds
    assert demo.at(date(2027, 3, 2)) == start + timedelta(seconds=365 * 6)
    assert demo.today(start + timedelta(seconds=61)) == date(2026, 3, 12)


def test_expired_credentials_are_shown_and_escalated_as_expired() -> None:
    from domain.staff import credential_item_reason, credential_item_summary, credential_opening_level

    today = date(2026, 3, 2)
    assert credential_item_reason("state_license", date(2026, 3, 1), today) == "credential_expired"
    assert credential_item_reason("state_license", today, today) == "credential_expiring"  # the last valid day
    assert credential_item_reason("caqh", date(2026, 3, 1), today) == "caqh_attestation_due"
    assert credential_item_summary("dea", "DEA", date(2026, 3, 1), today) == "dea (DEA) expired 2026-03-01"
    assert credential_item_summary("dea", "DEA", date(2026, 4, 1), today) == "dea (DEA) expires 2026-04-01"
    assert credential_item_summary("caqh", "CAQH", date(2026, 4, 1), today) == "caqh (CAQH) attestation due 2026-04-01"
    assert (credential_opening_level(date(2026, 3, 1), today), credential_opening_level(today, today)) == (1, 0)


def test_caqh_is_reattested_every_120_days() -> None:
    from domain.staff import attested_expiry, credential_lead_days, next_attestation_due

    today = date(2026, 3, 2)
    assert next_attestation_due(date(2026, 3, 1)) == date(2026, 6, 29)
    assert attested_expiry({"attested_on": "2026-03-01"}, date(2026, 3, 20), today) == date(2026, 6, 29)
    with pytest.raises(InvalidResolution, match="future"):
        attested_expiry({"attested_on": "2026-03-03"}, date(2026, 3, 20), today)
    with pytest.raises(InvalidResolution, match="later than the last attestation"):
        attested_expiry({"attested_on": "2025-11-20"}, date(2026, 3, 20), today)
    with pytest.raises(InvalidResolution, match="attested_on must be a date"):
        attested_expiry({}, date(2026, 3, 20), today)
    assert credential_lead_days("caqh", 90) == 30 and credential_lead_days("dea", 90) == 90
    assert credential_lead_days("exclusion_screening", 90) == 7
    ok = Resolution(action="record_attestation", by="cred", fields={"attested_on": "2026-03-01"})
    assert validate_resolution("caqh_attestation_due", ok) == ok
    with pytest.raises(InvalidResolution, match="not allowed"):
        validate_resolution("credential_expiring", ok)


def test_credential_states_for_people() -> None:
    from domain.staff import credential_state

    today = date(2026, 3, 2)
    assert credential_state("active", date(2027, 1, 1), today, 90) == "active"
    assert credential_state("active", date(2026, 5, 1), today, 90) == "expiring"
    assert credential_state("active", date(2026, 3, 1), today, 90) == "expired"  # not yet marked lapsed
    assert credential_state("expired", date(2026, 3, 1), today, 90) == "expired"
    assert credential_state("pending", None, today, 90) == "pending"
    assert credential_state("revoked", date(2027, 1, 1), today, 90) == "revoked"
    assert credential_state("active", None, today, 90) == "active"


def test_exclusion_decisions_need_a_note() -> None:
    for action in ("confirm_exclusion", "clear_exclusion"):
        with pytest.raises(InvalidResolution, match="needs a note"):
            validate_resolution("exclusion_match", Resolution(action=action, by="cred"))
        ok = Resolution(action=action, by="cred", note="compared the NPI")
        assert validate_resolution("exclusion_match", ok) == ok
    with pytest.raises(InvalidResolution, match="not allowed"):
        validate_resolution("exclusion_match", Resolution(action="complete", by="cred"))
