"""Payer enrollment: whether a provider may bill a payer for a service on a day, and how an enrollment changes.

A provider is enrolled with a payer on a day when one of its enrollments with that payer covers the day:
``active`` from ``effective_from`` (to ``effective_to`` when set), ``terminated`` from ``effective_from`` to
``effective_to`` (services before a termination can still be billed); ``pending`` (applied, not approved)
covers nothing. The claim edit ``PROVIDER_NOT_ENROLLED`` (domain.claim_edits) asks :func:`enrolled_on`.

:func:`enrollment_change` is the one check of a change a person asks for (``carecycle staff enroll``):
pending -> active -> terminated; a terminated enrollment stays as it was and a new one is recorded instead.

Pure: no I/O. Messages name fields and statuses, never a person.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

from domain.errors import ValidationError

PENDING = "pending"
ACTIVE = "active"
TERMINATED = "terminated"
STATUSES = (PENDING, ACTIVE, TERMINATED)

# Audit actions.
ENROLLMENT_RECORDED = "enrollment.recorded"
ENROLLMENT_CHANGED = "enrollment.changed"


@dataclass(frozen=True)
class Enrollment:
    """One enrollment period of a provider with a payer (``payer_id``: the payer's clearinghouse id)."""

    payer_id: str
    status: str
    effective_from: date | None = None
    effective_to: date | None = None
    number: str = ""

    def covers(self, day: date) -> bool:
        return (
            self.status in (ACTIVE, TERMINATED)
            and self.effective_from is not None
            and self.effective_from <= day
            and (self.effective_to is None or day <= self.effective_to)
        )


def enrolled_on(enrollments: Iterable[Enrollment], payer_id: str, day: date) -> bool:
    """True when one of the provider's enrollments with ``payer_id`` covers ``day``."""
    return any(e.payer_id == payer_id and e.covers(day) for e in enrollments)


def enrollment_state(enrollment: Enrollment, today: date) -> str:
    """What a person sees: pending, active, not_yet_effective, ended (an active one past its end), terminated."""
    if enrollment.status == ACTIVE:
        if enrollment.effective_from is not None and today < enrollment.effective_from:
            return "not_yet_effective"
        if enrollment.effective_to is not None and today > enrollment.effective_to:
            return "ended"
    return enrollment.status


@dataclass(frozen=True)
class EnrollmentChange:
    """What to write: ``new_row`` True records a new enrollment, else the current one is updated."""

    new_row: bool
    enrollment: Enrollment


def enrollment_change(
    current: Enrollment | None,
    *,
    payer_id: str,
    status: str,
    effective_from: date | None = None,
    effective_to: date | None = None,
    number: str | None = None,
) -> EnrollmentChange:
    """Check the change a person asks for against the current enrollment (None or terminated: a new one)."""
    if status not in STATUSES:
        raise ValidationError(f"enrollment status must be one of: {', '.join(STATUSES)}")
    if current is not None and current.status == TERMINATED:
        current = None
    if current is None:
        if status == TERMINATED:
            raise ValidationError("there is no current enrollment with this payer to terminate")
        base = Enrollment(payer_id=payer_id, status=status)
    else:
        if current.status == ACTIVE and status == PENDING:
            raise ValidationError("an active enrollment cannot go back to pending (terminate it, then enroll again)")
        if current.status == PENDING and status == TERMINATED:
            raise ValidationError("a pending enrollment was never active: record it active first, or leave it")
        base = current
    result = Enrollment(
        payer_id=payer_id,
        status=status,
        effective_from=effective_from if effective_from is not None else base.effective_from,
        effective_to=effective_to if effective_to is not None else base.effective_to,
        number=(number if number is not None else base.number).strip()[:40],
    )
    if status in (ACTIVE, TERMINATED) and result.effective_from is None:
        raise ValidationError(f"an {status} enrollment needs its effective date (--from YYYY-MM-DD)")
    if status == TERMINATED and result.effective_to is None:
        raise ValidationError("a terminated enrollment needs its last day (--to YYYY-MM-DD)")
    if result.effective_from and result.effective_to and result.effective_to < result.effective_from:
        raise ValidationError("the enrollment's last day (--to) is before its effective date (--from)")
    return EnrollmentChange(new_row=current is None, enrollment=result)


__all__ = [
    "ACTIVE",
    "ENROLLMENT_CHANGED",
    "ENROLLMENT_RECORDED",
    "PENDING",
    "STATUSES",
    "TERMINATED",
    "Enrollment",
    "EnrollmentChange",
    "enrolled_on",
    "enrollment_change",
    "enrollment_state",
]
