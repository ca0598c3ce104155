"""Staff qualifications: the pure rules of credential renewals and training due dates.

A credential (license, DEA registration, board certification, CAQH attestation, exclusion screening, payer
enrollment) is renewed by recording a later expiry; one that reaches its expiry unrenewed lapses. A training
requirement is due when its latest record expires, or at once when the staff member never completed it.

Pure: no I/O. Messages name fields, never values.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, timedelta

from domain.enums import CredentialKind
from domain.errors import InvalidResolution

# ``credentials.status`` values this area writes: a renewed credential is active again, an unrenewed one at
# its expiry is expired (lapsed). "pending" and "revoked" are set by people; a revoked one is not tracked.
CREDENTIAL_ACTIVE = "active"
CREDENTIAL_LAPSED = "expired"
CREDENTIAL_REVOKED = "revoked"
CREDENTIAL_PENDING = "pending"

# A CAQH ProView profile must be re-attested every 120 days; the attestation item opens this long before.
CAQH_ATTESTATION_DAYS = 120
CAQH_LEAD_DAYS = 30
# A monthly exclusion screening's item opens a week before the screening lapses.
SCREENING_LEAD_DAYS = 7

# Work item reasons of a credential (domain.workitems.Reason values; kept as text so this module stays small).
REASON_EXPIRING = "credential_expiring"
REASON_EXPIRED = "credential_expired"
REASON_CAQH = "caqh_attestation_due"

# Audit actions.
CREDENTIAL_RENEWED = "credential.renewed"
CREDENTIAL_LAPSED_ACTION = "credential.lapsed"
TRAINING_COMPLETED = "training.completed"


def credential_item_key(credential_id: str, expires_on: date) -> str:
    """The dedupe key of the one ``credential_expiring`` item per credential and expiry.

    Shared by the credentialing workflow and the credential-expiry sweep, so whichever opens it first, the
    other finds the same item (the workflow adopts an item the sweep opened).
    """
    return f"credential-expiring:{credential_id}:{expires_on.isoformat()}"


def training_item_key(staff_id: str, requirement_id: str, due_on: date) -> str:
    return f"training-due:{staff_id}:{requirement_id}:{due_on.isoformat()}"


def _date_field(fields: Mapping[str, str], name: str) -> date:
    raw = fields.get(name, "")
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise InvalidResolution(f"{name} must be a date (YYYY-MM-DD)") from None


def renewed_expiry(fields: Mapping[str, str], current_expires_on: date) -> date:
    """The new expiry of a ``record_renewal`` resolution: it must be later than the current one."""
    new_expires_on = _date_field(fields, "new_expires_on")
    if new_expires_on <= current_expires_on:
        raise InvalidResolution("new_expires_on must be later than the credential's current expiry")
    return new_expires_on


def completion_date(fields: Mapping[str, str], last_completed_on: date | None, today: date) -> date:
    """The day of a ``record_completion`` resolution: not in the future, after the last completion."""
    completed_on = _date_field(fields, "completed_on")
    if completed_on > today:
        raise InvalidResolution("completed_on must not be in the future")
    if last_completed_on is not None and completed_on <= last_completed_on:
        raise InvalidResolution("completed_on must be later than the last recorded completion")
    return completed_on


def training_expiry(completed_on: date, renewal_days: int) -> date:
    return completed_on + timedelta(days=renewal_days)


def training_applies(requirement_roles: Iterable[str], role: str) -> bool:
    """A requirement with no roles applies to everyone."""
    roles = list(requirement_roles)
    return not roles or role in roles


@dataclass(frozen=True)
class TrainingStanding:
    due_on: date
    last_completed_on: date | None


def training_standing(records: Iterable[tuple[date, date]], hired_on: date) -> TrainingStanding:
    """Due when the latest record (completed_on, expires_on) expires; never completed: due from the hire date."""
    latest: tuple[date, date] | None = None
    for completed_on, expires_on in records:
        if latest is None or (expires_on, completed_on) > (latest[1], latest[0]):
            latest = (completed_on, expires_on)
    if latest is None:
        return TrainingStanding(due_on=hired_on, last_completed_on=None)
    return TrainingStanding(due_on=latest[1], last_completed_on=latest[0])


def is_caqh(kind: str) -> bool:
    return kind == CredentialKind.CAQH.value


def next_attestation_due(attested_on: date) -> date:
    """CAQH ProView: the next re-attestation is due 120 days after the last one."""
    return attested_on + timedelta(days=CAQH_ATTESTATION_DAYS)


def attested_expiry(fields: Mapping[str, str], current_expires_on: date, today: date) -> date:
    """The new due date of a ``record_attestation`` resolution: attested on a day not in the future, and so
    late that the next due date (120 days on) is later than the current one."""
    attested_on = _date_field(fields, "attested_on")
    if attested_on > today:
        raise InvalidResolution("attested_on must not be in the future")
    due = next_attestation_due(attested_on)
    if due <= current_expires_on:
        raise InvalidResolution("attested_on must be later than the last attestation (its next due date must move)")
    return due


def is_expired(expires_on: date, today: date) -> bool:
    """A credential is expired from the day after its expiry date."""
    return expires_on < today


def credential_item_reason(kind: str, expires_on: date, today: date) -> str:
    """The item a credential needs now: a CAQH attestation, an expired credential (escalated at once), or one
    that is about to expire."""
    if is_caqh(kind):
        return REASON_CAQH
    return REASON_EXPIRED if is_expired(expires_on, today) else REASON_EXPIRING


def credential_item_summary(kind: str, issuer: str, expires_on: date, today: date) -> str:
    verb = "expired" if is_expired(expires_on, today) else ("attestation due" if is_caqh(kind) else "expires")
    return f"{kind} ({issuer}) {verb} {expires_on.isoformat()}"


def credential_opening_level(expires_on: date, today: date) -> int:
    """An item for a credential that has already expired opens escalated (level 1), not as an upcoming one."""
    return 1 if is_expired(expires_on, today) else 0


def credential_lead_days(kind: str, default_lead_days: int, caqh_lead_days: int = CAQH_LEAD_DAYS) -> int:
    """How long before its expiry a credential's item opens (and it shows as expiring): a CAQH attestation
    ``caqh_lead_days`` before; a monthly exclusion screening a week before (it is renewed by the next screening,
    so a longer lead would ask about every screening right after it); anything else ``default_lead_days``."""
    if is_caqh(kind):
        return caqh_lead_days
    if kind == CredentialKind.EXCLUSION_SCREENING.value:
        return min(SCREENING_LEAD_DAYS, default_lead_days)
    return default_lead_days


def credential_state(status: str, expires_on: date | None, today: date, lead_days: int) -> str:
    """What a person sees: revoked, pending, expired, expiring (within its lead time), or active."""
    if status in (CREDENTIAL_REVOKED, CREDENTIAL_PENDING):
        return status
    if status == CREDENTIAL_LAPSED or (expires_on is not None and is_expired(expires_on, today)):
        return "expired"
    if expires_on is not None and (expires_on - today).days <= lead_days:
        return "expiring"
    return "active"
