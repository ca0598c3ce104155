"""Visits: the pure rules of an appointment's life, from booking to the encounter.

What a booking must satisfy (a known visit type, a sane length, not in the past, no double booking of the
provider), which status moves are legal, when the Visit workflow acts before a visit (eligibility N days before
and the day before, reminders 72 h and 24 h before, the no-show after a grace period), and how a virtual visit is
billed (place of service 10 at home, 02 elsewhere; modifier 95 for video, 93 for audio only).

Pure: no I/O, no clocks (callers pass ``now``). Messages name codes and ids, never a patient's data.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from domain.enums import AppointmentKind, AppointmentStatus
from domain.errors import DomainError, IllegalTransition, ValidationError
from domain.licensure import US_STATES, License, license_states, licensed_in

# What a practice books; the visit type travels as a code (FHIR Appointment.serviceType / HL7 SIU AIS-3).
VISIT_TYPES = frozenset(
    {
        "new_patient",
        "follow_up",
        "annual_wellness",
        "urgent",
        "procedure",
        "telehealth_follow_up",
        "telehealth_new_patient",
    }
)
MIN_DURATION_MINUTES = 5
MAX_DURATION_MINUTES = 480
# Why an appointment was cancelled: codes, never free text (a reason can be PHI).
CANCEL_REASONS = frozenset({"patient", "provider", "practice", "weather", "rescheduled_elsewhere", "other"})

# The patient's location during a virtual visit, as recorded at check-in.
PATIENT_AT_HOME = "home"
PATIENT_ELSEWHERE = "other"
PATIENT_LOCATIONS = frozenset({PATIENT_AT_HOME, PATIENT_ELSEWHERE})
CONSENT_METHODS = frozenset({"verbal", "electronic", "written"})

VIDEO_MODIFIER = "95"  # synchronous audio-video telehealth
AUDIO_ONLY_MODIFIER = "93"  # synchronous audio-only telehealth
POS_TELEHEALTH_HOME = "10"
POS_TELEHEALTH_OTHER = "02"


class DoubleBooking(DomainError):
    code = "double_booking"


class VisitInPast(ValidationError):
    code = "visit_in_past"


class NotLicensed(DomainError):
    code = "not_licensed"


class NoContact(ValidationError):
    """A virtual visit needs a phone or an e-mail address to send the join link to."""

    code = "no_contact"


# --- statuses ---------------------------------------------------------------------------------------------

_MOVES: dict[AppointmentStatus, frozenset[AppointmentStatus]] = {
    AppointmentStatus.BOOKED: frozenset(
        {AppointmentStatus.ARRIVED, AppointmentStatus.CANCELLED, AppointmentStatus.NOSHOW}
    ),
    AppointmentStatus.ARRIVED: frozenset({AppointmentStatus.FULFILLED, AppointmentStatus.CANCELLED}),
    # A patient marked no-show who turns up late after all is seen.
    AppointmentStatus.NOSHOW: frozenset({AppointmentStatus.ARRIVED}),
    AppointmentStatus.FULFILLED: frozenset(),
    AppointmentStatus.CANCELLED: frozenset(),
}


def can_move(current: str, target: str) -> bool:
    return AppointmentStatus(target) in _MOVES[AppointmentStatus(current)]


def check_move(appointment_id: str, current: str, target: str) -> None:
    if not can_move(current, target):
        raise IllegalTransition(f"appointment {appointment_id} is {current}; it cannot become {target}")


def is_open(status: str) -> bool:
    """Still ahead of the patient: booked (a reschedule or a cancellation may still come)."""
    return AppointmentStatus(status) == AppointmentStatus.BOOKED


# --- booking ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Slot:
    starts_at: datetime
    duration_minutes: int

    @property
    def ends_at(self) -> datetime:
        return self.starts_at + timedelta(minutes=self.duration_minutes)


def check_visit_type(visit_type: str) -> str:
    if visit_type not in VISIT_TYPES:
        raise ValidationError(f"unknown visit type {visit_type!r}; known: {', '.join(sorted(VISIT_TYPES))}")
    return visit_type


def check_kind(kind: str) -> AppointmentKind:
    try:
        return AppointmentKind(kind)
    except ValueError:
        known = ", ".join(k.value for k in AppointmentKind)
        raise ValidationError(f"unknown appointment kind {kind!r}; known: {known}") from None


def check_slot(slot: Slot, now: datetime) -> Slot:
    """A visit starts in the future (timezone-aware) and lasts a sane number of minutes."""
    if slot.starts_at.tzinfo is None:
        raise ValidationError("a visit's start needs a timezone (e.g. 2026-03-02T09:30:00-08:00)")
    if not MIN_DURATION_MINUTES <= slot.duration_minutes <= MAX_DURATION_MINUTES:
        raise ValidationError(
            f"a visit lasts {MIN_DURATION_MINUTES} to {MAX_DURATION_MINUTES} minutes, got {slot.duration_minutes}"
        )
    if slot.starts_at <= now:
        raise VisitInPast(f"a visit cannot be booked in the past (start {slot.starts_at.isoformat()})")
    return slot


def overlaps(a: Slot, b: Slot) -> bool:
    return a.starts_at < b.ends_at and b.starts_at < a.ends_at


def check_no_double_booking(provider_id: str, slot: Slot, booked: Iterable[tuple[str, Slot]]) -> None:
    """``booked``: the provider's other open appointments (id, slot). One overlapping refuses the booking."""
    for appointment_id, other in booked:
        if overlaps(slot, other):
            raise DoubleBooking(
                f"provider {provider_id} already has appointment {appointment_id} at "
                f"{other.starts_at.isoformat()} ({other.duration_minutes} min)"
            )


