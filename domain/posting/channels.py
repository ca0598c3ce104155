"""One payment, many channels: is a remittance that arrives a payment already stored, and do the channels agree?

A payment is one payer's check or EFT: the payer and its trace number (TRN02, the EOB's check/EFT number), the
key the ``remittances`` row is unique by; the claim payments are its parts. The same adjudication may reach us
as an 835 from the clearinghouse and as an EOB PDF from the payer's portal (in either order). The later arrival
is the *same payment* when payer, trace and claim are the same: it posts nothing, and says so. When the channels
disagree on a claim's amounts or status, or one names a claim the other does not, that is a real discrepancy: a
person is asked (one work item), and still nothing is posted twice.

:func:`judge_arrival` is the rule; ``domain.posting.service.post_remittance`` (every posting path: the 835 intake,
the portal EOB intake, ``remit post``, ``remit extract --post``, the drop-folder sweep) calls it for any
remittance whose payment is already stored. It is pure: codes and cents in, a verdict out.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from domain.remittance import ClaimPayment, Remittance

# The amounts two channels must agree on for one claim payment.
_COMPARED = ("status_code", "charge_cents", "paid_cents", "patient_responsibility_cents")
PCN_LENGTH = 38  # remittance_claims.patient_control_number


class Arrival(StrEnum):
    """What a remittance whose payment is already stored is."""

    ALREADY_POSTED = "already_posted"  # the same channel delivered the same payment again
    SAME_PAYMENT = "same_payment"  # another channel (835 / EOB PDF) stating the same payment
    CHANNEL_MISMATCH = "channel_mismatch"  # a channel stating the payment differently: a person looks


@dataclass(frozen=True)
class StatedClaim:
    """One claim payment as a channel stated it (codes and cents, no PHI)."""

    patient_control_number: str
    status_code: str
    charge_cents: int
    paid_cents: int
    patient_responsibility_cents: int
    payer_claim_control_number: str | None = None
    claim_id: str | None = None  # the claim the first arrival posted it to (stored side only)

    @classmethod
    def of(cls, payment: ClaimPayment) -> StatedClaim:
        return cls(
            patient_control_number=payment.patient_control_number.strip()[:PCN_LENGTH],
            status_code=payment.status_code,
            charge_cents=payment.charge_cents,
            paid_cents=payment.paid_cents,
            patient_responsibility_cents=payment.patient_responsibility_cents,
            payer_claim_control_number=payment.payer_claim_control_number or None,
        )

    def differences(self, other: StatedClaim) -> tuple[str, ...]:
        """``name first!=arriving`` for every compared amount the two state differently."""
        return tuple(
            f"{name} {getattr(self, name)}!={getattr(other, name)}"
            for name in _COMPARED
            if getattr(self, name) != getattr(other, name)
        )


@dataclass(frozen=True)
class ClaimVerdict:
    sequence: int  # the claim payment's position in the arriving remittance
    arriving: StatedClaim
    first: StatedClaim | None  # the stored claim payment it is (None: the first arrival did not name it)
    differences: tuple[str, ...]  # empty when both channels agree; "not_in_first" when the first lacks it

    @property
    def agrees(self) -> bool:
        return not self.differences


@dataclass(frozen=True)
class ArrivalVerdict:
    outcome: Arrival
    first_source: str
    source: str
    claims: tuple[ClaimVerdict, ...]
    payment_differences: tuple[str, ...] = ()  # the payment's total, when both name the same claims

    @property
    def disagreements(self) -> tuple[ClaimVerdict, ...]:
        return tuple(c for c in self.claims if not c.agrees)


def judge_arrival(
    first_source: str, first_payment_cents: int, first_claims: Sequence[StatedClaim], arriving: Remittance
) -> ArrivalVerdict:
    """The rule for a remittance whose payment (payer and trace number, the stored row's key) is stored already.

    Each arriving claim payment is paired with an unpaired stored one of the same patient control number (or,
    failing that, payer claim control number), one that agrees first. A pair that agrees is the same payment; a
    pair that differs, or a claim payment the first arrival did not name, is a discrepancy. The payment's total
    is compared too when both arrivals name the same claims (a channel may show only part of a payment)."""
    unpaired = list(first_claims)
    verdicts: list[ClaimVerdict] = []
    for sequence, payment in enumerate(arriving.claims):
        stated = StatedClaim.of(payment)
        first = _pair(stated, unpaired)
        if first is None:
            verdicts.append(ClaimVerdict(sequence, stated, None, ("not_in_first",)))
            continue
        unpaired.remove(first)
        verdicts.append(ClaimVerdict(sequence, stated, first, first.differences(stated)))
    payment_differences: tuple[str, ...] = ()
    if not unpaired and first_payment_cents != arriving.payment_amount_cents:
        payment_differences = (f"payment_amount_cents {first_payment_cents}!={arriving.payment_amount_cents}",)
    agree = all(v.agrees for v in verdicts) and not payment_differences
    if not agree:
        outcome = Arrival.CHANNEL_MISMATCH
    elif first_source == arriving.source:
        outcome = Arrival.ALREADY_POSTED
    else:
        outcome = Arrival.SAME_PAYMENT
    return ArrivalVerdict(outcome, first_source, arriving.source, tuple(verdicts), payment_differences)


def _pair(stated: StatedClaim, unpaired: Sequence[StatedClaim]) -> StatedClaim | None:
    by_pcn = [c for c in unpaired if c.patient_control_number == stated.patient_control_number]
    candidates = by_pcn or [
        c
        for c in unpaired
        if stated.payer_claim_control_number and c.payer_claim_control_number == stated.payer_claim_control_number
    ]
    return next((c for c in candidates if not c.differences(stated)), candidates[0] if candidates else None)
