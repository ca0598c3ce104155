"""An 835 claim as it is read: the 2100 loop (:class:`ClaimInProgress`) and its 2110 service lines, and what each
becomes once its loop is complete (:func:`finish_claim`, a :class:`~domain.remittance.ClaimPayment` with its
balancing warnings). :class:`~domain.x12.remit835.reader.RemittanceReader` fills them, segment by segment.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal, InvalidOperation

from domain.money import format_cents
from domain.remittance import Adjustment, ClaimPayment, ServiceLinePayment
from domain.x12.envelope import X12Error, cents


def units(text: str, position: int) -> int:
    if not text:
        return 1
    try:
        return int(text)
    except ValueError:
        try:
            return int(Decimal(text))
        except InvalidOperation:
            raise X12Error(f"not a quantity: {text[:12]!r}", position=position, segment_id="SVC", element=5) from None


class ServiceLineInProgress:
    __slots__ = ("adjustments", "allowed", "control", "day", "position", "remarks", "svc")

    def __init__(self, svc: list[str], position: int) -> None:
        self.svc = svc
        self.position = position
        self.adjustments: list[Adjustment] = []
        self.remarks: list[str] = []
        self.control: str | None = None
        self.day: date | None = None
        self.allowed: int | None = None


class ClaimInProgress:
    __slots__ = (
        "adjustments",
        "clp",
        "coverage",
        "end",
        "lines",
        "member_id",
        "position",
        "received",
        "remark_source",
        "remarks",
        "rendering_npi",
        "start",
    )

    def __init__(self, clp: list[str], position: int) -> None:
        self.clp = clp
        self.position = position
        self.adjustments: list[Adjustment] = []
        self.lines: list[ServiceLineInProgress] = []
        self.remarks: list[str] = []
        self.remark_source: str | None = None
        self.member_id: str | None = None
        self.rendering_npi: str | None = None
        self.start: date | None = None
        self.end: date | None = None
        self.received: date | None = None
        self.coverage: int | None = None


def finish_claim(
    claim: ClaimInProgress, component: str, intern: dict[str, str], amounts: dict[str, int], warnings: list[str]
) -> ClaimPayment:
    clp = claim.clp
    position = claim.position
    charge = cents(clp[3], position, "CLP", 3)
    paid = cents(clp[4], position, "CLP", 4)
    patient = cents(clp[5], position, "CLP", 5) if len(clp) > 5 and clp[5] else 0
    lines: list[ServiceLinePayment] = []
    lines_adjusted = 0
    for line in claim.lines:
        payment = _line_payment(line, component, intern, amounts)
        lines.append(payment)
        line_charge, line_paid = payment.charge_cents, payment.paid_cents
        adjusted = line_charge
        for adjustment in payment.adjustments:
            adjusted -= adjustment.amount_cents
        lines_adjusted += line_charge - adjusted
        if adjusted != line_paid:
            warnings.append(
                f"segment {line.position} SVC03: claim {clp[1]} line {len(lines)} ({payment.procedure}):"
                f" charge {format_cents(line_charge)} - adjustments "
                f"{format_cents(line_charge - adjusted)} = {format_cents(adjusted)} != paid {format_cents(line_paid)}"
            )
    claim_adjustments = tuple(claim.adjustments)
    total_adjusted = sum(a.amount_cents for a in claim_adjustments) + lines_adjusted
    if charge - total_adjusted != paid:
        warnings.append(
            f"segment {position} CLP04: claim {clp[1]}: charge {format_cents(charge)}"
            f" - adjustments {format_cents(total_adjusted)} = "
            f"{format_cents(charge - total_adjusted)} != paid {format_cents(paid)}"
        )
    return ClaimPayment(
        patient_control_number=clp[1],
        status_code=intern.setdefault(clp[2], clp[2]),
        charge_cents=charge,
        paid_cents=paid,
        patient_responsibility_cents=patient,
        payer_claim_control_number=(clp[7] or None) if len(clp) > 7 else None,
        claim_filing_indicator=(clp[6] or None) if len(clp) > 6 else None,
        adjustments=claim_adjustments,
        service_lines=tuple(lines),
        remarks=tuple(claim.remarks),
        patient_member_id=claim.member_id,
        service_date=claim.start or (lines[0].service_date if lines else None),
        statement_to=claim.end,
        received_date=claim.received,
        facility_code=(clp[8] or None) if len(clp) > 8 else None,
        frequency_code=(clp[9] or None) if len(clp) > 9 else None,
        coverage_amount_cents=claim.coverage,
        rendering_provider_npi=claim.rendering_npi,
        remark_source=claim.remark_source,
    )


def _line_payment(
    line: ServiceLineInProgress, component: str, intern: dict[str, str], amounts: dict[str, int]
) -> ServiceLinePayment:
    """A finished 2110 loop as its value (SVC01 checked, amounts and codes shared with the rest of the file)."""
    svc = line.svc
    parts = svc[1].split(component)
    if len(parts) < 2 or not parts[1]:
        raise X12Error("SVC01 needs a qualifier and a procedure code", position=line.position, segment_id="SVC")
    line_charge = amounts.get(svc[2])
    if line_charge is None:
        line_charge = amounts[svc[2]] = cents(svc[2], line.position, "SVC", 2)
    line_paid = amounts.get(svc[3])
    if line_paid is None:
        line_paid = amounts[svc[3]] = cents(svc[3], line.position, "SVC", 3) if svc[3] else 0
    submitted = None
    if len(svc) > 6 and svc[6]:
        original = svc[6].split(component)
        submitted = original[1] if len(original) > 1 else None
    return ServiceLinePayment(
        procedure=intern.setdefault(parts[1], parts[1]),
        modifiers=tuple(intern.setdefault(m, m) for m in parts[2:6] if m) if len(parts) > 2 else (),
        charge_cents=line_charge,
        paid_cents=line_paid,
        units=units(svc[5], line.position) if len(svc) > 5 else 1,
        line_control_number=line.control,
        service_date=line.day,
        adjustments=tuple(line.adjustments),
        remarks=tuple(line.remarks),
        allowed_cents=line.allowed,
        procedure_qualifier=intern.setdefault(parts[0], parts[0]),
        submitted_procedure=submitted,
    )
