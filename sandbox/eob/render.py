"""Render a remittance as a paper-style EOB PDF, the way a portal payer would print it.

Two layouts, one per sandbox portal payer, deliberately unlike each other:

* ``cascade`` (Cascade Care Plans): a header block, then one table per claim (a long claim splits across
  pages with its header row repeated), then a separate totals page.
* ``harbor`` (Harbor Health Alliance): one running statement table in which claims flow across page breaks,
  dollar signs and US dates, adjustment codes written ``CO45``, and a totals block at the end.

A claim the payer paid as the secondary payer (coordination of benefits) also names the prior payer and what
it paid, as paper EOBs do ("Other payer ... paid" / "PRIOR PAYER"); its lines carry the COB adjustment (CARC 23).

The reader in ``activities.eob`` knows these layouts; the sandbox never imports it.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from reportlab.lib import colors
from reportlab.lib.pagesizes import LETTER
from reportlab.lib.styles import ParagraphStyle, StyleSheet1, getSampleStyleSheet
from reportlab.lib.units import inch
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import PageBreak, Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from domain.remittance import Adjustment, ClaimPayment, Remittance

LAYOUTS = ("cascade", "harbor")


@dataclass(frozen=True)
class PriorPayment:
    """What an EOB prints about a secondary claim's prior payer."""

    payer_id: str
    paid_cents: int


def _amount(cents: int, dollar: bool = False) -> str:
    sign = "-" if cents < 0 else ""
    whole, part = divmod(abs(cents), 100)
    return f"{sign}{'$' if dollar else ''}{whole:,}.{part:02d}"


def _day(value: date | None, us: bool = False) -> str:
    if value is None:
        return "-"
    return value.strftime("%m/%d/%Y") if us else value.isoformat()


def _cascade_adjustments(adjustments: Sequence[Adjustment]) -> str:
    return " ".join(f"{a.group}-{a.reason}:{_amount(a.amount_cents)}" for a in adjustments) or "-"


def _harbor_adjustments(adjustments: Sequence[Adjustment]) -> str:
    return " ".join(f"{a.group}{a.reason}={_amount(a.amount_cents, True)}" for a in adjustments) or "none"


_GRID = TableStyle(
    [
        ("FONT", (0, 0), (-1, -1), "Helvetica", 8),
        ("FONT", (0, 0), (-1, 0), "Helvetica-Bold", 8),
        ("LINEBELOW", (0, 0), (-1, 0), 0.5, colors.black),
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
    ]
)


def _cascade(remittance: Remittance, encrypt: str | None, prior_payers: Mapping[str, PriorPayment]) -> bytes:
    styles = getSampleStyleSheet()
    body = styles["BodyText"]
    story: list[Any] = [
        Paragraph(f"Payee: {remittance.payee_name} NPI: {remittance.payee_id}", body),
        Paragraph(
            f"Check/EFT number: {remittance.trace_number} Payment method: {remittance.payment_method} "
            f"Payment date: {_day(remittance.payment_date)}",
            body,
        ),
        Spacer(1, 8),
    ]
    for claim in remittance.claims:
        story += _cascade_claim(claim, prior_payers.get(claim.patient_control_number), styles)
    story.append(PageBreak())
    story += _cascade_summary(remittance, styles)
    return _build(story, _cascade_header(remittance), encrypt)


def _cascade_header(remittance: Remittance) -> Callable[[Canvas, Any], None]:
    def header(canvas: Canvas, doc: Any) -> None:
        canvas.saveState()
        canvas.setFont("Helvetica-Bold", 11)
        canvas.drawString(0.75 * inch, 10.4 * inch, f"{remittance.payer_name} Explanation of Benefits")
        canvas.setFont("Helvetica", 8)
        canvas.drawString(0.75 * inch, 10.2 * inch, f"Payer ID {remittance.payer_id} Page {doc.page}")
        canvas.restoreState()

    return header


