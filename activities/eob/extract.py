"""Read an EOB PDF into a ``Remittance`` (source ``eob_pdf``), or say precisely why it cannot be trusted.

Order of checks: is it a PDF at all, can it be opened (not encrypted, not corrupt), whose layout is it,
how much of it was understood (confidence), and do the numbers add up (line, claim and payment totals).
Only a reading that passes all of them is returned; posting then treats it like an 835.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from activities.eob.errors import (
    CorruptPdf,
    EncryptedPdf,
    EobLowConfidence,
    EobTotalsMismatch,
    NotAPdf,
    UnknownEobLayout,
)
from activities.eob.templates import TEMPLATES, ClaimDraft, EobTemplate, Reading
from domain.remittance import ClaimPayment, Remittance

MIN_CONFIDENCE = 0.98
MAX_PAGES = 500


@dataclass(frozen=True)
class EobExtraction:
    remittance: Remittance
    confidence: float
    layout: str
    pages: int
    # Claims paid as secondary (coordination of benefits): (patient control number, prior payer id, what it paid),
    # as the EOB states them; the CARC 23 adjustments in the remittance carry the effect.
    prior_payers: tuple[tuple[str, str, int], ...] = ()


def read_pages(path: Path) -> list[str]:
    """The text of each page; typed errors for anything that is not a readable PDF."""
    try:
        with path.open("rb") as handle:
            magic = handle.read(1024)
    except OSError as exc:
        raise NotAPdf(f"cannot read the file: {exc.strerror}") from None
    if b"%PDF-" not in magic:
        raise NotAPdf("the file is not a PDF")
    import pdfplumber
    from pdfminer.pdfdocument import PDFEncryptionError, PDFPasswordIncorrect
    from pdfminer.pdfparser import PDFSyntaxError
    from pdfminer.psexceptions import PSException

    try:
        with pdfplumber.open(path) as pdf:
            if len(pdf.pages) > MAX_PAGES:
                raise CorruptPdf(f"the PDF has {len(pdf.pages)} pages, more than an EOB can have ({MAX_PAGES})")
            return [page.extract_text() or "" for page in pdf.pages]
    except (PDFPasswordIncorrect, PDFEncryptionError):
        raise EncryptedPdf("the PDF is encrypted; ask the payer for an unprotected copy") from None
    except (PDFSyntaxError, PSException):
        raise CorruptPdf("the PDF is damaged and cannot be read") from None
    except Exception as exc:  # pdfminer raises plain exceptions (KeyError, ValueError...) on broken files
        if isinstance(exc, CorruptPdf):
            raise
        # pdfplumber wraps pdfminer's errors: look at what it wraps.
        wrapped = [exc, exc.__cause__, exc.__context__, *exc.args]
        if any(isinstance(e, PDFPasswordIncorrect | PDFEncryptionError) for e in wrapped):
            raise EncryptedPdf("the PDF is encrypted; ask the payer for an unprotected copy") from None
        raise CorruptPdf(f"the PDF is damaged and cannot be read ({type(exc).__name__})") from None


def choose_template(first_page: str, payer_id: str | None) -> EobTemplate:
    for template in TEMPLATES:
        if template.matches(first_page):
            if payer_id is not None and template.payer_id != payer_id:
                raise UnknownEobLayout(f"the EOB is in {template.payer_id}'s layout, not {payer_id}'s")
            return template
    if payer_id is not None and not any(t.payer_id == payer_id for t in TEMPLATES):
        raise UnknownEobLayout(f"no EOB template for payer {payer_id}")
    raise UnknownEobLayout("the EOB's layout is not one we know")


def _check_claim(claim: ClaimDraft, index: int) -> None:
    where = f"claim {index + 1}"
    if claim.charge_cents is None or claim.paid_cents is None or claim.patient_responsibility_cents is None:
        raise EobLowConfidence(f"{where} has no totals line", claim.page)
    for number, line in enumerate(claim.lines, start=1):
        adjusted = sum(a.amount_cents for a in line.adjustments)
        if line.charge_cents - line.paid_cents != adjusted:
            raise EobTotalsMismatch(f"{where} line {number}: billed minus paid is not the adjustments", claim.page)
    if claim.lines:
        if sum(line.charge_cents for line in claim.lines) != claim.charge_cents:
            raise EobTotalsMismatch(f"{where}: the lines' billed amounts do not add up to the claim's", claim.page)
        if sum(line.paid_cents for line in claim.lines) != claim.paid_cents:
            raise EobTotalsMismatch(f"{where}: the lines' paid amounts do not add up to the claim's", claim.page)
    if claim.prior_payer_id is not None and claim.status_code == "1":
        raise EobTotalsMismatch(f"{where} names a prior payer but says it was processed as primary", claim.page)
    patient_share = sum(
        a.amount_cents
        for a in claim.adjustments + [a for line in claim.lines for a in line.adjustments]
        if a.group == "PR"
    )
    if patient_share != claim.patient_responsibility_cents:
        raise EobTotalsMismatch(f"{where}: patient responsibility is not the sum of its PR adjustments", claim.page)


def _cross_check(reading: Reading, pages: int) -> None:
    last = pages
    if not reading.trace_number or reading.payment_amount_cents is None:
        raise EobLowConfidence("no check/EFT number or payment amount found", 1)
    if not reading.claims:
        raise EobLowConfidence("no claims found", 1)
    for index, claim in enumerate(reading.claims):
        _check_claim(claim, index)
    billed = sum(c.charge_cents or 0 for c in reading.claims)
    paid = sum(c.paid_cents or 0 for c in reading.claims)
    if reading.stated_claim_count is not None and reading.stated_claim_count != len(reading.claims):
        raise EobTotalsMismatch(
            f"the totals say {reading.stated_claim_count} claims, {len(reading.claims)} were read", last
        )
    if reading.stated_billed_cents is not None and reading.stated_billed_cents != billed:
        raise EobTotalsMismatch("the total billed is not the sum of the claims", last)
    if reading.stated_paid_cents is not None and reading.stated_paid_cents != paid:
        raise EobTotalsMismatch("the total paid is not the sum of the claims", last)
    if reading.stated_payment_cents is not None and reading.stated_payment_cents != reading.payment_amount_cents:
        raise EobTotalsMismatch("the payment amount differs between the header and the totals", last)
    expected = paid - sum(p.amount_cents for p in reading.provider_adjustments)
    if reading.payment_amount_cents != expected:
        raise EobTotalsMismatch("the payment amount is not the claims paid less provider adjustments", last)


def extract_eob_details(path: Path, payer_id: str | None = None) -> EobExtraction:
    pages = read_pages(path)
    if not pages or not pages[0].strip():
        raise UnknownEobLayout("the PDF has no text on its first page (a scan needs OCR, which we do not do)")
    template = choose_template(pages[0], payer_id)
    reading = template.read(pages)
    total = reading.recognised + reading.unrecognised
    confidence = reading.recognised / total if total else 0.0
    if confidence < MIN_CONFIDENCE:
        raise EobLowConfidence(
            f"only {confidence:.0%} of the EOB's lines were understood",
            reading.first_unrecognised_page or 1,
            confidence,
        )
    _cross_check(reading, len(pages))
    claims = tuple(
        ClaimPayment(
            patient_control_number=c.patient_control_number,
            status_code=c.status_code,
            charge_cents=c.charge_cents or 0,
            paid_cents=c.paid_cents or 0,
            patient_responsibility_cents=c.patient_responsibility_cents or 0,
            payer_claim_control_number=c.payer_claim_control_number,
            adjustments=tuple(c.adjustments),
            service_lines=tuple(c.lines),
            patient_member_id=c.member_id,
            service_date=min((line.service_date for line in c.lines if line.service_date), default=None),
        )
        for c in reading.claims
    )
    remittance = Remittance(
        payer_id=template.payer_id,
        payer_name=template.payer_name,
        payee_name=reading.payee_name,
        payee_id=reading.payee_id,
        payment_method=reading.payment_method,
        payment_amount_cents=reading.payment_amount_cents or 0,
        trace_number=reading.trace_number,
        payment_date=reading.payment_date,
        claims=claims,
        provider_adjustments=tuple(reading.provider_adjustments),
        control_number=reading.trace_number,
        source="eob_pdf",
    )
    prior_payers = tuple(
        (c.patient_control_number, c.prior_payer_id, c.prior_payer_paid_cents or 0)
        for c in reading.claims
        if c.prior_payer_id is not None
    )
    return EobExtraction(remittance, confidence, template.layout, len(pages), prior_payers)


def extract_eob(path: Path, payer_id: str | None = None) -> Remittance:
    """The remittance an EOB PDF states; typed errors (nothing to post) when it cannot be read or trusted."""
    return extract_eob_details(path, payer_id).remittance
