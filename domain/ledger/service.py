"""Ledger services: the events outside the ERA (charges, patient payments, write-offs, refunds).

Each takes a Session (the caller's unit of work owns the transaction), ids and cents, and returns a small
frozen value. Each is idempotent through its entry's key: calling it again with the same key writes nothing.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Protocol

from sqlalchemy import select
from sqlalchemy.orm import Session

from domain import audit
from domain import models as m
from domain.enums import CoverageRank, PaymentMethod
from domain.errors import IdempotencyConflict, InvalidAmount, NotFound, ValidationError
from domain.ledger import accounts as acc
from domain.ledger.entries import EntryDraft, EntryKind, build_entry, transfer
from domain.ledger.store import (
    chunks,
    claim_insurance_balances,
    existing_keys,
    patient_balances_of_guarantor,
    write_entries,
)
from domain.money import format_cents


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


@dataclass(frozen=True)
class PaymentRecorded:
    payment_id: str
    patient_id: str
    guarantor_id: str
    amount_cents: int
    balance_after_cents: int  # the guarantor's balance; negative is a credit to refund
    already_posted: bool


def _key_conflict(key: str, payment_id: str, held: m.PatientPayment | None) -> str:
    """Names the payment that holds the key (ids, amount and method only: no PHI)."""
    if held is None:
        return f"idempotency key {key!r} is already used by ledger entry {payment_id}, not by a patient payment"
    return (
        f"idempotency key {key!r} already holds payment {held.id} ({format_cents(held.amount_cents)} by "
        f"{held.method} for patient {held.patient_id}): a key records one payment; use a new key for another"
    )


def record_patient_payment(
    session: Session,
    patient_id: str,
    amount_cents: int,
    method: str,
    *,
    recorded_by: str,
    reference: str | None = None,
    key: str | None = None,
    received_at: datetime | None = None,
) -> PaymentRecorded:
    """A patient's payment: a PatientPayment row and debit cash / credit the guarantor's patient AR.

    ``key`` (e.g. a card processor's charge id) makes a re-sent payment post once; without one every call is
    a new payment.
    """
    if amount_cents <= 0:
        raise InvalidAmount(f"a payment must be positive, got {amount_cents} cents")
    try:
        payment_method = PaymentMethod(method)
    except ValueError:
        allowed = ", ".join(p.value for p in PaymentMethod)
        raise ValidationError(f"unknown payment method {method!r} (allowed: {allowed})") from None
    patient = session.get(m.Patient, patient_id)
    if patient is None:
        raise NotFound(f"unknown patient {patient_id}")
    entry_key = f"patient_payment:{key}" if key else None
    if entry_key is not None:
        existing = session.execute(
            select(m.JournalEntry.memo).where(m.JournalEntry.idempotency_key == entry_key)
        ).scalar_one_or_none()
        if existing is not None:
            held = session.get(m.PatientPayment, existing)
            if held is None or (held.patient_id, held.amount_cents, held.method) != (
                patient_id,
                amount_cents,
                payment_method.value,
            ):
                raise IdempotencyConflict(_key_conflict(key or "", existing, held))
            balance = sum(patient_balances_of_guarantor(session, patient.guarantor_id).values())
            return PaymentRecorded(held.id, held.patient_id, patient.guarantor_id, held.amount_cents, balance, True)
    payment = m.PatientPayment(
        patient_id=patient_id,
        amount_cents=amount_cents,
        method=payment_method.value,
        reference=reference,
        received_at=received_at or datetime.now(UTC),
        recorded_by=recorded_by,
    )
    session.add(payment)
    session.flush()
    draft = transfer(
        entry_key or f"patient_payment:{payment.id}",
        EntryKind.PATIENT_PAYMENT,
        acc.CASH,
        acc.patient_ar(patient.guarantor_id),
        amount_cents,
        patient_id=patient_id,
        memo=payment.id,  # the entry names its payment row
    )
    assert draft is not None  # amount is positive
    write_entries(session, [draft])
    audit.record(
        session,
        actor=recorded_by,
        action="ledger.patient_payment",
        entity_type="patient",
        entity_id=patient_id,
        details={"amount_cents": amount_cents, "method": payment_method.value, "payment_id": payment.id},
    )
    balance = sum(patient_balances_of_guarantor(session, patient.guarantor_id).values())
    return PaymentRecorded(payment.id, patient_id, patient.guarantor_id, amount_cents, balance, False)


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


__all__ = [
    "ClaimBalanceMoved",
    "GuarantorPosting",
    "HistoricalClaim",
    "LedgerPosting",
    "PaymentRecorded",
    "adjust_claim_balance",
    "build_entry",
    "charge_key",
    "claim_history_drafts",
    "history_key",
    "missing_charges",
    "post_charge",
    "post_charges",
    "post_claim_history",
    "post_patient_charge",
    "record_patient_payment",
    "refund_credit_balance",
    "write_off_patient_balance",
]
