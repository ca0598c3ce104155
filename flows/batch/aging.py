"""AR-aging snapshot: open claim balances by payer and age bucket, as of a day, written as a report.

The store query (a port) returns the ledger's insurance AR grouped by payer and date of service
(``domain.aging.insurance_open_balances``: the same source as ``carecycle ar aging``, so the two agree to the
cent); the buckets are the domain's one rule (``domain.aging_rules.bucket_of``).
"""

# No `from __future__ import annotations`: a served flow is pickled into a process of its own, and Prefect
# reads its parameters' types from the function, so they must be objects, not names to look up there.

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from prefect import Flow, flow, task
from prefect.cache_policies import NO_CACHE

from domain.aging_rules import BUCKETS, bucket_of
from flows.batch import AR_AGING_SNAPSHOT


@dataclass(frozen=True)
class OpenBalance:
    """Open claims of one payer for one date of service."""

    payer_id: str  # the payer's code (the id the clearinghouse knows), not PHI
    payer_name: str
    date_of_service: date
    claims: int
    open_cents: int


@dataclass(frozen=True)
class AgingRow:
    payer_id: str
    payer_name: str
    bucket: str
    claims: int
    open_cents: int


@dataclass(frozen=True)
class AgingSnapshotPorts:
    open_balances: Callable[[date], Sequence[OpenBalance]]
    write_report: Callable[[str, date, Mapping[str, Any]], str]
    write_csv: Callable[[str, date, Sequence[Mapping[str, Any]]], str]
    today: Callable[[], date]


@dataclass(frozen=True)
class AgingSnapshotSummary:
    as_of: date
    claims: int
    open_cents: int
    by_bucket_cents: dict[str, int]
    payers: int
    report: str
    csv: str


def age_balances(balances: Sequence[OpenBalance], as_of: date) -> list[AgingRow]:
    totals: dict[tuple[str, str, str], list[int]] = {}
    for balance in balances:
        key = (balance.payer_id, balance.payer_name, bucket_of((as_of - balance.date_of_service).days))
        counts = totals.setdefault(key, [0, 0])
        counts[0] += balance.claims
        counts[1] += balance.open_cents
    order = {label: index for index, label in enumerate(BUCKETS)}
    rows = [AgingRow(p, n, b, claims, cents) for (p, n, b), (claims, cents) in totals.items()]
    return sorted(rows, key=lambda r: (r.payer_id, order[r.bucket]))


def build_ar_aging_snapshot(ports: AgingSnapshotPorts) -> Flow[..., AgingSnapshotSummary]:
    retrying: dict[str, Any] = {
        "cache_policy": NO_CACHE,
        "retries": 2,
        "retry_delay_seconds": 10,
    }  # a read; files rewritten whole
    open_balances = task(name="ar.open_balances", **retrying)(ports.open_balances)
    write_report = task(name="reports.write", **retrying)(ports.write_report)
    write_csv = task(name="reports.write_csv", **retrying)(ports.write_csv)

    @flow(name=AR_AGING_SNAPSHOT.name, description=AR_AGING_SNAPSHOT.description)
    def ar_aging_snapshot(as_of: date | None = None) -> AgingSnapshotSummary:
        day = as_of or ports.today()
        rows = age_balances(open_balances(day), day)
        by_bucket = dict.fromkeys(BUCKETS, 0)
        for row in rows:
            by_bucket[row.bucket] += row.open_cents
        document = {
            "as_of": day.isoformat(),
            "buckets": list(BUCKETS),
            "totals_cents": by_bucket,
            "rows": [row.__dict__ for row in rows],
        }
        report = write_report("ar-aging", day, document)
        csv = write_csv("ar-aging", day, [row.__dict__ for row in rows])
        return AgingSnapshotSummary(
            as_of=day,
            claims=sum(r.claims for r in rows),
            open_cents=sum(r.open_cents for r in rows),
            by_bucket_cents=by_bucket,
            payers=len({r.payer_id for r in rows}),
            report=report,
            csv=csv,
        )

    return ar_aging_snapshot
