"""Ledger service for a patient's payment: its PatientPayment row and its balanced entry, posted once per key."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from domain import audit
from domain import models as m
from domain.enums import PaymentMethod
from domain.errors import IdempotencyConflict, InvalidAmount, NotFound, ValidationError
from domain.ledger import accounts as acc
from domain.ledger.entries import EntryKind, transfer
from domain.ledger.store import patient_balances_of_guarantor, write_entries
from domain.money import format_cents


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
    payment_method = _payment_method(method)
    patient = session.get(m.Patient, patient_id)
    if patient is None:
        raise NotFound(f"unknown patient {patient_id}")
    entry_key = f"patient_payment:{key}" if key else None
    if entry_key is not None:
        recorded = _recorded_before(session, patient, entry_key, key or "", amount_cents, payment_method)
        if recorded is not None:
            return recorded
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
    _post_payment(session, payment, patient.guarantor_id, entry_key)
    balance = sum(patient_balances_of_guarantor(session, patient.guarantor_id).values())
    return PaymentRecorded(payment.id, patient_id, patient.guarantor_id, amount_cents, balance, False)


def _payment_method(method: str) -> PaymentMethod:
    try:
        return PaymentMethod(method)
    except ValueError:
        allowed = ", ".join(p.value for p in PaymentMethod)
        raise ValidationError(f"unknown payment method {method!r} (allowed: {allowed})") from None


def _recorded_before(
    session: Session, patient: m.Patient, entry_key: str, key: str, amount_cents: int, method: PaymentMethod
) -> PaymentRecorded | None:
    """The payment already recorded under ``key`` (the same payment sent again), None for a new key; a key that
    holds another payment is refused."""
    existing = session.execute(
        select(m.JournalEntry.memo).where(m.JournalEntry.idempotency_key == entry_key)
    ).scalar_one_or_none()
    if existing is None:
        return None
    held = session.get(m.PatientPayment, existing)
    if held is None or (held.patient_id, held.amount_cents, held.method) != (patient.id, amount_cents, method.value):
        raise IdempotencyConflict(_key_conflict(key, existing, held))
    balance = sum(patient_balances_of_guarantor(session, patient.guarantor_id).values())
    return PaymentRecorded(held.id, held.patient_id, patient.guarantor_id, held.amount_cents, balance, True)


def _post_payment(session: Session, payment: m.PatientPayment, guarantor_id: str, entry_key: str | None) -> None:
    """Debit cash, credit the guarantor's patient AR; the entry names its payment row (memo), then the audit."""
    draft = transfer(
        entry_key or f"patient_payment:{payment.id}",
        EntryKind.PATIENT_PAYMENT,
        acc.CASH,
        acc.patient_ar(guarantor_id),
        payment.amount_cents,
        patient_id=payment.patient_id,
        memo=payment.id,  # the entry names its payment row
    )
    assert draft is not None  # amount is positive
    write_entries(session, [draft])
    audit.record(
        session,
        actor=payment.recorded_by,
        action="ledger.patient_payment",
        entity_type="patient",
        entity_id=payment.patient_id,
        details={"amount_cents": payment.amount_cents, "method": payment.method, "payment_id": payment.id},
    )
