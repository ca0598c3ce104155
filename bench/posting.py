"""Posting benchmark: a 10,000-claim 835 posted into a real PostgreSQL, as a ratio to a bare bulk insert.

Measured in the same run on the same throwaway server (tests/support/postgres.py):

* posting: ``domain.posting.post_remittance`` of one Remittance with N claim payments (two lines each on
  average, CO-45 and PR-1 adjustments, REF*6R line control numbers) matched to N seeded claims: matching,
  the checks, journal entries and lines, the remittance rows, claim and claim-line updates, secondary claims
  for patients with a secondary coverage, the audit event, and the commit.
* baseline: a bare SQLAlchemy Core ``executemany`` of the same number of journal lines as posting wrote, into
  ``journal_lines`` itself (its indexes, checks and foreign keys to entries and accounts; rolled back after).
  A second, stricter baseline inserts them into a copy of the table without foreign keys: PostgreSQL checks
  every foreign key of every row it inserts, and posting's rows carry about five such checks per claim line.

Goal: posting within 3x of the baseline. The statement count shows that posting makes no round trip per line.

    .venv/bin/python bench/posting.py                  # 10,000 claims
    .venv/bin/python bench/posting.py --claims 2000    # a quick run
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import date
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import Engine, event, insert, select, text, update
from sqlalchemy.orm import Session, selectinload

from domain import models as m
from domain.claim_status import ClaimStatus
from domain.ledger.service import post_charges
from domain.posting import post_remittance
from domain.remittance import Adjustment, ClaimPayment, Remittance, ServiceLinePayment
from domain.store.engine import make_engine
from domain.store.migrate import upgrade
from tests.support import postgres
from workers.synthetic import seed_practice

AS_OF = date(2026, 11, 1)


class StatementCounter:
    def __init__(self, engine: Engine) -> None:
        self.count = 0
        event.listen(engine, "before_cursor_execute", self._count)

    def _count(self, *_args: Any) -> None:
        self.count += 1


def seed(engine: Engine, claims: int) -> tuple[str, list[str]]:
    """Seed a practice with at least ``claims`` claims and make them submitted claims of one payer."""
    patients = max(200, claims // 2)
    with Session(engine) as session:
        seed_practice(session, patients=patients, seed=11, as_of=AS_OF, visit_scale=3, ledger_history=False)
        session.commit()
        payer = (
            session.execute(select(m.Payer).where(m.Payer.kind != "self_pay").order_by(m.Payer.payer_id))
            .scalars()
            .first()
        )
        assert payer is not None
        ids = list(session.execute(select(m.Claim.id).order_by(m.Claim.id).limit(claims)).scalars())
        if len(ids) < claims:
            raise SystemExit(f"the seeded practice has only {len(ids)} claims; raise --patients")
        for start in range(0, len(ids), 5000):
            session.execute(
                update(m.Claim)
                .where(m.Claim.id.in_(ids[start : start + 5000]))
                .values(
                    payer_id=payer.id, status=ClaimStatus.SUBMITTED.value, paid_cents=0, patient_responsibility_cents=0
                )
                .execution_options(synchronize_session=False)
            )
            session.execute(
                update(m.ClaimLine)
                .where(m.ClaimLine.claim_id.in_(ids[start : start + 5000]))
                .values(paid_cents=0)
                .execution_options(synchronize_session=False)
            )
        post_charges(session, ids)  # charges post at submission, not at posting
        session.commit()
        return payer.payer_id, ids


def build_remittance(engine: Engine, payer_code: str, claim_ids: list[str]) -> Remittance:
    payments: list[ClaimPayment] = []
    with Session(engine) as session:
        for start in range(0, len(claim_ids), 1000):
            claims = session.execute(
                select(m.Claim)
                .where(m.Claim.id.in_(claim_ids[start : start + 1000]))
                .options(selectinload(m.Claim.lines))
            ).scalars()
            for claim in claims:
                lines = []
                for line in claim.lines:
                    paid = line.charge_cents * 60 // 100
                    pr = line.charge_cents * 10 // 100
                    lines.append(
                        ServiceLinePayment(
                            procedure=line.procedure_code,
                            modifiers=tuple(line.modifiers),
                            charge_cents=line.charge_cents,
                            paid_cents=paid,
                            line_control_number=line.id,
                            service_date=line.date_of_service,
                            adjustments=(
                                Adjustment("CO", "45", line.charge_cents - paid - pr),
                                Adjustment("PR", "1", pr),
                            ),
                        )
                    )
                payments.append(
                    ClaimPayment(
                        patient_control_number=claim.id,
                        status_code="1",
                        charge_cents=claim.total_charge_cents,
                        paid_cents=sum(s.paid_cents for s in lines),
                        patient_responsibility_cents=sum(s.charge_cents * 10 // 100 for s in lines),
                        payer_claim_control_number=f"B{len(payments):09d}",
                        service_lines=tuple(lines),
                        service_date=claim.date_of_service,
                    )
                )
    amount = sum(p.paid_cents for p in payments)
    return Remittance(
        payer_id=payer_code,
        payer_name="Bench payer",
        payee_name="Bench clinic",
        payee_id="1234567893",
        payment_method="ACH",
        payment_amount_cents=amount,
        trace_number="BENCH0001",
        payment_date=AS_OF,
        claims=tuple(payments),
    )


def baseline_ledger_table(engine: Engine, rows: list[dict[str, Any]]) -> float:
    """The same number of journal lines into journal_lines itself, timed, then rolled back."""
    with engine.connect() as conn:
        transaction = conn.begin()
        started = time.perf_counter()
        conn.execute(insert(m.JournalLine.__table__), rows)
        elapsed = time.perf_counter() - started
        transaction.rollback()
    return elapsed


def baseline(engine: Engine, rows: list[dict[str, Any]]) -> float:
    with engine.begin() as conn:
        conn.execute(text("DROP TABLE IF EXISTS bench_journal_lines"))
        conn.execute(text("CREATE TABLE bench_journal_lines (LIKE journal_lines INCLUDING ALL)"))
    table = m.JournalLine.__table__.to_metadata(m.Base.metadata.__class__(), name="bench_journal_lines")
    started = time.perf_counter()
    with engine.begin() as conn:
        conn.execute(insert(table), rows)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--claims", type=int, default=10_000)
    args = parser.parse_args()
    server = postgres.start()
    try:
        admin = make_engine(server.admin_url, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text("CREATE DATABASE bench_posting"))
        admin.dispose()
        engine = make_engine(server.url("bench_posting"))
        upgrade(engine)
        started = time.perf_counter()
        payer_code, ids = seed(engine, args.claims)
        print(f"seeded and charged {len(ids)} claims in {time.perf_counter() - started:.1f}s")
        remittance = build_remittance(engine, payer_code, ids)
        lines_in = sum(len(c.service_lines) for c in remittance.claims)
        counter = StatementCounter(engine)
        with Session(engine) as session:
            started = time.perf_counter()
            result = post_remittance(session, remittance)
            session.commit()
            posting = time.perf_counter() - started
        statements = counter.count
        with Session(engine) as session:
            journal_lines = session.execute(
                select(
                    m.JournalLine.account_id,
                    m.JournalLine.entry_id,
                    m.JournalLine.debit_cents,
                    m.JournalLine.credit_cents,
                )
                .join(m.JournalEntry, m.JournalEntry.id == m.JournalLine.entry_id)
                .where(m.JournalEntry.remittance_id == result.remittance_id)
            ).all()
        rows = [
            {"id": m.new_id(), "entry_id": e, "account_id": a, "debit_cents": d, "credit_cents": c}
            for a, e, d, c in journal_lines
        ]
        bare = min(baseline_ledger_table(engine, rows) for _ in range(2))
        bare_no_fk = min(baseline(engine, rows) for _ in range(2))
        with Session(engine) as session:
            again_started = time.perf_counter()
            again = post_remittance(session, remittance)
            session.commit()
            again_time = time.perf_counter() - again_started
        engine.dispose()
    finally:
        server.stop()
    print(
        f"835: {len(remittance.claims)} claims, {lines_in} service lines; matched {result.claims_matched}, "
        f"unmatched {result.claims_unmatched}, exceptions {result.claims_in_exception}; "
        f"{result.entries_written} entries / {len(rows)} journal lines written, "
        f"{len(result.secondary_claims_created)} secondary claims created"
    )
    print(f"posting:  {posting:.2f}s ({len(remittance.claims) / posting:,.0f} claims/s), {statements} SQL statements")
    print(f"baseline: {bare:.2f}s (bare executemany of {len(rows)} journal lines into journal_lines)")
    print(f"ratio posting/baseline: {posting / bare:.2f}x (goal: within 3x)")
    print(
        f"stricter baseline: {bare_no_fk:.2f}s (the same into a copy without foreign keys): "
        f"ratio {posting / bare_no_fk:.2f}x"
    )
    print(f"re-post of the same 835: already_posted={again.already_posted} in {again_time:.3f}s")


if __name__ == "__main__":
    main()
