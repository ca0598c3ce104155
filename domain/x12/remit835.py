"""835 Health Care Claim Payment/Advice (005010X221A1): parse into :mod:`domain.remittance` values and write back.

One :class:`~domain.remittance.Remittance` per ST..SE. Balancing is checked and reported as warnings with the
amounts (never silently fixed): BPR02 against the claims' CLP04 minus PLB, each claim's charge minus its
adjustments against its payment, and the same for each service line.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation

from domain.money import format_cents
from domain.remittance import Adjustment, ClaimPayment, ProviderAdjustment, Remittance, ServiceLinePayment
from domain.x12.envelope import (
    ControlNumbers,
    Delimiters,
    Party,
    Segment,
    TransactionBody,
    TransactionSet,
    X12Error,
    amount,
    cents,
    d8,
    read_envelope,
    write_interchange,
    x12_date,
)

IMPLEMENTATION = "005010X221A1"
CLAIM_STATUS_CODES = frozenset(
    {"1", "2", "3", "4", "5", "10", "13", "15", "16", "17", "19", "20", "21", "22", "23", "25"}
)
# CLP06 codes of the 835 (the 837's "CI" commercial is not one of them: such claims are written as ZZ).
CLAIM_FILING_CODES = frozenset(
    {"12", "13", "14", "15", "16", "17", "AM", "CH", "DS", "HM", "LM", "MA", "MB", "MC", "OF", "TV", "VA", "WC", "ZZ"}
)
ADJUSTMENT_GROUPS = frozenset({"CO", "PR", "OA", "PI", "CR"})
PAYMENT_METHODS = frozenset({"ACH", "CHK", "BOP", "FWT", "NON"})
KNOWN_SEGMENTS = frozenset(
    {"ST", "SE", "BPR", "TRN", "CUR", "REF", "DTM", "N1", "N3", "N4", "PER", "RDM", "LX", "TS3", "TS2", "CLP", "CAS"}
    | {"NM1", "MIA", "MOA", "AMT", "QTY", "SVC", "LQ", "PLB"}
)


def _units(text: str, position: int) -> int:
    if not text:
        return 1
    try:
        return int(text)
    except ValueError:
        try:
            return int(Decimal(text))
        except InvalidOperation:
            raise X12Error(f"not a quantity: {text[:12]!r}", position=position, segment_id="SVC", element=5) from None


class _Line:
    __slots__ = ("adjustments", "allowed", "control", "day", "position", "remarks", "svc")

    def __init__(self, svc: list[str], position: int) -> None:
        self.svc = svc
        self.position = position
        self.adjustments: list[Adjustment] = []
        self.remarks: list[str] = []
        self.control: str | None = None
        self.day: date | None = None
        self.allowed: int | None = None


class _Claim:
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
        self.lines: list[_Line] = []
        self.remarks: list[str] = []
        self.remark_source: str | None = None
        self.member_id: str | None = None
        self.rendering_npi: str | None = None
        self.start: date | None = None
        self.end: date | None = None
        self.received: date | None = None
        self.coverage: int | None = None


def parse_835(text: str) -> list[Remittance]:
    """Every 835 transaction set in the file as a Remittance; raises X12Error on malformed input."""
    transactions = [t for t in read_envelope(text).transactions()]
    found = [t for t in transactions if t.set_id == "835"]
    if not found:
        kinds = ", ".join(sorted({t.set_id for t in transactions})) or "none"
        raise X12Error(f"no 835 transaction set in the file (found: {kinds})")
    return [parse_835_set(t) for t in found]


def parse_835_set(transaction: TransactionSet) -> Remittance:
    delimiters = transaction.delimiters
    e = delimiters.element
    c = delimiters.component
    intern: dict[str, str] = {}
    adjustments_seen: dict[tuple[str, str, str, str], Adjustment] = {}
    days_seen: dict[str, date] = {}
    amounts: dict[str, int] = {}  # amount text -> cents: fee schedules make the same amounts recur
    bpr: list[str] | None = None
    trn: list[str] | None = None
    production: date | None = None
    party = ""
    payer_name = payee_name = payee_id = ""
    payer_ids: dict[str, str] = {}
    claims: list[ClaimPayment] = []
    plbs: list[ProviderAdjustment] = []
    warnings: list[str] = []
    claim: _Claim | None = None
    line: _Line | None = None
    position = transaction.first_position - 1

    for raw in transaction.raw:
        position += 1
        el = raw.split(e)
        sid = el[0]
        if sid == "CAS":
            target = line.adjustments if line is not None else claim.adjustments if claim is not None else None
            if target is None:
                raise X12Error("CAS outside a claim", position=position, segment_id="CAS")
            size = len(el)
            if size < 4:
                raise X12Error("CAS needs a group, a reason and an amount", position=position, segment_id="CAS")
            group = el[1]
            # Up to six reason/amount/quantity triplets: CAS02-04, CAS05-07, ... CAS17-19. Adjustments are values
            # and payers repeat them (the same CO-45 for the same fee): equal triplets share one instance.
            for index in range(2, min(size, 20), 3):
                reason = el[index]
                if not reason:
                    continue
                amount_text = el[index + 1] if index + 1 < size else ""
                quantity_text = el[index + 2] if index + 2 < size else ""
                key = (group, reason, amount_text, quantity_text)
                adjustment = adjustments_seen.get(key)
                if adjustment is None:
                    if group not in ADJUSTMENT_GROUPS:
                        raise X12Error(
                            f"unknown adjustment group {group[:4]!r}", position=position, segment_id="CAS", element=1
                        )
                    if not amount_text:
                        raise X12Error("adjustment reason without an amount", position=position, segment_id="CAS")
                    adjustment = Adjustment(
                        intern.setdefault(group, group),
                        intern.setdefault(reason, reason),
                        cents(amount_text, position, "CAS", index + 1),
                        _units(quantity_text, position) if quantity_text else None,
                    )
                    adjustments_seen[key] = adjustment
                target.append(adjustment)
        elif sid == "SVC":
            if claim is None:
                raise X12Error("SVC outside a claim", position=position, segment_id="SVC")
            if len(el) < 4:
                raise X12Error("SVC needs SVC01 to SVC03", position=position, segment_id="SVC")
            line = _Line(el, position)
            claim.lines.append(line)
        elif sid == "DTM":
            qualifier = el[1] if len(el) > 1 else ""
            day_text = el[2] if len(el) > 2 else ""
            day = days_seen.get(day_text)
            if day is None:
                day = days_seen[day_text] = x12_date(day_text, position, "DTM", 2)
            if line is not None and qualifier in ("472", "150", "151"):
                if line.day is None or qualifier != "151":
                    line.day = day
            elif claim is not None:
                if qualifier == "232":
                    claim.start = day
                elif qualifier == "233":
                    claim.end = day
                elif qualifier == "050":
                    claim.received = day
            elif qualifier == "405":
                production = day
        elif sid == "REF":
            qualifier = el[1] if len(el) > 1 else ""
            value = el[2] if len(el) > 2 else ""
            if line is not None:
                if qualifier == "6R":
                    line.control = value
            elif claim is None and party == "PR":
                payer_ids.setdefault(qualifier, value)
            elif claim is None and party == "PE" and not payee_id:
                payee_id = value
        elif sid == "AMT":
            qualifier = el[1] if len(el) > 1 else ""
            if line is not None and qualifier == "B6":
                text = el[2] if len(el) > 2 else ""
                allowed = amounts.get(text)
                if allowed is None:
                    allowed = amounts[text] = cents(text, position, "AMT", 2)
                line.allowed = allowed
            elif line is None and claim is not None and qualifier == "AU":
                claim.coverage = cents(el[2] if len(el) > 2 else "", position, "AMT", 2)
        elif sid == "LQ":
            if line is not None and len(el) > 2 and el[1] == "HE":
                line.remarks.append(intern.setdefault(el[2], el[2]))
        elif sid == "CLP":
            if bpr is None:
                raise X12Error("CLP before BPR", position=position, segment_id="CLP")
            if len(el) < 5 or not el[1]:
                raise X12Error("CLP needs CLP01 to CLP04", position=position, segment_id="CLP")
            if el[2] not in CLAIM_STATUS_CODES:
                raise X12Error(f"unknown claim status {el[2][:4]!r}", position=position, segment_id="CLP", element=2)
            if claim is not None:
                claims.append(_finish_claim(claim, c, intern, amounts, warnings))
            claim = _Claim(el, position)
            line = None
        elif sid == "NM1":
            if claim is not None:
                qualifier = el[1] if len(el) > 1 else ""
                if qualifier == "QC" and len(el) > 9:
                    claim.member_id = el[9] or None
                elif qualifier == "82" and len(el) > 9:
                    claim.rendering_npi = el[9] or None
        elif sid == "MOA" or sid == "MIA":
            if claim is None:
                raise X12Error(f"{sid} outside a claim", position=position, segment_id=sid)
            indexes = (3, 4, 5, 6, 7) if sid == "MOA" else (5, 20, 21, 22, 23)
            for index in indexes:
                if index < len(el) and el[index]:
                    claim.remarks.append(el[index])
            claim.remark_source = sid
        elif sid == "PLB":
            if claim is not None:
                claims.append(_finish_claim(claim, c, intern, amounts, warnings))
                claim = line = None
            for index in range(3, min(len(el), 15), 2):
                if not el[index]:
                    continue
                reason, _, reference = el[index].partition(c)
                if index + 1 >= len(el) or not el[index + 1]:
                    raise X12Error("provider adjustment without an amount", position=position, segment_id="PLB")
                plbs.append(ProviderAdjustment(reason, reference, cents(el[index + 1], position, "PLB", index + 1)))
        elif sid == "BPR":
            if len(el) < 5:
                raise X12Error("BPR needs BPR01 to BPR04", position=position, segment_id="BPR")
            if el[4] not in PAYMENT_METHODS:
                raise X12Error(f"unknown payment method {el[4][:4]!r}", position=position, segment_id="BPR", element=4)
            cents(el[2], position, "BPR", 2)
            bpr = el
            bpr_position = position
        elif sid == "TRN":
            trn = el
        elif sid == "N1":
            party = el[1] if len(el) > 1 else ""
            name = el[2] if len(el) > 2 else ""
            if party == "PR":
                payer_name = name
                if len(el) > 4 and el[4]:
                    payer_ids.setdefault(el[3], el[4])
            elif party == "PE":
                payee_name = name
                payee_id = el[4] if len(el) > 4 else ""
        elif sid == "LX":
            if claim is not None:
                claims.append(_finish_claim(claim, c, intern, amounts, warnings))
                claim = line = None
        elif sid in KNOWN_SEGMENTS:
            pass
        else:
            raise X12Error(f"segment {sid} does not belong in an 835", position=position, segment_id=sid)

    if claim is not None:
        claims.append(_finish_claim(claim, c, intern, amounts, warnings))
    if bpr is None:
        raise X12Error("835 without a BPR segment", position=transaction.first_position, segment_id="ST")
    if trn is None or len(trn) < 3:
        raise X12Error("835 without a TRN trace number", position=transaction.first_position, segment_id="ST")
    payment_cents = cents(bpr[2], bpr_position, "BPR", 2)
    payment_date = x12_date(bpr[16], bpr_position, "BPR", 16) if len(bpr) > 16 and bpr[16] else None
    remittance = Remittance(
        payer_id=payer_ids.get("2U") or payer_ids.get("XV") or payer_ids.get("PI") or (trn[3] if len(trn) > 3 else ""),
        payer_name=payer_name,
        payee_name=payee_name,
        payee_id=payee_id,
        payment_method=bpr[4],
        payment_amount_cents=payment_cents,
        trace_number=trn[2],
        payment_date=payment_date,
        claims=tuple(claims),
        provider_adjustments=tuple(plbs),
        control_number=transaction.control_number,
        source="835",
        production_date=production,
        credit_debit=bpr[3],
    )
    expected = remittance.expected_payment_cents()
    if expected != payment_cents:
        paid = sum(claim.paid_cents for claim in claims)
        plb = sum(p.amount_cents for p in plbs)
        warnings.insert(
            0,
            f"segment {bpr_position} BPR02: {format_cents(payment_cents)} != claims paid {format_cents(paid)}"
            f" - provider adjustments {format_cents(plb)} = {format_cents(expected)}"
            f" (set {transaction.control_number})",
        )
    if warnings:
        return _with_warnings(remittance, warnings)
    return remittance


def _with_warnings(remittance: Remittance, warnings: list[str]) -> Remittance:
    from dataclasses import replace

    return replace(remittance, warnings=tuple(warnings))


def _finish_claim(
    claim: _Claim, component: str, intern: dict[str, str], amounts: dict[str, int], warnings: list[str]
) -> ClaimPayment:
    clp = claim.clp
    position = claim.position
    charge = cents(clp[3], position, "CLP", 3)
    paid = cents(clp[4], position, "CLP", 4)
    patient = cents(clp[5], position, "CLP", 5) if len(clp) > 5 and clp[5] else 0
    lines: list[ServiceLinePayment] = []
    lines_adjusted = 0
    for line in claim.lines:
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
        adjustments = tuple(line.adjustments)
        payment = ServiceLinePayment(
            procedure=intern.setdefault(parts[1], parts[1]),
            modifiers=tuple(intern.setdefault(m, m) for m in parts[2:6] if m) if len(parts) > 2 else (),
            charge_cents=line_charge,
            paid_cents=line_paid,
            units=_units(svc[5], line.position) if len(svc) > 5 else 1,
            line_control_number=line.control,
            service_date=line.day,
            adjustments=adjustments,
            remarks=tuple(line.remarks),
            allowed_cents=line.allowed,
            procedure_qualifier=intern.setdefault(parts[0], parts[0]),
            submitted_procedure=submitted,
        )
        lines.append(payment)
        adjusted = line_charge
        for adjustment in adjustments:
            adjusted -= adjustment.amount_cents
        lines_adjusted += line_charge - adjusted
        if adjusted != line_paid:
            warnings.append(
                f"segment {line.position} SVC03: claim {clp[1]} line {len(lines)} ({parts[1]}):"
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


# --- writing --------------------------------------------------------------------------------------------


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
    pay_date = d8(r.payment_date or date.today())
    method = r.payment_method
    tin = _payer_tin(r.payer_id)
    if method == "ACH":
        bpr: Segment = (
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
    else:
        handling = "H" if method == "NON" else "C"
        bpr = ("BPR", handling, amount(r.payment_amount_cents), r.credit_debit, method) + ("",) * 11 + (pay_date,)
    segments: list[Segment] = [bpr, ("TRN", "1", r.trace_number, tin)]
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
        segments.append(
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
        )
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
            segments.append(svc)
            if line.service_date:
                segments.append(("DTM", "472", d8(line.service_date)))
            segments += _group_adjustments(line.adjustments)
            if line.line_control_number:
                segments.append(("REF", "6R", line.line_control_number))
            if line.allowed_cents is not None:
                segments.append(("AMT", "B6", amount(line.allowed_cents)))
            segments += [("LQ", "HE", remark) for remark in line.remarks]
    adjustments = r.provider_adjustments
    fiscal_end = f"{(r.payment_date or date.today()).year}1231"
    for start in range(0, len(adjustments), 6):
        plb: list[str | tuple[str, ...]] = ["PLB", r.payee_id, fiscal_end]
        for item in adjustments[start : start + 6]:
            plb += [(item.reason, item.reference), amount(item.amount_cents)]
        segments.append(tuple(plb))
    return TransactionBody("835", IMPLEMENTATION, segments)


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
