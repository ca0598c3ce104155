"""Coordination of benefits: what a secondary payer pays after the primary. Pure, integer cents.

One place for the rule every sandbox secondary payer follows (the clearinghouse's 835 payers and the portal's
EOB payers) and for lining up the primary's adjudicated lines with a secondary claim's lines (the 837's COB
loops and the portal's secondary claims):

* the secondary allows its own fee schedule amount for a line (what is above it is its CO-45);
* it pays that allowed amount less what the primary paid on the line, but never more than the balance the
  primary left (the primary's patient responsibility on the line), when the secondary was told that balance;
* what it does not pay of that balance stays the patient's (PR), up to its allowed amount;
* CARC 23 ("impact of prior payer adjudication", group CO or OA) names the rest of its allowed amount: what the
  primary settled. Posting reads CARC 23 as not this payer's to post (domain.posting.rules).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from domain.remittance import Adjustment, ClaimPayment, ServiceLinePayment

PRIOR_PAYER_REASON = "23"
COB_GROUPS = ("CO", "OA")
# The patient's share a secondary leaves is reported as coinsurance: what its plan does not cover of the balance.
SECONDARY_PATIENT_REASON = "2"


@dataclass(frozen=True)
class PriorLine:
    """How the prior (primary) payer settled one line, as its remittance said."""

    paid_cents: int
    patient_responsibility_cents: int
    allowed_cents: int | None = None


@dataclass(frozen=True)
class SecondaryLine:
    paid_cents: int
    prior_payer_cents: int  # the CARC 23 amount
    patient_responsibility_cents: int

    def adjustments(self, group: str = "CO", patient_reason: str = SECONDARY_PATIENT_REASON) -> tuple[Adjustment, ...]:
        """The CAS a secondary reports for the part of its allowed amount it does not pay."""
        if group not in COB_GROUPS:
            raise ValueError(f"a prior payer adjustment is group CO or OA, not {group}")
        found = []
        if self.prior_payer_cents:
            found.append(Adjustment(group, PRIOR_PAYER_REASON, self.prior_payer_cents))
        if self.patient_responsibility_cents:
            found.append(Adjustment("PR", patient_reason, self.patient_responsibility_cents))
        return tuple(found)


def prior_paid_share(prior_paid_cents: int, line_charge_cents: int, claim_charge_cents: int) -> int:
    """A claim-level amount (AMT*D, or a patient responsibility) spread over a line pro rata to its charge."""
    return prior_paid_cents * line_charge_cents // max(claim_charge_cents, 1)


def settle_secondary_line(allowed_cents: int, prior_paid_cents: int, prior_patient_cents: int | None) -> SecondaryLine:
    """Split a secondary's allowed amount for one line into what it pays, CARC 23 and the patient's share.

    ``prior_patient_cents`` is the balance the primary left on the line; None when the secondary was only told
    what the primary paid (an 837 with AMT*D and no line adjudication): it then pays its allowed amount less the
    primary's payment and leaves the patient nothing.
    """
    allowed = max(0, allowed_cents)
    room = max(0, allowed - max(0, prior_paid_cents))
    if prior_patient_cents is None:
        paid, patient = room, 0
    else:
        balance = max(0, prior_patient_cents)
        paid = min(room, balance)
        patient = min(balance - paid, allowed - paid)
    return SecondaryLine(paid, allowed - paid - patient, patient)


def prior_lines(
    payment: ClaimPayment, lines: Sequence[tuple[str, tuple[str, ...]]]
) -> tuple[ServiceLinePayment | None, ...]:
    """The primary's adjudicated line for each of our claim lines (procedure, modifiers), in order, each used once;
    None for a line the primary did not report."""
    remaining = list(payment.service_lines)
    found: list[ServiceLinePayment | None] = []
    for procedure, modifiers in lines:
        match = next((p for p in remaining if p.procedure == procedure and tuple(p.modifiers) == modifiers), None)
        if match is not None:
            remaining.remove(match)
        found.append(match)
    return tuple(found)


def prior_line(line: ServiceLinePayment) -> PriorLine:
    """What a secondary needs of the primary's adjudicated line: paid, the patient's share, the allowed amount
    (AMT*B6 when the payer stated it, else what it paid plus what it left to the patient)."""
    patient = sum(a.amount_cents for a in line.adjustments if a.group == "PR")
    allowed = line.allowed_cents if line.allowed_cents is not None else line.paid_cents + patient
    return PriorLine(line.paid_cents, patient, allowed)
