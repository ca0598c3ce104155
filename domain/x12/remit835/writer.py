"""835 writing: :class:`~domain.remittance.Remittance` values to 835 transaction sets."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime

from domain.remittance import Adjustment, ClaimPayment, Remittance, ServiceLinePayment
from domain.x12.envelope import (
    ControlNumbers,
    Delimiters,
    Party,
    Segment,
    TransactionBody,
    amount,
    d8,
    write_interchange,
)

IMPLEMENTATION = "005010X221A1"
# CLP06 codes of the 835 (the 837's "CI" commercial is not one of them: such claims are written as ZZ).
CLAIM_FILING_CODES = frozenset(
    {"12", "13", "14", "15", "16", "17", "AM", "CH", "DS", "HM", "LM", "MA", "MB", "MC", "OF", "TV", "VA", "WC", "ZZ"}
)


@dataclass(frozen=True)
class PayerDetails:
    """What an 835 says about the payer beyond the Remittance: its address and EDI contact (1000A N3/N4/PER)."""

    address_line: str = "PO BOX 1000"
    city: str = "HARRISBURG"
    state: str = "PA"
    postal_code: str = "17101"
    contact_phone: str = "8005550100"
    # BPR07/BPR09 and BPR13/BPR15 for EFT: the sandbox's payers use these test routing and account numbers.
    payer_routing: str = "011000015"
    payer_account: str = "1234567"
    payee_routing: str = "021000021"
    payee_account: str = "7654321"


def _group_adjustments(adjustments: Sequence[Adjustment]) -> list[Segment]:
    """CAS segments: one per group (in first-seen order), at most six triplets each."""
    by_group: dict[str, list[Adjustment]] = {}
    for adjustment in adjustments:
        by_group.setdefault(adjustment.group, []).append(adjustment)
    segments: list[Segment] = []
    for group, items in by_group.items():
        for start in range(0, len(items), 6):
            elements: list[str] = ["CAS", group]
            for item in items[start : start + 6]:
                elements += [
                    item.reason,
                    amount(item.amount_cents),
                    "" if item.quantity is None else str(item.quantity),
                ]
            segments.append(tuple(elements))
    return segments


def _payer_tin(payer_id: str) -> str:
    digits = "".join(ch for ch in payer_id if ch.isdigit())
    return "1" + digits.rjust(9, "0")[-9:]


def remittance_body(remittance: Remittance, details: PayerDetails = PayerDetails()) -> TransactionBody:
    """The 835 segments (between ST and SE) for one remittance."""
    r = remittance
    tin = _payer_tin(r.payer_id)
    segments: list[Segment] = [_bpr(r, details, tin), ("TRN", "1", r.trace_number, tin)]
    if r.production_date:
        segments.append(("DTM", "405", d8(r.production_date)))
    segments += [
        ("N1", "PR", r.payer_name),
        ("N3", details.address_line),
        ("N4", details.city, details.state, details.postal_code),
        ("REF", "2U", r.payer_id),
        ("PER", "BL", "EDI SUPPORT", "TE", details.contact_phone),
        ("N1", "PE", r.payee_name, "XX", r.payee_id),
    ]
    if r.claims:
        segments.append(("LX", "1"))
    for claim in r.claims:
        segments += _claim_payment_segments(claim)
    segments += _plb_segments(r)
    return TransactionBody("835", IMPLEMENTATION, segments)


def _bpr(r: Remittance, details: PayerDetails, tin: str) -> Segment:
    """BPR: the payment; for ACH with both sides' routing and account numbers (BPR06-15)."""
    pay_date = d8(r.payment_date or date.today())
    method = r.payment_method
    if method == "ACH":
        return (
            "BPR",
            "I",
            amount(r.payment_amount_cents),
            r.credit_debit,
            "ACH",
            "CCP",
            "01",
            details.payer_routing,
            "DA",
            details.payer_account,
            tin,
            "",
            "01",
            details.payee_routing,
            "DA",
            details.payee_account,
            pay_date,
        )
    handling = "H" if method == "NON" else "C"
    return ("BPR", handling, amount(r.payment_amount_cents), r.credit_debit, method) + ("",) * 11 + (pay_date,)


