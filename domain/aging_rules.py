"""The AR aging rules, pure: the buckets an age falls in, first-in-first-out settlement, days in AR.

One copy for everything that ages receivables: ``domain.aging`` (``carecycle ar aging``, the console) and the
AR-aging snapshot batch (``flows.batch.aging``, which must not import the store).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

BUCKETS = ("0-30", "31-60", "61-90", "91-120", "120+")
DAYS_IN_AR_WINDOW = 90  # days in AR: receivables over the average daily charges of this window


def bucket_of(age_days: int) -> str:
    if age_days <= 30:
        return BUCKETS[0]
    if age_days <= 60:
        return BUCKETS[1]
    if age_days <= 90:
        return BUCKETS[2]
    if age_days <= 120:
        return BUCKETS[3]
    return BUCKETS[4]


def fifo_open_items(debits: Iterable[tuple[date, int]], credits_cents: int) -> list[tuple[date, int]]:
    """The debits still open after ``credits_cents`` settled the oldest first; a credit beyond every debit is
    returned as one negative item dated at the newest debit (a credit balance)."""
    ordered = sorted(debits)
    left = credits_cents
    open_items: list[tuple[date, int]] = []
    for day, cents in ordered:
        settled = min(cents, max(left, 0))
        left -= settled
        if cents - settled:
            open_items.append((day, cents - settled))
    if left > 0:
        open_items.append((ordered[-1][0] if ordered else date.min, -left))
    return open_items


def days_in_ar(total_ar_cents: int, charges_in_window_cents: int, window_days: int = DAYS_IN_AR_WINDOW) -> float | None:
    if charges_in_window_cents <= 0:
        return None
    return round(total_ar_cents / (charges_in_window_cents / window_days), 1)
