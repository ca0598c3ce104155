"""A claim as the 837P mapper needs it: every row it names, and for a secondary claim its primary's adjudication.

One loader for everything that writes an 837P (the Claim workflow's activities, `carecycle claims export`), so
a secondary claim always carries the COB loops (2320/2330/2430) of what its primary payer decided.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from domain import models as m
from domain.errors import ValidationError
from domain.posting import latest_adjudication
from domain.x12.claim837 import ProfessionalClaim
from domain.x12.from_models import PrimaryAdjudication, professional_claim


def claim_coverage(session: Session, claim: m.Claim) -> m.Coverage | None:
    """The claim's coverage, or (a claim made before coverages were linked) the patient's with the claim's payer."""
    if claim.coverage_id:
        return session.get(m.Coverage, claim.coverage_id)
    patient = session.get(m.Patient, claim.patient_id)
    return next((c for c in patient.coverages if c.payer_id == claim.payer_id), None) if patient else None


def primary_adjudication(session: Session, claim: m.Claim) -> PrimaryAdjudication | None:
    """What the primary payer decided for a secondary claim (None for a primary claim)."""
    if not claim.primary_claim_id:
        return None
    primary_claim = session.get(m.Claim, claim.primary_claim_id)
    adjudication = latest_adjudication(session, claim.primary_claim_id)
    if primary_claim is None or adjudication is None:
        raise ValidationError(f"claim {claim.id}: secondary claim without the primary's remittance")
    payment, paid_on = adjudication
    primary_payer = session.get(m.Payer, primary_claim.payer_id)
    primary_coverage = claim_coverage(session, primary_claim)
    if primary_payer is None or primary_coverage is None or paid_on is None:
        raise ValidationError(f"claim {claim.id}: the primary claim's payer, coverage or payment date is missing")
    return PrimaryAdjudication(primary_payer, primary_coverage, payment, paid_on)


def load_professional_claim(session: Session, claim: m.Claim) -> ProfessionalClaim:
    """Load the rows a claim is built from and map them (the mapper itself is pure: domain.x12.from_models)."""
    encounter = session.get(m.Encounter, claim.encounter_id)
    patient = session.get(m.Patient, claim.patient_id)
    payer = session.get(m.Payer, claim.payer_id)
    rendering = session.get(m.Provider, claim.billing_provider_id)
    coverage = claim_coverage(session, claim)
    if encounter is None or patient is None or payer is None or rendering is None:
        raise ValidationError(f"claim {claim.id}: its encounter, patient, payer or provider is missing")
    if coverage is None:
        raise ValidationError(f"claim {claim.id}: no coverage with payer {payer.payer_id}")
    practice = session.get(m.Practice, rendering.practice_id)
    if practice is None:
        raise ValidationError(f"claim {claim.id}: the provider's practice is missing")
    original_number = None
    if claim.original_claim_id:
        original = session.get(m.Claim, claim.original_claim_id)
        original_number = original.payer_claim_control_number if original else None
    return professional_claim(
        claim,
        encounter=encounter,
        patient=patient,
        coverage=coverage,
        payer=payer,
        practice=practice,
        rendering=rendering,
        original_claim_number=original_number,
        primary=primary_adjudication(session, claim),
    )
