"""Per-payer EOB templates: line patterns that turn a payer's printed EOB into ``domain.remittance`` values.

Reading is line-based over pdfplumber's text (no table detection): it is several times faster than table
extraction and the layouts are fixed per payer. Every line is either recognised by a pattern, known
boilerplate, or counted as unrecognised; the share of recognised lines is the reading's confidence.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime

from domain.money import parse_amount
from domain.remittance import Adjustment, ProviderAdjustment, ServiceLinePayment

_AMOUNT = r"-?\$?[0-9,]+\.[0-9]{2}"


def cents(text: str) -> int:
    """An amount as an EOB prints it ("$1,234.56", "-12.00") in cents, by :func:`domain.money.parse_amount`'s rule
    (an :class:`~domain.errors.InvalidAmount` otherwise)."""
    return parse_amount(text, allow_negative=True, formatted=True)


@dataclass
class ClaimDraft:
    patient_control_number: str
    payer_claim_control_number: str | None
    status_code: str
    member_id: str | None
    page: int
    lines: list[ServiceLinePayment] = field(default_factory=list)
    adjustments: list[Adjustment] = field(default_factory=list)
    charge_cents: int | None = None
    paid_cents: int | None = None
    patient_responsibility_cents: int | None = None
    # A claim paid as secondary: the prior payer the EOB names and what it paid (coordination of benefits).
    prior_payer_id: str | None = None
    prior_payer_paid_cents: int | None = None


@dataclass
class Reading:
    """What a template read from a document, before the cross-checks."""

    payer_id: str = ""
    payee_name: str = ""
    payee_id: str = ""
    payment_method: str = ""
    trace_number: str = ""
    payment_date: date | None = None
    payment_amount_cents: int | None = None
    claims: list[ClaimDraft] = field(default_factory=list)
    provider_adjustments: list[ProviderAdjustment] = field(default_factory=list)
    stated_claim_count: int | None = None
    stated_billed_cents: int | None = None
    stated_paid_cents: int | None = None
    stated_payment_cents: int | None = None  # a second statement of the payment (totals block), if any
    recognised: int = 0
    unrecognised: int = 0
    first_unrecognised_page: int | None = None

    def miss(self, page: int) -> None:
        self.unrecognised += 1
        if self.first_unrecognised_page is None:
            self.first_unrecognised_page = page


class EobTemplate:
    payer_id: str
    payer_name: str
    layout: str

    def matches(self, first_page_text: str) -> bool:
        raise NotImplementedError

    def read(self, pages: list[str]) -> Reading:
        raise NotImplementedError


def _null(text: str) -> str | None:
    return None if text in ("-", "n/a", "") else text


class CascadeTemplate(EobTemplate):
    """Cascade Care Plans: a table per claim, then a totals page."""

    layout = "cascade"
    _signature = re.compile(r"^Payer ID (\S+) Page \d+$", re.M)
    _payee = re.compile(r"^Payee: (.+) NPI: (\S+)$")
    _payment = re.compile(r"^Check/EFT number: (\S+) Payment method: (\S+) Payment date: (\S+)$")
    _claim = re.compile(r"^Claim (\S+) Payer claim no\. (\S+) Status (\S+) Member (\S+)$")
    _line = re.compile(
        rf"^(\d{{4}}-\d\d-\d\d|-) ([A-Z0-9]{{5}}) (\S+) (\d+) ({_AMOUNT}) ({_AMOUNT}|-) ({_AMOUNT}) (.+)$"
    )
    _claim_adjustments = re.compile(r"^Claim adjustments: (.+)$")
    _prior_payer = re.compile(rf"^Other payer (\S+) paid ({_AMOUNT})$")
    _claim_total = re.compile(rf"^Claim total billed ({_AMOUNT}) paid ({_AMOUNT}) patient responsibility ({_AMOUNT})$")
    _adjustment = re.compile(rf"^([A-Z]{{2}})-([A-Z0-9]{{1,5}}):({_AMOUNT})$")
    _claims_count = re.compile(r"^Claims (\d+)$")
    _total_billed = re.compile(rf"^Total billed ({_AMOUNT})$")
    _total_paid = re.compile(rf"^Total paid ({_AMOUNT})$")
    _plb = re.compile(rf"^Provider adjustment (\S+) (\S+) ({_AMOUNT})$")
    _payment_amount = re.compile(rf"^Payment amount ({_AMOUNT})$")
    _boilerplate = re.compile(
        r"^(.+ Explanation of Benefits|DOS Code Mod Units Billed Allowed Paid Adjustments|Payment summary)$"
    )

    def __init__(self, payer_id: str, payer_name: str) -> None:
        self.payer_id = payer_id
        self.payer_name = payer_name

    def matches(self, first_page_text: str) -> bool:
        found = self._signature.search(first_page_text)
        return found is not None and found.group(1) == self.payer_id and "Explanation of Benefits" in first_page_text

    def _adjustments(self, text: str) -> list[Adjustment] | None:
        if text == "-":
            return []
        found = []
        for token in text.split():
            match = self._adjustment.match(token)
            if match is None:
                return None
            found.append(Adjustment(match.group(1), match.group(2), cents(match.group(3))))
        return found

    def _service_line(self, m: re.Match[str], adjustments: list[Adjustment]) -> ServiceLinePayment:
        """A table row: date (ISO or -), code, modifiers (comma-separated or -), units, billed, allowed, paid."""
        return ServiceLinePayment(
            procedure=m.group(2),
            modifiers=tuple(m.group(3).split(",")) if m.group(3) != "-" else (),
            charge_cents=cents(m.group(5)),
            paid_cents=cents(m.group(7)),
            units=int(m.group(4)),
            service_date=date.fromisoformat(m.group(1)) if m.group(1) != "-" else None,
            adjustments=tuple(adjustments),
            allowed_cents=cents(m.group(6)) if m.group(6) != "-" else None,
        )

    def read(self, pages: list[str]) -> Reading:
        reading = Reading(payer_id=self.payer_id)
        claim: ClaimDraft | None = None
        for number, text in enumerate(pages, start=1):
            for raw in text.splitlines():
                line = raw.strip()
                if not line:
                    continue
                if self._signature.match(line) or self._boilerplate.match(line):
                    continue
                if m := self._line.match(line):
                    adjustments = self._adjustments(m.group(8))
                    if claim is None or adjustments is None:
                        reading.miss(number)
                        continue
                    claim.lines.append(self._service_line(m, adjustments))
                elif m := self._claim.match(line):
                    claim = ClaimDraft(m.group(1), _null(m.group(2)), m.group(3), _null(m.group(4)), number)
                    reading.claims.append(claim)
                elif m := self._claim_total.match(line):
                    if claim is None:
                        reading.miss(number)
                        continue
                    claim.charge_cents = cents(m.group(1))
                    claim.paid_cents = cents(m.group(2))
                    claim.patient_responsibility_cents = cents(m.group(3))
                elif m := self._claim_adjustments.match(line):
                    adjustments = self._adjustments(m.group(1))
                    if claim is None or adjustments is None:
                        reading.miss(number)
                        continue
                    claim.adjustments.extend(adjustments)
                elif m := self._prior_payer.match(line):
                    if claim is None:
                        reading.miss(number)
                        continue
                    claim.prior_payer_id, claim.prior_payer_paid_cents = m.group(1), cents(m.group(2))
                elif m := self._payee.match(line):
                    reading.payee_name, reading.payee_id = m.group(1), m.group(2)
                elif m := self._payment.match(line):
                    reading.trace_number, reading.payment_method = m.group(1), m.group(2)
                    reading.payment_date = date.fromisoformat(m.group(3)) if m.group(3) != "-" else None
                elif m := self._claims_count.match(line):
                    reading.stated_claim_count = int(m.group(1))
                elif m := self._total_billed.match(line):
                    reading.stated_billed_cents = cents(m.group(1))
                elif m := self._total_paid.match(line):
                    reading.stated_paid_cents = cents(m.group(1))
                elif m := self._plb.match(line):
                    reading.provider_adjustments.append(ProviderAdjustment(m.group(1), m.group(2), cents(m.group(3))))
                elif m := self._payment_amount.match(line):
                    reading.payment_amount_cents = cents(m.group(1))
                else:
                    reading.miss(number)
                    continue
                reading.recognised += 1
        return reading


class HarborTemplate(EobTemplate):
    """Harbor Health Alliance: one running statement, claims flowing across pages, totals at the end."""

    layout = "harbor"
    _signature = re.compile(r"^(.+) \| REMITTANCE ADVICE \| (\S+) \| sheet \d+$", re.M)
    _payee = re.compile(r"^Provider (.+) NPI/TIN (\S+)$")
    _payment = re.compile(rf"^(\S+) trace (\S+) issued (\S+) amount ({_AMOUNT})$")
    _claim = re.compile(r"^ACCT (\S+) ICN (\S+) ST (\S+) MBR (\S+)$")
    _line = re.compile(
        rf"^(\d\d/\d\d/\d{{4}}|-) ([A-Z0-9]{{5}})((?: [A-Z0-9]{{2}})*) x(\d+) "
        rf"({_AMOUNT}) ({_AMOUNT}|n/a) ({_AMOUNT}) (.+)$"
    )
    _claim_adjustments = re.compile(r"^CLAIM ADJ (.+)$")
    _prior_payer = re.compile(rf"^PRIOR PAYER (\S+) ({_AMOUNT})$")
    _subtotal = re.compile(rf"^SUBTOTAL ({_AMOUNT}) PR ({_AMOUNT}) ({_AMOUNT})$")
    _adjustment = re.compile(rf"^([A-Z]{{2}})([A-Z0-9]{{1,5}})=({_AMOUNT})$")
    _plb = re.compile(rf"^LEVEL ADJ (\S+) REF (\S+) ({_AMOUNT})$")
    _totals = re.compile(rf"^TOTALS claims (\d+) charged ({_AMOUNT}) paid ({_AMOUNT}) remitted ({_AMOUNT})$")
    _boilerplate = re.compile(r"^Service Procedure Qty Charged Allowed Paid Codes$")

    def __init__(self, payer_id: str, payer_name: str) -> None:
        self.payer_id = payer_id
        self.payer_name = payer_name

    def matches(self, first_page_text: str) -> bool:
        found = self._signature.search(first_page_text)
        return found is not None and found.group(2) == self.payer_id

    def _adjustments(self, text: str) -> list[Adjustment] | None:
        if text == "none":
            return []
        found = []
        for token in text.split():
            match = self._adjustment.match(token)
            if match is None:
                return None
            found.append(Adjustment(match.group(1), match.group(2), cents(match.group(3))))
        return found

    def _service_line(self, m: re.Match[str], adjustments: list[Adjustment]) -> ServiceLinePayment:
        """A statement line: date (MM/DD/YYYY or -), code, modifiers, x units, charged, allowed (or n/a), paid."""
        return ServiceLinePayment(
            procedure=m.group(2),
            modifiers=tuple(m.group(3).split()),
            charge_cents=cents(m.group(5)),
            paid_cents=cents(m.group(7)),
            units=int(m.group(4)),
            service_date=datetime.strptime(m.group(1), "%m/%d/%Y").date() if m.group(1) != "-" else None,
            adjustments=tuple(adjustments),
            allowed_cents=cents(m.group(6)) if m.group(6) != "n/a" else None,
        )

    def read(self, pages: list[str]) -> Reading:
        reading = Reading(payer_id=self.payer_id)
        claim: ClaimDraft | None = None
        for number, text in enumerate(pages, start=1):
            for raw in text.splitlines():
                line = raw.strip()
                if not line:
                    continue
                if self._signature.match(line) or self._boilerplate.match(line):
                    continue
                if m := self._line.match(line):
                    adjustments = self._adjustments(m.group(8))
                    if claim is None or adjustments is None:
                        reading.miss(number)
                        continue
                    claim.lines.append(self._service_line(m, adjustments))
                elif m := self._claim.match(line):
                    claim = ClaimDraft(m.group(1), _null(m.group(2)), m.group(3), _null(m.group(4)), number)
                    reading.claims.append(claim)
                elif m := self._subtotal.match(line):
                    if claim is None:
                        reading.miss(number)
                        continue
                    claim.charge_cents = cents(m.group(1))
                    claim.patient_responsibility_cents = cents(m.group(2))
                    claim.paid_cents = cents(m.group(3))
                elif m := self._claim_adjustments.match(line):
                    adjustments = self._adjustments(m.group(1))
                    if claim is None or adjustments is None:
                        reading.miss(number)
                        continue
                    claim.adjustments.extend(adjustments)
                elif m := self._prior_payer.match(line):
                    if claim is None:
                        reading.miss(number)
                        continue
                    claim.prior_payer_id, claim.prior_payer_paid_cents = m.group(1), cents(m.group(2))
                elif m := self._payee.match(line):
                    reading.payee_name, reading.payee_id = m.group(1), m.group(2)
                elif m := self._payment.match(line):
                    reading.payment_method, reading.trace_number = m.group(1), m.group(2)
                    reading.payment_date = (
                        datetime.strptime(m.group(3), "%m/%d/%Y").date() if m.group(3) != "-" else None
                    )
                    reading.payment_amount_cents = cents(m.group(4))
                elif m := self._plb.match(line):
                    reading.provider_adjustments.append(ProviderAdjustment(m.group(1), m.group(2), cents(m.group(3))))
                elif m := self._totals.match(line):
                    reading.stated_claim_count = int(m.group(1))
                    reading.stated_billed_cents = cents(m.group(2))
                    reading.stated_paid_cents = cents(m.group(3))
                    reading.stated_payment_cents = cents(m.group(4))
                else:
                    reading.miss(number)
                    continue
                reading.recognised += 1
        return reading


TEMPLATES: tuple[EobTemplate, ...] = (
    CascadeTemplate("SBXCC", "Cascade Care Plans"),
    HarborTemplate("SBXHH", "Harbor Health Alliance"),
)
