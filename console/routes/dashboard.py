"""The operations dashboard: where the revenue cycle stands, in charts drawn on the server (console.charts).

Journeys by stage (Temporal visibility), work-queue size and age, denial rate by payer and the denial reasons,
cash posted per day, AR by payer and aging bucket, the days-in-AR trend, and the health of the clearinghouse
and the payer portals. Every number is also in the chart's tooltips and the tables under it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from fastapi import Depends, FastAPI, Request
from fastapi.responses import HTMLResponse
from temporalio.service import RPCError

from console import charts, metrics
from console.accounts import ConsoleUserView, Permission
from console.format import dollars
from console.routes.work import running_by_stage
from console.web import Console
from domain.aging import BUCKETS


def _dollars(value: float) -> str:
    return dollars(int(value))


def _percent(value: float) -> str:
    return f"{value:.0f}%"


def register(app: FastAPI, console: Console) -> None:
    viewer = Depends(console.require(Permission.VIEW))

    @app.get("/dashboard", response_class=HTMLResponse)
    async def dashboard(request: Request, user: ConsoleUserView = viewer) -> HTMLResponse:
        now = console.now()
        try:
            stages = await running_by_stage(console)
            temporal_error = None
        except RPCError as exc:
            stages, temporal_error = {}, exc.message
        figures = _read_figures(console, now)
        stage_names = sorted(stages, key=lambda s: -stages[s])
        return console.render(
            request,
            "dashboard.html",
            svg=_charts(stages, stage_names, figures),
            stages=[(s, stages[s]) for s in stage_names],
            temporal_error=temporal_error,
            rates=figures.rates,
            reasons=figures.reasons,
            cash_total=sum(figures.insurance) + sum(figures.patient),
            insurance_total=sum(figures.insurance),
            patient_total=sum(figures.patient),
            payers=figures.payers,
            ar_buckets=figures.ar_buckets,
            buckets=BUCKETS,
            days_in_ar=figures.days_in_ar,
            health=figures.health,
            totals=figures.totals,
            age_buckets=metrics.AGE_BUCKETS,
        )


@dataclass(frozen=True)
class _Figures:
    """The store's numbers behind the dashboard (console.metrics), read in one session."""

    ages: dict[str, dict[str, int]]
    rates: list[metrics.DenialRate]
    reasons: list[tuple[str, int]]
    days: list[date]
    insurance: list[int]
    patient: list[int]
    payers: list[str]
    ar_buckets: dict[str, list[int]]
    days_in_ar: float | None
    trend: list[tuple[date, float | None]]
    health: list[metrics.DoorHealth]
    totals: dict[str, Any]


def _read_figures(console: Console, now: datetime) -> _Figures:
    today = now.date()
    with console.session_factory() as db:
        ages = metrics.queue_ages(db, now)
        rates = metrics.denial_rates(db, today - timedelta(days=90))
        reasons = metrics.denial_reasons(db, today - timedelta(days=90))
        days, insurance, patient = metrics.cash_per_day(db, today - timedelta(days=29), today)
        payers, ar_buckets, dar = metrics.ar_by_payer(db, today)
        trend = metrics.days_in_ar_trend(db, today)
        health = metrics.door_health(db, now)
        totals = metrics.summary(db, now)
    return _Figures(ages, rates, reasons, days, insurance, patient, payers, ar_buckets, dar, trend, health, totals)


def _charts(stages: dict[str, int], stage_names: list[str], figures: _Figures) -> dict[str, str]:
    """The dashboard's SVG charts by name, drawn from the figures (console.charts)."""
    queue_names = list(figures.ages)
    return {
        "stages": charts.hbars(
            "Running journeys by stage", stage_names, [charts.Series("running", [stages[s] for s in stage_names])]
        ),
        "queues": charts.hbars(
            "Open work items by queue and age",
            queue_names,
            [charts.Series(b, [figures.ages[q][b] for q in queue_names]) for b in metrics.AGE_BUCKETS],
        ),
        "denials": charts.hbars(
            "Denial rate by payer (90 days)",
            [r.payer for r in figures.rates],
            [charts.Series("denied", [r.rate for r in figures.rates])],
            fmt=_percent,
        ),
        "reasons": charts.hbars(
            "Denied claims by adjustment reason (90 days)",
            [code for code, _ in figures.reasons],
            [charts.Series("claims", [count for _, count in figures.reasons])],
        ),
        "cash": charts.columns(
            "Cash posted per day (30 days)",
            [d.strftime("%m-%d") for d in figures.days],
            [charts.Series("insurance", figures.insurance), charts.Series("patients", figures.patient)],
            fmt=_dollars,
        ),
        "ar": charts.hbars(
            "Insurance AR by payer and age (days since service)",
            figures.payers,
            [charts.Series(b, figures.ar_buckets[b]) for b in BUCKETS],
            fmt=_dollars,
        ),
        "trend": charts.line(
            "Days in AR, end of each week",
            [d.strftime("%m-%d") for d, _ in figures.trend],
            [v for _, v in figures.trend],
        ),
    }
