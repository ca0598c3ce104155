"""The operations dashboard's numbers, read from the store (one function per chart; amounts in cents).

Denials are remittance claims with CLP02 = 4 (``domain.remittance``'s rule); AR by payer and days in AR are
``domain.aging``'s; the days-in-AR trend applies ``domain.aging.days_in_ar`` to the ledger as it stood at the end
of each past week. The health of the outside doors is what they left behind in the last days: 837 batches sent
and rejected (claim status events), 835s and EOB PDFs received, portal failure screenshots.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from domain import models as m
from domain.aging import BUCKETS, DAYS_IN_AR_WINDOW, ar_aging, days_in_ar
from domain.audit import STATUS_INQUIRY_ACTION
from domain.ledger import accounts as acc

DENIED = "4"  # CLP02: claim denied (domain.remittance.RemittanceClaim.is_denial)
AGE_BUCKETS = ("under 1 day", "1-3 days", "3-7 days", "over 7 days")


def _day(value: datetime | date) -> date:
    if isinstance(value, datetime):
        return (value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)).date()
    return value


def queue_ages(session: Session, now: datetime) -> dict[str, dict[str, int]]:
    """Open work items per queue and age bucket (from when they were opened)."""
    result: dict[str, dict[str, int]] = {}
    rows = session.execute(
        select(m.WorkItem.queue, m.WorkItem.created_at).where(m.WorkItem.state.in_(("open", "claimed")))
    ).all()
    for queue, created in rows:
        aware = created.replace(tzinfo=UTC) if created.tzinfo is None else created
        days = (now - aware).days
        bucket = AGE_BUCKETS[0 if days < 1 else 1 if days < 3 else 2 if days < 7 else 3]
        result.setdefault(queue, dict.fromkeys(AGE_BUCKETS, 0))[bucket] += 1
    return dict(sorted(result.items()))


@dataclass(frozen=True)
class DenialRate:
    payer: str
    claims: int
    denied: int

    @property
    def rate(self) -> float:
        return 100.0 * self.denied / self.claims if self.claims else 0.0


def denial_rates(session: Session, since: date) -> list[DenialRate]:
    denied = func.sum(case((m.RemittanceClaim.status_code == DENIED, 1), else_=0))
    rows = session.execute(
        select(m.Payer.payer_id, func.count(), denied)
        .select_from(m.RemittanceClaim)
        .join(m.Remittance, m.Remittance.id == m.RemittanceClaim.remittance_id)
        .join(m.Payer, m.Payer.id == m.Remittance.payer_id)
        .where(func.coalesce(m.Remittance.payment_date, func.date(m.Remittance.received_at)) >= since)
        .group_by(m.Payer.payer_id)
        .order_by(m.Payer.payer_id)
    ).all()
    return [DenialRate(payer, int(count), int(no or 0)) for payer, count, no in rows]


def denial_reasons(session: Session, since: date, limit: int = 8) -> list[tuple[str, int]]:
    """The adjustment reason codes (group-CARC, e.g. CO-50) on denied claims, most frequent first."""
    rows = session.execute(
        select(m.RemittanceAdjustment.group_code, m.RemittanceAdjustment.reason_code, func.count())
        .join(m.RemittanceClaim, m.RemittanceClaim.id == m.RemittanceAdjustment.remittance_claim_id)
        .join(m.Remittance, m.Remittance.id == m.RemittanceClaim.remittance_id)
        .where(
            m.RemittanceClaim.status_code == DENIED,
            func.coalesce(m.Remittance.payment_date, func.date(m.Remittance.received_at)) >= since,
        )
        .group_by(m.RemittanceAdjustment.group_code, m.RemittanceAdjustment.reason_code)
        .order_by(func.count().desc())
        .limit(limit)
    ).all()
    return [(f"{group}-{reason}", int(count)) for group, reason, count in rows]


def cash_per_day(session: Session, since: date, until: date) -> tuple[list[date], list[int], list[int]]:
    """Insurance payments (remittances by payment date) and patient payments per day, in cents."""
    days = [since + timedelta(days=i) for i in range((until - since).days + 1)]
    insurance: dict[date, int] = defaultdict(int)
    patient: dict[date, int] = defaultdict(int)
    for paid_on, received, cents in session.execute(
        select(m.Remittance.payment_date, m.Remittance.received_at, m.Remittance.payment_amount_cents)
    ):
        day = paid_on or _day(received)
        if since <= day <= until:
            insurance[day] += int(cents)
    start = datetime.combine(since, time.min, UTC)
    for received, cents in session.execute(
        select(m.PatientPayment.received_at, m.PatientPayment.amount_cents).where(m.PatientPayment.received_at >= start)
    ):
        day = _day(received)
        if day <= until:
            patient[day] += int(cents)
    return days, [insurance[d] for d in days], [patient[d] for d in days]


def ar_by_payer(session: Session, as_of: date) -> tuple[list[str], dict[str, list[int]], float | None]:
    """Insurance AR per payer in each aging bucket (cents), and today's days in AR (domain.aging)."""
    report = ar_aging(session, by="payer", as_of=as_of)
    labels = [row.key for row in report.rows]
    return labels, {b: [row.buckets[b] for row in report.rows] for b in BUCKETS}, report.days_in_ar


