"""Payment plan payloads: a plan created, checked and updated; one frozen dataclass in, one out."""

from dataclasses import dataclass


@dataclass(frozen=True)
class PaymentPlanRequest:
    guarantor_id: str
    installments: int
    first_due: str | None  # ISO date from the resolution, or None: one interval from today
    min_installment_cents: int
    max_installments: int
    interval_days: int
    key: str  # idempotency: the workflow id plus the resolution


@dataclass(frozen=True)
class PaymentPlanCreated:
    plan_id: str
    total_cents: int
    amounts_cents: tuple[int, ...]  # one per installment, in order; they add up to the total
    first_due_in_days: int  # from today (business days for the workflow's timer)
    interval_days: int


@dataclass(frozen=True)
class PaymentPlanCheck:
    plan_id: str
    due_cents: int  # what the installments due so far add up to


@dataclass(frozen=True)
class PaymentPlanStanding:
    plan_id: str
    paid_cents: int  # paid toward the plan since it started (from the ledger balance)
    behind_cents: int
    completed: bool


@dataclass(frozen=True)
class PaymentPlanUpdate:
    plan_id: str
    status: str  # active, paused, broken, cancelled (completed is set by the check)
    missed_installments: int
