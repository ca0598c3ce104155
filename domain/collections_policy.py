"""Patient collections as pure decisions: the PatientCollections workflow asks, these functions answer.

Every amount and number of days comes from a :class:`CollectionsPolicy` value: the practice's configuration,
stored and versioned in the store (``domain.collections_policy_store``, ``carecycle policy show|set``) and read by
the workflow at each step, so a practice tunes its cycle without code and a running cycle follows the new
version. The demo shortens days (a business day's length), not the policy. Nothing here reads a clock or a
store: ``today`` is always an argument.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import date, timedelta

from domain.coding import positive_count
from domain.errors import ValidationError
from domain.money import parse_amount


@dataclass(frozen=True)
class CollectionsPolicy:
    statement_interval_days: int = 30  # between the first statement, each reminder and the final notice
    reminders: int = 1  # reminders between the first statement and the final notice
    agency_after_final_days: int = 30  # the agency hand-off this long after the final notice
    small_balance_cents: int = 500  # at or below: written off instead of chased
    agency_min_balance_cents: int = 2500  # below this an unpaid balance is written off as bad debt, not placed
    min_installment_cents: int = 2500
    max_installments: int = 12
    installment_interval_days: int = 30
    installment_grace_days: int = 10  # a missed installment gets a reminder; unpaid after grace, the plan breaks
    # A hardship request granted as a new plan: smaller installments over a longer time than an ordinary plan.
    hardship_min_installment_cents: int = 1000
    hardship_max_installments: int = 24
    plan_max_missed: int = 2  # this many missed installments break a plan

    def __post_init__(self) -> None:
        for name in POLICY_FIELDS:
            value = getattr(self, name)
            if type(value) is not int or not -(10**12) < value < 10**12:
                raise ValidationError(f"collections policy: {name} must be a whole number, not {value!r}"[:120])
        for name in ("statement_interval_days", "agency_after_final_days", "installment_interval_days"):
            if getattr(self, name) <= 0:
                raise ValidationError(f"collections policy: {name} must be positive")
        if self.plan_max_missed <= 0:
            raise ValidationError("collections policy: plan_max_missed must be positive")
        for name in ("reminders", "small_balance_cents", "agency_min_balance_cents", "installment_grace_days"):
            if getattr(self, name) < 0:
                raise ValidationError(f"collections policy: {name} must not be negative")
        if self.min_installment_cents <= 0 or self.max_installments <= 0:
            raise ValidationError("collections policy: installments need a positive minimum and maximum")
        if self.hardship_min_installment_cents <= 0 or self.hardship_max_installments <= 0:
            raise ValidationError("collections policy: hardship installments need a positive minimum and maximum")


# What each setting means, for `carecycle policy show` and the docs (the keys are the stored settings).
POLICY_FIELDS: dict[str, str] = {
    "statement_interval_days": "days between the first statement, each reminder and the final notice; each is due then",
    "reminders": "reminders between the first statement and the final notice",
    "agency_after_final_days": "days after the final notice until the agency hand-off (or a bad-debt write-off)",
    "small_balance_cents": "a balance at or below this is written off instead of chased",
    "agency_min_balance_cents": "an unpaid balance below this is written off as bad debt instead of placed",
    "min_installment_cents": "a payment plan's smallest installment",
    "max_installments": "a payment plan's most installments",
    "installment_interval_days": "days between a plan's installments",
    "installment_grace_days": "days after a missed installment's reminder before the miss counts",
    "hardship_min_installment_cents": "a hardship re-plan's smallest installment",
    "hardship_max_installments": "a hardship re-plan's most installments",
    "plan_max_missed": "missed installments that break a plan (the balance then goes to the agency)",
}


def policy_settings(policy: CollectionsPolicy) -> dict[str, int]:
    """The policy as stored: every setting by name."""
    return {name: int(getattr(policy, name)) for name in POLICY_FIELDS}


def policy_from_settings(settings: Mapping[str, object]) -> CollectionsPolicy:
    """A stored policy version back; settings it does not name keep their defaults (a newer setting than the
    version), settings it does not know are refused."""
    unknown = sorted(set(settings) - set(POLICY_FIELDS))
    if unknown:
        raise ValidationError(f"collections policy: no setting {unknown[0][:40]!r}")
    return CollectionsPolicy(**{name: settings[name] for name in POLICY_FIELDS if name in settings})  # type: ignore[arg-type]


def changed_policy(policy: CollectionsPolicy, assignments: Mapping[str, str]) -> CollectionsPolicy:
    """``policy`` with the settings a person typed (``name=value``): whole numbers; a ``*_cents`` setting may also
    be given in dollars by its name without ``_cents`` (``small_balance=5.00``), read by the money rule."""
    values = policy_settings(policy)
    for name, text in assignments.items():
        key = name.strip()
        if key not in POLICY_FIELDS and f"{key}_cents" in POLICY_FIELDS:
            values[f"{key}_cents"] = parse_amount(text)
            continue
        if key not in POLICY_FIELDS:
            raise ValidationError(f"collections policy: no setting {key[:40]!r}; settings: {', '.join(POLICY_FIELDS)}")
        cleaned = text.strip()
        negative = cleaned.startswith("-")
        digits = cleaned[1:] if negative else cleaned
        if not (digits.isascii() and digits.isdigit()) or len(digits) > 12:
            raise ValidationError(f"collections policy: {key} must be a whole number, not {cleaned[:16]!r}")
        values[key] = -int(digits) if negative else int(digits)
    return CollectionsPolicy(**values)


# --- the statement cycle ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Notice:
    sequence: int  # 1 = the first statement
    kind: str  # first, reminder, final
    send_on: date
    due_on: date


def notice_kind(policy: CollectionsPolicy, sequence: int) -> str:
    if sequence <= 1:
        return "first"
    return "reminder" if sequence <= 1 + policy.reminders else "final"


def is_final_notice(kind: str) -> bool:
    """The last notice of a cycle: after it the balance is handed over (once a person has had the last word)."""
    return kind == "final"


def statement_schedule(policy: CollectionsPolicy, first_statement_on: date) -> tuple[Notice, ...]:
    """The first statement, the reminders and the final notice, each due one interval after it is sent."""
    interval = timedelta(days=policy.statement_interval_days)
    count = 2 + policy.reminders
    return tuple(
        Notice(n, notice_kind(policy, n), first_statement_on + interval * (n - 1), first_statement_on + interval * n)
        for n in range(1, count + 1)
    )


def agency_handoff_on(policy: CollectionsPolicy, first_statement_on: date) -> date:
    final = statement_schedule(policy, first_statement_on)[-1]
    return final.send_on + timedelta(days=policy.agency_after_final_days)


@dataclass(frozen=True)
class Step:
    """What to do now. ``action``: paid, refund, write_off, pause, statement, wait, agency, bad_debt."""

    action: str
    kind: str | None = None  # the statement kind when action is statement
    sequence: int = 0
    wait_until: date | None = None
    amount_cents: int = 0
    reason: str = ""


def next_step(
    policy: CollectionsPolicy,
    *,
    balance_cents: int,
    today: date,
    first_statement_on: date | None,
    notices_sent: int,
    paused_by: frozenset[str] = frozenset(),
    on_payment_plan: bool = False,
) -> Step:
    """The one decision of the collections cycle for a guarantor's balance on ``today``."""
    if balance_cents == 0:
        return Step("paid")
    if balance_cents < 0:
        return Step("refund", amount_cents=-balance_cents, reason="credit_balance")
    if balance_cents <= policy.small_balance_cents:
        return Step("write_off", amount_cents=balance_cents, reason="small_balance")
    if paused_by:
        return Step("pause", reason=",".join(sorted(paused_by)))
    if on_payment_plan:
        return Step("wait", reason="payment_plan")
    if first_statement_on is None or notices_sent == 0:
        return Step("statement", kind="first", sequence=1)
    schedule = statement_schedule(policy, first_statement_on)
    if notices_sent < len(schedule):
        upcoming = schedule[notices_sent]
        if today >= upcoming.send_on:
            return Step("statement", kind=upcoming.kind, sequence=upcoming.sequence)
        return Step("wait", wait_until=upcoming.send_on)
    handoff_on = agency_handoff_on(policy, first_statement_on)
    if today < handoff_on:
        return Step("wait", wait_until=handoff_on)
    return handoff(policy, balance_cents)


