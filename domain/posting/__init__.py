"""Payment posting: a Remittance (835 or EOB PDF) matched to claims and posted to the ledger exactly once."""

from domain.posting.manual import latest_adjudication, post_manually
from domain.posting.matching import ClaimMatch, match_claim
from domain.posting.results import ClaimPosted, PostingResult
from domain.posting.service import post_remittance

__all__ = [
    "ClaimMatch",
    "ClaimPosted",
    "PostingResult",
    "latest_adjudication",
    "match_claim",
    "post_manually",
    "post_remittance",
]
