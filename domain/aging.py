"""Accounts-receivable aging: what payers and patients owe, by age, from the ledger.

Buckets are 0-30, 31-60, 61-90, 91-120 and 120+ days. A claim's insurance balance ages from its date of
service; a patient's balance is aged first-in, first-out: payments and write-offs settle the oldest charges
first. Days in AR is the total receivable divided by the average daily charges of the last 90 days.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from domain import models as m
from domain.aging_rules import BUCKETS, DAYS_IN_AR_WINDOW, bucket_of, days_in_ar, fifo_open_items
from domain.ledger import accounts as acc


@dataclass
class AgingRow:
    key: str  # payer code, or the patient's account number (never a name)
    label: str
    buckets: dict[str, int] = field(default_factory=lambda: dict.fromkeys(BUCKETS, 0))

    @property
    def total(self) -> int:
        return sum(self.buckets.values())

    def add(self, age_days: int, cents: int) -> None:
        self.buckets[bucket_of(age_days)] += cents

    def as_dict(self) -> dict[str, Any]:
        return {"key": self.key, "label": self.label, "buckets": dict(self.buckets), "total_cents": self.total}


@dataclass(frozen=True)
class AgingReport:
    by: str
    as_of: date
    rows: tuple[AgingRow, ...]
    days_in_ar: float | None  # None when nothing was charged in the window

    @property
    def totals(self) -> dict[str, int]:
        return {b: sum(r.buckets[b] for r in self.rows) for b in BUCKETS}

    @property
    def total_cents(self) -> int:
        return sum(self.totals.values())

    def as_dict(self) -> dict[str, Any]:
        return {
            "by": self.by,
            "as_of": self.as_of.isoformat(),
            "buckets": list(BUCKETS),
            "rows": [r.as_dict() for r in self.rows],
            "totals": self.totals,
            "total_cents": self.total_cents,
            "days_in_ar": self.days_in_ar,
        }


def _net() -> Any:
    return func.sum(m.JournalLine.debit_cents - m.JournalLine.credit_cents)


@dataclass(frozen=True)
class ClaimBalance:
    """What a payer still owes on one claim, by the ledger (the claim's insurance AR)."""

    claim_id: str
    payer_code: str  # the payer's code (the id the clearinghouse knows), not PHI
    payer_name: str
    date_of_service: date
    open_cents: int


def insurance_open_balances(session: Session, as_of: date) -> list[ClaimBalance]:
    """Every claim's insurance AR on the ledger that is not zero, for claims of service on or before ``as_of``.

    The one source of the payers' AR: ``ar aging`` and the AR-aging snapshot batch both read it, so they agree to
    the cent with each other and with the ledger (charges, payments, contractual adjustments, transfers)."""
    stmt = (
        select(m.JournalEntry.claim_id, m.Claim.date_of_service, m.Payer.payer_id, m.Payer.name, _net())
        .select_from(m.JournalLine)
        .join(m.JournalEntry, m.JournalEntry.id == m.JournalLine.entry_id)
        .join(m.Account, m.Account.id == m.JournalLine.account_id)
        .join(m.Claim, m.Claim.id == m.JournalEntry.claim_id)
        .join(m.Payer, m.Payer.id == m.Claim.payer_id)
        .where(m.Account.code.like(f"{acc.INSURANCE_AR}:%"), m.Claim.date_of_service <= as_of)
        .group_by(m.JournalEntry.claim_id, m.Claim.date_of_service, m.Payer.payer_id, m.Payer.name)
    )
    balances = [
        ClaimBalance(str(claim_id), payer_code, payer_name, service_date, int(net))
        for claim_id, service_date, payer_code, payer_name, net in session.execute(stmt)
        if net
    ]
    return sorted(balances, key=lambda b: (b.payer_code, b.date_of_service, b.claim_id))


def _payer_rows(session: Session, as_of: date) -> list[AgingRow]:
    rows: dict[str, AgingRow] = {}
    for balance in insurance_open_balances(session, as_of):
        row = rows.setdefault(balance.payer_code, AgingRow(balance.payer_code, balance.payer_name))
        row.add((as_of - balance.date_of_service).days, balance.open_cents)
    return sorted(rows.values(), key=lambda r: r.key)


def _patient_rows(session: Session, as_of: date) -> list[AgingRow]:
    stmt = (
        select(
            m.JournalEntry.patient_id,
            m.Patient.account_number,
            m.Claim.date_of_service,
            m.JournalEntry.occurred_at,
            m.JournalLine.debit_cents,
            m.JournalLine.credit_cents,
        )
        .select_from(m.JournalLine)
        .join(m.JournalEntry, m.JournalEntry.id == m.JournalLine.entry_id)
        .join(m.Account, m.Account.id == m.JournalLine.account_id)
        .join(m.Patient, m.Patient.id == m.JournalEntry.patient_id)
        .outerjoin(m.Claim, m.Claim.id == m.JournalEntry.claim_id)
        .where(m.Account.code.like(f"{acc.PATIENT_AR}:%"))
    )
    debits: dict[str, list[tuple[date, int]]] = {}
    credits: dict[str, int] = {}
    accounts: dict[str, str] = {}
    for patient_key, account_number, service_date, occurred_at, debit, credit in session.execute(stmt):
        patient_id = str(patient_key)
        accounts[patient_id] = account_number
        day = service_date or occurred_at.date()
        if debit:
            debits.setdefault(patient_id, []).append((day, int(debit)))
        credits[patient_id] = credits.get(patient_id, 0) + int(credit)
    rows = []
    for patient_id, account_number in accounts.items():
        items = fifo_open_items(debits.get(patient_id, []), credits.get(patient_id, 0))
        if not items:
            continue
        row = AgingRow(account_number, f"patient {account_number}")
        for day, cents in items:
            row.add(max((as_of - day).days, 0), cents)
        rows.append(row)
    return sorted(rows, key=lambda r: r.key)


def _charges_since(session: Session, since: date) -> int:
    stmt = (
        select(func.coalesce(func.sum(m.JournalLine.credit_cents - m.JournalLine.debit_cents), 0))
        .join(m.JournalEntry, m.JournalEntry.id == m.JournalLine.entry_id)
        .join(m.Account, m.Account.id == m.JournalLine.account_id)
        .outerjoin(m.Claim, m.Claim.id == m.JournalEntry.claim_id)
        .where(m.Account.code == acc.REVENUE.code)
        .where(func.coalesce(m.Claim.date_of_service, func.date(m.JournalEntry.occurred_at)) >= since)
    )
    return int(session.execute(stmt).scalar_one())


def ar_aging(session: Session, *, by: str = "payer", as_of: date | None = None) -> AgingReport:
    """AR by payer (insurance balances per claim) or by patient (patient balances, FIFO)."""
    if by not in ("payer", "patient"):
        raise ValueError(f"aging is by payer or patient, not {by!r}")
    day = as_of or date.today()
    rows = _payer_rows(session, day) if by == "payer" else _patient_rows(session, day)
    everything = sum(r.total for r in _payer_rows(session, day)) + sum(r.total for r in _patient_rows(session, day))
    window_start = date.fromordinal(day.toordinal() - DAYS_IN_AR_WINDOW)
    return AgingReport(by, day, tuple(rows), days_in_ar(everything, _charges_since(session, window_start)))


__all__ = [
    "BUCKETS",
    "DAYS_IN_AR_WINDOW",
    "AgingReport",
    "AgingRow",
    "ClaimBalance",
    "ar_aging",
    "bucket_of",
    "days_in_ar",
    "fifo_open_items",
    "insurance_open_balances",
]
