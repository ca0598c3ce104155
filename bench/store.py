"""Store benchmark: seeding and the hot read paths on a real PostgreSQL, as ratios to bare baselines.

Everything is measured in the same run on the same throwaway server (tests/support/postgres.py):

* seeding: the product's seeding path (``workers.synthetic.insert_practice``: SQLAlchemy Core bulk inserts
  per table) against a bare psycopg ``executemany`` of the very same rows into a second, identically
  migrated database. Generation (Faker) is timed on its own and shown beside it. Goal: within 2x.
* work-queue listing: open work items of one queue, oldest SLA first, one page (the biller's queue view),
  through SQLAlchemy as the application runs it, against a bare indexed SELECT of a page of the same
  table (primary-key range scan, raw driver, same page size). Goal: within 3x.
* AR aging: the drill-down (one payer's unpaid claims in one age bucket, oldest first, one page) against
  a bare indexed SELECT of a page of claims. Goal: within 3x. The whole-practice summary (every payer by
  every bucket) is an aggregate over all open claims: it is shown against a bare full-table aggregate of
  the same table, which is the fair floor for a query that must read every open claim.

    .venv/bin/python bench/store.py                    # 100k patients, about 1M claim lines
    .venv/bin/python bench/store.py --patients 5000    # a quick run
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import psycopg
from psycopg.types.json import Json
from sqlalchemy import Engine, and_, bindparam, case, func, insert, literal, select, text
from sqlalchemy.orm import Session

from domain import models as m
from domain.enums import WorkItemState
from domain.store.engine import make_engine
from domain.store.migrate import upgrade
from tests.support import postgres
from workers.batch import INSURANCE_AR_STATUSES
from workers.synthetic import SyntheticPractice, insert_practice

AS_OF = date(2026, 11, 1)
PAGE = 50
QUEUES = ("eligibility", "coding", "claim_edits", "rejections", "denials", "follow_up", "collections", "credentialing")
BUCKETS = ((0, 30), (31, 60), (61, 90), (91, 120), (121, 100_000))


def percentile(samples: Sequence[float], share: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def timed_alternating(
    measured: Callable[[], object], baseline: Callable[[], object], repeats: int, warmup: int = 5
) -> tuple[list[float], list[float]]:
    """Samples of both, taken in turn, so that load from elsewhere on the machine weighs on both alike."""
    for _ in range(warmup):
        measured()
        baseline()
    first: list[float] = []
    second: list[float] = []
    for _ in range(repeats):
        for fn, samples in ((measured, first), (baseline, second)):
            started = time.perf_counter()
            fn()
            samples.append(time.perf_counter() - started)
    return first, second


def raw_sql(engine: Engine, statement: Any) -> str:
    """The statement's SQL with its parameters inlined, to run through the bare driver."""
    return str(statement.compile(engine, compile_kwargs={"literal_binds": True}))


