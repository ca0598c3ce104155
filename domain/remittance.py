"""The remittance model: what a payer says it paid, whether it came as an 835 or an EOB PDF.

This is the contract between the codecs (835 parser, EOB extraction) and posting. Amounts are cents.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date


@dataclass(frozen=True)
class Adjustment:
    group: str  # CO, PR, OA, PI (CR in old files)
    reason: str  # CARC, e.g. "45"
    amount_cents: int
    quantity: int | None = None


@dataclass(frozen=True)
class ServiceLinePayment:
    procedure: str  # HCPCS/CPT
    modifiers: tuple[str, ...]
    charge_cents: int
    paid_cents: int
    units: int = 1
    line_control_number: str | None = None  # REF*6R: our claim line id when we sent it
    service_date: date | None = None
    adjustments: tuple[Adjustment, ...] = ()
    remarks: tuple[str, ...] = ()  # RARC from LQ*HE
    allowed_cents: int | None = None  # AMT*B6
    procedure_qualifier: str = "HC"  # SVC01-1: HC (HCPCS/CPT), others kept as sent
    submitted_procedure: str | None = None  # SVC06-2 when the payer paid a different code than billed


@dataclass(frozen=True)
class ClaimPayment:
    patient_control_number: str  # CLP01: our claim id as we sent it
    status_code: str  # CLP02
    charge_cents: int  # CLP03
    paid_cents: int  # CLP04
    patient_responsibility_cents: int  # CLP05
    payer_claim_control_number: str | None = None  # CLP07
    claim_filing_indicator: str | None = None  # CLP06
    adjustments: tuple[Adjustment, ...] = ()
    service_lines: tuple[ServiceLinePayment, ...] = ()
    remarks: tuple[str, ...] = ()  # MOA/MIA remark codes
    patient_member_id: str | None = None  # NM1*QC NM109: PHI, kept out of logs
    service_date: date | None = None  # DTM*232 statement from (or the first line's date)
    statement_to: date | None = None  # DTM*233
    received_date: date | None = None  # DTM*050
    facility_code: str | None = None  # CLP08, e.g. 11 (office)
    frequency_code: str | None = None  # CLP09: 1 original, 7 replacement, 8 void
    coverage_amount_cents: int | None = None  # AMT*AU
    rendering_provider_npi: str | None = None  # NM1*82 NM109
    remark_source: str | None = None  # MOA (outpatient) or MIA (inpatient) when remarks came from one

    @property
    def is_reversal(self) -> bool:
        return self.status_code == "22"

    @property
    def is_denial(self) -> bool:
        return self.status_code == "4"

    def all_adjustments(self) -> tuple[Adjustment, ...]:
        return self.adjustments + tuple(a for line in self.service_lines for a in line.adjustments)


@dataclass(frozen=True)
class ProviderAdjustment:
    reason: str  # PLB03-1, e.g. L6 interest, WO recoupment, FB forward balance
    reference: str  # PLB03-2
    amount_cents: int  # positive reduces the payment (as in X12), negative increases it


@dataclass(frozen=True)
class Remittance:
    payer_id: str  # our Payer.payer_id (N1*PR REF*2U or TRN03), as the payer identifies itself
    payer_name: str
    payee_name: str
    payee_id: str  # payee NPI or TIN
    payment_method: str  # CHK, ACH, NON, FWT, BOP
    payment_amount_cents: int  # BPR02
    trace_number: str  # TRN02: check or EFT trace number
    payment_date: date | None
    claims: tuple[ClaimPayment, ...] = ()
    provider_adjustments: tuple[ProviderAdjustment, ...] = ()
    control_number: str = ""
    source: str = "835"  # or "eob_pdf"
    warnings: tuple[str, ...] = field(default=())
    production_date: date | None = None  # DTM*405
    credit_debit: str = "C"  # BPR03

    def expected_payment_cents(self) -> int:
        """BPR02 as the claims and PLB say it should be."""
        return sum(c.paid_cents for c in self.claims) - sum(p.amount_cents for p in self.provider_adjustments)


def _key_part(text: str) -> str:
    cleaned = "".join(ch if (ch.isascii() and ch.isalnum()) or ch in "-_." else "-" for ch in text.strip())
    return cleaned.strip(".-")[:60]


def _digest(pairs: Sequence[tuple[str, str]]) -> str:
    return hashlib.sha256("\n".join(f"{p}\t{t}" for p, t in pairs).encode("utf-8")).hexdigest()[:32]


# A label a portal page or EOB PDF prints before the number ("CHK 123456", "Check No. 123456", "EFT Trace: 123",
# "# 123456"). Only a whole word followed by a separator is a label: "CHK7001" is a trace of its own.
_TRACE_LABEL = re.compile(r"^(?:(?:CHECK|CHEQUE|CHK|CK|EFT|ACH|TRACE|TRN|NUMBER|NUM|NO)[\s#:.]+|#[\s#:.]*)")
TRACE_KEY_LENGTH = 50  # the stored column's length (TRN02 is at most 50 characters)


def trace_key(trace_number: str) -> str:
    """The check/EFT trace number as the payment's key: the same number however a channel prints it.

    The 835's TRN02 ``000123456`` and a portal's ``CHK 123456``, ``# 123456`` or ``chk 123 456`` are one payment.
    The rule, in order: upper-case; drop leading labels (``CHECK``, ``CHK``, ``CK``, ``EFT``, ``ACH``, ``TRACE``,
    ``TRN``, ``NUMBER``/``NUM``/``NO``, ``#``) when a separator (space, ``#``, ``:``, ``.``) follows them; drop
    every whitespace character; a number of ASCII digits only loses its leading zeros (``0`` stays ``0``).
    Conservative by design: letters, hyphens and other punctuation inside the trace stay (``EFT12345`` !=
    ``12345``, ``123-45`` != ``12345``, ``12345A`` != ``12345``), so two different payments never share a key; a
    text that would be left empty keeps its own upper-cased form.
    """
    text = trace_number.strip().upper()
    rest = text
    while True:
        stripped = _TRACE_LABEL.sub("", rest, count=1)
        if stripped == rest or not stripped.strip():
            break
        rest = stripped
    key = "".join(rest.split())
    if key.isascii() and key.isdigit():
        key = key.lstrip("0") or "0"
    return (key or "".join(text.split()))[:TRACE_KEY_LENGTH]


def payment_key(payer_id: str, trace_number: str, prefix: str = "era", *, as_received: bool = False) -> str:
    """The business id of one payment: ``<prefix>-<payer id>-<trace key>`` (codes, never PHI; the trace as
    :func:`trace_key` reads it, so one payment printed two ways has one id), or a hash of the two when either
    holds characters an id cannot. ``as_received``: the id as it was built before trace keys (the trace as
    sent), to find a document an older version stored under it."""
    payer, trace = payer_id.strip(), trace_number.strip() if as_received else trace_key(trace_number)
    if payer and trace and _key_part(payer) == payer and _key_part(trace) == trace:
        return f"{prefix}-{payer}-{trace}"
    return f"{prefix}-set-{_digest([(payer, trace)])}"


def remittance_key(remittances: Sequence[Remittance], prefix: str = "era") -> str:
    """The business id of a delivery of remittances: the payments it carries, not the file or its envelope.

    One payment: its ``payment_key``. Several in one file: a hash of every payer and trace key, so the same
    payments delivered again (a new envelope, another file name) have the same key and start nothing new, while
    a file that adds a payment is a new delivery (posting itself is idempotent per claim line, so only the new
    payment posts).
    """
    pairs = sorted({(r.payer_id.strip(), trace_key(r.trace_number)) for r in remittances})
    if not pairs:
        raise ValueError("a delivery without remittances has no key")
    if len(pairs) == 1:
        return payment_key(*pairs[0], prefix=prefix)
    return f"{prefix}-set-{_digest(pairs)}"
