"""The sandbox payers: who they are, how they pay (fee schedules) and how their plans share cost.

These are an outside system's settings, so they live here and not in the platform's store. The payer ids
are the ones the synthetic practice routes through the clearinghouse (workers/synthetic/reference.py PAYERS).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from domain.catalog import PROCEDURES, PROCEDURES_BY_CODE, prior_authorization_codes


@dataclass(frozen=True)
class PayerPlan:
    payer_id: str
    name: str
    kind: str  # commercial, medicare, medicaid
    # Allowed amount as a share of the practice's usual charge, in basis points (7200 = 72%).
    allowed_share_bp: int
    timely_filing_days: int
    # Days between receipt and the 835 that pays the claim, in sandbox days (compressed by the time scale).
    adjudication_days: int
    # Cost sharing defaults; a member's roster entry may override copay and deductible.
    copay_cents: int
    deductible_cents: int
    coinsurance_bp: int  # patient share after the deductible, basis points
    # A clean claim paid later than this many days after receipt earns prompt-pay interest (PLB L6).
    prompt_pay_days: int
    interest_rate_bp: int  # yearly interest rate, basis points
    # Whether the payer bundles venipuncture into a lab panel billed on the same claim (CO-97).
    bundles_venipuncture: bool = True
    tax_id: str = ""

    @property
    def precert_required(self) -> frozenset[str]:
        """Procedures the payer covers only with a prior authorization number (REF*G1): the practice's catalog
        (domain.catalog) holds the payer rule, so the claim edit and this payer cannot disagree."""
        return prior_authorization_codes(self.payer_id)

    def allowed_cents(self, procedure: str, charge_cents: int, units: Decimal | int) -> int | None:
        """The payer's allowed amount for the line (fee per unit times units, to the cent), never above the charge;
        None if not on the schedule. Units may be fractional (1.5 mL); a line without units counts as one."""
        fee = fee_schedule_amount(self, procedure)
        if fee is None:
            return None
        quantity = Decimal(units) if units > 0 else Decimal(1)
        allowed = (fee * quantity).quantize(Decimal(1), rounding=ROUND_HALF_UP)
        return min(int(allowed), charge_cents)


PLANS: dict[str, PayerPlan] = {
    plan.payer_id: plan
    for plan in (
        PayerPlan(
            payer_id="SBXBM",
            name="Blue Meadow Health Plan",
            kind="commercial",
            allowed_share_bp=7800,
            timely_filing_days=180,
            adjudication_days=14,
            copay_cents=2500,
            deductible_cents=50000,
            coinsurance_bp=2000,
            prompt_pay_days=30,
            interest_rate_bp=1200,
            tax_id="930000001",
        ),
        PayerPlan(
            payer_id="SBXSM",
            name="Summit Mutual Insurance",
            kind="commercial",
            allowed_share_bp=7200,
            timely_filing_days=90,
            adjudication_days=10,
            copay_cents=3000,
            deductible_cents=100000,
            coinsurance_bp=2000,
            prompt_pay_days=30,
            interest_rate_bp=1200,
            tax_id="930000002",
        ),
        PayerPlan(
            payer_id="SBXMC",
            name="Medicare Part B Sandbox Jurisdiction",
            kind="medicare",
            allowed_share_bp=5600,
            timely_filing_days=365,
            adjudication_days=14,
            copay_cents=0,
            deductible_cents=25700,
            coinsurance_bp=2000,
            prompt_pay_days=30,
            interest_rate_bp=450,
            # Medicare pays venipuncture separately.
            bundles_venipuncture=False,
            tax_id="930000003",
        ),
        PayerPlan(
            payer_id="SBXMD",
            name="State Medicaid Sandbox Program",
            kind="medicaid",
            allowed_share_bp=4800,
            timely_filing_days=365,
            adjudication_days=35,
            copay_cents=0,
            deductible_cents=0,
            coinsurance_bp=0,
            prompt_pay_days=30,
            interest_rate_bp=900,
            tax_id="930000004",
        ),
    )
}

# Services with no cost sharing (ACA preventive care, Medicare AWV, vaccines).
PREVENTIVE = frozenset({"99396", "G0439", "90471", "90686"})
# Telehealth POS and the modifiers that must go with them on a professional claim.
TELEHEALTH_POS = frozenset({"02", "10"})
TELEHEALTH_MODIFIERS = frozenset({"95", "93", "GT", "FQ"})
LAB_PANELS = frozenset({"85025", "80053", "83036"})
VENIPUNCTURE = "36415"
PREVENTIVE_EXAM_DIAGNOSES = frozenset({"Z0000", "Z0001"})


def fee_schedule_amount(plan: PayerPlan, procedure: str) -> int | None:
    """The per-unit allowed amount of one code: the practice's usual charge scaled by the payer's share.

    Rounded to whole dollars the way published fee schedules are.
    """
    known = PROCEDURES_BY_CODE.get(procedure)
    if known is None:
        return None
    raw = known.charge_cents * plan.allowed_share_bp // 10000
    return (raw + 50) // 100 * 100


def fee_schedule(plan: PayerPlan) -> dict[str, int]:
    """The whole schedule, code -> allowed cents per unit (for the admin endpoint and docs)."""
    return {p.code: amount for p in PROCEDURES if (amount := fee_schedule_amount(plan, p.code)) is not None}


def plan_for(payer_id: str) -> PayerPlan | None:
    return PLANS.get(payer_id.strip().upper())


# Payers the clearinghouse routes claims to but which answer through their web portals (EOB PDFs), never by 835:
# their claims pass the front-end edits and get a 277CA like anyone's, and are then left to the payer. The
# sandbox payer portal (sandbox/portal) adjudicates them.
PORTAL_PAYERS: dict[str, str] = {"SBXCC": "Cascade Care Plans", "SBXHH": "Harbor Health Alliance"}


def answers_by_portal(payer_id: str) -> bool:
    return payer_id.strip().upper() in PORTAL_PAYERS


def routes_claims_to(payer_id: str) -> bool:
    """Whether the clearinghouse forwards claims to this payer (adjudicated here or answered by portal)."""
    return plan_for(payer_id) is not None or answers_by_portal(payer_id)
