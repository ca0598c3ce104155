"""Seeding a store with a synthetic practice: its rows in bulk (executemany) in foreign-key order, then the
claims' history on the ledger."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session

from domain import models as m
from domain.errors import DomainError
from domain.ledger.service import post_claim_history
from workers.synthetic.practice import SyntheticPractice


@dataclass
class SeedSummary:
    seed: int
    as_of: date
    counts: dict[str, int] = field(default_factory=dict)
    claims_by_status: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "seed": self.seed,
            "as_of": self.as_of.isoformat(),
            **self.counts,
            "claims_by_status": dict(sorted(self.claims_by_status.items())),
        }


def seed_practice(
    session: Session,
    *,
    patients: int,
    seed: int,
    as_of: date | None = None,
    batch_size: int = 5000,
    visit_scale: int = 1,
    ledger_history: bool = True,
) -> SeedSummary:
    """Insert a synthetic practice in the session's transaction; the caller commits.

    ``ledger_history`` False leaves the claims off the ledger: only for a caller that rewrites the seeded claims
    (status, payer, amounts) before charging them itself, as the posting benchmark does."""
    existing = session.execute(select(func.count()).select_from(m.Practice)).scalar_one()
    if existing:
        raise DomainError("the store already holds a practice: seed into a fresh store (a new CARECYCLE_HOME)")
    practice = SyntheticPractice(seed, as_of, visit_scale=visit_scale).generate(patients)
    summary = SeedSummary(seed=seed, as_of=practice.as_of)
    summary.counts.update(insert_practice(session, practice, batch_size=batch_size))
    # The claims' history on the ledger, through the ledger's own bulk path: charges, payments, contractual
    # adjustments and patient shares, so the ledger balances and AR aging covers the seeded claims.
    if ledger_history:
        history = post_claim_history(session, practice.claim_history(), batch=batch_size)
        summary.counts["journal_entries"] = history.entries_written
    claims = practice.rows.get(m.Claim.__table__, [])  # type: ignore[call-overload]
    summary.claims_by_status = dict(Counter(row["status"] for row in claims))
    return summary


def insert_practice(session: Session, practice: SyntheticPractice, *, batch_size: int = 5000) -> dict[str, int]:
    """The seeding path's inserts: each table's rows in bulk (executemany), in foreign-key order."""
    counts: dict[str, int] = {}
    for table, rows in practice.tables():
        for start in range(0, len(rows), batch_size):
            session.execute(insert(table), rows[start : start + batch_size])
        counts[table.name] = len(rows)
    return counts
