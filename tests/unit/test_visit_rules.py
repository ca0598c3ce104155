"""The pure rules of visits, licensure and patient messages (domain.visits, domain.licensure, domain.messages)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from domain.errors import IllegalTransition, ValidationError
from domain.licensure import License
from domain.messages import (
    Template,
    check_template,
    is_opt_out_reply,
    recipients,
    render,
    to_e164,
    visit_time,
)
from domain.services.encounters import with_telehealth_modifier
from domain.visits import (
    ELIGIBILITY,
    ELIGIBILITY_RECHECK,
    NO_SHOW,
    REMINDER,
    DoubleBooking,
    NoContact,
    NotLicensed,
    Slot,
    VisitInPast,
    check_contact,
    check_licensed,
    check_move,
    check_no_double_booking,
    check_slot,
    licensure_problem,
    needs_recheck,
    pre_visit_steps,
    telehealth_modifier,
    telehealth_place_of_service,
    visit_minutes,
)

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def _steps(starts_at: datetime) -> list[tuple[str, int, datetime]]:
    steps = pre_visit_steps(
        starts_at, NOW, eligibility_days_before=3, reminder_hours=(72, 24), no_show_grace_minutes=15
    )
    return [(s.kind, s.detail, s.at) for s in steps]


def test_a_visit_a_week_out_gets_every_step_in_order() -> None:
    start = NOW + timedelta(days=7)
    assert _steps(start) == [
        (ELIGIBILITY, 0, start - timedelta(days=3)),
        (REMINDER, 72, start - timedelta(hours=72)),
        (ELIGIBILITY_RECHECK, 0, start - timedelta(days=1)),
        (REMINDER, 24, start - timedelta(hours=24)),
        (NO_SHOW, 0, start + timedelta(minutes=15)),
    ]


def test_a_visit_booked_two_days_out_checks_eligibility_now_and_skips_the_72h_reminder() -> None:
    start = NOW + timedelta(days=2)
    kinds = _steps(start)
    assert kinds[0] == (ELIGIBILITY, 0, NOW)
    assert (REMINDER, 72, start - timedelta(hours=72)) not in kinds
    assert (REMINDER, 24, start - timedelta(hours=24)) in kinds


def test_the_day_before_recheck_only_when_unknown_or_changed() -> None:
    assert not needs_recheck("active", coverage_changed=False)
    assert needs_recheck("active", coverage_changed=True)
    assert needs_recheck("inconclusive", coverage_changed=False)
    assert needs_recheck(None, coverage_changed=False)


def test_slots_in_the_past_or_without_a_zone_are_refused() -> None:
    with pytest.raises(VisitInPast):
        check_slot(Slot(NOW - timedelta(minutes=1), 20), NOW)
    with pytest.raises(ValidationError):
        check_slot(Slot(datetime(2026, 3, 2, 9, 0), 20), NOW)
    with pytest.raises(ValidationError):
        check_slot(Slot(NOW + timedelta(days=1), 0), NOW)
    assert check_slot(Slot(NOW + timedelta(days=1), 30), NOW).ends_at == NOW + timedelta(days=1, minutes=30)


def test_double_booking_is_any_overlap_but_back_to_back_is_fine() -> None:
    nine = NOW.replace(hour=9) + timedelta(days=1)
    booked = [("a1", Slot(nine, 30))]
    check_no_double_booking("p", Slot(nine + timedelta(minutes=30), 20), booked)
    check_no_double_booking("p", Slot(nine - timedelta(minutes=20), 20), booked)
    with pytest.raises(DoubleBooking, match="a1"):
        check_no_double_booking("p", Slot(nine + timedelta(minutes=29), 20), booked)


def test_status_moves() -> None:
    check_move("a", "booked", "arrived")
    check_move("a", "arrived", "fulfilled")
    check_move("a", "noshow", "arrived")
    with pytest.raises(IllegalTransition):
        check_move("a", "fulfilled", "cancelled")
    with pytest.raises(IllegalTransition):
        check_move("a", "cancelled", "booked")


def test_a_virtual_visit_needs_a_phone_or_an_email() -> None:
    check_contact("telehealth", "5035550100", None)
    check_contact("telehealth", "", "a@example.invalid")
    check_contact("in_person", "", None)
    with pytest.raises(NoContact):
        check_contact("telehealth", " ", None)


def test_place_of_service_and_modifier_follow_what_happened() -> None:
    assert telehealth_place_of_service("home") == "10"
    assert telehealth_place_of_service("other") == "02"
    assert telehealth_place_of_service(None) == "02"
    assert telehealth_modifier(audio_only=False) == "95"
    assert telehealth_modifier(audio_only=True) == "93"
    assert with_telehealth_modifier("99213", ("95",), "93") == ("93",)
    assert with_telehealth_modifier("99213", ("25",), "95") == ("25", "95")
    assert with_telehealth_modifier("36415", (), "95") == ()
    assert visit_minutes(NOW, NOW + timedelta(seconds=61)) == 2
    assert visit_minutes(None, NOW) == 0


def test_licensure_counts_only_licenses_in_force_in_the_patients_state() -> None:
    licenses = [
        License("OR", "active", date(2024, 1, 1), date(2027, 1, 1)),
        License("WA", "active", date(2024, 1, 1), date(2026, 2, 1)),  # lapsed before the visit
        License("CA", "revoked", date(2024, 1, 1), None),
    ]
    visit = date(2026, 3, 2)
    assert licensure_problem("prov-1", licenses, "OR", visit) is None
    assert "WA" in (licensure_problem("prov-1", licenses, "WA", visit) or "")
    with pytest.raises(NotLicensed, match="active in: OR"):
        check_licensed("prov-1", licenses, "CA", visit)


def test_templates_hold_only_first_name_time_and_place() -> None:
    with pytest.raises(ValidationError, match="birth_date"):
        check_template(Template("bad", "Hi", "Hi {first_name}, born {birth_date}"))
    rendered = render(
        "reminder",
        {"first_name": "Ada", "when": "Mon Mar 2 at 9:30 AM PST", "place": "Main St", "practice_phone": "555"},
    )
    assert "Ada" in rendered.body and "Main St" in rendered.body and "STOP" in rendered.body
    with pytest.raises(ValidationError):
        render("telehealth_invite", {"first_name": "Ada"})
    assert visit_time(datetime(2026, 3, 2, 17, 30, tzinfo=UTC), "America/Los_Angeles") == "Mon Mar 2 at 9:30 AM PST"


def test_opted_out_channels_are_skipped() -> None:
    chosen, skipped = recipients("5035550100", "a@example.invalid", {"sms"})
    assert [(r.channel, r.address) for r in chosen] == [("email", "a@example.invalid")]
    assert skipped == ["sms"]
    assert is_opt_out_reply(" stop ") and not is_opt_out_reply("stop please")
    assert to_e164("(503) 555-0100") == "+15035550100"
