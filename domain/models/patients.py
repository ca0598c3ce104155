"""Payers, guarantors, patients, their coverages and prior authorizations."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import JSON, CheckConstraint, Date, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from domain.enums import CoverageRank, PayerKind, PayerRouting, SubscriberRelationship
from domain.models.base import Base, utcnow, uuid_pk


class Payer(Base):
    __tablename__ = "payers"
    __table_args__ = (
        CheckConstraint("timely_filing_days > 0", name="timely_filing_positive"),
        CheckConstraint("follow_up_days > 0", name="follow_up_positive"),
    )
    id: Mapped[str] = uuid_pk()
    payer_id: Mapped[str] = mapped_column(String(20), unique=True)  # the payer id the clearinghouse knows
    name: Mapped[str] = mapped_column(String(120))
    kind: Mapped[PayerKind] = mapped_column(String(20))
    routing: Mapped[PayerRouting] = mapped_column(String(20))
    timely_filing_days: Mapped[int] = mapped_column(Integer, default=365)
    follow_up_days: Mapped[int] = mapped_column(Integer, default=30)
    portal_variant: Mapped[str | None] = mapped_column(String(20), default=None)  # page layout of its portal


class Guarantor(Base):
    __tablename__ = "guarantors"
    __phi__ = ("first_name", "last_name", "birth_date", "address_line", "city", "postal_code", "phone", "email")
    id: Mapped[str] = uuid_pk()
    account_number: Mapped[str] = mapped_column(String(20), unique=True)  # opaque, printed on statements
    first_name: Mapped[str] = mapped_column(String(60))
    last_name: Mapped[str] = mapped_column(String(60))
    birth_date: Mapped[date] = mapped_column(Date)
    address_line: Mapped[str] = mapped_column(String(120))
    city: Mapped[str] = mapped_column(String(60))
    state: Mapped[str] = mapped_column(String(2))
    postal_code: Mapped[str] = mapped_column(String(10))
    phone: Mapped[str] = mapped_column(String(20))
    email: Mapped[str | None] = mapped_column(String(120), default=None)


class Patient(Base):
    __tablename__ = "patients"
    __phi__ = ("first_name", "last_name", "birth_date", "address_line", "city", "postal_code", "phone", "email")
    __table_args__ = (
        Index("ix_patients_identity", "last_name", "first_name", "birth_date"),
        Index("ix_patients_birth_date", "birth_date"),  # the duplicate rule's candidates (domain.duplicates)
    )
    id: Mapped[str] = uuid_pk()
    practice_id: Mapped[str] = mapped_column(ForeignKey("practices.id"), index=True)
    account_number: Mapped[str] = mapped_column(String(20), unique=True)  # MRN-like, opaque
    first_name: Mapped[str] = mapped_column(String(60))
    last_name: Mapped[str] = mapped_column(String(60))
    birth_date: Mapped[date] = mapped_column(Date)
    sex: Mapped[str] = mapped_column(String(1))  # F, M, U
    address_line: Mapped[str] = mapped_column(String(120))
    city: Mapped[str] = mapped_column(String(60))
    state: Mapped[str] = mapped_column(String(2))
    postal_code: Mapped[str] = mapped_column(String(10))
    phone: Mapped[str] = mapped_column(String(20))
    email: Mapped[str | None] = mapped_column(String(120), default=None)
    guarantor_id: Mapped[str] = mapped_column(ForeignKey("guarantors.id"), index=True)
    registered_at: Mapped[datetime] = mapped_column(default=utcnow)

    coverages: Mapped[list[Coverage]] = relationship(back_populates="patient", order_by="Coverage.rank")
    prior_authorizations: Mapped[list[PriorAuthorization]] = relationship(
        order_by="PriorAuthorization.valid_from", viewonly=True
    )


class Coverage(Base):
    __tablename__ = "coverages"
    __phi__ = ("member_id", "group_number", "subscriber_first_name", "subscriber_last_name", "subscriber_birth_date")
    __table_args__ = (
        CheckConstraint("effective_to IS NULL OR effective_to >= effective_from", name="dates_ordered"),
        Index("ix_coverages_member", "payer_id", "member_id"),
    )
    id: Mapped[str] = uuid_pk()
    patient_id: Mapped[str] = mapped_column(ForeignKey("patients.id"), index=True)
    payer_id: Mapped[str] = mapped_column(ForeignKey("payers.id"), index=True)
    rank: Mapped[CoverageRank] = mapped_column(String(10))
    relationship_to_subscriber: Mapped[SubscriberRelationship] = mapped_column(String(10))
    member_id: Mapped[str] = mapped_column(String(30))
    group_number: Mapped[str | None] = mapped_column(String(30), default=None)
    subscriber_first_name: Mapped[str | None] = mapped_column(String(60), default=None)
    subscriber_last_name: Mapped[str | None] = mapped_column(String(60), default=None)
    subscriber_birth_date: Mapped[date | None] = mapped_column(Date, default=None)
    effective_from: Mapped[date] = mapped_column(Date)
    effective_to: Mapped[date | None] = mapped_column(Date, default=None)
    eligibility_status: Mapped[str] = mapped_column(String(20), default="unverified")  # active/inactive/unverified
    eligibility_checked_at: Mapped[datetime | None] = mapped_column(default=None)
    copay_cents: Mapped[int | None] = mapped_column(Integer, default=None)
    deductible_remaining_cents: Mapped[int | None] = mapped_column(Integer, default=None)

    patient: Mapped[Patient] = relationship(back_populates="coverages")

    def is_active_on(self, day: date) -> bool:
        return self.effective_from <= day and (self.effective_to is None or day <= self.effective_to)


class PriorAuthorization(Base):
    """A payer's prior authorization (precertification) for a patient: its number goes on the claim (REF*G1).

    What a biller keeps on the patient's insurance: the number, the payer, the procedure codes it covers, the
    dates it is valid and, when the payer limits them, the units per service line.
    """

    __tablename__ = "prior_authorizations"
    __table_args__ = (
        CheckConstraint("valid_to >= valid_from", name="dates_ordered"),
        CheckConstraint("units_authorized IS NULL OR units_authorized > 0", name="units_positive"),
        UniqueConstraint("payer_id", "number", name="uq_prior_authorizations_payer_number"),
    )
    id: Mapped[str] = uuid_pk()
    patient_id: Mapped[str] = mapped_column(ForeignKey("patients.id"), index=True)
    payer_id: Mapped[str] = mapped_column(ForeignKey("payers.id"))
    number: Mapped[str] = mapped_column(String(50))  # REF02 of REF*G1
    procedure_codes: Mapped[list[str]] = mapped_column(JSON, default=list)  # CPT/HCPCS it covers
    valid_from: Mapped[date] = mapped_column(Date)
    valid_to: Mapped[date] = mapped_column(Date)
    units_authorized: Mapped[int | None] = mapped_column(Integer, default=None)  # per line; None: no limit
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    def covers(self, payer_id: str, procedure: str, day: date) -> bool:
        """Whether this authorization covers ``procedure`` with payer row ``payer_id`` on ``day``."""
        return (
            self.payer_id == payer_id
            and procedure in (self.procedure_codes or ())
            and self.valid_from <= day <= self.valid_to
        )
