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

from domain.errors import InvalidResolution

# ``credentials.status`` values this area writes: a renewed credential is active again, an unrenewed one at
# its expiry is expired (lapsed). "pending" and "revoked" are set by people; a revoked one is not tracked.
CREDENTIAL_ACTIVE = "active"
CREDENTIAL_LAPSED = "expired"
CREDENTIAL_REVOKED = "revoked"

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
