"""The operations dashboard: where the revenue cycle stands, in charts drawn on the server (console.charts).

Journeys by stage (Temporal visibility), work-queue size and age, denial rate by payer and the denial reasons,
cash posted per day, AR by payer and aging bucket, the days-in-AR trend, and the health of the clearinghouse
and the payer portals. Every number is also in the chart's tooltips and the tables under it.
"""

from __future__ import annotations

from datetime import timedelta

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
        today = now.date()
        try:
            stages = await running_by_stage(console)
            temporal_error = None
        except RPCError as exc:
            stages, temporal_error = {}, exc.message
        with console.session_factory() as db:
            ages = metrics.queue_ages(db, now)
            rates = metrics.denial_rates(db, today - timedelta(days=90))
            reasons = metrics.denial_reasons(db, today - timedelta(days=90))
            days, insurance, patient = metrics.cash_per_day(db, today - timedelta(days=29), today)
            payers, ar_buckets, dar = metrics.ar_by_payer(db, today)
            trend = metrics.days_in_ar_trend(db, today)
            health = metrics.door_health(db, now)
            totals = metrics.summary(db, now)
        stage_names = sorted(stages, key=lambda s: -stages[s])
        queue_names = list(ages)
        svg = {
            "stages": charts.hbars(
                "Running journeys by stage", stage_names, [charts.Series("running", [stages[s] for s in stage_names])]
            ),
            "queues": charts.hbars(
                "Open work items by queue and age",
                queue_names,
                [charts.Series(b, [ages[q][b] for q in queue_names]) for b in metrics.AGE_BUCKETS],
            ),
            "denials": charts.hbars(
                "Denial rate by payer (90 days)",
                [r.payer for r in rates],
                [charts.Series("denied", [r.rate for r in rates])],
                fmt=_percent,
            ),
            "reasons": charts.hbars(
                "Denied claims by adjustment reason (90 days)",
                [code for code, _ in reasons],
                [charts.Series("claims", [count for _, count in reasons])],
            ),
            "cash": charts.columns(
                "Cash posted per day (30 days)",
                [d.strftime("%m-%d") for d in days],
                [charts.Series("insurance", insurance), charts.Series("patients", patient)],
                fmt=_dollars,
            ),
            "ar": charts.hbars(
                "Insurance AR by payer and age (days since service)",
                payers,
                [charts.Series(b, ar_buckets[b]) for b in BUCKETS],
                fmt=_dollars,
            ),
            "trend": charts.line(
                "Days in AR, end of each week",
                [d.strftime("%m-%d") for d, _ in trend],
                [v for _, v in trend],
            ),
        }
        return console.render(
            request,
            "dashboard.html",
            svg=svg,
            stages=[(s, stages[s]) for s in stage_names],
            temporal_error=temporal_error,
            rates=rates,
            reasons=reasons,
            cash_total=sum(insurance) + sum(patient),
            insurance_total=sum(insurance),
            patient_total=sum(patient),
            payers=payers,
            ar_buckets=ar_buckets,
            buckets=BUCKETS,
            days_in_ar=dar,
            health=health,
            totals=totals,
            age_buckets=metrics.AGE_BUCKETS,
        )
