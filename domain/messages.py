"""Messages to patients: the templates, what they may say, and on which channels they go.

A template may hold no PHI beyond the patient's first name, the visit's time and its place (plus the join link of a
virtual visit and the practice's phone number): :func:`render` refuses any other placeholder, so a template can
never grow a birth date or a diagnosis. A patient who opted out of a channel gets nothing on it.

Pure: no I/O.
"""

from __future__ import annotations

import string
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from domain.errors import ValidationError

SMS = "sms"
EMAIL = "email"

ALLOWED_PLACEHOLDERS = frozenset({"first_name", "when", "place", "link", "practice_phone"})

REMINDER = "reminder"
TELEHEALTH_INVITE = "telehealth_invite"
CANCELLATION = "cancellation"


@dataclass(frozen=True)
class Template:
    code: str
    subject: str
    text: str


TEMPLATES: Mapping[str, Template] = {
    REMINDER: Template(
        REMINDER,
        "Your upcoming visit",
        "Hi {first_name}, this is a reminder of your visit on {when} at {place}. "
        "To change it, call {practice_phone}. Reply STOP to opt out.",
    ),
    TELEHEALTH_INVITE: Template(
        TELEHEALTH_INVITE,
        "Your video visit",
        "Hi {first_name}, your video visit is on {when}. Join here: {link} "
        "To change it, call {practice_phone}. Reply STOP to opt out.",
    ),
    CANCELLATION: Template(
        CANCELLATION,
        "Your visit was cancelled",
        "Hi {first_name}, your visit on {when} at {place} was cancelled. Call {practice_phone} to book again.",
    ),
}


def placeholders(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name is not None}


def check_template(template: Template) -> Template:
    """Refuse a template that could carry more than the first name, the time and the place."""
    extra = (placeholders(template.text) | placeholders(template.subject)) - ALLOWED_PLACEHOLDERS
    if extra:
        allowed = ", ".join(sorted(ALLOWED_PLACEHOLDERS))
        raise ValidationError(f"template {template.code} uses {', '.join(sorted(extra))}; allowed: {allowed}")
    return template


def template(code: str) -> Template:
    try:
        return check_template(TEMPLATES[code])
    except KeyError:
        raise ValidationError(f"unknown message template {code!r}") from None


def visit_time(starts_at: datetime, timezone: str) -> str:
    """How a patient reads the time: the practice's local time, e.g. 'Tue Mar 3 at 9:30 AM PST'."""
    try:
        zone = ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValidationError(f"unknown time zone {timezone!r}") from None
    local = starts_at.astimezone(zone)
    return f"{local:%a %b} {local.day} at {local:%I:%M %p %Z}".replace(" at 0", " at ")


@dataclass(frozen=True)
class Rendered:
    subject: str
    body: str


def render(code: str, values: Mapping[str, str]) -> Rendered:
    chosen = template(code)
    missing = (placeholders(chosen.text) | placeholders(chosen.subject)) - set(values)
    if missing:
        raise ValidationError(f"template {code} needs {', '.join(sorted(missing))}")
    allowed = {k: v for k, v in values.items() if k in ALLOWED_PLACEHOLDERS}
    return Rendered(chosen.subject.format(**allowed), chosen.text.format(**allowed))


@dataclass(frozen=True)
class Recipient:
    channel: str
    address: str


def recipients(phone: str | None, email: str | None, opted_out: Iterable[str]) -> tuple[list[Recipient], list[str]]:
    """Where a message goes (SMS to the phone, e-mail to the address) and which channels were skipped because
    the patient opted out of them."""
    skipped = set(opted_out)
    chosen: list[Recipient] = []
    suppressed: list[str] = []
    for channel, address in ((SMS, phone), (EMAIL, email)):
        if not (address or "").strip():
            continue
        if channel in skipped:
            suppressed.append(channel)
            continue
        chosen.append(Recipient(channel, address.strip() if address else ""))
    return chosen, suppressed


# Words that, as the whole text of an SMS reply, opt the sender out (the carriers' standard list).
STOP_WORDS = frozenset({"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT"})


def is_opt_out_reply(text: str) -> bool:
    return text.strip().upper() in STOP_WORDS


def to_e164(phone: str) -> str:
    """A US phone number as E.164 (+1NXXNXXXXXX), the form SMS providers take."""
    digits = "".join(ch for ch in phone if ch.isdigit())
    if len(digits) == 11 and digits.startswith("1"):
        digits = digits[1:]
    if len(digits) != 10:
        raise ValidationError("a phone number needs 10 digits")
    return f"+1{digits}"
