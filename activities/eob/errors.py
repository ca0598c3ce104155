"""Typed errors of EOB reading: each says why nothing was posted; none carries PHI (page numbers and codes only)."""

from __future__ import annotations

from domain.errors import DomainError, ValidationError


class EobError(DomainError):
    code = "eob_error"


class NotAPdf(ValidationError):
    code = "eob_not_pdf"


class EncryptedPdf(ValidationError):
    code = "eob_encrypted"


class CorruptPdf(ValidationError):
    code = "eob_corrupt"


class UnknownEobLayout(EobError):
    code = "eob_unknown_layout"


class EobNeedsReview(EobError):
    """The layout was recognised but the reading cannot be trusted: a person must look at ``page``."""

    code = "eob_needs_review"

    def __init__(self, reason: str, page: int | None = None, confidence: float | None = None) -> None:
        where = f" (page {page})" if page is not None else ""
        super().__init__(f"{reason}{where}")
        self.reason = reason
        self.page = page  # 1-based, for the work item's page image
        self.confidence = confidence


class EobLowConfidence(EobNeedsReview):
    code = "eob_low_confidence"


class EobTotalsMismatch(EobNeedsReview):
    code = "eob_totals_mismatch"
