"""How a sandbox payer decides a claim: pure functions from a claim, a member and a plan to a ClaimPayment.

The outcome is deterministic: forced rules first (documented in sandbox/clearinghouse/__init__.py and
docs/clearinghouse.md, which the tests rely on), then a seeded random mix keyed on (seed, payer, claim id,
frequency), so the same seed gives the same decisions whatever order claims arrive in. Only the deductible
accumulator carries state from one claim of a member to the next.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, replace
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

from domain.cob import prior_paid_share, settle_secondary_line
from domain.codes import is_valid_npi
from domain.remittance import Adjustment, ClaimPayment, ServiceLinePayment
from sandbox.clearinghouse.model import Member, SubmittedClaim, SubmittedLine
from sandbox.clearinghouse.payers import (
    LAB_PANELS,
    PREVENTIVE,
    PREVENTIVE_EXAM_DIAGNOSES,
    TELEHEALTH_MODIFIERS,
    TELEHEALTH_POS,
    VENIPUNCTURE,
    PayerPlan,
)

# Office and psychiatric evaluation codes that carry the plan's co-pay.
_COPAY_CODES_PREFIX = ("992", "9079")
_FILING_INDICATOR = {"commercial": "12", "medicare": "MB", "medicaid": "MC"}

# Seeded mix, in basis points of claims that reach the payer clean.
RANDOM_DENIAL_BP = 300  # whole claim CO-50 (medical necessity)
RANDOM_LINE_DENIAL_BP = 500  # one line CO-16 / M51 on a multi-line claim (a partial payment)
RANDOM_REVERSAL_BP = 300  # paid now, reversed and corrected (CLP02=22 then 1) in a later 835
RANDOM_RECOUPMENT_BP = 200  # paid now, an overpayment recouped later (PLB WO)


@dataclass(frozen=True)
class FollowUp:
    """Something the payer will do to an adjudicated claim in a later 835."""

    kind: str  # "reversal" or "recoupment"
    # For a reversal, the share of the original allowed amounts the correction allows (basis points);
    # for a recoupment, the share of the paid amount taken back.
    share_bp: int


@dataclass(frozen=True)
class Decision:
    payment: ClaimPayment
    deductible_applied_cents: int
    follow_up: FollowUp | None = None


@dataclass(frozen=True)
class _Costs:
    copay: int
    deductible_remaining: int
    coinsurance_bp: int


def initial_deductible_met(seed: int, member: Member, deductible_cents: int) -> int:
    """What a member had met before the sandbox saw claims: the roster's figure, else drawn from the seed."""
    if member.deductible_met_cents is not None:
        return member.deductible_met_cents
    if member.deductible_remaining_cents is not None:
        return max(0, deductible_cents - member.deductible_remaining_cents)
    rng = random.Random(f"{seed}|deductible|{member.payer_id}|{member.member_id}")
    return deductible_cents * rng.choice((0, 5000, 10000, 10000)) // 10000


def claim_rng(seed: int, claim: SubmittedClaim) -> random.Random:
    # A str seed is hashed with SHA-512 by random.Random: stable across processes and PYTHONHASHSEED.
    return random.Random(f"{seed}|{claim.payer_id}|{claim.claim_id}|{claim.frequency_code}")


