"""The synthetic practice's fixed cast: its payers, the states its providers are also licensed in, the
training every role renews, and the mix of historical claim statuses."""

from __future__ import annotations

from dataclasses import dataclass

from domain.claim_status import ClaimStatus
from domain.enums import PayerKind, PayerRouting


@dataclass(frozen=True)
class SyntheticPayer:
    payer_id: str
    name: str
    kind: PayerKind
    routing: PayerRouting
    timely_filing_days: int
    follow_up_days: int
    portal_variant: str | None = None
    weight: int = 1  # how often patients carry it


PAYERS: tuple[SyntheticPayer, ...] = (
    SyntheticPayer(
        "SBXBM", "Blue Meadow Health Plan", PayerKind.COMMERCIAL, PayerRouting.CLEARINGHOUSE, 180, 30, None, 5
    ),
    SyntheticPayer(
        "SBXSM", "Summit Mutual Insurance", PayerKind.COMMERCIAL, PayerRouting.CLEARINGHOUSE, 90, 30, None, 4
    ),
    SyntheticPayer(
        "SBXMC",
        "Medicare Part B Sandbox Jurisdiction",
        PayerKind.MEDICARE,
        PayerRouting.CLEARINGHOUSE,
        365,
        30,
        None,
        4,
    ),
    SyntheticPayer(
        "SBXMD", "State Medicaid Sandbox Program", PayerKind.MEDICAID, PayerRouting.CLEARINGHOUSE, 365, 45, None, 3
    ),
    SyntheticPayer("SBXCC", "Cascade Care Plans", PayerKind.COMMERCIAL, PayerRouting.PORTAL, 120, 30, "cascade", 2),
    # Harbor is slow to adjudicate (8 days in the sandbox portal) and the practice checks its portal after a week:
    # the Claim workflow's follow-up searches Harbor's portal for the claim's status.
    SyntheticPayer("SBXHH", "Harbor Health Alliance", PayerKind.COMMERCIAL, PayerRouting.PORTAL, 180, 7, "harbor", 2),
    SyntheticPayer("SELF", "Self-pay", PayerKind.SELF_PAY, PayerRouting.NONE, 3650, 30, None, 0),
)

# Each provider's licenses beyond Oregon, by position (the practice sees patients by video across state lines).
OTHER_STATE_LICENSES: tuple[tuple[str, ...], ...] = (("WA",), ("WA", "CA"), (), ("ID",), ("WA",), ())

TRAINING: tuple[tuple[str, str, list[str], int], ...] = (
    ("HIPAA", "HIPAA privacy and security", [], 365),
    ("OSHA_BBP", "OSHA bloodborne pathogens", ["physician", "nurse_practitioner", "nurse"], 365),
    ("FWA", "Fraud, waste and abuse", [], 365),
    ("CPR", "Basic life support (CPR)", ["physician", "nurse_practitioner", "nurse"], 730),
)

# The share of historical claims in each status: a working practice's realistic mix.
CLAIM_STATUS_MIX: tuple[tuple[ClaimStatus, int], ...] = (
    (ClaimStatus.READY, 22),
    (ClaimStatus.DRAFT, 6),
    (ClaimStatus.SUBMITTED, 12),
    (ClaimStatus.ACCEPTED, 10),
    (ClaimStatus.PAID, 24),
    (ClaimStatus.PARTIALLY_PAID, 8),
    (ClaimStatus.DENIED, 6),
    (ClaimStatus.REJECTED, 5),
    (ClaimStatus.CLOSED, 7),
)
