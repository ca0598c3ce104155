"""Balanced synthetic remittances for EOB PDFs: what the sandbox payers pay, from a seed.

Every amount obeys the rules a real payer's EOB does: billed minus paid equals the adjustments on each
line, a claim's patient responsibility is its PR adjustments, the payment is the claims paid less the
provider-level adjustments.
"""

from __future__ import annotations

import random
from datetime import date, timedelta

from domain.cob import PriorLine, settle_secondary_line
from domain.remittance import Adjustment, ClaimPayment, ProviderAdjustment, Remittance, ServiceLinePayment

_PROCEDURES = (("99213", 15000), ("99214", 22000), ("99203", 18000), ("36415", 2500), ("81002", 1500), ("93000", 6500))
_MODIFIERS = ((), (), (), ("25",), ("59",), ("25", "95"))


def allowed_amount(charge_cents: int, rng: random.Random) -> int:
    """The payer's fee schedule for a line: a seeded share of the charge."""
    return charge_cents * rng.randint(55, 85) // 100


def adjudicate_line(
    procedure: str,
    modifiers: tuple[str, ...],
    units: int,
    charge_cents: int,
    service_date: date | None,
    rng: random.Random,
    *,
    deny: bool = False,
) -> ServiceLinePayment:
    """One line as a payer decides it: contractual write-off (CO-45), then copay/coinsurance/deductible (PR)."""
    if deny:
        return ServiceLinePayment(
            procedure,
            modifiers,
            charge_cents,
            0,
            units,
            None,
            service_date,
            (Adjustment("CO", "97", charge_cents),),
            (),
            0,
        )
    allowed = allowed_amount(charge_cents, rng)
    adjustments = []
    if charge_cents - allowed:
        adjustments.append(Adjustment("CO", "45", charge_cents - allowed))
    patient = 0
    kind = rng.choice(("copay", "coins", "deductible", "none"))
    if kind == "copay":
        patient = min(allowed, rng.choice((1000, 2000, 3000)))
        reason = "3"
    elif kind == "coins":
        patient = allowed * 20 // 100
        reason = "2"
    elif kind == "deductible":
        patient = min(allowed, rng.randint(10, 60) * 100)
        reason = "1"
    if patient:
        adjustments.append(Adjustment("PR", reason, patient))
    return ServiceLinePayment(
        procedure,
        modifiers,
        charge_cents,
        allowed - patient,
        units,
        None,
        service_date,
        tuple(adjustments),
        (),
        allowed,
    )


def adjudicate_secondary_line(
    procedure: str,
    modifiers: tuple[str, ...],
    units: int,
    charge_cents: int,
    service_date: date | None,
    rng: random.Random,
    prior: PriorLine,
    *,
    cob_group: str = "CO",
    deny: bool = False,
) -> ServiceLinePayment:
    """One line as a secondary payer decides it (domain.cob): its own contractual write-off (CO-45), what the
    primary settled (CARC 23), what it pays of the balance the primary left, the rest the patient's (PR)."""
    if deny:
        return adjudicate_line(procedure, modifiers, units, charge_cents, service_date, rng, deny=True)
    allowed = allowed_amount(charge_cents, rng)
    settled = settle_secondary_line(allowed, prior.paid_cents, prior.patient_responsibility_cents)
    adjustments = [Adjustment("CO", "45", charge_cents - allowed)] if charge_cents > allowed else []
    adjustments.extend(settled.adjustments(cob_group))
    return ServiceLinePayment(
        procedure,
        modifiers,
        charge_cents,
        settled.paid_cents,
        units,
        None,
        service_date,
        tuple(adjustments),
        (),
        allowed,
    )


def claim_from_lines(
    patient_control_number: str,
    payer_claim_control_number: str,
    member_id: str | None,
    lines: tuple[ServiceLinePayment, ...],
    *,
    secondary: bool = False,
) -> ClaimPayment:
    paid = sum(line.paid_cents for line in lines)
    charge = sum(line.charge_cents for line in lines)
    patient = sum(a.amount_cents for line in lines for a in line.adjustments if a.group == "PR")
    # CLP02: 4 denied, 2 processed as secondary, 1 processed as primary.
    status = "4" if paid == 0 and patient == 0 and not secondary else "2" if secondary else "1"
    return ClaimPayment(
        patient_control_number=patient_control_number,
        status_code=status,
        charge_cents=charge,
        paid_cents=paid,
        patient_responsibility_cents=patient,
        payer_claim_control_number=payer_claim_control_number,
        service_lines=lines,
        patient_member_id=member_id,
        service_date=min((line.service_date for line in lines if line.service_date), default=None),
    )


def sample_remittance(
    payer_id: str,
    payer_name: str,
    claims: int,
    seed: int = 0,
    *,
    payment_date: date = date(2026, 11, 20),
    lines_per_claim: tuple[int, int] = (1, 4),
    interest: bool = True,
) -> Remittance:
    rng = random.Random(seed)
    claim_payments = []
    for index in range(claims):
        service_date = payment_date - timedelta(days=rng.randint(10, 60))
        count = rng.randint(*lines_per_claim)
        deny = rng.random() < 0.08
        lines = tuple(
            adjudicate_line(code, rng.choice(_MODIFIERS), units, price * units, service_date, rng, deny=deny)
            for code, price in (rng.choice(_PROCEDURES) for _ in range(count))
            for units in (rng.choice((1, 1, 1, 2)),)
        )
        claim_payments.append(
            claim_from_lines(
                f"CC{seed % 1000:03d}{index:05d}",
                f"{payer_id[-2:]}{rng.randint(10**9, 10**10 - 1)}",
                f"M{rng.randint(10**7, 10**8 - 1)}",
                lines,
            )
        )
    plb = (ProviderAdjustment("L6", f"INT{seed % 100:02d}", -rng.randint(1, 900)),) if interest else ()
    paid = sum(c.paid_cents for c in claim_payments)
    return Remittance(
        payer_id=payer_id,
        payer_name=payer_name,
        payee_name="Sandbox Family Medicine",
        payee_id="1999999984",
        payment_method=rng.choice(("CHK", "ACH")),
        payment_amount_cents=paid - sum(p.amount_cents for p in plb),
        trace_number=f"{rng.randint(10**8, 10**9 - 1)}",
        payment_date=payment_date,
        claims=tuple(claim_payments),
        provider_adjustments=plb,
        control_number="",
        source="eob_pdf",
    )
