"""What a claim payment means in money, and what makes it unsafe to post. Pure.

Group codes: CO (contractual), PI (payer initiated) and CR (corrections) reduce what the payer owes; PR is the
patient's share; OA is other. CARC 23 ("impact of prior payer adjudication", as OA or CO) on a secondary's
remittance names what the primary already settled: it is not this payer's to post. A secondary claim's
insurance balance is only what crossed over from the primary, so its contractual amount is what closes that
balance (see posting).
"""

from __future__ import annotations

from dataclasses import dataclass

from domain.remittance import Adjustment, ClaimPayment

PRIOR_PAYER_REASON = "23"
GROUP_CODES = frozenset({"CO", "PR", "OA", "PI", "CR"})


@dataclass(frozen=True)
class ClaimAmounts:
    paid_cents: int
    contractual_cents: int
    patient_responsibility_cents: int
    prior_payer_cents: int
    codes: tuple[str, ...]  # "CO-45", "PR-1", ...

    @property
    def resolved_cents(self) -> int:
        """What leaves this payer's insurance AR."""
        return self.paid_cents + self.contractual_cents + self.patient_responsibility_cents


def classify(payment: ClaimPayment) -> ClaimAmounts:
    contractual = responsibility = prior = 0
    codes: list[str] = []
    for adjustment in payment.all_adjustments():
        code = f"{adjustment.group}-{adjustment.reason}"
        if code not in codes:
            codes.append(code)
        if adjustment.group == "PR":
            responsibility += adjustment.amount_cents
        elif adjustment.group in ("OA", "CO") and adjustment.reason == PRIOR_PAYER_REASON:
            prior += adjustment.amount_cents
        else:
            contractual += adjustment.amount_cents
    return ClaimAmounts(payment.paid_cents, contractual, responsibility, prior, tuple(codes))


def _total(adjustments: tuple[Adjustment, ...]) -> int:
    return sum(a.amount_cents for a in adjustments)


def problems(payment: ClaimPayment) -> list[str]:
    """Reasons not to post this claim payment automatically (empty: safe to post)."""
    found: list[str] = []
    every = payment.all_adjustments()
    if any(a.group not in GROUP_CODES for a in every):
        found.append("unknown_group_code")
    adjusted = _total(every)
    if payment.charge_cents - payment.paid_cents != adjusted:
        found.append("claim_not_balanced")
    for line in payment.service_lines:
        if line.charge_cents - line.paid_cents != _total(line.adjustments):
            found.append("line_not_balanced")
            break
    if payment.service_lines and sum(s.paid_cents for s in payment.service_lines) != payment.paid_cents:
        found.append("lines_do_not_sum")
    responsibility = sum(a.amount_cents for a in every if a.group == "PR")
    if responsibility != payment.patient_responsibility_cents:
        found.append("patient_responsibility_mismatch")
    if not payment.is_reversal:
        if payment.paid_cents < 0 or payment.charge_cents < 0:
            found.append("negative_payment")
        if payment.paid_cents > payment.charge_cents:
            found.append("overpayment")
        if any(a.amount_cents < 0 for a in every if a.group == "PR"):
            found.append("negative_patient_responsibility")
    elif payment.paid_cents > 0:
        found.append("reversal_not_negative")
    return found


def is_denial(payment: ClaimPayment, amounts: ClaimAmounts) -> bool:
    return payment.is_denial or (
        not payment.is_reversal and amounts.paid_cents == 0 and amounts.patient_responsibility_cents == 0
    )


def line_denied(paid_cents: int, charge_cents: int, responsibility_cents: int) -> bool:
    return paid_cents == 0 and charge_cents > 0 and responsibility_cents == 0
