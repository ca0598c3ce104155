"""The daily AR/KPI report: where the money is and how fast it comes in, as JSON, CSV and a PDF with charts.

Figures: insurance AR by payer and age bucket (the same rows as the AR-aging snapshot), claims by status, days in
AR (AR over the average day's charges of the last 90 days), the denial rate of the last 30 days' adjudications,
what was collected in the last 30 days (payers and patients), and the people's work waiting (open and overdue
work items). Ratios are Decimals with one decimal place, money integer cents.
"""

# No `from __future__ import annotations`: a served flow is pickled into a process of its own, and Prefect
# reads its parameters' types from the function, so they must be objects, not names to look up there.

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from prefect import Flow, flow, task
from prefect.cache_policies import NO_CACHE

from domain.aging_rules import BUCKETS
from flows.batch import AR_KPI_REPORT
from flows.batch.aging import OpenBalance, age_balances

TENTH = Decimal("0.1")


@dataclass(frozen=True)
class KpiFigures:
    """What the store says on a day (the port computes them; the rules of the report are here)."""

    claims_by_status: dict[str, int]
    charges_90d_cents: int  # charges of claims with a date of service in the last 90 days
    adjudicated_30d: int  # claims adjudicated (paid, partially paid, denied) in the last 30 days
    denied_30d: int  # of those, denied
    payer_paid_30d_cents: int
    patient_paid_30d_cents: int
    open_work_items: int
    overdue_work_items: int


@dataclass(frozen=True)
class KpiPorts:
    open_balances: Callable[[date], Sequence[OpenBalance]]
    figures: Callable[[date], KpiFigures]
    write_report: Callable[[str, date, Mapping[str, Any]], str]
    write_csv: Callable[[str, date, Sequence[Mapping[str, Any]]], str]
    write_pdf: Callable[[str, date, Mapping[str, Any]], str]  # the document -> a PDF with its charts
    today: Callable[[], date]


@dataclass(frozen=True)
class KpiSummary:
    as_of: date
    ar_cents: int
    days_in_ar: str
    denial_rate_percent: str
    collected_30d_cents: int
    report: str
    csv: str
    pdf: str


def days_in_ar(ar_cents: int, charges_90d_cents: int) -> Decimal:
    """AR divided by the average day's charges over 90 days; 0 when nothing was charged."""
    if charges_90d_cents <= 0:
        return Decimal(0)
    return (Decimal(ar_cents) * 90 / Decimal(charges_90d_cents)).quantize(TENTH, ROUND_HALF_UP)


def denial_rate_percent(denied: int, adjudicated: int) -> Decimal:
    if adjudicated <= 0:
        return Decimal(0)
    return (Decimal(denied) * 100 / Decimal(adjudicated)).quantize(TENTH, ROUND_HALF_UP)


def kpi_document(day: date, balances: Sequence[OpenBalance], figures: KpiFigures) -> dict[str, Any]:
    rows = age_balances(balances, day)
    by_bucket = dict.fromkeys(BUCKETS, 0)
    for row in rows:
        by_bucket[row.bucket] += row.open_cents
    ar = sum(by_bucket.values())
    return {
        "as_of": day.isoformat(),
        "ar_cents": ar,
        "ar_by_bucket_cents": by_bucket,
        "aging_rows": [row.__dict__ for row in rows],
        "claims_by_status": dict(sorted(figures.claims_by_status.items())),
        "days_in_ar": str(days_in_ar(ar, figures.charges_90d_cents)),
        "denial_rate_percent": str(denial_rate_percent(figures.denied_30d, figures.adjudicated_30d)),
        "collected_30d_cents": {
            "payers": figures.payer_paid_30d_cents,
            "patients": figures.patient_paid_30d_cents,
        },
        "work_items": {"open": figures.open_work_items, "overdue": figures.overdue_work_items},
    }


def build_ar_kpi_report(ports: KpiPorts) -> Flow[..., KpiSummary]:
    retrying: dict[str, Any] = {"cache_policy": NO_CACHE, "retries": 2, "retry_delay_seconds": 10}
    open_balances = task(name="ar.open_balances", **retrying)(ports.open_balances)
    figures = task(name="kpi.figures", **retrying)(ports.figures)
    write_report = task(name="reports.write", **retrying)(ports.write_report)
    write_csv = task(name="reports.write_csv", **retrying)(ports.write_csv)
    write_pdf = task(name="reports.write_pdf", **retrying)(ports.write_pdf)

    @flow(name=AR_KPI_REPORT.name, description=AR_KPI_REPORT.description)
    def ar_kpi_report(as_of: date | None = None) -> KpiSummary:
        day = as_of or ports.today()
        seen = figures(day)
        document = kpi_document(day, open_balances(day), seen)
        report = write_report("ar-kpi", day, document)
        csv = write_csv("ar-kpi", day, document["aging_rows"])
        pdf = write_pdf("ar-kpi", day, document)
        return KpiSummary(
            as_of=day,
            ar_cents=document["ar_cents"],
            days_in_ar=document["days_in_ar"],
            denial_rate_percent=document["denial_rate_percent"],
            collected_30d_cents=seen.payer_paid_30d_cents + seen.patient_paid_30d_cents,
            report=report,
            csv=csv,
            pdf=pdf,
        )

    return ar_kpi_report