def create_database(server: postgres.PostgresServer, name: str) -> Engine:
    admin = make_engine(server.admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    engine = make_engine(server.url(name))
    upgrade(engine)
    return engine


def raw_connect(server: postgres.PostgresServer, name: str) -> psycopg.Connection[Any]:
    return psycopg.connect(f"postgresql://postgres@127.0.0.1:{server.port}/{name}")


# --- seeding -----------------------------------------------------------------------------------------


class _OneTable:
    """A practice view holding one table's rows, so the product path can be timed table by table."""

    def __init__(self, table: Any, rows: list[dict[str, Any]]) -> None:
        self._pair = (table, rows)

    def tables(self) -> Iterator[tuple[Any, list[dict[str, Any]]]]:
        yield self._pair


def bare_statement(table: Any, rows: list[dict[str, Any]]) -> tuple[str, list[tuple[Any, ...]]]:
    # The rows become driver tuples before the clock starts: the baseline is executemany and nothing else.
    columns = list(rows[0])
    json_columns = {c.name for c in table.columns if c.type.__class__.__name__ == "JSON"}
    params = [
        tuple(Json(row[c]) if c in json_columns and row[c] is not None else row[c] for c in columns) for row in rows
    ]
    return f"INSERT INTO {table.name} ({', '.join(columns)}) VALUES ({', '.join(['%s'] * len(columns))})", params


def seed_both(engine: Engine, connection: psycopg.Connection[Any], practice: SyntheticPractice) -> tuple[float, float]:
    """Table by table, the product path and the bare executemany in turn (each in its own single transaction),
    so that whatever else the machine does at the time weighs on both alike."""
    product = bare = 0.0
    connection.autocommit = False
    with Session(engine) as session, connection.cursor() as cursor:
        for index, (table, rows) in enumerate(practice.tables()):
            sql, params = bare_statement(table, rows)

            def run_product(table: Any = table, rows: list[dict[str, Any]] = rows) -> float:
                started = time.perf_counter()
                insert_practice(session, _OneTable(table, rows))
                return time.perf_counter() - started

            def run_bare(sql: str = sql, params: list[tuple[Any, ...]] = params) -> float:
                started = time.perf_counter()
                for start in range(0, len(params), 5000):
                    cursor.executemany(sql, params[start : start + 5000])
                return time.perf_counter() - started

            if index % 2:
                bare += run_bare()
                product += run_product()
            else:
                product += run_product()
                bare += run_bare()
        started = time.perf_counter()
        session.commit()
        product += time.perf_counter() - started
        started = time.perf_counter()
        connection.commit()
        bare += time.perf_counter() - started
    return product, bare


def seed_work_items(engine: Engine, count: int, claim_ids: list[str], rng: random.Random) -> None:
    now = datetime.combine(AS_OF, datetime.min.time(), tzinfo=UTC)
    states = [WorkItemState.OPEN] * 6 + [WorkItemState.CLAIMED] * 1 + [WorkItemState.RESOLVED] * 3
    rows = []
    for index in range(count):
        queue = QUEUES[index % len(QUEUES)]
        rows.append(
            {
                "id": f"00000000-0000-4000-8000-{index:012d}",
                "queue": queue,
                "reason_code": f"{queue.upper()}_CHECK",
                "state": rng.choice(states).value,
                "summary": f"{queue} item {index}",
                "context": {"claim": claim_ids[index % len(claim_ids)]},
                "entity_type": "claim",
                "entity_id": claim_ids[index % len(claim_ids)],
                "workflow_id": f"claim-{claim_ids[index % len(claim_ids)]}",
                "dedupe_key": f"bench-{index}",
                "created_at": now - timedelta(hours=rng.randrange(0, 24 * 60)),
                "sla_due_at": now + timedelta(hours=rng.randrange(-24 * 10, 24 * 20)),
                "escalation_level": 0,
                "version_id": 1,
            }
        )
    with Session(engine) as session, session.begin():
        for start in range(0, len(rows), 5000):
            session.execute(insert(m.WorkItem), rows[start : start + 5000])


# --- the read paths ----------------------------------------------------------------------------------


def work_queue_statement(queue: str) -> Any:
    # The query of `carecycle tasks list --queue Q` (workers/cli/tasks.py), one page of it.
    return (
        select(m.WorkItem)
        .where(m.WorkItem.queue == queue, m.WorkItem.state.in_([WorkItemState.OPEN, WorkItemState.CLAIMED]))
        .order_by(m.WorkItem.sla_due_at, m.WorkItem.created_at)
        .limit(PAGE)
    )


def work_queue_page(session: Session, queue: str) -> list[m.WorkItem]:
    items = list(session.scalars(work_queue_statement(queue)))
    session.expunge_all()
    return items


# Built once with bind parameters, as a hot query should be: each page only binds its three values.
AR_DRILLDOWN = (
    select(
        m.Claim.id,
        m.Claim.patient_id,
        m.Claim.status,
        m.Claim.date_of_service,
        m.Claim.total_charge_cents,
        m.Claim.paid_cents,
        (m.Claim.total_charge_cents - m.Claim.paid_cents).label("open_cents"),
    )
    .where(
        m.Claim.payer_id == bindparam("payer_id"),
        m.Claim.status.in_([s.value for s in INSURANCE_AR_STATUSES]),
        m.Claim.date_of_service.between(bindparam("oldest"), bindparam("newest")),
    )
    .order_by(m.Claim.date_of_service, m.Claim.id)
    .limit(PAGE)
)


def ar_drilldown_parameters(payer_id: str, bucket: tuple[int, int]) -> dict[str, Any]:
    return {
        "payer_id": payer_id,
        "newest": AS_OF - timedelta(days=bucket[0]),
        "oldest": AS_OF - timedelta(days=bucket[1]),
    }


def ar_drilldown_page(session: Session, payer_id: str, bucket: tuple[int, int]) -> list[Any]:
    # A report reads rows, not entities: through the session's connection (Core), past the ORM layer.
    return list(session.connection().execute(AR_DRILLDOWN, ar_drilldown_parameters(payer_id, bucket)))


def ar_summary(session: Session) -> list[Any]:
    age = literal(AS_OF) - m.Claim.date_of_service
    bucket = case(*[(and_(age >= low, age <= high), f"{low}-{high}") for low, high in BUCKETS[:-1]], else_="121+")
    statement = (
        select(
            m.Claim.payer_id,
            bucket.label("bucket"),
            func.count(),
            func.sum(m.Claim.total_charge_cents - m.Claim.paid_cents),
        )
        .where(m.Claim.status.in_([s.value for s in INSURANCE_AR_STATUSES]))
        .group_by(m.Claim.payer_id, bucket)
    )
    return list(session.execute(statement))


def bare_page(cursor: psycopg.Cursor[Any], table: str, columns: str, after_ids: list[str]) -> Callable[[], object]:
    ids = iter(after_ids * 1000)

    def run() -> object:
        cursor.execute(f"SELECT {columns} FROM {table} WHERE id >= %s ORDER BY id LIMIT {PAGE}", (next(ids),))
        return cursor.fetchall()

    return run


def report_ratio(name: str, samples: list[float], baseline: list[float], goal: float) -> dict[str, Any]:
    p50, p95 = statistics.median(samples), percentile(samples, 0.95)
    b50, b95 = statistics.median(baseline), percentile(baseline, 0.95)
    ratio50, ratio95 = p50 / b50, p95 / b95
    verdict = "meets" if ratio50 <= goal else "MISSES"
    print(
        f"  {name:<28} p50 {p50 * 1000:8.3f} ms  p95 {p95 * 1000:8.3f} ms | baseline p50 {b50 * 1000:7.3f} ms "
        f"p95 {b95 * 1000:7.3f} ms | ratio p50 {ratio50:5.2f}x p95 {ratio95:5.2f}x ({verdict} the {goal:g}x goal)"
    )
    return {"p50_ms": p50 * 1000, "p95_ms": p95 * 1000, "ratio_p50": ratio50, "ratio_p95": ratio95}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--patients", type=int, default=100_000)
    parser.add_argument("--visit-scale", type=int, default=6, help="visits per patient multiplier (1M lines at 6)")
    parser.add_argument("--work-items", type=int, default=50_000)
    parser.add_argument("--repeats", type=int, default=300)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--json", action="store_true", help="also print the figures as one JSON object")
    parser.add_argument("--explain", action="store_true", help="print the query plans of the measured reads")
    args = parser.parse_args(argv)
    if not postgres.available():
        print(f"PostgreSQL binaries not found under {postgres.PG_BIN}", file=sys.stderr)
        return 2
    rng = random.Random(args.seed)
    figures: dict[str, Any] = {"patients": args.patients, "visit_scale": args.visit_scale}
    server = postgres.start()
    try:
        product = create_database(server, "bench_product")
        create_database(server, "bench_bare").dispose()
        bare = raw_connect(server, "bench_bare")

        started = time.perf_counter()
        practice = SyntheticPractice(args.seed, AS_OF, visit_scale=args.visit_scale).generate(args.patients)
        generation = time.perf_counter() - started
        rows = sum(len(r) for _, r in practice.tables())
        counts = {t.name: len(r) for t, r in practice.tables()}
        print(
            f"generated {rows:,} rows ({counts['patients']:,} patients, {counts['claims']:,} claims, "
            f"{counts['claim_lines']:,} claim lines) in {generation:.1f} s"
        )
        product_seconds, bare_seconds = seed_both(product, bare, practice)
        ratio = product_seconds / bare_seconds
        print("seeding (insert of the same rows, one transaction each):")
        print(
            f"  product path {rows / product_seconds:10,.0f} rows/s ({product_seconds:.1f} s) | bare executemany "
            f"{rows / bare_seconds:10,.0f} rows/s ({bare_seconds:.1f} s) | ratio {ratio:.2f}x "
            f"({'meets' if ratio <= 2 else 'MISSES'} the 2x goal)"
        )
        print(
            f"  with generation the product path seeds {rows / (generation + product_seconds):,.0f} rows/s end to end"
        )
        figures["rows"] = rows
        figures["counts"] = counts
        figures["seeding"] = {
            "generation_s": generation,
            "product_s": product_seconds,
            "bare_s": bare_seconds,
            "ratio": ratio,
        }
        bare.close()

        claim_ids = [row["id"] for row in practice.rows[m.Claim.__table__]]  # type: ignore[index]
        payer_ids = sorted({row["payer_id"] for row in practice.rows[m.Claim.__table__]})  # type: ignore[index]
        del practice
        seed_work_items(product, args.work_items, claim_ids, rng)
        raw = raw_connect(server, "bench_product")
        raw.autocommit = True
        cursor = raw.cursor()
        cursor.execute("VACUUM ANALYZE")  # as autovacuum would leave a settled table: fresh statistics
        work_ids = sorted(rng.sample([f"00000000-0000-4000-8000-{i:012d}" for i in range(args.work_items)], 200))
        sample_claims = sorted(rng.sample(claim_ids, min(200, len(claim_ids))))
        work_columns = ", ".join(c.name for c in m.WorkItem.__table__.columns)
        claim_columns = "id, patient_id, status, date_of_service, total_charge_cents, paid_cents"
        repeats = args.repeats
        print(f"reads ({repeats} runs each, page size {PAGE}; baseline: bare indexed SELECT of a page, raw driver):")
        with Session(product) as session:
            queues = iter(list(QUEUES) * repeats * 4)
            listing, baseline_work = timed_alternating(
                lambda: work_queue_page(session, next(queues)),
                bare_page(cursor, "work_items", work_columns, work_ids),
                repeats,
            )
            figures["work_queue_listing"] = report_ratio("work-queue listing", listing, baseline_work, 3)
            listing_sql = {q: raw_sql(product, work_queue_statement(q)) for q in QUEUES}
            sql_queues = iter(list(QUEUES) * repeats * 4)
            listing_raw, baseline_work = timed_alternating(
                lambda: (cursor.execute(listing_sql[next(sql_queues)]), cursor.fetchall()),
                bare_page(cursor, "work_items", work_columns, work_ids),
                repeats,
            )
            figures["work_queue_listing_sql"] = report_ratio("  same SQL, bare driver", listing_raw, baseline_work, 3)

            pairs = [(p, b) for p in payer_ids for b in BUCKETS]
            targets = iter(pairs * repeats * 4)
            drill, baseline_claims = timed_alternating(
                lambda: ar_drilldown_page(session, *next(targets)),
                bare_page(cursor, "claims", claim_columns, sample_claims),
                repeats,
            )
            figures["ar_aging_drilldown"] = report_ratio("AR aging drill-down", drill, baseline_claims, 3)
            drill_sql = [raw_sql(product, AR_DRILLDOWN.params(ar_drilldown_parameters(*pair))) for pair in pairs]
            sql_targets = iter(drill_sql * repeats * 4)
            drill_raw, baseline_claims = timed_alternating(
                lambda: (cursor.execute(next(sql_targets)), cursor.fetchall()),
                bare_page(cursor, "claims", claim_columns, sample_claims),
                repeats,
            )
            figures["ar_aging_drilldown_sql"] = report_ratio("  same SQL, bare driver", drill_raw, baseline_claims, 3)

            def bare_scan() -> object:
                cursor.execute("SELECT payer_id, count(*), sum(total_charge_cents) FROM claims GROUP BY payer_id")
                return cursor.fetchall()

            summary_repeats = max(10, repeats // 20)
            summary, scan = timed_alternating(lambda: ar_summary(session), bare_scan, summary_repeats, warmup=2)
            if args.explain:
                for title, sql in (("work-queue listing", listing_sql[QUEUES[0]]), ("AR drill-down", drill_sql[2])):
                    cursor.execute(f"EXPLAIN (ANALYZE, BUFFERS) {sql}")
                    print(f"plan of the {title}:\n  " + "\n  ".join(row[0] for row in cursor.fetchall()))
        print("AR aging summary (every payer x bucket; baseline: bare full-table aggregate of claims):")
        figures["ar_aging_summary"] = report_ratio("AR aging summary", summary, scan, 3)
        raw.close()
        product.dispose()
    finally:
        server.stop()
    if args.json:
        print(json.dumps(figures, default=str))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