def is_small_balance(policy: CollectionsPolicy, balance_cents: int) -> bool:
    """A positive balance too small to chase: written off."""
    return 0 < balance_cents <= policy.small_balance_cents


def days_after_notice(policy: CollectionsPolicy, kind: str) -> int:
    """How long a notice of ``kind`` waits for payment: the statement interval, the agency's wait after the final."""
    return policy.agency_after_final_days if kind == "final" else policy.statement_interval_days


def cycle_started_on(policy: CollectionsPolicy, today: date, notices_sent: int) -> date:
    """The first statement's day of a cycle known only by how many notices it sent (one sent each interval)."""
    return today - timedelta(days=policy.statement_interval_days * max(notices_sent - 1, 0))


def plan_breaks(policy: CollectionsPolicy, missed: int, installment: int, installments: int) -> bool:
    """A plan breaks at the policy's number of missed installments, or at a miss on its last installment."""
    return missed >= policy.plan_max_missed or installment == installments


def handoff(policy: CollectionsPolicy, balance_cents: int) -> Step:
    """What an unpaid balance becomes when collections give up on it (after the final notice, or a broken plan):
    written off when small, bad debt below the agency's minimum, otherwise placed with the agency."""
    if balance_cents <= policy.small_balance_cents:
        return Step("write_off", amount_cents=balance_cents, reason="small_balance")
    if balance_cents < policy.agency_min_balance_cents:
        return Step("bad_debt", amount_cents=balance_cents, reason="bad_debt")
    return Step("agency", amount_cents=balance_cents, reason="final_notice_unpaid")


