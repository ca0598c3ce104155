"""A practice's everyday code catalogue: procedures with the practice's standard charges and common diagnoses.

The ICD-10-CM and CPT/HCPCS codes are public code sets; charges are the synthetic practice's fee schedule.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Procedure:
    code: str
    description: str
    charge_cents: int
    telehealth_ok: bool = False


PROCEDURES: tuple[Procedure, ...] = (
    Procedure("99202", "Office visit, new patient, straightforward", 11500, True),
    Procedure("99203", "Office visit, new patient, low complexity", 16500, True),
    Procedure("99204", "Office visit, new patient, moderate complexity", 24500, True),
    Procedure("99212", "Office visit, established, straightforward", 8500, True),
    Procedure("99213", "Office visit, established, low complexity", 13500, True),
    Procedure("99214", "Office visit, established, moderate complexity", 19500, True),
    Procedure("99215", "Office visit, established, high complexity", 26500, True),
    Procedure("99396", "Preventive visit, established, 40-64", 24000),
    Procedure("90791", "Psychiatric diagnostic evaluation", 22000, True),
    Procedure("96127", "Brief emotional/behavioral assessment", 2500, True),
    Procedure("36415", "Routine venipuncture", 1500),
    Procedure("85025", "Complete blood count with differential", 3500),
    Procedure("80053", "Comprehensive metabolic panel", 4500),
    Procedure("83036", "Hemoglobin A1c", 4000),
    Procedure("93000", "Electrocardiogram with interpretation", 6500),
    Procedure("90471", "Immunization administration", 2800),
    Procedure("90686", "Influenza vaccine, quadrivalent", 3200),
    Procedure("87880", "Rapid strep test", 3000),
    Procedure("81002", "Urinalysis, non-automated", 1200),
    Procedure("G0439", "Annual wellness visit, subsequent", 17500),
)
PROCEDURES_BY_CODE = {p.code: p for p in PROCEDURES}
EVALUATION_AND_MANAGEMENT = ("99212", "99213", "99214", "99215", "99202", "99203", "99204")
ANCILLARY = ("36415", "85025", "80053", "83036", "93000", "90471", "90686", "87880", "81002", "96127")

DIAGNOSES: dict[str, str] = {
    "E119": "Type 2 diabetes mellitus without complications",
    "I10": "Essential (primary) hypertension",
    "J069": "Acute upper respiratory infection, unspecified",
    "Z0000": "Encounter for general adult medical examination without abnormal findings",
    "Z23": "Encounter for immunization",
    "M5450": "Low back pain, unspecified",
    "F411": "Generalized anxiety disorder",
    "E785": "Hyperlipidemia, unspecified",
    "J029": "Acute pharyngitis, unspecified",
    "R051": "Acute cough",
    "K219": "Gastro-esophageal reflux disease without esophagitis",
    "N390": "Urinary tract infection, site not specified",
    "F32A": "Depression, unspecified",
    "E669": "Obesity, unspecified",
    "G43909": "Migraine, unspecified, not intractable, without status migrainosus",
    "R7303": "Prediabetes",
    "Z1331": "Encounter for screening for depression",
    "E039": "Hypothyroidism, unspecified",
    "J45909": "Unspecified asthma, uncomplicated",
    "M25561": "Pain in right knee",
}

# Payer rules the practice bills by, keyed by the payer's clearinghouse payer id (Payer.payer_id): procedures the
# payer pays only with a prior authorization number on the claim (837P REF*G1). The claim edits check it before a
# claim goes out and the sandbox payers deny CO-197 by it, so both read this one table.
PRIOR_AUTHORIZATION_REQUIRED: dict[str, frozenset[str]] = {
    "SBXSM": frozenset({"90791"}),
}


def prior_authorization_codes(payer_id: str) -> frozenset[str]:
    """The procedures ``payer_id`` covers only with a prior authorization (empty: none known)."""
    return PRIOR_AUTHORIZATION_REQUIRED.get(payer_id.strip().upper(), frozenset())


def requires_prior_authorization(payer_id: str, procedure: str) -> bool:
    return procedure in prior_authorization_codes(payer_id)


# Diagnoses that make a visit a behavioral-health one (for a psychiatric evaluation, 90791).
BEHAVIORAL_HEALTH_DIAGNOSES = frozenset({"F411", "F32A"})
