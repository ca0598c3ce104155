"""Scrubbing a claim against the store: the claim edits (domain.claim_edits) with every fact they need.

One function for the Claim workflow's ``claims.scrub`` activity and ``carecycle claims scrub``, so both run the
same edits against the same facts: the payer's timely-filing window, the provider's standing with the payer, and
the practice's open claims for the duplicate check (:func:`open_claim_fingerprints`: claims ready to go or with
a payer, of the same patient).
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from domain import models as m
from domain.claim_edits import ClaimFingerprint, EditFailure, ScrubContext, fingerprint, scrub
from domain.claim_status import OPEN_STATUSES, ClaimStatus
from domain.services.professional import load_professional_claim
from domain.services.provider_standing import provider_standing
from domain.x12.claim837 import ProfessionalClaim

# The claims a new claim may duplicate: ready to be sent, or with a payer (submitted, acknowledged, accepted, in
# appeal). A claim the payer has settled or refused, or one being corrected, is not.
OPEN_CLAIM_STATUSES = frozenset({ClaimStatus.READY}) | OPEN_STATUSES


def open_claim_fingerprints(session: Session, patient_ids: Collection[str] | None = None) -> list[ClaimFingerprint]:
    """The open claims (of these patients, or all), each as the duplicate check compares them: patient, the dates
    of service and procedure codes of its lines."""
    query = (
        select(m.Claim.id, m.Claim.patient_id, m.ClaimLine.date_of_service, m.ClaimLine.procedure_code)
        .join(m.ClaimLine, m.ClaimLine.claim_id == m.Claim.id)
        .where(m.Claim.status.in_([s.value for s in OPEN_CLAIM_STATUSES]))
    )
    if patient_ids is not None:
        query = query.where(m.Claim.patient_id.in_(list(patient_ids)))
    grouped: dict[str, tuple[str, set[date], set[str]]] = {}
    for claim_id, patient_id, day, code in session.execute(query):
        entry = grouped.setdefault(claim_id, (patient_id, set(), set()))
        entry[1].add(day)
        entry[2].add(code)
    return [
        ClaimFingerprint(claim_id, patient, frozenset(days), frozenset(codes))
        for claim_id, (patient, days, codes) in sorted(grouped.items())
    ]


@dataclass(frozen=True)
class Scrubbed:
    claim: ProfessionalClaim
    failures: list[EditFailure]


def scrub_claim(
    session: Session, claim: m.Claim, today: date, open_claims: list[ClaimFingerprint] | None = None
) -> Scrubbed:
    """Every claim edit on ``claim`` with the store's facts. ``open_claims``: precomputed for many claims at once
    (:func:`open_claim_fingerprints`); by default the claim's patient's."""
    payer = session.get(m.Payer, claim.payer_id)
    professional = load_professional_claim(session, claim)
    others = open_claim_fingerprints(session, [claim.patient_id]) if open_claims is None else open_claims
    context = ScrubContext(
        today=today,
        timely_filing_days=payer.timely_filing_days if payer else None,
        open_claims=others,
        self_fingerprint=fingerprint(professional, claim.patient_id),
        provider=provider_standing(session, claim),
    )
    return Scrubbed(professional, scrub(professional, context))
