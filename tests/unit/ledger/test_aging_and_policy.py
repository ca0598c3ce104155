"""AR aging buckets and FIFO, and the collections policy's pure decisions."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.aging import BUCKETS, bucket_of, days_in_ar, fifo_open_items
from domain.collections_policy import (
    CollectionsPolicy,
    next_step,
    pause_reasons,
    plan_installments,
    plan_standing,
    statement_schedule,
)
from domain.errors import ValidationError

D0 = date(2026, 1, 1)


def test_buckets() -> None:
    assert [bucket_of(d) for d in (0, 30, 31, 60, 61, 90, 91, 120, 121, 999)] == [
        "0-30", "0-30", "31-60", "31-60", "61-90", "61-90", "91-120", "91-120", "120+", "120+"
    ]  # fmt: skip
    assert len(BUCKETS) == 5
    assert days_in_ar(90_000, 90_000) == 90.0 and days_in_ar(5, 0) is None


@given(st.lists(st.tuples(st.integers(0, 400), st.integers(1, 10**6)), max_size=10), st.integers(0, 10**7))
def test_fifo_keeps_the_balance_and_settles_oldest_first(debits: list[tuple[int, int]], credits: int) -> None:
    items = [(D0 + timedelta(days=d), c) for d, c in debits]
    left = fifo_open_items(items, credits)
    assert sum(c for _, c in left) == sum(c for _, c in items) - credits
    positive = [day for day, c in left if c > 0]
    settled_days = [day for day, _ in items if day not in positive]
    if positive and settled_days and credits < sum(c for _, c in items):
        assert min(positive) >= min(d for d, _ in items)


def test_statement_schedule_and_next_step() -> None:
    policy = CollectionsPolicy(statement_interval_days=30, reminders=2, agency_after_final_days=20)
    schedule = statement_schedule(policy, D0)
    assert [n.kind for n in schedule] == ["first", "reminder", "reminder", "final"]
    assert schedule[-1].send_on == D0 + timedelta(days=90)

    def step(balance: int, today: date, sent: int, **kw: object) -> str:
        return next_step(
            policy, balance_cents=balance, today=today, first_statement_on=D0, notices_sent=sent, **kw
        ).action  # type: ignore[arg-type]

    assert step(0, D0, 1) == "paid"
    assert step(-500, D0, 1) == "refund"
    assert step(400, D0, 1) == "write_off"  # at or below the small balance
    assert step(10_000, D0, 0) == "statement"
    assert step(10_000, D0 + timedelta(days=10), 1) == "wait"
    assert step(10_000, D0 + timedelta(days=30), 1) == "statement"
    assert step(10_000, D0 + timedelta(days=100), 4) == "wait"
    assert step(10_000, D0 + timedelta(days=110), 4) == "agency"
    assert step(1_000, D0 + timedelta(days=110), 4) == "bad_debt"
    assert (
        step(10_000, D0 + timedelta(days=30), 1, paused_by=pause_reasons(dispute_open=True, hardship_open=False))
        == "pause"
    )
    assert step(10_000, D0 + timedelta(days=30), 1, on_payment_plan=True) == "wait"
    with pytest.raises(ValidationError):
        CollectionsPolicy(statement_interval_days=0)


@given(st.integers(12, 10**7), st.integers(1, 12))
def test_installments_add_up_exactly(total: int, count: int) -> None:
    policy = CollectionsPolicy(min_installment_cents=1)
    plan = plan_installments(policy, total, count, D0)
    assert sum(i.amount_cents for i in plan) == total
    assert max(i.amount_cents for i in plan) - min(i.amount_cents for i in plan) <= 1
    assert [i.due_on for i in plan] == sorted(i.due_on for i in plan)


def test_plan_missed_then_broken() -> None:
    policy = CollectionsPolicy(installment_interval_days=30, installment_grace_days=10, min_installment_cents=1000)
    plan = plan_installments(policy, 9000, 3, D0)
    assert plan_standing(policy, plan, 0, D0 - timedelta(days=1)).state == "current"
    assert plan_standing(policy, plan, 3000, D0 + timedelta(days=5)).state == "current"
    assert plan_standing(policy, plan, 3000, D0 + timedelta(days=35)).state == "missed"
    broken = plan_standing(policy, plan, 3000, D0 + timedelta(days=41))
    assert broken.state == "broken" and broken.behind_cents == 3000
    assert plan_standing(policy, plan, 9000, D0).state == "completed"
    with pytest.raises(ValidationError, match="at most 2"):
        plan_installments(policy, 2500, 3, D0)
    with pytest.raises(ValidationError):
        plan_installments(policy, 2500, 13, D0)