def _cascade_claim(claim: ClaimPayment, prior: PriorPayment | None, styles: StyleSheet1) -> list[Any]:
    """One claim's heading, its own line table (header row repeated when it splits) and its totals."""
    body = styles["BodyText"]
    story: list[Any] = [
        Paragraph(
            f"Claim {claim.patient_control_number} Payer claim no. {claim.payer_claim_control_number or '-'} "
            f"Status {claim.status_code} Member {claim.patient_member_id or '-'}",
            styles["Heading5"],
        )
    ]
    if prior is not None:
        story.append(Paragraph(f"Other payer {prior.payer_id} paid {_amount(prior.paid_cents)}", body))
    rows = [["DOS", "Code", "Mod", "Units", "Billed", "Allowed", "Paid", "Adjustments"]]
    for line in claim.service_lines:
        rows.append(
            [
                _day(line.service_date or claim.service_date),
                line.procedure,
                ",".join(line.modifiers) or "-",
                str(line.units),
                _amount(line.charge_cents),
                _amount(line.allowed_cents) if line.allowed_cents is not None else "-",
                _amount(line.paid_cents),
                _cascade_adjustments(line.adjustments),
            ]
        )
    table = Table(rows, repeatRows=1, hAlign="LEFT")
    table.setStyle(_GRID)
    story.append(table)
    if claim.adjustments:
        story.append(Paragraph(f"Claim adjustments: {_cascade_adjustments(claim.adjustments)}", body))
    story.append(
        Paragraph(
            f"Claim total billed {_amount(claim.charge_cents)} paid {_amount(claim.paid_cents)} "
            f"patient responsibility {_amount(claim.patient_responsibility_cents)}",
            body,
        )
    )
    story.append(Spacer(1, 6))
    return story


def _cascade_summary(remittance: Remittance, styles: StyleSheet1) -> list[Any]:
    """The totals page: claims, billed, paid, each provider adjustment and the payment."""
    summary = [
        ["Claims", str(len(remittance.claims))],
        ["Total billed", _amount(sum(c.charge_cents for c in remittance.claims))],
        ["Total paid", _amount(sum(c.paid_cents for c in remittance.claims))],
    ]
    for plb in remittance.provider_adjustments:
        summary.append(["Provider adjustment", f"{plb.reason} {plb.reference} {_amount(plb.amount_cents)}"])
    summary.append(["Payment amount", _amount(remittance.payment_amount_cents)])
    table = Table(summary, hAlign="LEFT")
    table.setStyle(TableStyle([("FONT", (0, 0), (-1, -1), "Helvetica", 9)]))
    return [Paragraph("Payment summary", styles["Heading3"]), table]


def _harbor(remittance: Remittance, encrypt: str | None, prior_payers: Mapping[str, PriorPayment]) -> bytes:
    body = getSampleStyleSheet()["BodyText"]
    story: list[Any] = [
        Paragraph(f"Provider {remittance.payee_name} NPI/TIN {remittance.payee_id}", body),
        Paragraph(
            f"{remittance.payment_method} trace {remittance.trace_number} issued {_day(remittance.payment_date, True)} "
            f"amount {_amount(remittance.payment_amount_cents, True)}",
            body,
        ),
        Spacer(1, 8),
    ]
    rows: list[list[str]] = [["Service", "Procedure", "Qty", "Charged", "Allowed", "Paid", "Codes"]]
    for claim in remittance.claims:
        rows += _harbor_claim_rows(claim, prior_payers.get(claim.patient_control_number))
    table = Table(rows, repeatRows=1, hAlign="LEFT")
    table.setStyle(_GRID)
    story.append(table)
    story.append(Spacer(1, 10))
    story += _harbor_totals(remittance, body)
    return _build(story, _harbor_header(remittance), encrypt)


