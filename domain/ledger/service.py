"""Ledger services for charges: a claim's charge to its payer, a claim history seeded, a patient's own charge
and a no-show fee (patient payments are in domain.ledger.payments, write-offs and refunds in
domain.ledger.adjustments).

Each takes a Session (the caller's unit of work owns the transaction), ids and cents, and returns a small
frozen value. Each is idempotent through its entry's key: calling it again with the same key writes nothing.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Protocol

from sqlalchemy import select
from sqlalchemy.orm import Session

from domain import audit
from domain import models as m
from domain.enums import CoverageRank
from domain.errors import InvalidAmount, NotFound, ValidationError
from domain.ledger import accounts as acc
from domain.ledger.entries import EntryDraft, EntryKind, build_entry, transfer
from domain.ledger.store import (
    chunks,
    existing_keys,
    write_entries,
)


@dataclass(frozen=True)
class LedgerPosting:
    """What one ledger call did: entries written (0 when it was posted before) and the cents moved."""

    entries_written: int
    amount_cents: int
    already_posted: bool
    entry_ids: tuple[str, ...] = ()


def _result(drafts: Sequence[EntryDraft], session: Session) -> LedgerPosting:
    written = write_entries(session, drafts)
    amount = sum(d.debit_total for d in drafts)
    return LedgerPosting(
        entries_written=written.written,
        amount_cents=amount,
        already_posted=bool(drafts) and written.written == 0,
        entry_ids=tuple(written.entry_ids[d.key] for d in drafts),
    )


def charge_key(claim_id: str) -> str:
    return f"charge:{claim_id}"


def _charge_draft(claim_id: str, payer_row_id: str, patient_id: str, total_cents: int) -> EntryDraft | None:
    """A claim's charge: the payer's insurance AR owes its total, earned as revenue."""
    return transfer(
        charge_key(claim_id),
        EntryKind.CHARGE,
        acc.insurance_ar(payer_row_id),
        acc.REVENUE,
        total_cents,
        claim_id=claim_id,
        patient_id=patient_id,
        memo=f"charge claim {claim_id}",
    )


class ChargeableClaim(Protocol):
    """What a claim's charge is made of (an ORM claim, or posting's plain claim record)."""

    @property
    def id(self) -> str: ...
    @property
    def payer_id(self) -> str: ...
    @property
    def patient_id(self) -> str: ...
    @property
    def total_charge_cents(self) -> int: ...
    @property
    def primary_claim_id(self) -> str | None: ...
    @property
    def rank(self) -> str: ...


def _charge_drafts(session: Session, claims: Sequence[ChargeableClaim]) -> list[EntryDraft]:
    drafts: list[EntryDraft] = []
    for claim in claims:
        if claim.primary_claim_id is not None and claim.rank != CoverageRank.PRIMARY:
            continue  # a secondary's balance is the primary's crossover, posted when the primary's ERA posts
        draft = _charge_draft(claim.id, claim.payer_id, claim.patient_id, claim.total_charge_cents)
        if draft is not None:
            drafts.append(draft)
    return drafts


def post_charge(session: Session, claim_id: str) -> LedgerPosting:
    """Debit the payer's insurance AR and credit revenue for the claim's total charge (once per claim)."""
    claim = session.get(m.Claim, claim_id)
    if claim is None:
        raise NotFound(f"unknown claim {claim_id}")
    return _result(_charge_drafts(session, [claim]), session)


def post_charges(session: Session, claim_ids: Sequence[str]) -> LedgerPosting:
    """:func:`post_charge` for many claims in a few queries (backfills, benchmarks, batch intake)."""
    claims: list[m.Claim] = []
    for part in chunks(list(claim_ids)):
        claims.extend(session.execute(select(m.Claim).where(m.Claim.id.in_(part))).scalars())
    missing = set(claim_ids) - {c.id for c in claims}
    if missing:
        raise NotFound(f"unknown claim {sorted(missing)[0]}")
    return _result(_charge_drafts(session, claims), session)


def missing_charges(session: Session, claims: Sequence[ChargeableClaim]) -> list[EntryDraft]:
    """Charge entries for the claims whose charge was never posted (posting an ERA posts them first)."""
    known = existing_keys(session, [charge_key(c.id) for c in claims])
    return [d for d in _charge_drafts(session, claims) if d.key not in known]


@dataclass(frozen=True)
class HistoricalClaim:
    """A primary claim billed (and maybe adjudicated) before the ledger saw it: a seeded practice's history.

    ``adjudicated_at`` None: still with the payer (its charge only). Otherwise the payer paid ``paid_cents``,
    named ``patient_responsibility_cents`` for the guarantor and adjusted the rest away contractually.
    """

    claim_id: str
    patient_id: str
    guarantor_id: str
    payer_row_id: str
    charge_cents: int
    charged_at: datetime
    paid_cents: int = 0
    patient_responsibility_cents: int = 0
    adjudicated_at: datetime | None = None


def history_key(claim_id: str, part: str) -> str:
    return f"history:{claim_id}:{part}"


def claim_history_drafts(claims: Iterable[HistoricalClaim]) -> list[EntryDraft]:
    """The entries the workflows and posting would have written for these claims: the charge (same key as
    :func:`post_charge`, so charging again writes nothing), then for an adjudicated claim the payer's payment,
    the contractual adjustment and the patient's share moved to the guarantor. Raises ValidationError when the
    amounts do not add up to the charge."""
    drafts: list[EntryDraft] = []
    for claim in claims:
        charge = _charge_draft(claim.claim_id, claim.payer_row_id, claim.patient_id, claim.charge_cents)
        if charge is not None:
            drafts.append(replace(charge, occurred_at=claim.charged_at))
        if claim.adjudicated_at is None:
            continue
        contractual = claim.charge_cents - claim.paid_cents - claim.patient_responsibility_cents
        if min(claim.paid_cents, claim.patient_responsibility_cents, contractual) < 0:
            raise ValidationError(f"claim {claim.claim_id}: paid and patient share exceed the charge")
        payer_ar = acc.insurance_ar(claim.payer_row_id)
        links = {"claim_id": claim.claim_id, "patient_id": claim.patient_id}
        for part, kind, debit, cents in (
            ("payment", EntryKind.INSURANCE_PAYMENT, acc.CASH, claim.paid_cents),
            ("contractual", EntryKind.CONTRACTUAL, acc.CONTRACTUAL, contractual),
            (
                "patient",
                EntryKind.TRANSFER_TO_PATIENT,
                acc.patient_ar(claim.guarantor_id),
                claim.patient_responsibility_cents,
            ),
        ):
            draft = transfer(history_key(claim.claim_id, part), kind, debit, payer_ar, cents, **links)
            if draft is not None:
                drafts.append(replace(draft, occurred_at=claim.adjudicated_at))
    return drafts


def post_claim_history(session: Session, claims: Sequence[HistoricalClaim], *, batch: int = 5000) -> LedgerPosting:
    """Write :func:`claim_history_drafts` in bulk, ``batch`` claims at a time (idempotent by key)."""
    written = amount = 0
    for part in chunks(list(claims), batch):
        drafts = claim_history_drafts(part)
        result = write_entries(session, drafts)
        written += result.written
        amount += result.cents_debited
    return LedgerPosting(entries_written=written, amount_cents=amount, already_posted=bool(claims) and not written)


def post_patient_charge(session: Session, encounter_id: str, *, actor: str) -> tuple[str, LedgerPosting]:
    """A self-pay visit: the encounter's charges to the guarantor's patient AR. Returns (guarantor id, posting)."""
    encounter = session.get(m.Encounter, encounter_id)
    if encounter is None:
        raise NotFound(f"unknown encounter {encounter_id}")
    patient = session.get(m.Patient, encounter.patient_id)
    if patient is None:
        raise NotFound(f"unknown patient {encounter.patient_id}")
    total = sum(line.charge_cents * 1 for line in encounter.service_lines)
    draft = transfer(
        f"patient_charge:{encounter_id}",
        EntryKind.PATIENT_CHARGE,
        acc.patient_ar(patient.guarantor_id),
        acc.REVENUE,
        total,
        patient_id=patient.id,
        memo=f"self-pay encounter {encounter_id}",
    )
    posting = _result([draft] if draft else [], session)
    if posting.entries_written:
        audit.record(
            session,
            actor=actor,
            action="ledger.patient_charge",
            entity_type="encounter",
            entity_id=encounter_id,
            details={"amount_cents": total},
        )
    return patient.guarantor_id, posting


def no_show_fee_key(appointment_id: str) -> str:
    return f"no_show_fee:{appointment_id}"


def post_no_show_fee(session: Session, appointment_id: str, fee_cents: int, *, actor: str) -> tuple[str, LedgerPosting]:
    """The practice's no-show fee for a missed appointment: the guarantor's patient AR owes it, earned as no-show
    fee revenue. Once per appointment (its key). Returns (guarantor id, posting)."""
    if fee_cents <= 0:
        raise InvalidAmount("a no-show fee must be a positive number of cents")
    appointment = session.get(m.Appointment, appointment_id)
    if appointment is None:
        raise NotFound(f"unknown appointment {appointment_id}")
    patient = session.get(m.Patient, appointment.patient_id)
    if patient is None:
        raise NotFound(f"unknown patient {appointment.patient_id}")
    draft = transfer(
        no_show_fee_key(appointment_id),
        EntryKind.NO_SHOW_FEE,
        acc.patient_ar(patient.guarantor_id),
        acc.NO_SHOW_FEES,
        fee_cents,
        patient_id=patient.id,
        memo=f"no-show fee appointment {appointment_id}",
    )
    posting = _result([draft] if draft else [], session)
    if posting.entries_written:
        audit.record(
            session,
            actor=actor,
            action="ledger.no_show_fee",
            entity_type="appointment",
            entity_id=appointment_id,
            details={"amount_cents": fee_cents},
        )
    return patient.guarantor_id, posting


__all__ = [
    "HistoricalClaim",
    "LedgerPosting",
    "build_entry",
    "charge_key",
    "claim_history_drafts",
    "history_key",
    "missing_charges",
    "post_charge",
    "post_charges",
    "post_claim_history",
    "post_patient_charge",
]
