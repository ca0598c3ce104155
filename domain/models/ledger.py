"""The double-entry ledger (accounts, journal entries and lines), patient payments, bank deposits, and
collections (statements, policy versions, payment plans)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, CheckConstraint, Date, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from domain.enums import AccountKind, PaymentPlanStatus
from domain.models.base import Base, utcnow, uuid_pk


class Account(Base):
    __tablename__ = "accounts"
    __table_args__ = (Index("ix_accounts_owner", "owner_type", "owner_id"),)
    id: Mapped[str] = uuid_pk()
    code: Mapped[str] = mapped_column(String(80), unique=True)  # e.g. "patient_ar:<guarantor id>", "revenue"
    name: Mapped[str] = mapped_column(String(120))
    kind: Mapped[AccountKind] = mapped_column(String(20))
    owner_type: Mapped[str | None] = mapped_column(String(20), default=None)  # guarantor, payer
    owner_id: Mapped[str | None] = mapped_column(String(36), default=None)


class JournalEntry(Base):
    __tablename__ = "journal_entries"
    id: Mapped[str] = uuid_pk()
    idempotency_key: Mapped[str] = mapped_column(String(200), unique=True)
    kind: Mapped[str] = mapped_column(String(40))  # charge, insurance_payment, contractual, transfer_to_patient, ...
    memo: Mapped[str] = mapped_column(String(200), default="")
    occurred_at: Mapped[datetime] = mapped_column(default=utcnow)
    claim_id: Mapped[str | None] = mapped_column(ForeignKey("claims.id"), index=True, default=None)
    remittance_id: Mapped[str | None] = mapped_column(ForeignKey("remittances.id"), index=True, default=None)
    patient_id: Mapped[str | None] = mapped_column(ForeignKey("patients.id"), index=True, default=None)
    reverses_entry_id: Mapped[str | None] = mapped_column(ForeignKey("journal_entries.id"), default=None)

    lines: Mapped[list[JournalLine]] = relationship(back_populates="entry", cascade="all, delete-orphan")


class JournalLine(Base):
    __tablename__ = "journal_lines"
    __table_args__ = (
        CheckConstraint("debit_cents >= 0 AND credit_cents >= 0", name="amounts_not_negative"),
        CheckConstraint("(debit_cents = 0) <> (credit_cents = 0)", name="one_side_only"),
    )
    id: Mapped[str] = uuid_pk()
    entry_id: Mapped[str] = mapped_column(ForeignKey("journal_entries.id"), index=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id"), index=True)
    debit_cents: Mapped[int] = mapped_column(Integer, default=0)
    credit_cents: Mapped[int] = mapped_column(Integer, default=0)

    entry: Mapped[JournalEntry] = relationship(back_populates="lines")


class PatientPayment(Base):
    __tablename__ = "patient_payments"
    __table_args__ = (CheckConstraint("amount_cents > 0", name="amount_positive"),)
    id: Mapped[str] = uuid_pk()
    patient_id: Mapped[str] = mapped_column(ForeignKey("patients.id"), index=True)
    amount_cents: Mapped[int] = mapped_column(Integer)
    method: Mapped[str] = mapped_column(String(10))
    reference: Mapped[str | None] = mapped_column(String(50), default=None)
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    recorded_by: Mapped[str] = mapped_column(String(60))


class BankDeposit(Base):
    __tablename__ = "bank_deposits"
    id: Mapped[str] = uuid_pk()
    source_file: Mapped[str] = mapped_column(String(255))
    imported_at: Mapped[datetime] = mapped_column(default=utcnow)


class BankDepositLine(Base):
    __tablename__ = "bank_deposit_lines"
    __table_args__ = (UniqueConstraint("deposit_id", "line_number", name="uq_bank_deposit_lines_line"),)
    id: Mapped[str] = uuid_pk()
    deposit_id: Mapped[str] = mapped_column(ForeignKey("bank_deposits.id"), index=True)
    line_number: Mapped[int] = mapped_column(Integer)
    posted_on: Mapped[date] = mapped_column(Date)
    amount_cents: Mapped[int] = mapped_column(Integer)
    trace_number: Mapped[str | None] = mapped_column(String(50), index=True, default=None)
    description: Mapped[str] = mapped_column(String(200), default="")


# --- collections ----------------------------------------------------------------------------------------


class Statement(Base):
    __tablename__ = "statements"
    __table_args__ = (UniqueConstraint("guarantor_id", "cycle_key", name="uq_statements_guarantor_cycle"),)
    id: Mapped[str] = uuid_pk()
    guarantor_id: Mapped[str] = mapped_column(ForeignKey("guarantors.id"), index=True)
    patient_id: Mapped[str] = mapped_column(ForeignKey("patients.id"), index=True)
    cycle_key: Mapped[str] = mapped_column(String(80))  # idempotency: collections workflow id + sequence
    kind: Mapped[str] = mapped_column(String(20))  # first, reminder, final
    statement_date: Mapped[date] = mapped_column(Date)
    due_date: Mapped[date] = mapped_column(Date)
    balance_cents: Mapped[int] = mapped_column(Integer)
    document_key: Mapped[str | None] = mapped_column(String(255), default=None)
    sent_at: Mapped[datetime | None] = mapped_column(default=None)


class CollectionsPolicyVersion(Base):
    """The practice's collections policy (domain.collections_policy): one row per version, the newest in force.
    A version is never changed; a change is a new version (``carecycle policy set``)."""

    __tablename__ = "collections_policy_versions"
    version: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    settings: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by: Mapped[str] = mapped_column(String(60))
    note: Mapped[str] = mapped_column(String(200), default="")


class PaymentPlan(Base):
    __tablename__ = "payment_plans"
    __table_args__ = (
        CheckConstraint("installment_cents > 0", name="installment_positive"),
        CheckConstraint("total_cents > 0", name="total_positive"),
    )
    id: Mapped[str] = uuid_pk()
    patient_id: Mapped[str] = mapped_column(ForeignKey("patients.id"), index=True)
    guarantor_id: Mapped[str] = mapped_column(ForeignKey("guarantors.id"), index=True)
    total_cents: Mapped[int] = mapped_column(Integer)
    installment_cents: Mapped[int] = mapped_column(Integer)
    interval_days: Mapped[int] = mapped_column(Integer, default=30)
    start_date: Mapped[date] = mapped_column(Date)
    paid_cents: Mapped[int] = mapped_column(Integer, default=0)
    missed_installments: Mapped[int] = mapped_column(Integer, default=0)
    status: Mapped[PaymentPlanStatus] = mapped_column(String(20), default=PaymentPlanStatus.ACTIVE)
    version_id: Mapped[int] = mapped_column(Integer, default=1)
    __mapper_args__ = {"version_id_col": version_id}
