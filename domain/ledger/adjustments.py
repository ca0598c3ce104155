"""Ledger services for a person's decisions on an open balance: a claim's insurance balance written off or
rebilled to the patient, a guarantor's patient balance written off, a credit balance refunded.

Each takes a Session (the caller's unit of work owns the transaction) and is idempotent through its entries' keys.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from domain import audit
from domain import models as m
from domain.errors import InvalidAmount, NotFound, ValidationError
from domain.ledger import accounts as acc
from domain.ledger.entries import EntryKind, transfer
from domain.ledger.store import (
    claim_insurance_balances,
    existing_keys,
    patient_balances_of_guarantor,
    write_entries,
)

# --- a biller's decisions on a claim's open insurance balance ----------------------------------------------


@dataclass(frozen=True)
class ClaimBalanceMoved:
    claim_id: str
    guarantor_id: str
    amount_cents: int
    already_posted: bool


def adjust_claim_balance(
    session: Session, claim_id: str, kind: str, reason: str, *, key: str, actor: str
) -> ClaimBalanceMoved:
    """Move what the payer still owes on a claim: ``write_off`` (denial write-off) or ``bill_patient`` (rebill).

    ``reason`` names the write-off account (timely_filing, bad_debt, administrative, ...). The amount is the
    claim's insurance AR balance in the ledger, so nothing is guessed.
    """
    claim = session.get(m.Claim, claim_id)
    if claim is None:
        raise NotFound(f"unknown claim {claim_id}")
    patient = session.get(m.Patient, claim.patient_id)
    assert patient is not None
    owed = claim_insurance_balances(session, [claim_id]).get(claim_id, 0)
    entry_key = f"claim_adjust:{key}"
    if kind == "write_off":
        write_off_kind = reason if reason in acc.WRITE_OFF_KINDS else "administrative"
        draft = transfer(
            entry_key,
            EntryKind.DENIAL_WRITE_OFF,
            acc.write_off(write_off_kind),
            acc.insurance_ar(claim.payer_id),
            owed,
            claim_id=claim_id,
            patient_id=claim.patient_id,
            memo=f"write-off {reason}",
        )
    elif kind == "bill_patient":
        draft = transfer(
            entry_key,
            EntryKind.REBILL_TO_PATIENT,
            acc.patient_ar(patient.guarantor_id),
            acc.insurance_ar(claim.payer_id),
            owed,
            claim_id=claim_id,
            patient_id=claim.patient_id,
            memo=f"rebill to patient: {reason}",
        )
    else:
        raise ValidationError(f"unknown claim adjustment {kind!r} (write_off or bill_patient)")
    if owed <= 0 or draft is None:
        return ClaimBalanceMoved(claim_id, patient.guarantor_id, 0, existing_keys(session, [entry_key]) != {})
    result = write_entries(session, [draft])
    if result.written:
        audit.record(
            session,
            actor=actor,
            action=f"ledger.claim_{kind}",
            entity_type="claim",
            entity_id=claim_id,
            details={"amount_cents": owed, "reason": reason},
        )
    return ClaimBalanceMoved(claim_id, patient.guarantor_id, owed, result.written == 0)


# --- a guarantor's patient balance ------------------------------------------------------------------------


@dataclass(frozen=True)
class GuarantorPosting:
    guarantor_id: str
    amount_cents: int
    entries_written: int
    already_posted: bool


def _allocate(balances: dict[str, int], amount: int) -> list[tuple[str, int]]:
    """Split ``amount`` over patients with a positive balance, largest first, never beyond a balance."""
    shares: list[tuple[str, int]] = []
    left = amount
    for patient_id, balance in sorted(balances.items(), key=lambda kv: (-kv[1], kv[0])):
        if left <= 0 or balance <= 0:
            break
        share = min(balance, left)
        shares.append((patient_id, share))
        left -= share
    return shares


def write_off_patient_balance(
    session: Session, guarantor_id: str, amount_cents: int, reason: str, *, key: str, actor: str
) -> GuarantorPosting:
    """Write off up to ``amount_cents`` of a guarantor's balance (small_balance, bad_debt, charity, hardship)."""
    if amount_cents <= 0:
        raise InvalidAmount(f"a write-off must be positive, got {amount_cents} cents")
    if reason not in acc.WRITE_OFF_KINDS:
        raise ValidationError(f"unknown write-off reason {reason!r}")
    prefix = f"patient_write_off:{key}"
    if existing_keys(session, [f"{prefix}:0"]):
        return GuarantorPosting(guarantor_id, 0, 0, True)
    shares = _allocate(patient_balances_of_guarantor(session, guarantor_id), amount_cents)
    drafts = [
        d
        for index, (patient_id, cents) in enumerate(shares)
        if (
            d := transfer(
                f"{prefix}:{index}",
                EntryKind.PATIENT_WRITE_OFF,
                acc.write_off(reason),
                acc.patient_ar(guarantor_id),
                cents,
                patient_id=patient_id,
                memo=f"write-off {reason}",
            )
        )
        is not None
    ]
    result = write_entries(session, drafts)
    total = sum(cents for _, cents in shares)
    if result.written:
        audit.record(
            session,
            actor=actor,
            action="ledger.patient_write_off",
            entity_type="guarantor",
            entity_id=guarantor_id,
            details={"amount_cents": total, "reason": reason},
        )
    return GuarantorPosting(guarantor_id, total, result.written, False)


def refund_credit_balance(session: Session, guarantor_id: str, *, key: str, actor: str) -> GuarantorPosting:
    """Move a guarantor's credit balance (overpayment) to refunds payable, patient by patient."""
    prefix = f"refund:{key}"
    if existing_keys(session, [f"{prefix}:0"]):
        return GuarantorPosting(guarantor_id, 0, 0, True)
    credits = {p: -b for p, b in patient_balances_of_guarantor(session, guarantor_id).items() if b < 0}
    drafts = [
        d
        for index, (patient_id, cents) in enumerate(sorted(credits.items()))
        if (
            d := transfer(
                f"{prefix}:{index}",
                EntryKind.REFUND,
                acc.patient_ar(guarantor_id),
                acc.REFUNDS_PAYABLE,
                cents,
                patient_id=patient_id,
                memo="credit balance to refund",
            )
        )
        is not None
    ]
    result = write_entries(session, drafts)
    total = sum(credits.values())
    if result.written:
        audit.record(
            session,
            actor=actor,
            action="ledger.refund",
            entity_type="guarantor",
            entity_id=guarantor_id,
            details={"amount_cents": total},
        )
    return GuarantorPosting(guarantor_id, total, result.written, False)