def adjudicate(
    claim: SubmittedClaim,
    member: Member,
    plan: PayerPlan,
    *,
    seed: int,
    received: date,
    payer_claim_number: str,
    deductible_met_cents: int,
    duplicate: bool = False,
    allowed_share_bp: int = 10000,
    random_mix: bool = True,
) -> Decision:
    """Decide one claim. ``allowed_share_bp`` scales the fee schedule (a corrected claim's repricing)."""
    rng = claim_rng(seed, claim)
    base = _base_payment(claim, plan, payer_claim_number)
    denied = _claim_denial(base, claim, member, plan, received, duplicate)
    if denied is not None:
        return Decision(denied, 0)
    procedures = {line.procedure for line in claim.lines}
    forced = [_line_denial(claim, member, line, plan, procedures) for line in claim.lines]
    # A claim a forced rule already decides gets no random outcome on top: tests rely on forced rules.
    random_mix = random_mix and not any(forced)
    if random_mix and rng.randrange(10000) < RANDOM_DENIAL_BP:
        return Decision(_deny_all(base, claim, "50", (_necessity_remark(plan),)), 0)
    # The order of the draws from rng (claim denial, line denial, follow-up) is part of what a seed means.
    random_line_denial = -1
    if random_mix and len(claim.lines) > 1 and rng.randrange(10000) < RANDOM_LINE_DENIAL_BP:
        random_line_denial = rng.randrange(len(claim.lines))
    share = _PatientShare(_costs(member, plan, deductible_met_cents))
    lines: list[ServiceLinePayment] = []
    for index, line in enumerate(claim.lines):
        denial = forced[index]
        if denial is None and index == random_line_denial:
            denial = ("16", ("M51",))
        lines.append(_line_payment(claim, line, plan, denial, share, allowed_share_bp))
    payment = _total(base, tuple(lines))
    follow_up = _follow_up(rng, payment) if random_mix else None
    return Decision(payment, share.deductible_applied, follow_up)


def _base_payment(claim: SubmittedClaim, plan: PayerPlan, payer_claim_number: str) -> ClaimPayment:
    """The claim's payment before any line is decided: nothing paid yet, the payer's ICN and filing indicator."""
    return ClaimPayment(
        patient_control_number=claim.claim_id,
        status_code="1",
        charge_cents=claim.charge_cents,
        paid_cents=0,
        patient_responsibility_cents=0,
        payer_claim_control_number=payer_claim_number,
        claim_filing_indicator=_FILING_INDICATOR.get(plan.kind, "12"),
        patient_member_id=claim.member_id,
        service_date=claim.first_service_date,
        # Medicare states appeal rights on every claim (MOA, outpatient).
        remarks=("MA01",) if plan.kind == "medicare" else (),
        remark_source="MOA" if plan.kind == "medicare" else None,
    )


def _claim_denial(
    base: ClaimPayment, claim: SubmittedClaim, member: Member, plan: PayerPlan, received: date, duplicate: bool
) -> ClaimPayment | None:
    """The forced claim-level denials (the whole claim, every line at zero), first match wins; None: none applies."""
    if duplicate:
        return _deny_all(base, claim, "18", ("N522",) if plan.kind == "medicare" else ())
    first_dos = claim.first_service_date
    if first_dos is not None and (received - first_dos).days > plan.timely_filing_days:
        return _deny_all(base, claim, "29", ())
    if first_dos is not None and not member.covered_on(first_dos):
        # The roster changed after the 277CA accepted the claim.
        return _deny_all(base, claim, "27", ("N30",))
    if claim.rendering_npi is not None and not is_valid_npi(claim.rendering_npi):
        return _deny_all(base, claim, "16", ("N290",))
    return None


def _costs(member: Member, plan: PayerPlan, deductible_met_cents: int) -> _Costs:
    """The member's cost sharing: their own figures from the roster where it has them, else the plan's."""
    deductible = plan.deductible_cents if member.deductible_cents is None else member.deductible_cents
    return _Costs(
        copay=plan.copay_cents if member.copay_cents is None else member.copay_cents,
        deductible_remaining=max(0, deductible - deductible_met_cents),
        coinsurance_bp=plan.coinsurance_bp if member.coinsurance_bp is None else member.coinsurance_bp,
    )


@dataclass
class _PatientShare:
    """The patient's share as the claim's lines are decided: one co-pay per claim, the deductible used so far."""

    costs: _Costs
    copay_taken: bool = False
    deductible_applied: int = 0

    def take(self, line: SubmittedLine, remaining: int, adjustments: list[Adjustment]) -> int:
        """Co-pay, deductible and coinsurance from ``remaining`` (appended to ``adjustments``); what is left."""
        costs = self.costs
        if not self.copay_taken and costs.copay and line.procedure.startswith(_COPAY_CODES_PREFIX):
            copay = min(costs.copay, remaining)
            self.copay_taken = True
            if copay:
                adjustments.append(Adjustment("PR", "3", copay))
                remaining -= copay
        deductible = min(costs.deductible_remaining - self.deductible_applied, remaining)
        if deductible > 0:
            adjustments.append(Adjustment("PR", "1", deductible))
            self.deductible_applied += deductible
            remaining -= deductible
        coinsurance = (remaining * costs.coinsurance_bp + 5000) // 10000
        if coinsurance:
            adjustments.append(Adjustment("PR", "2", coinsurance))
            remaining -= coinsurance
        return remaining


