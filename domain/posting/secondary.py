"""Secondary crossover: a primary's patient responsibility moves to the patient's secondary coverage.

The secondary claim (rank secondary, ``primary_claim_id``, status draft, the primary's lines) is created once,
the first time a primary's payment names a patient share and the patient has an active secondary coverage with
another payer; the amount moves to it through ``cob_crossover`` (see ``domain.posting.adjudication``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from domain import models as m
from domain.claim_status import ClaimStatus
from domain.enums import CoverageRank
from domain.ledger.store import select_in
from domain.posting.claims import ClaimState
from domain.posting.run import PostingRun


@dataclass
class Secondaries:
    coverage_of: dict[str, list[m.Coverage]]  # patient id -> secondary coverages
    existing: dict[str, str]  # primary claim id -> secondary claim id
    payer_of: dict[str, str]  # secondary claim id -> payer row id
    guarantor_of: dict[str, str]  # patient id -> guarantor id

    def secondary_for(self, run: PostingRun, claim: ClaimState) -> str | None:
        """The primary's secondary claim: the existing one, one created now, or None (no other coverage)."""
        if claim.id in self.existing:
            return self.existing[claim.id]
        coverage = next(
            (c for c in self.coverage_of.get(claim.patient_id, []) if c.is_active_on(claim.date_of_service)), None
        )
        if coverage is None or coverage.payer_id == claim.payer_id:
            return None
        secondary_id = m.new_id()
        run.new_claims.append(_secondary_row(run, claim, coverage, secondary_id))
        for line in claim.lines:
            run.new_claim_lines.append(
                {
                    "id": m.new_id(),
                    "claim_id": secondary_id,
                    "service_line_id": line.service_line_id,
                    "line_number": line.line_number,
                    "procedure_code": line.procedure_code,
                    "modifiers": list(line.modifiers),
                    "units": line.units,
                    "charge_cents": line.charge_cents,
                    "diagnosis_pointers": list(line.diagnosis_pointers),
                    "date_of_service": line.date_of_service,
                    "paid_cents": 0,
                }
            )
        self.existing[claim.id] = secondary_id
        self.payer_of[secondary_id] = coverage.payer_id
        return secondary_id


def _secondary_row(run: PostingRun, claim: ClaimState, coverage: m.Coverage, secondary_id: str) -> dict[str, object]:
    return {
        "id": secondary_id,
        "encounter_id": claim.encounter_id,
        "patient_id": claim.patient_id,
        "payer_id": coverage.payer_id,
        "coverage_id": coverage.id,
        "billing_provider_id": claim.billing_provider_id,
        "rank": CoverageRank.SECONDARY.value,
        "status": ClaimStatus.DRAFT.value,
        "frequency_code": "1",
        "original_claim_id": None,
        "primary_claim_id": claim.id,
        "total_charge_cents": claim.total_charge_cents,
        "paid_cents": 0,
        "patient_responsibility_cents": 0,
        "payer_claim_control_number": None,
        "date_of_service": claim.date_of_service,
        "created_at": run.now,
        "submitted_at": None,
        "adjudicated_at": None,
        "version_id": 1,
    }


def secondary_setup(session: Session, claims: Sequence[ClaimState]) -> Secondaries:
    """The patients' secondary coverages, the secondary claims already made and the guarantors, batched."""
    patient_ids = sorted({c.patient_id for c in claims})
    guarantor_of = {
        pid: gid
        for pid, gid in select_in(session, m.Patient.id, patient_ids, select(m.Patient.id, m.Patient.guarantor_id))
    }
    coverage_of: dict[str, list[m.Coverage]] = {}
    stmt = select(m.Coverage).where(m.Coverage.rank == CoverageRank.SECONDARY.value)
    for (coverage,) in select_in(session, m.Coverage.patient_id, patient_ids, stmt):
        coverage_of.setdefault(coverage.patient_id, []).append(coverage)
    existing: dict[str, str] = {}
    payer_of: dict[str, str] = {}
    primary_ids = [c.id for c in claims if c.patient_id in coverage_of]
    if primary_ids:
        secondary_stmt = select(m.Claim.primary_claim_id, m.Claim.id, m.Claim.payer_id).where(
            m.Claim.rank == CoverageRank.SECONDARY.value
        )
        for primary_id, secondary_id, payer_id in select_in(
            session, m.Claim.primary_claim_id, primary_ids, secondary_stmt
        ):
            existing[primary_id] = secondary_id
            payer_of[secondary_id] = payer_id
    return Secondaries(coverage_of, existing, payer_of, guarantor_of)