def _harbor_header(remittance: Remittance) -> Callable[[Canvas, Any], None]:
    def header(canvas: Canvas, doc: Any) -> None:
        canvas.saveState()
        canvas.setFont("Helvetica", 8)
        canvas.drawString(
            0.75 * inch,
            10.45 * inch,
            f"{remittance.payer_name.upper()} | REMITTANCE ADVICE | {remittance.payer_id} | sheet {doc.page}",
        )
        canvas.restoreState()

    return header


def _harbor_claim_rows(claim: ClaimPayment, prior: PriorPayment | None) -> list[list[str]]:
    """One claim's rows of the running statement: its header row, prior payer, lines, claim adjustments, subtotal."""
    rows: list[list[str]] = [
        [
            f"ACCT {claim.patient_control_number}",
            f"ICN {claim.payer_claim_control_number or '-'}",
            f"ST {claim.status_code}",
            f"MBR {claim.patient_member_id or '-'}",
            "",
            "",
            "",
        ]
    ]
    if prior is not None:
        rows.append(["PRIOR PAYER", prior.payer_id, "", "", "", _amount(prior.paid_cents, True), ""])
    for line in claim.service_lines:
        rows.append(
            [
                _day(line.service_date or claim.service_date, True),
                " ".join((line.procedure, *line.modifiers)),
                f"x{line.units}",
                _amount(line.charge_cents, True),
                _amount(line.allowed_cents, True) if line.allowed_cents is not None else "n/a",
                _amount(line.paid_cents, True),
                _harbor_adjustments(line.adjustments),
            ]
        )
    if claim.adjustments:
        rows.append(["CLAIM ADJ", "", "", "", "", "", _harbor_adjustments(claim.adjustments)])
    rows.append(
        [
            "SUBTOTAL",
            "",
            "",
            _amount(claim.charge_cents, True),
            f"PR {_amount(claim.patient_responsibility_cents, True)}",
            _amount(claim.paid_cents, True),
            "",
        ]
    )
    return rows


def _harbor_totals(remittance: Remittance, body: ParagraphStyle) -> list[Any]:
    """The provider-level adjustments, then the totals block."""
    story: list[Any] = [
        Paragraph(f"LEVEL ADJ {plb.reason} REF {plb.reference} {_amount(plb.amount_cents, True)}", body)
        for plb in remittance.provider_adjustments
    ]
    billed = _amount(sum(c.charge_cents for c in remittance.claims), True)
    story.append(
        Paragraph(
            f"TOTALS claims {len(remittance.claims)} charged {billed} "
            f"paid {_amount(sum(c.paid_cents for c in remittance.claims), True)} "
            f"remitted {_amount(remittance.payment_amount_cents, True)}",
            body,
        )
    )
    return story


def _build(story: list[Any], header: Callable[[Canvas, Any], None], encrypt: str | None) -> bytes:
    buffer = io.BytesIO()
    doc = SimpleDocTemplate(
        buffer,
        pagesize=LETTER,
        topMargin=0.9 * inch,
        bottomMargin=0.6 * inch,
        leftMargin=0.75 * inch,
        rightMargin=0.75 * inch,
        title="Explanation of Benefits",
        encrypt=encrypt,
        invariant=1,  # same input, same bytes: the sandbox is deterministic
    )
    doc.build(story, onFirstPage=header, onLaterPages=header)
    return buffer.getvalue()


def render_eob(
    remittance: Remittance,
    layout: str,
    *,
    encrypt_password: str | None = None,
    prior_payers: Mapping[str, PriorPayment] | None = None,
) -> bytes:
    """The PDF bytes of ``remittance`` in ``layout`` (``cascade`` or ``harbor``); ``prior_payers`` names, per
    patient control number, the prior payer of a claim paid as secondary."""
    if layout == "cascade":
        return _cascade(remittance, encrypt_password, prior_payers or {})
    if layout == "harbor":
        return _harbor(remittance, encrypt_password, prior_payers or {})
    raise ValueError(f"unknown EOB layout {layout!r}; known: {', '.join(LAYOUTS)}")