def check_cancel_reason(reason: str) -> str:
    if reason not in CANCEL_REASONS:
        raise ValidationError(f"unknown cancel reason {reason!r}; known: {', '.join(sorted(CANCEL_REASONS))}")
    return reason


def check_contact(kind: str, phone: str | None, email: str | None) -> None:
    """A virtual visit's join link goes by SMS or e-mail: one of them must be on file."""
    if check_kind(kind) == AppointmentKind.TELEHEALTH and not (phone or "").strip() and not (email or "").strip():
        raise NoContact("a virtual visit needs the patient's phone or e-mail to send the join link")


# --- what the Visit workflow does before a visit ---------------------------------------------------------


@dataclass(frozen=True)
class VisitStep:
    """One thing the workflow does at ``at`` (business time): ``kind`` is eligibility, eligibility_recheck,
    reminder (``detail`` = hours before) or no_show."""

    at: datetime
    kind: str
    detail: int = 0


ELIGIBILITY = "eligibility"
ELIGIBILITY_RECHECK = "eligibility_recheck"
REMINDER = "reminder"
NO_SHOW = "no_show"


def pre_visit_steps(
    starts_at: datetime,
    now: datetime,
    *,
    eligibility_days_before: int,
    reminder_hours: Iterable[int],
    no_show_grace_minutes: int,
) -> list[VisitStep]:
    """The steps still ahead, in time order. Eligibility is asked at once when booked inside its window; a
    reminder whose time has passed is skipped (a later one still goes); the day-before recheck is planned
    always (the workflow decides then whether it is needed)."""
    if eligibility_days_before < 1:
        raise ValidationError("eligibility is checked at least one day before the visit")
    steps: list[VisitStep] = []
    first_check = starts_at - timedelta(days=eligibility_days_before)
    steps.append(VisitStep(max(first_check, now), ELIGIBILITY))
    recheck = starts_at - timedelta(days=1)
    if recheck > now and recheck > first_check:
        steps.append(VisitStep(recheck, ELIGIBILITY_RECHECK))
    for hours in sorted(set(reminder_hours), reverse=True):
        at = starts_at - timedelta(hours=hours)
        if at > now:
            steps.append(VisitStep(at, REMINDER, hours))
    steps.append(VisitStep(starts_at + timedelta(minutes=no_show_grace_minutes), NO_SHOW))
    return sorted(steps, key=lambda step: (step.at, _ORDER[step.kind]))


_ORDER = {ELIGIBILITY: 0, ELIGIBILITY_RECHECK: 1, REMINDER: 2, NO_SHOW: 3}


