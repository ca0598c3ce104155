"""Remittances as received (an 835 or an EOB): claims, service lines, adjustments, provider adjustments."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import JSON, CheckConstraint, Date, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.engine.default import DefaultExecutionContext
from sqlalchemy.orm import Mapped, mapped_column, relationship

from domain.models.base import Base, utcnow, uuid_pk
from domain.remittance import trace_key


def _trace_key_of_row(context: DefaultExecutionContext) -> str:
    """A row written without its trace key (a script, a test) gets the one rule's."""
    parameters = context.get_current_parameters()  # type: ignore[no-untyped-call]  # untyped in SQLAlchemy
    return trace_key(str(parameters["trace_number"]))


class Remittance(Base):
    __tablename__ = "remittances"
    # One row per payment: payer + trace key (domain.remittance.trace_key), so one check printed two ways by two
    # channels ("000123456" in the 835, "CHK 123456" on the portal) is one row; trace_number is kept as received.
    __table_args__ = (UniqueConstraint("payer_id", "trace_key", name="uq_remittances_payer_trace_key"),)
    id: Mapped[str] = uuid_pk()
    payer_id: Mapped[str] = mapped_column(ForeignKey("payers.id"), index=True)
    trace_number: Mapped[str] = mapped_column(String(50))
    trace_key: Mapped[str] = mapped_column(String(50), default=_trace_key_of_row)
    payment_method: Mapped[str] = mapped_column(String(3))
    payment_amount_cents: Mapped[int] = mapped_column(Integer)
    payment_date: Mapped[date | None] = mapped_column(Date, default=None)
    source: Mapped[str] = mapped_column(String(10), default="835")  # 835 or eob_pdf
    document_key: Mapped[str | None] = mapped_column(String(255), default=None)
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    deposit_line_id: Mapped[str | None] = mapped_column(ForeignKey("bank_deposit_lines.id"), default=None)

    claims: Mapped[list[RemittanceClaim]] = relationship(back_populates="remittance", cascade="all, delete-orphan")
    provider_adjustments: Mapped[list[ProviderAdjustment]] = relationship(
        back_populates="remittance", cascade="all, delete-orphan"
    )


class RemittanceClaim(Base):
    __tablename__ = "remittance_claims"
    id: Mapped[str] = uuid_pk()
    remittance_id: Mapped[str] = mapped_column(ForeignKey("remittances.id"), index=True)
    claim_id: Mapped[str | None] = mapped_column(ForeignKey("claims.id"), index=True, default=None)
    patient_control_number: Mapped[str] = mapped_column(String(38))
    status_code: Mapped[str] = mapped_column(String(2))
    charge_cents: Mapped[int] = mapped_column(Integer)
    paid_cents: Mapped[int] = mapped_column(Integer)
    patient_responsibility_cents: Mapped[int] = mapped_column(Integer, default=0)
    payer_claim_control_number: Mapped[str | None] = mapped_column(String(50), default=None)
    remark_codes: Mapped[list[str]] = mapped_column(JSON, default=list)
    match_confidence: Mapped[int] = mapped_column(Integer, default=100)  # percent

    remittance: Mapped[Remittance] = relationship(back_populates="claims")
    service_lines: Mapped[list[RemittanceServiceLine]] = relationship(
        back_populates="remittance_claim", cascade="all, delete-orphan"
    )
    adjustments: Mapped[list[RemittanceAdjustment]] = relationship(
        back_populates="remittance_claim", cascade="all, delete-orphan"
    )


class RemittanceServiceLine(Base):
    __tablename__ = "remittance_service_lines"
    id: Mapped[str] = uuid_pk()
    remittance_claim_id: Mapped[str] = mapped_column(ForeignKey("remittance_claims.id"), index=True)
    claim_line_id: Mapped[str | None] = mapped_column(ForeignKey("claim_lines.id"), default=None)
    procedure_code: Mapped[str] = mapped_column(String(5))
    modifiers: Mapped[list[str]] = mapped_column(JSON, default=list)
    charge_cents: Mapped[int] = mapped_column(Integer)
    paid_cents: Mapped[int] = mapped_column(Integer)
    line_control_number: Mapped[str | None] = mapped_column(String(50), default=None)
    remark_codes: Mapped[list[str]] = mapped_column(JSON, default=list)

    remittance_claim: Mapped[RemittanceClaim] = relationship(back_populates="service_lines")


class RemittanceAdjustment(Base):
    __tablename__ = "remittance_adjustments"
    __table_args__ = (CheckConstraint("group_code IN ('CO', 'PR', 'OA', 'PI', 'CR')", name="group_code_known"),)
    id: Mapped[str] = uuid_pk()
    remittance_claim_id: Mapped[str] = mapped_column(ForeignKey("remittance_claims.id"), index=True)
    remittance_service_line_id: Mapped[str | None] = mapped_column(
        ForeignKey("remittance_service_lines.id"), default=None
    )
    group_code: Mapped[str] = mapped_column(String(2))
    reason_code: Mapped[str] = mapped_column(String(5))
    amount_cents: Mapped[int] = mapped_column(Integer)
    quantity: Mapped[int | None] = mapped_column(Integer, default=None)

    remittance_claim: Mapped[RemittanceClaim] = relationship(back_populates="adjustments")


class ProviderAdjustment(Base):
    __tablename__ = "provider_adjustments"
    id: Mapped[str] = uuid_pk()
    remittance_id: Mapped[str] = mapped_column(ForeignKey("remittances.id"), index=True)
    reason_code: Mapped[str] = mapped_column(String(5))
    reference: Mapped[str] = mapped_column(String(50))
    amount_cents: Mapped[int] = mapped_column(Integer)

    remittance: Mapped[Remittance] = relationship(back_populates="provider_adjustments")
