"""The daily AR/KPI report's I/O: its figures from the store, and its PDF with charts (reportlab).

The report's rules (days in AR, denial rate, aging) are in ``flows.batch.kpi``; here are only the queries and
the drawing. The PDF holds codes, counts and cents only: payer codes and names, no patient data.
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from domain import models as m
from domain.claim_status import ClaimStatus
from domain.enums import WorkItemState
from flows.batch.kpi import KpiFigures

ADJUDICATED = (ClaimStatus.PAID.value, ClaimStatus.PARTIALLY_PAID.value, ClaimStatus.DENIED.value)


def kpi_figures(session_factory: sessionmaker[Session], day: date) -> KpiFigures:
    end = datetime.combine(day + timedelta(days=1), time(), tzinfo=UTC)
    month_ago = end - timedelta(days=30)
    with session_factory() as session:
        by_status = dict(session.execute(select(m.Claim.status, func.count()).group_by(m.Claim.status)).tuples().all())
        charges = session.execute(
            select(func.coalesce(func.sum(m.Claim.total_charge_cents), 0)).where(
                m.Claim.date_of_service > day - timedelta(days=90), m.Claim.date_of_service <= day
            )
        ).scalar_one()
        adjudicated = session.execute(
            select(m.Claim.status, func.count())
            .where(
                m.Claim.status.in_(ADJUDICATED),
                m.Claim.adjudicated_at >= month_ago,
                m.Claim.adjudicated_at < end,
            )
            .group_by(m.Claim.status)
        ).all()
        payer_paid = session.execute(
            select(func.coalesce(func.sum(m.Remittance.payment_amount_cents), 0)).where(
                m.Remittance.received_at >= month_ago, m.Remittance.received_at < end
            )
        ).scalar_one()
        patient_paid = session.execute(
            select(func.coalesce(func.sum(m.PatientPayment.amount_cents), 0)).where(
                m.PatientPayment.received_at >= month_ago, m.PatientPayment.received_at < end
            )
        ).scalar_one()
        active = (WorkItemState.OPEN.value, WorkItemState.CLAIMED.value)
        open_items = session.execute(
            select(func.count()).select_from(m.WorkItem).where(m.WorkItem.state.in_(active))
        ).scalar_one()
        overdue = session.execute(
            select(func.count())
            .select_from(m.WorkItem)
            .where(m.WorkItem.state.in_(active), m.WorkItem.sla_due_at < datetime.now(UTC))
        ).scalar_one()
    counts = {str(status): int(count) for status, count in adjudicated}
    return KpiFigures(
        claims_by_status={str(k): int(v) for k, v in by_status.items()},
        charges_90d_cents=int(charges),
        adjudicated_30d=sum(counts.values()),
        denied_30d=counts.get(ClaimStatus.DENIED.value, 0),
        payer_paid_30d_cents=int(payer_paid),
        patient_paid_30d_cents=int(patient_paid),
        open_work_items=int(open_items),
        overdue_work_items=int(overdue),
    )


def _dollars(cents: int) -> str:
    sign = "-" if cents < 0 else ""
    return f"{sign}${abs(cents) // 100:,}.{abs(cents) % 100:02d}"


def _bar_chart(title: str, labels: list[str], values: list[int], *, width: float, height: float) -> Any:
    from reportlab.graphics.charts.barcharts import VerticalBarChart
    from reportlab.graphics.shapes import Drawing, String
    from reportlab.lib import colors

    drawing = Drawing(width, height)
    drawing.add(String(0, height - 12, title, fontName="Helvetica-Bold", fontSize=10))
    chart = VerticalBarChart()
    chart.x, chart.y, chart.width, chart.height = 40, 30, width - 60, height - 60
    chart.data = [values or [0]]
    chart.categoryAxis.categoryNames = labels or ["(none)"]
    chart.categoryAxis.labels.fontSize = 7
    chart.categoryAxis.labels.angle = 30 if len(labels) > 5 else 0
    chart.categoryAxis.labels.boxAnchor = "ne" if len(labels) > 5 else "n"
    chart.valueAxis.valueMin = 0
    chart.valueAxis.labels.fontSize = 7
    chart.bars[0].fillColor = colors.HexColor("#3b6ea5")
    drawing.add(chart)
    return drawing


def render_kpi_pdf(document: Mapping[str, Any]) -> bytes:
    """Two charts (AR by age bucket in dollars; claims by status) and the figures, on one page."""
    from reportlab.lib.pagesizes import letter
    from reportlab.lib.styles import getSampleStyleSheet
    from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table

    styles = getSampleStyleSheet()
    buffer = io.BytesIO()
    page = SimpleDocTemplate(buffer, pagesize=letter, title=f"carecycle AR/KPI {document['as_of']}")
    buckets = document["ar_by_bucket_cents"]
    statuses = document["claims_by_status"]
    collected = document["collected_30d_cents"]
    figures = [
        ["Insurance AR", _dollars(document["ar_cents"])],
        ["Days in AR", str(document["days_in_ar"])],
        ["Denial rate (30 days)", f"{document['denial_rate_percent']} %"],
        ["Collected from payers (30 days)", _dollars(collected["payers"])],
        ["Collected from patients (30 days)", _dollars(collected["patients"])],
        ["Work items open / overdue", f"{document['work_items']['open']} / {document['work_items']['overdue']}"],
    ]
    story = [
        Paragraph(f"AR and KPI report, {document['as_of']}", styles["Title"]),
        Table(figures, hAlign="LEFT"),
        Spacer(1, 12),
        _bar_chart(
            "Insurance AR by age (days since service), dollars",
            list(buckets),
            [cents // 100 for cents in buckets.values()],
            width=500,
            height=200,
        ),
        Spacer(1, 12),
        _bar_chart("Claims by status", list(statuses), list(statuses.values()), width=500, height=200),
    ]
    page.build(story)
    return buffer.getvalue()


def write_pdf(directory: Path, kind: str, day: date, document: Mapping[str, Any]) -> str:
    directory.mkdir(parents=True, exist_ok=True)
    target = directory / f"{kind}-{day.isoformat()}.pdf"
    partial = target.with_name(f".{target.name}.partial")
    partial.write_bytes(render_kpi_pdf(document))
    partial.replace(target)
    return str(target)
