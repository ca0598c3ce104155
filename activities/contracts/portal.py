"""Contracts of the payer-portal and EOB activities (``activities.portals.activities``).

Inputs and outputs carry opaque ids, codes, cents and document keys only: the member id and birth date a
portal search needs are looked up by the activity from the store, never passed through Temporal.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from activities.contracts.reference import ActivityRef

CHECK_ELIGIBILITY = "portal.check_eligibility"
CLAIM_STATUS = "portal.claim_status"
DOWNLOAD_EOBS = "portal.download_eobs"
READ_EOB = "eob.read"

# ApplicationError types the activities raise (non-retryable unless noted), for the workflow's work items.
ERROR_LOGIN_FAILED = "portal_login_failed"
ERROR_LAYOUT_CHANGED = "portal_layout_changed"
ERROR_UNAVAILABLE = "portal_unavailable"  # retryable
ERROR_CREDENTIALS_MISSING = "portal_credentials_missing"
ERROR_OTP_UNAVAILABLE = "portal_otp_unavailable"


@dataclass(frozen=True)
class PortalFailureDetails:
    """The first detail of a portal ApplicationError: where the evidence of the failure is stored."""

    payer_id: str
    screenshot_key: str | None
    html_key: str | None


@dataclass(frozen=True)
class PortalEligibilityInput:
    coverage_id: str
    one_time_code: str | None = None  # from a person, for an account without a TOTP secret (30 s valid)


@dataclass(frozen=True)
class PortalEligibilityResult:
    coverage_id: str
    payer_id: str
    status: str  # active, inactive, inconclusive (as EligibilityAnswer.status)
    route: str = "portal"
    copay_cents: int | None = None
    deductible_remaining_cents: int | None = None
    coverage_ends: date | None = None
    reject_reason: str | None = None  # "75" (member not found), as the 271's AAA03 would say
    checked_at: datetime | None = None


@dataclass(frozen=True)
class PortalClaimStatusInput:
    claim_id: str
    one_time_code: str | None = None


@dataclass(frozen=True)
class PortalClaimStatusResult:
    claim_id: str
    payer_id: str
    found: bool
    status: str  # received, in_process, paid, denied, not_found, unknown
    category: str  # the 277 STC01-1 the status corresponds to: A1, P1, F1, F2, A4
    finalized: bool
    route: str = "portal"
    payer_claim_control_number: str | None = None
    paid_cents: int | None = None
    patient_responsibility_cents: int | None = None


@dataclass(frozen=True)
class PortalEobDownloadInput:
    payer_id: str
    one_time_code: str | None = None


@dataclass(frozen=True)
class PortalEobDownloadResult:
    payer_id: str
    document_keys: tuple[str, ...]  # newly stored EOB PDFs, in the portal's order
    already_stored: int


@dataclass(frozen=True)
class EobReadInput:
    document_key: str
    payer_id: str | None = None


@dataclass(frozen=True)
class EobReadResult:
    document_key: str
    status: str  # ok (post it like an 835), needs_review (a work item with the page image), rejected (unreadable)
    payer_id: str | None = None
    trace_number: str | None = None
    claims: int = 0
    payment_amount_cents: int | None = None
    confidence: float | None = None
    reason_code: str | None = None  # the typed error's code
    reason: str | None = None  # no PHI: page numbers, claim ordinals, codes
    page: int | None = None
    page_image_key: str | None = None
    # ok only: the reading stored as an 835 (under edi/835/<key>.x12), to post through posting.post_remittance
    remittance_key: str | None = None


# --- the portal workflows (flows/portal) ----------------------------------------------------------------


@dataclass(frozen=True)
class PortalEobIntakeInput:
    payer_id: str
    post: bool = True  # start a PaymentPosting for each EOB read well
    work_item_sla_hours: float = 24.0
    portal_task_queue: str = "portal"
    documents_task_queue: str = "documents"
    posting_task_queue: str = "revenue"
    # The length of a business day for each PaymentPosting's RevenuePolicy (its secondary claims and collections
    # run on it); None: a real day. The demo compresses it.
    day_seconds: float | None = None


@dataclass(frozen=True)
class PortalEobIntakeResult:
    payer_id: str
    downloaded: tuple[str, ...]  # document keys of the EOB PDFs stored by this run
    posted: tuple[str, ...]  # remittance keys handed to PaymentPosting
    reviewed: tuple[str, ...]  # document keys a person looked at (needs_review or rejected)
    gave_up: bool = False  # a person cancelled after the portal failed


# --- typed references: how a workflow names these activities (flows.calls); mypy checks the types -----------

portal_check_eligibility = ActivityRef(CHECK_ELIGIBILITY, PortalEligibilityInput, PortalEligibilityResult)
portal_claim_status = ActivityRef(CLAIM_STATUS, PortalClaimStatusInput, PortalClaimStatusResult)
portal_download_eobs = ActivityRef(DOWNLOAD_EOBS, PortalEobDownloadInput, PortalEobDownloadResult)
eob_read = ActivityRef(READ_EOB, EobReadInput, EobReadResult)
