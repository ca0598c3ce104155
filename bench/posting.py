"""Posting benchmark: a 10,000-claim 835 posted into a real PostgreSQL, as a ratio to a bare bulk insert.

Measured in the same run on the same throwaway server (tests/support/postgres.py), in alternating rounds:

* posting: ``domain.posting.post_remittance`` of one Remittance with N claim payments (two lines each on
  average, CO-45 and PR-1 adjustments, REF*6R line control numbers) matched to N seeded claims: matching,
  the checks, journal entries and lines, the remittance rows, claim and claim-line updates, secondary claims
  for patients with a secondary coverage, the audit event, and the commit. The session is the product's (its
  bulk writer is the composition root's: ``activities.storage``, COPY on PostgreSQL).
* baseline: a bare SQLAlchemy Core ``executemany`` of the same number of journal lines as posting wrote, into
  ``journal_lines`` itself (its indexes, checks and foreign keys to entries and accounts).
  A second, stricter baseline inserts them into a copy of the table without foreign keys: PostgreSQL checks
  every foreign key of every row it inserts, and posting's rows carry about five such checks per claim line.

Each round posts into a fresh copy of the seeded database (``CREATE DATABASE ... TEMPLATE``) and inserts the
baseline into a fresh copy of the database as it is after one posting (the lines need their entries and
accounts); rounds alternate the order (P B, then B P, ...) so load from elsewhere weighs on both sides alike.
Goal: posting within 3x of the baseline. The statement count shows that posting makes no round trip per line.

    .venv/bin/python bench/posting.py                       # 10,000 claims, 3 rounds
    .venv/bin/python bench/posting.py --claims 2000 --rounds 2   # a quick run
    .venv/bin/python bench/posting.py --through-workflows        # the same ERA through the workflows: see
                                                                 # bench/_posting_workflows.py
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from datetime import date
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import Engine, event, insert, select, text, update
from sqlalchemy.orm import Session, selectinload, sessionmaker

from activities.storage import bulk_writer_for
from domain import models as m
from domain.claim_status import ClaimStatus
from domain.ledger.service import post_charges
from domain.posting import PostingResult, post_remittance
from domain.remittance import Adjustment, ClaimPayment, Remittance, ServiceLinePayment
from domain.store.engine import make_engine, make_session_factory
from domain.store.migrate import upgrade
from tests.support import postgres
from workers.synthetic import seed_practice

AS_OF = date(2026, 11, 1)
SEEDED = "bench_seeded"  # the practice, its claims submitted and charged
POSTED = "bench_posted"  # the same after one posting: the baseline's lines need its entries and accounts


class StatementCounter:
    def __init__(self, engine: Engine) -> None:
        self.count = 0
        event.listen(engine, "before_cursor_execute", self._count)

    def _count(self, *_args: Any) -> None:
        self.count += 1


def factory(engine: Engine) -> sessionmaker[Session]:
    return make_session_factory(engine, bulk_writer=bulk_writer_for(engine))


def seed(engine: Engine, claims: int) -> tuple[str, list[str]]:
    """Seed a practice with at least ``claims`` claims and make them submitted claims of one payer."""
    patients = max(200, claims // 2)
    with factory(engine)() as session:
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


class Server:
    """The throwaway server and its databases: a template copied afresh for every measurement."""

    def __init__(self, server: postgres.PostgresServer) -> None:
        self.server = server
        self.admin = make_engine(server.admin_url, isolation_level="AUTOCOMMIT")
        self.serial = 0

    def create(self, name: str, template: str | None = None) -> Engine:
        with self.admin.connect() as conn:
            conn.execute(text(f"DROP DATABASE IF EXISTS {name}"))
            conn.execute(text(f"CREATE DATABASE {name}" + (f" TEMPLATE {template}" if template else "")))
        return make_engine(self.server.url(name))

    def copy_of(self, template: str) -> tuple[str, Engine]:
        self.serial += 1
        name = f"bench_round_{self.serial}"
        return name, self.create(name, template)

    def drop(self, name: str, engine: Engine) -> None:
        engine.dispose()
        with self.admin.connect() as conn:
            conn.execute(text(f"DROP DATABASE IF EXISTS {name}"))


def post_once(engine: Engine, remittance: Remittance) -> tuple[float, PostingResult, int]:
    counter = StatementCounter(engine)
    with factory(engine)() as session:
        started = time.perf_counter()
        result = post_remittance(session, remittance)
        session.commit()
        elapsed = time.perf_counter() - started
    return elapsed, result, counter.count


def journal_rows(engine: Engine, remittance_id: str | None) -> list[dict[str, Any]]:
    with Session(engine) as session:
        lines = session.execute(
            select(
                m.JournalLine.account_id, m.JournalLine.entry_id, m.JournalLine.debit_cents, m.JournalLine.credit_cents
            )
            .join(m.JournalEntry, m.JournalEntry.id == m.JournalLine.entry_id)
            .where(m.JournalEntry.remittance_id == remittance_id)
        ).all()
    return [
        {"id": m.new_id(), "entry_id": e, "account_id": a, "debit_cents": d, "credit_cents": c} for a, e, d, c in lines
    ]


def baseline(engine: Engine, rows: list[dict[str, Any]]) -> tuple[float, float]:
    """The journal lines into journal_lines itself, then into a copy of it without foreign keys (seconds each)."""
    started = time.perf_counter()
    with engine.begin() as conn:
        conn.execute(insert(m.JournalLine.__table__), rows)
    bare = time.perf_counter() - started
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE bench_journal_lines (LIKE journal_lines INCLUDING ALL)"))
    table = m.JournalLine.__table__.to_metadata(m.Base.metadata.__class__(), name="bench_journal_lines")
    started = time.perf_counter()
    with engine.begin() as conn:
        conn.execute(insert(table), rows)
    return bare, time.perf_counter() - started


def prepare(server: Server, claims: int) -> tuple[Remittance, list[dict[str, Any]]]:
    """The seeded template, the template after one posting, the remittance and the baseline's rows."""
    engine = server.create(SEEDED)
    upgrade(engine)
    started = time.perf_counter()
    payer_code, ids = seed(engine, claims)
    print(f"seeded and charged {len(ids)} claims in {time.perf_counter() - started:.1f}s")
    remittance = build_remittance(engine, payer_code, ids)
    engine.dispose()
    posted = server.create(POSTED, SEEDED)
    _, result, _ = post_once(posted, remittance)
    rows = journal_rows(posted, result.remittance_id)
    posted.dispose()
    return remittance, rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--claims", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=3, help="alternating posting/baseline rounds")
    parser.add_argument(
        "--through-workflows",
        action="store_true",
        help="post the 835 end to end through the workflows instead (bench/_posting_workflows.py)",
    )
    args = parser.parse_args()
    if args.through_workflows:
        from _posting_workflows import through_workflows

        through_workflows(args.claims, seed, build_remittance)
        return
    server = Server(postgres.start())
    postings: list[float] = []
    bares: list[float] = []
    stricter: list[float] = []
    try:
        remittance, rows = prepare(server, args.claims)
        for number in range(max(1, args.rounds)):
            for side in ("posting", "baseline") if number % 2 == 0 else ("baseline", "posting"):
                if side == "posting":
                    name, engine = server.copy_of(SEEDED)
                    elapsed, result, statements = post_once(engine, remittance)
                    postings.append(elapsed)
                    if number == 0:
                        with factory(engine)() as session:
                            again_started = time.perf_counter()
                            again = post_remittance(session, remittance)
                            session.commit()
                            again_time = time.perf_counter() - again_started
                else:
                    name, engine = server.copy_of(POSTED)
                    bare, bare_no_fk = baseline(engine, rows)
                    bares.append(bare)
                    stricter.append(bare_no_fk)
                server.drop(name, engine)
            print(
                f"round {number + 1}: posting {postings[-1]:.2f}s, baseline {bares[-1]:.2f}s, "
                f"ratio {postings[-1] / bares[-1]:.2f}x"
            )
    finally:
        server.admin.dispose()
        server.server.stop()
    lines_in = sum(len(c.service_lines) for c in remittance.claims)
    ratios = [p / b for p, b in zip(postings, bares, strict=True)]
    posting, bare = statistics.median(postings), statistics.median(bares)
    print(
        f"835: {len(remittance.claims)} claims, {lines_in} service lines; matched {result.claims_matched}, "
        f"unmatched {result.claims_unmatched}, exceptions {result.claims_in_exception}; "
        f"{result.entries_written} entries / {len(rows)} journal lines written, "
        f"{len(result.secondary_claims_created)} secondary claims created"
    )
    print(
        f"posting:  {posting:.2f}s median ({len(remittance.claims) / posting:,.0f} claims/s), "
        f"{statements} SQL statements"
    )
    print(f"baseline: {bare:.2f}s median (bare executemany of {len(rows)} journal lines into journal_lines)")
    print(
        f"ratio posting/baseline: {sum(postings) / sum(bares):.2f}x pooled, per round "
        + ", ".join(f"{r:.2f}" for r in ratios)
        + " (goal: within 3x)"
    )
    print(
        f"stricter baseline: {statistics.median(stricter):.2f}s median (the same into a copy without foreign keys): "
        f"ratio {sum(postings) / sum(stricter):.2f}x pooled"
    )
    print(f"re-post of the same 835: already_posted={again.already_posted} in {again_time:.3f}s")


if __name__ == "__main__":
    main()