def _line_payment(
    claim: SubmittedClaim,
    line: SubmittedLine,
    plan: PayerPlan,
    denial: tuple[str, tuple[str, ...]] | None,
    share: _PatientShare,
    allowed_share_bp: int,
) -> ServiceLinePayment:
    """One line decided: denied (CO, nothing paid), or allowed by the fee schedule less what others bear."""
    allowed = plan.allowed_cents(line.procedure, line.charge_cents, line.units)
    if denial is not None or allowed is None:
        reason, remarks = denial or ("16", ("M51",))
        return _line(line, 0, (Adjustment("CO", reason, line.charge_cents),), remarks, None)
    allowed = min(line.charge_cents, allowed * allowed_share_bp // 10000)
    adjustments: list[Adjustment] = []
    if line.charge_cents > allowed:
        adjustments.append(Adjustment("CO", "45", line.charge_cents - allowed))
    remaining = allowed
    if claim.prior_payer_paid_cents is not None:
        # A secondary payer pays its allowed amount less what the primary paid (CO-23), at most what the primary
        # left to the patient, when the 837 says so line by line (2430 SVD/CAS); with AMT*D alone, the primary's
        # payment spread over the lines by charge and no such bound (domain.cob).
        if line.prior_paid_cents is not None:
            settled = settle_secondary_line(remaining, line.prior_paid_cents, line.prior_patient_cents)
        else:
            prior = prior_paid_share(claim.prior_payer_paid_cents, line.charge_cents, claim.charge_cents)
            settled = settle_secondary_line(remaining, prior, None)
        adjustments.extend(settled.adjustments("CO"))
        remaining = settled.paid_cents
    elif line.procedure not in PREVENTIVE and plan.kind != "medicaid":
        remaining = share.take(line, remaining, adjustments)
    return _line(line, remaining, tuple(adjustments), (), allowed)


def _follow_up(rng: random.Random, payment: ClaimPayment) -> FollowUp | None:
    """The seeded mix's later 835 for a paid claim: a reversal and correction, a recoupment, or nothing."""
    if payment.status_code == "4" or payment.paid_cents <= 0:
        return None
    roll = rng.randrange(10000)
    if roll < RANDOM_REVERSAL_BP:
        return FollowUp("reversal", rng.choice((9500, 10300, 10500)))
    if roll < RANDOM_REVERSAL_BP + RANDOM_RECOUPMENT_BP:
        return FollowUp("recoupment", rng.choice((1000, 2500)))
    return None


def _line_denial(
    claim: SubmittedClaim, member: Member, line: SubmittedLine, plan: PayerPlan, procedures: set[str]
) -> tuple[str, tuple[str, ...]] | None:
    """The forced line-level rules, first match wins."""
    if line.procedure in plan.precert_required:
        number = claim.authorization_for(line)
        if not number:
            # M62: missing/incomplete/invalid treatment authorization code.
            return "197", ("M62",)
        issued = member.issued(number)
        if issued is not None and not issued.covers(line.procedure, line.service_date or claim.first_service_date):
            # N54: claim information is inconsistent with pre-certified/authorized services (expired, other code).
            return "197", ("N54",)
    if line.procedure == VENIPUNCTURE and plan.bundles_venipuncture and procedures & LAB_PANELS:
        return "97", ("M15",)
    place = line.place_of_service or claim.place_of_service
    if place in TELEHEALTH_POS and not set(line.modifiers) & TELEHEALTH_MODIFIERS:
        return "16", ("M77",)
    if (
        claim.diagnoses
        and claim.diagnoses[0] in PREVENTIVE_EXAM_DIAGNOSES
        and line.procedure.startswith("992")
        and line.procedure not in PREVENTIVE
    ):
        return "50", (_necessity_remark(plan),)
    return None


def _necessity_remark(plan: PayerPlan) -> str:
    # Medicare cites its local coverage determination; the others point at the plan's benefit rules.
    return "N115" if plan.kind == "medicare" else "N130"


def _line(
    line: SubmittedLine,
    paid: int,
    adjustments: tuple[Adjustment, ...],
    remarks: tuple[str, ...],
    allowed: int | None,
) -> ServiceLinePayment:
    return ServiceLinePayment(
        procedure=line.procedure,
        modifiers=line.modifiers,
        charge_cents=line.charge_cents,
        paid_cents=paid,
        units=_whole_units(line.units),
        line_control_number=line.line_control_number,
        service_date=line.service_date,
        adjustments=adjustments,
        remarks=remarks,
        allowed_cents=allowed,
    )


def _whole_units(units: Decimal | int) -> int:
    # The remittance value model (domain.remittance) counts SVC05 in whole units: a fractional count is reported
    # rounded half up, at least one; the amounts were decided on the exact quantity.
    return max(1, int(Decimal(units).quantize(Decimal(1), rounding=ROUND_HALF_UP)))


def _deny_all(base: ClaimPayment, claim: SubmittedClaim, reason: str, remarks: tuple[str, ...]) -> ClaimPayment:
    lines = tuple(_line(line, 0, (Adjustment("CO", reason, line.charge_cents),), remarks, None) for line in claim.lines)
    return replace(_total(base, lines), status_code="4")


def _total(base: ClaimPayment, lines: tuple[ServiceLinePayment, ...]) -> ClaimPayment:
    paid = sum(line.paid_cents for line in lines)
    patient = sum(a.amount_cents for line in lines for a in line.adjustments if a.group == "PR")
    status = base.status_code
    if paid == 0 and patient == 0:
        status = "4"
    # Charges the lines do not account for (a claim total that differs from its lines) are written off
    # at the claim level so the 835 balances.
    unbalanced = base.charge_cents - sum(line.charge_cents for line in lines)
    claim_adjustments = (Adjustment("CO", "45", unbalanced),) if unbalanced else ()
    return replace(
        base,
        status_code=status,
        paid_cents=paid,
        patient_responsibility_cents=patient,
        service_lines=lines,
        adjustments=claim_adjustments,
    )


def secondary(payment: ClaimPayment) -> ClaimPayment:
    """CLP02 for a claim the payer processed as secondary."""
    if payment.status_code == "1":
        return replace(payment, status_code="2")
    return payment


def reversal_of(original: ClaimPayment) -> ClaimPayment:
    """The CLP02=22 reversal that takes back an earlier payment: every amount negated, same ICN."""

    def negate(adjustments: tuple[Adjustment, ...]) -> tuple[Adjustment, ...]:
        return tuple(replace(a, amount_cents=-a.amount_cents) for a in adjustments)

    return replace(
        original,
        status_code="22",
        charge_cents=-original.charge_cents,
        paid_cents=-original.paid_cents,
        patient_responsibility_cents=-original.patient_responsibility_cents,
        adjustments=negate(original.adjustments),
        service_lines=tuple(
            replace(
                line,
                charge_cents=-line.charge_cents,
                paid_cents=-line.paid_cents,
                adjustments=negate(line.adjustments),
                allowed_cents=-line.allowed_cents if line.allowed_cents is not None else None,
            )
            for line in original.service_lines
        ),
    )


def prompt_pay_interest(paid_cents: int, received: date, paid_on: date, plan: PayerPlan) -> int:
    """Interest owed on a clean claim paid after the prompt-pay window: simple daily interest, in cents."""
    late_days = (paid_on - received).days - plan.prompt_pay_days
    if late_days <= 0 or paid_cents <= 0:
        return 0
    return (paid_cents * plan.interest_rate_bp * late_days + 1825000) // 3650000