def _claim_payment_segments(claim: ClaimPayment) -> list[Segment]:
    """Loop 2100 (CLP, CAS, NM1*QC/82, MIA or MOA, DTM, AMT*AU) and its 2110 service lines."""
    segments: list[Segment] = [
        (
            "CLP",
            claim.patient_control_number,
            claim.status_code,
            amount(claim.charge_cents),
            amount(claim.paid_cents),
            amount(claim.patient_responsibility_cents) if claim.patient_responsibility_cents else "",
            claim.claim_filing_indicator if claim.claim_filing_indicator in CLAIM_FILING_CODES else "ZZ",
            claim.payer_claim_control_number or "",
            claim.facility_code or "",
            claim.frequency_code or "",
        )
    ]
    segments += _group_adjustments(claim.adjustments)
    member = claim.patient_member_id or ""
    segments.append(("NM1", "QC", "1", "", "", "", "", "", "MI" if member else "", member))
    if claim.rendering_provider_npi:
        segments.append(("NM1", "82", "1", "", "", "", "", "", "XX", claim.rendering_provider_npi))
    if claim.remarks:
        if claim.remark_source == "MIA":
            mia = ["MIA", "0", "", "", "0"] + [claim.remarks[0]] + [""] * 14 + list(claim.remarks[1:5])
            segments.append(tuple(mia))
        else:
            segments.append(("MOA", "", "", *tuple(claim.remarks[:5])))
    if claim.service_date and not claim.service_lines:
        segments.append(("DTM", "232", d8(claim.service_date)))
        if claim.statement_to:
            segments.append(("DTM", "233", d8(claim.statement_to)))
    if claim.received_date:
        segments.append(("DTM", "050", d8(claim.received_date)))
    if claim.coverage_amount_cents is not None:
        segments.append(("AMT", "AU", amount(claim.coverage_amount_cents)))
    for line in claim.service_lines:
        segments += _service_line_segments(line)
    return segments


def _service_line_segments(line: ServiceLinePayment) -> list[Segment]:
    """Loop 2110: SVC, DTM*472, CAS, REF*6R, AMT*B6 and LQ*HE."""
    procedure = (line.procedure_qualifier, line.procedure, *line.modifiers[:4])
    svc: Segment = (
        "SVC",
        procedure,
        amount(line.charge_cents),
        amount(line.paid_cents),
        "",
        str(line.units) if line.units != 1 else "",
    )
    if line.submitted_procedure:
        svc = (*svc[:5], str(line.units), (line.procedure_qualifier, line.submitted_procedure))
    segments: list[Segment] = [svc]
    if line.service_date:
        segments.append(("DTM", "472", d8(line.service_date)))
    segments += _group_adjustments(line.adjustments)
    if line.line_control_number:
        segments.append(("REF", "6R", line.line_control_number))
    if line.allowed_cents is not None:
        segments.append(("AMT", "B6", amount(line.allowed_cents)))
    segments += [("LQ", "HE", remark) for remark in line.remarks]
    return segments


def _plb_segments(r: Remittance) -> list[Segment]:
    """PLB: the provider-level adjustments, at most six to a segment."""
    segments: list[Segment] = []
    adjustments = r.provider_adjustments
    fiscal_end = f"{(r.payment_date or date.today()).year}1231"
    for start in range(0, len(adjustments), 6):
        plb: list[str | tuple[str, ...]] = ["PLB", r.payee_id, fiscal_end]
        for item in adjustments[start : start + 6]:
            plb += [(item.reason, item.reference), amount(item.amount_cents)]
        segments.append(tuple(plb))
    return segments


def write_835(
    remittances: Sequence[Remittance],
    *,
    sender: Party,
    receiver: Party,
    control: ControlNumbers,
    when: datetime | None = None,
    usage: str = "P",
    details: PayerDetails = PayerDetails(),
    delimiters: Delimiters = Delimiters(),
    line_breaks: bool = False,
) -> str:
    """An interchange with one 835 per remittance (each its own ST..SE)."""
    bodies = [remittance_body(r, details) for r in remittances]
    return write_interchange(
        bodies,
        sender=sender,
        receiver=receiver,
        control=control,
        when=when,
        usage=usage,
        delimiters=delimiters,
        line_breaks=line_breaks,
    )
