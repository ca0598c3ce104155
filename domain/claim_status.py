"""The claim status lifecycle. Only transitions listed here are legal."""

from __future__ import annotations

from enum import StrEnum

from domain.errors import IllegalTransition


class ClaimStatus(StrEnum):
    DRAFT = "draft"  # created from an encounter, not yet scrubbed
    READY = "ready"  # passed the claim edits, ready to submit
    SUBMITTED = "submitted"  # sent in an 837P batch
    ACKNOWLEDGED = "acknowledged"  # 999 accepted the batch
    ACCEPTED = "accepted"  # 277CA accepted the claim into adjudication
    REJECTED = "rejected"  # 999 or 277CA rejected it; needs correction
    PAID = "paid"
    PARTIALLY_PAID = "partially_paid"
    DENIED = "denied"
    APPEALED = "appealed"
    CLOSED = "closed"  # nothing more expected from this payer
    WRITTEN_OFF = "written_off"
    VOID = "void"


_ADJUDICATED = {ClaimStatus.PAID, ClaimStatus.PARTIALLY_PAID, ClaimStatus.DENIED}

ALLOWED_TRANSITIONS: dict[ClaimStatus, frozenset[ClaimStatus]] = {
    ClaimStatus.DRAFT: frozenset({ClaimStatus.READY, ClaimStatus.VOID}),
    ClaimStatus.READY: frozenset({ClaimStatus.SUBMITTED, ClaimStatus.DRAFT, ClaimStatus.VOID}),
    ClaimStatus.SUBMITTED: frozenset(
        {ClaimStatus.ACKNOWLEDGED, ClaimStatus.ACCEPTED, ClaimStatus.REJECTED} | _ADJUDICATED
    ),
    ClaimStatus.ACKNOWLEDGED: frozenset({ClaimStatus.ACCEPTED, ClaimStatus.REJECTED} | _ADJUDICATED),
    ClaimStatus.ACCEPTED: frozenset({ClaimStatus.REJECTED} | _ADJUDICATED),
    ClaimStatus.REJECTED: frozenset({ClaimStatus.READY, ClaimStatus.DRAFT, ClaimStatus.VOID, ClaimStatus.WRITTEN_OFF}),
    ClaimStatus.DENIED: frozenset(
        {
            ClaimStatus.APPEALED,
            ClaimStatus.READY,
            ClaimStatus.WRITTEN_OFF,
            ClaimStatus.CLOSED,
            ClaimStatus.PAID,
            ClaimStatus.PARTIALLY_PAID,
        }
    ),
    ClaimStatus.APPEALED: frozenset(_ADJUDICATED | {ClaimStatus.WRITTEN_OFF}),
    # A paid claim can still be reversed and corrected by the payer (CLP02=22). A reversal with no correction
    # in the same remittance takes the claim back to ACCEPTED: in adjudication, awaiting the corrected payment.
    ClaimStatus.PARTIALLY_PAID: frozenset(
        {
            ClaimStatus.CLOSED,
            ClaimStatus.APPEALED,
            ClaimStatus.PAID,
            ClaimStatus.DENIED,
            ClaimStatus.WRITTEN_OFF,
            ClaimStatus.ACCEPTED,
        }
    ),
    ClaimStatus.PAID: frozenset(
        {ClaimStatus.CLOSED, ClaimStatus.PARTIALLY_PAID, ClaimStatus.DENIED, ClaimStatus.ACCEPTED}
    ),
    ClaimStatus.CLOSED: frozenset(_ADJUDICATED),
    ClaimStatus.WRITTEN_OFF: frozenset(),
    ClaimStatus.VOID: frozenset(),
}

OPEN_STATUSES = frozenset({ClaimStatus.SUBMITTED, ClaimStatus.ACKNOWLEDGED, ClaimStatus.ACCEPTED, ClaimStatus.APPEALED})


def can_transition(current: ClaimStatus, target: ClaimStatus) -> bool:
    return target in ALLOWED_TRANSITIONS[current]


def check_transition(current: ClaimStatus, target: ClaimStatus) -> ClaimStatus:
    if not can_transition(current, target):
        allowed = ", ".join(sorted(s.value for s in ALLOWED_TRANSITIONS[current])) or "none"
        raise IllegalTransition(
            f"claim cannot go from {current.value} to {target.value} (allowed from {current.value}: {allowed})"
        )
    return target