def days_in_ar_trend(session: Session, as_of: date, weeks: int = 12) -> list[tuple[date, float | None]]:
    """Days in AR at the end of each of the last ``weeks`` weeks: AR then over the 90 days of charges before."""
    net = m.JournalLine.debit_cents - m.JournalLine.credit_cents
    rows = session.execute(
        select(m.Account.code, m.JournalEntry.occurred_at, net)
        .select_from(m.JournalLine)
        .join(m.JournalEntry, m.JournalEntry.id == m.JournalLine.entry_id)
        .join(m.Account, m.Account.id == m.JournalLine.account_id)
        .where(
            (m.Account.code.like(f"{acc.INSURANCE_AR}:%"))
            | (m.Account.code.like(f"{acc.PATIENT_AR}:%"))
            | (m.Account.code == acc.REVENUE.code)
        )
    ).all()
    points = []
    for back in range(weeks - 1, -1, -1):
        end = as_of - timedelta(days=7 * back)
        window_start = end - timedelta(days=DAYS_IN_AR_WINDOW)
        ar = charges = 0
        for code, occurred, cents in rows:
            day = _day(occurred)
            if day > end:
                continue
            if code == acc.REVENUE.code:
                if day > window_start:
                    charges -= int(cents)  # revenue is credited: net is negative
            else:
                ar += int(cents)
        points.append((end, days_in_ar(ar, charges)))
    return points


@dataclass(frozen=True)
class DoorHealth:
    name: str
    state: str  # ok, warn, bad, idle
    summary: str
    last: datetime | None


def door_health(session: Session, now: datetime, days: int = 7) -> list[DoorHealth]:
    since = now - timedelta(days=days)

    def audit_count(action: str, **detail: str) -> tuple[int, datetime | None]:
        query = select(m.AuditEvent.occurred_at, m.AuditEvent.details).where(
            m.AuditEvent.action == action, m.AuditEvent.occurred_at >= since
        )
        hits = [at for at, details in session.execute(query) if all(details.get(k) == v for k, v in detail.items())]
        return len(hits), max(hits) if hits else None

    def documents(kind: str) -> tuple[int, datetime | None]:
        count, last = session.execute(
            select(func.count(), func.max(m.Document.created_at)).where(
                m.Document.kind == kind, m.Document.created_at >= since
            )
        ).one()
        return int(count), last

    sent, last_sent = audit_count("claim.submitted")
    rejected, _ = audit_count("claim.status", to="rejected")
    eras, last_era = documents("era_835")
    eobs, last_eob = documents("eob_pdf")
    failures, last_failure = documents("screenshot")
    portal_asks, last_ask = audit_count(STATUS_INQUIRY_ACTION, route="portal")
    clearinghouse = DoorHealth(
        "Clearinghouse",
        "idle" if not sent else "ok" if rejected * 5 <= sent else "warn",
        f"{sent} claims sent, {rejected} rejected (999/277CA), {eras} 835s received in {days} days",
        max((t for t in (last_sent, last_era) if t is not None), default=None),
    )
    portal_work = eobs + portal_asks
    portals = DoorHealth(
        "Payer portals",
        "idle" if not portal_work and not failures else "ok" if failures <= portal_work // 5 else "warn",
        f"{eobs} EOB PDFs, {portal_asks} status searches, {failures} failures (screenshots kept) in {days} days",
        max((t for t in (last_eob, last_ask, last_failure) if t is not None), default=None),
    )
    return [clearinghouse, portals]


def summary(session: Session, now: datetime) -> dict[str, Any]:
    open_items = session.execute(
        select(func.count()).select_from(m.WorkItem).where(m.WorkItem.state.in_(("open", "claimed")))
    ).scalar_one()
    overdue = session.execute(
        select(func.count())
        .select_from(m.WorkItem)
        .where(m.WorkItem.state.in_(("open", "claimed")), m.WorkItem.sla_due_at < now.replace(tzinfo=None))
    ).scalar_one()
    return {"open_items": int(open_items), "overdue_items": int(overdue)}