def statement_due_on(policy: CollectionsPolicy, first_statement_on: date, sequence: int) -> date:
    """When notice ``sequence`` of a cycle that began on ``first_statement_on`` is due (its schedule's due date)."""
    interval = timedelta(days=policy.statement_interval_days)
    return first_statement_on + interval * sequence


def settlement(policy: CollectionsPolicy, balance_cents: int, amount_cents: int | None) -> int:
    """The part of ``balance_cents`` a settlement for ``amount_cents`` forgives (0 without an amount): the rest stays
    owed and the statement cycle starts again on it. A settlement is more than nothing and less than the balance."""
    if amount_cents is None:
        return 0
    if not 0 < amount_cents < balance_cents:
        raise ValidationError(
            f"a settlement is more than $0 and less than the balance ({balance_cents} cents), not {amount_cents} cents"
        )
    return balance_cents - amount_cents


def pause_reasons(*, dispute_open: bool, hardship_open: bool) -> frozenset[str]:
    """Disputes and hardship applications stop statements until they are closed."""
    return frozenset(name for name, on in (("dispute", dispute_open), ("hardship", hardship_open)) if on)


# --- payment plans ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Installment:
    number: int
    due_on: date
    amount_cents: int


def plan_installments(
    policy: CollectionsPolicy, total_cents: int, installments: int, first_due: date
) -> tuple[Installment, ...]:
    """Equal installments that add up to the total exactly (the first ones carry the odd cents)."""
    if total_cents <= 0:
        raise ValidationError("a payment plan needs a positive balance")
    if not 1 <= installments <= policy.max_installments:
        raise ValidationError(f"a payment plan has 1 to {policy.max_installments} installments, not {installments}")
    base, extra = divmod(total_cents, installments)
    if base < policy.min_installment_cents and installments > 1:
        most = max(1, total_cents // policy.min_installment_cents)
        raise ValidationError(
            f"installments of {base} cents are below the minimum {policy.min_installment_cents}: "
            f"at most {most} installment(s) for this balance"
        )
    interval = timedelta(days=policy.installment_interval_days)
    return tuple(
        Installment(n + 1, first_due + interval * n, base + (1 if n < extra else 0)) for n in range(installments)
    )


def first_due_on(policy: CollectionsPolicy, first_due: str | None, today: date) -> date:
    """A plan's first due date: the one a person gave (an ISO date, not in the past), or one interval from today."""
    if not first_due:
        return today + timedelta(days=policy.installment_interval_days)
    try:
        day = date.fromisoformat(first_due.strip())
    except ValueError:
        raise ValidationError(f"payment plan: first_due must be a date (YYYY-MM-DD), not {first_due[:12]!r}") from None
    if day < today:
        raise ValidationError(f"payment plan: first_due {day.isoformat()} is in the past")
    return day


def payment_plan(
    policy: CollectionsPolicy, total_cents: int, installments: int, first_due: str | None, today: date
) -> tuple[Installment, ...]:
    """The one payment-plan rule: the ``payment_plan`` resolution's check (with the balance the workflow knows)
    and the ``collections.create_payment_plan`` activity (with the ledger's balance) both call it."""
    return plan_installments(policy, total_cents, installments, first_due_on(policy, first_due, today))


def requested_installments(fields: Mapping[str, str]) -> int:
    """The number of installments a resolution asks for, as the activity's request carries it: 0 when it is not
    plain ASCII digits (the plan rule then refuses it, as the validator did)."""
    count = fields.get("installments", "").strip()
    return int(count) if count.isascii() and count.isdigit() and len(count) <= 4 else 0


def payment_plan_from_fields(
    policy: CollectionsPolicy, fields: Mapping[str, str], balance_cents: int, today: date
) -> tuple[Installment, ...]:
    """:func:`payment_plan` for a resolution's fields (installments, optional first_due)."""
    count = positive_count("installments", fields.get("installments", ""))
    return payment_plan(policy, balance_cents, count, fields.get("first_due"), today)


@dataclass(frozen=True)
class PlanStanding:
    """``state``: current, missed (send a reminder), broken (grace passed), completed."""

    state: str
    due_cents: int  # what should have been paid by today
    paid_cents: int
    behind_cents: int
    next_due_on: date | None
    oldest_unpaid_due_on: date | None


def plan_standing(
    policy: CollectionsPolicy, installments: tuple[Installment, ...], paid_cents: int, today: date
) -> PlanStanding:
    """Where a plan stands: payments settle installments oldest first; one missed -> reminder; unpaid past the
    grace days -> broken."""
    total = sum(i.amount_cents for i in installments)
    if paid_cents >= total:
        return PlanStanding("completed", total, paid_cents, 0, None, None)
    due = sum(i.amount_cents for i in installments if i.due_on <= today)
    behind = max(0, due - paid_cents)
    running = 0
    oldest_unpaid: date | None = None
    for installment in installments:
        running += installment.amount_cents
        if running > paid_cents:
            oldest_unpaid = installment.due_on
            break
    upcoming = next((i.due_on for i in installments if i.due_on > today), None)
    if behind == 0:
        return PlanStanding("current", due, paid_cents, 0, upcoming, oldest_unpaid)
    assert oldest_unpaid is not None
    late_days = (today - oldest_unpaid).days
    state = "broken" if late_days > policy.installment_grace_days else "missed"
    return PlanStanding(state, due, paid_cents, behind, upcoming, oldest_unpaid)


def hardship_terms(policy: CollectionsPolicy) -> CollectionsPolicy:
    """The policy a hardship re-plan is checked against: the hardship minimum and maximum installments."""
    return replace(
        policy,
        min_installment_cents=policy.hardship_min_installment_cents,
        max_installments=policy.hardship_max_installments,
    )