def needs_recheck(last_status: str | None, coverage_changed: bool) -> bool:
    """The day before the visit, eligibility is asked again when the last answer was not a clear 'active'
    (unknown, inconclusive, inactive) or the coverage on file changed since it was asked."""
    return coverage_changed or last_status != "active"


def is_stale(checked_at: datetime | None, now: datetime, max_age: timedelta) -> bool:
    return checked_at is None or now - checked_at > max_age


SELF_PAY = "self_pay"  # no coverage in force on the visit day: nothing to ask a payer


def combined_eligibility(statuses: Iterable[str]) -> str:
    """A visit's answer from its coverages' answers: active when every one is, inactive when one is, else
    inconclusive; self_pay with no coverage (the Visit workflow and the nightly batch record this)."""
    answers = list(statuses)
    if not answers:
        return SELF_PAY
    if all(s == "active" for s in answers):
        return "active"
    return "inactive" if "inactive" in answers else "inconclusive"


def nightly_check_reason(
    last_status: str | None, checked_at: datetime | None, coverage_changed: bool, now: datetime, max_age: timedelta
) -> str | None:
    """Why the nightly batch asks about a visit of tomorrow again (None: it need not): the coverage on file changed
    since it was asked, it was never asked (unknown), the answer was not a clear 'active', or it is older than
    ``max_age`` (stale). A self-pay visit with unchanged coverage has nobody to ask."""
    if coverage_changed:
        return "coverage_changed"
    if last_status is None:
        return "unknown"
    if last_status == SELF_PAY:
        return None
    if last_status != "active":
        return last_status
    return "stale" if is_stale(checked_at, now, max_age) else None


# --- virtual visits: how they are billed -----------------------------------------------------------------


def check_patient_location(location: str) -> str:
    if location not in PATIENT_LOCATIONS:
        raise ValidationError(f"patient location must be one of: {', '.join(sorted(PATIENT_LOCATIONS))}")
    return location


def check_state(state: str) -> str:
    code = state.strip().upper()
    if code not in US_STATES:
        raise ValidationError(f"{state!r} is not a US state code")
    return code


def check_consent_method(method: str) -> str:
    if method not in CONSENT_METHODS:
        raise ValidationError(f"consent method must be one of: {', '.join(sorted(CONSENT_METHODS))}")
    return method


def telehealth_place_of_service(patient_location: str | None) -> str:
    """POS 10 when the patient was at home, 02 anywhere else (an unknown location is not 'home')."""
    return POS_TELEHEALTH_HOME if patient_location == PATIENT_AT_HOME else POS_TELEHEALTH_OTHER


def telehealth_modifier(audio_only: bool) -> str:
    return AUDIO_ONLY_MODIFIER if audio_only else VIDEO_MODIFIER


def visit_minutes(started_at: datetime | None, ended_at: datetime | None) -> int:
    """Whole minutes from the provider's start to the end, rounded up (a started minute counts); 0 if unknown."""
    if started_at is None or ended_at is None or ended_at <= started_at:
        return 0
    seconds = (ended_at - started_at).total_seconds()
    return int(-(-seconds // 60))


# --- interstate licensure (the rule is domain.licensure.licensed_in, kept by the credentialing area) ----------


def licensure_problem(provider_id: str, licenses: Iterable[License], patient_state: str, day: date) -> str | None:
    """None when the provider may see a patient in ``patient_state`` on ``day``; else why not (ids, states, dates).

    The one check of a virtual visit's provider: the VirtualVisit activity, its reassignment validator, the CLI and
    the console all call it."""
    held = list(licenses)
    if licensed_in(held, patient_state, day):
        return None
    states = ", ".join(license_states(held, day)) or "none"
    return (
        f"provider {provider_id} holds no active license in {patient_state.strip().upper()} on {day.isoformat()} "
        f"(active in: {states})"
    )


def check_licensed(provider_id: str, licenses: Iterable[License], patient_state: str, day: date) -> None:
    problem = licensure_problem(provider_id, licenses, patient_state, day)
    if problem is not None:
        raise NotLicensed(problem)
