"""EOB PDFs (pdfplumber) into the remittance model: per-payer templates, confidence and totals cross-checks."""

from activities.eob.errors import (
    CorruptPdf,
    EncryptedPdf,
    EobError,
    EobLowConfidence,
    EobNeedsReview,
    EobTotalsMismatch,
    NotAPdf,
    UnknownEobLayout,
)
from activities.eob.extract import EobExtraction, extract_eob, extract_eob_details
from activities.eob.image import page_png

__all__ = [
    "CorruptPdf",
    "EncryptedPdf",
    "EobError",
    "EobExtraction",
    "EobLowConfidence",
    "EobNeedsReview",
    "EobTotalsMismatch",
    "NotAPdf",
    "UnknownEobLayout",
    "extract_eob",
    "extract_eob_details",
    "page_png",
]
