"""What posting a remittance did: per claim payment (:class:`ClaimPosted`) and per remittance
(:class:`PostingResult`, whose ``as_dict`` is the report `carecycle remit post` prints)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class ClaimPosted:
    """One claim payment of the remittance, as posted (or why not)."""

    sequence: int
    patient_control_number: str
    status_code: str
    # paid, partially_paid, denied, reversed, unmatched, ambiguous, exception; for a payment stored already
    # (domain.posting.channels): already_posted, same_payment (another channel), channel_mismatch (it differs)
    outcome: str
    claim_id: str | None
    paid_cents: int
    patient_responsibility_cents: int
    contractual_cents: int
    confidence: int
    rule: str
    adjustment_codes: tuple[str, ...] = ()
    remark_codes: tuple[str, ...] = ()
    problems: tuple[str, ...] = ()
    candidates: tuple[str, ...] = ()
    secondary_claim_id: str | None = None
    work_item_id: str | None = None

    @property
    def posted(self) -> bool:
        return self.outcome in ("paid", "partially_paid", "denied", "reversed")


@dataclass(frozen=True)
class PostingResult:
    payer_id: str  # the payer's code as the remittance names it
    trace_number: str
    already_posted: bool
    payer_known: bool
    remittance_id: str | None
    payment_amount_cents: int  # BPR02
    provider_adjustment_cents: int  # sum of PLB amounts (positive reduced the payment)
    paid_cents: int  # claim payments posted to claims
    unapplied_cents: int  # claim payments parked in unapplied cash (unmatched or in exception)
    contractual_cents: int
    patient_responsibility_cents: int
    entries_written: int
    claims: tuple[ClaimPosted, ...] = ()
    work_items_opened: tuple[str, ...] = ()
    secondary_claims_created: tuple[str, ...] = ()
    guarantors_with_balance: tuple[str, ...] = ()
    # For a payment stored already (already_posted is True): "already_posted" (the same delivery again),
    # "same_payment" (the same payment by another channel) or "channel_mismatch" (stated differently: a work
    # item asks a person). "" when this call posted it. remittance_id is then the stored (first) remittance.
    arrival: str = ""
    source: str = ""  # the channel of this remittance: 835 or eob_pdf
    first_source: str = ""  # the channel the stored payment came by ("" when this call posted it)

    @property
    def claims_matched(self) -> int:
        return sum(
            1 for c in self.claims if c.posted or (c.outcome in ("already_posted", "same_payment") and c.claim_id)
        )

    @property
    def claims_unmatched(self) -> int:
        return sum(1 for c in self.claims if c.outcome in ("unmatched", "ambiguous"))

    @property
    def claims_in_exception(self) -> int:
        return sum(1 for c in self.claims if c.outcome == "exception")

    @property
    def posted_total_cents(self) -> int:
        """Every claim payment's money, posted or parked: equals BPR02 plus the PLB amounts."""
        return self.paid_cents + self.unapplied_cents

    def as_dict(self) -> dict[str, Any]:
        return {
            "payer_id": self.payer_id,
            "trace_number": self.trace_number,
            "already_posted": self.already_posted,
            "arrival": self.arrival,
            "source": self.source,
            "first_source": self.first_source,
            "payer_known": self.payer_known,
            "remittance_id": self.remittance_id,
            "payment_amount_cents": self.payment_amount_cents,
            "provider_adjustment_cents": self.provider_adjustment_cents,
            "claims_matched": self.claims_matched,
            "claims_unmatched": self.claims_unmatched,
            "claims_in_exception": self.claims_in_exception,
            "paid_cents": self.paid_cents,
            "unapplied_cents": self.unapplied_cents,
            "contractual_cents": self.contractual_cents,
            "patient_responsibility_cents": self.patient_responsibility_cents,
            "entries_written": self.entries_written,
            "work_items_opened": list(self.work_items_opened),
            "secondary_claims_created": list(self.secondary_claims_created),
            "claims": [
                {
                    "sequence": c.sequence,
                    "patient_control_number": c.patient_control_number,
                    "status_code": c.status_code,
                    "outcome": c.outcome,
                    "claim_id": c.claim_id,
                    "paid_cents": c.paid_cents,
                    "patient_responsibility_cents": c.patient_responsibility_cents,
                    "contractual_cents": c.contractual_cents,
                    "confidence": c.confidence,
                    "rule": c.rule,
                    "adjustment_codes": list(c.adjustment_codes),
                    "problems": list(c.problems),
                    "candidates": list(c.candidates),
                    "secondary_claim_id": c.secondary_claim_id,
                    "work_item_id": c.work_item_id,
                }
                for c in self.claims
            ],
        }
