"""The claims a remittance could be about, read from the store in a few batched queries for matching."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from domain import models as m
from domain.ledger.store import select_in
from domain.posting.claims import ClaimState, load_claims
from domain.posting.matching import ClaimCandidate, LineCandidate, MatchIndex
from domain.remittance import ClaimPayment, Remittance


def looks_like_id(text: str) -> bool:
    return len(text) == 36 and text.count("-") == 4


def candidate_of(claim: ClaimState, member_ids: tuple[str, ...] = ()) -> ClaimCandidate:
    return ClaimCandidate(
        id=claim.id,
        payer_row_id=claim.payer_id,
        patient_id=claim.patient_id,
        patient_account=claim.patient_account,
        total_charge_cents=claim.total_charge_cents,
        date_of_service=claim.date_of_service,
        payer_claim_control_number=claim.payer_claim_control_number,
        lines=tuple(
            LineCandidate(
                line.id, line.line_number, line.procedure_code, line.modifiers, line.charge_cents, line.date_of_service
            )
            for line in claim.lines
        ),
        member_ids=member_ids,
    )


def load_candidates(
    session: Session, remittance: Remittance, payer_row_id: str
) -> tuple[MatchIndex, dict[str, ClaimState]]:
    """Every claim any rule could match, with its lines, in a few batched queries.

    Claims named by their id (CLP01, what we send) are read first; the other keys are looked up only for the
    claim payments that named none of ours, since the first rule decides for the others."""
    pcns = [c.patient_control_number.strip() for c in remittance.claims]
    claims = load_claims(session, {p for p in pcns if looks_like_id(p)})
    rest = [c for c, pcn in zip(remittance.claims, pcns, strict=True) if pcn not in claims]
    members: dict[str, list[str]] = {}
    if rest:
        claims.update(load_claims(session, _other_keys(session, rest, payer_row_id, claims, members)))
    candidates = [candidate_of(claim, tuple(members.get(claim.patient_id, ()))) for claim in claims.values()]
    return MatchIndex.build(payer_row_id, candidates), claims


def _other_keys(
    session: Session,
    payments: list[ClaimPayment],
    payer_row_id: str,
    known: dict[str, ClaimState],
    members: dict[str, list[str]],
) -> set[str]:
    """Ids of the claims the payments name by payer claim number, line control number, patient account or
    member id (``members`` gets each patient's member ids with this payer)."""
    claim_ids: set[str] = set()
    payer_numbers = [c.payer_claim_control_number for c in payments if c.payer_claim_control_number]
    if payer_numbers:
        stmt = select(m.Claim.id).where(m.Claim.payer_id == payer_row_id)
        claim_ids.update(r[0] for r in select_in(session, m.Claim.payer_claim_control_number, payer_numbers, stmt))
    known_lines = {line.id for claim in known.values() for line in claim.lines}
    line_numbers = [
        n
        for c in payments
        for s in c.service_lines
        if (n := s.line_control_number) and looks_like_id(n) and n not in known_lines
    ]
    if line_numbers:
        claim_ids.update(r[0] for r in select_in(session, m.ClaimLine.id, line_numbers, select(m.ClaimLine.claim_id)))
    # Fallback keys: the patient's account number (some payers echo it in CLP01) or member id with this payer.
    patient_ids: set[str] = set()
    accounts = [p for c in payments if not looks_like_id(p := c.patient_control_number.strip())]
    if accounts:
        patient_ids.update(r[0] for r in select_in(session, m.Patient.account_number, accounts, select(m.Patient.id)))
    member_ids = [c.patient_member_id for c in payments if c.patient_member_id]
    if member_ids:
        members_stmt = select(m.Coverage.patient_id, m.Coverage.member_id).where(m.Coverage.payer_id == payer_row_id)
        for patient_id, member_id in select_in(session, m.Coverage.member_id, member_ids, members_stmt):
            patient_ids.add(patient_id)
            members.setdefault(patient_id, []).append(member_id)
    if patient_ids:
        stmt = select(m.Claim.id).where(m.Claim.payer_id == payer_row_id)
        claim_ids.update(r[0] for r in select_in(session, m.Claim.patient_id, list(patient_ids), stmt))
    return claim_ids - set(known)
