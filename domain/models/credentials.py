"""People's qualifications: credentials, payer enrollments, exclusion screening and matches, training."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, CheckConstraint, Date, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from domain.enums import CredentialKind
from domain.models.base import Base, utcnow, uuid_pk


class Credential(Base):
    __tablename__ = "credentials"
    __table_args__ = (CheckConstraint("expires_on IS NULL OR expires_on >= issued_on", name="dates_ordered"),)
    id: Mapped[str] = uuid_pk()
    staff_id: Mapped[str] = mapped_column(ForeignKey("staff.id"), index=True)
    kind: Mapped[CredentialKind] = mapped_column(String(30))
    number: Mapped[str] = mapped_column(String(40))
    issuer: Mapped[str] = mapped_column(String(60))  # state board, DEA, ABIM, CAQH, OIG, payer id
    issued_on: Mapped[date] = mapped_column(Date)
    expires_on: Mapped[date | None] = mapped_column(Date, index=True, default=None)
    verified_on: Mapped[date | None] = mapped_column(Date, default=None)
    status: Mapped[str] = mapped_column(String(20), default="active")  # active, expired, pending, revoked
    state: Mapped[str | None] = mapped_column(String(2), default=None)  # a state license's state (USPS code)


class PayerEnrollment(Base):
    """A provider's enrollment with a payer: whether a claim for a service on a day may go to that payer.

    ``pending`` (applied, not yet approved) never covers a day; ``active`` covers ``effective_from`` onwards (to
    ``effective_to`` when one is set); ``terminated`` covers its dates up to ``effective_to``. Re-enrolling after
    a termination is a new row. The rule is ``domain.enrollment``.
    """

    __tablename__ = "payer_enrollments"
    __table_args__ = (
        CheckConstraint("status IN ('pending', 'active', 'terminated')", name="status_known"),
        CheckConstraint(
            "effective_to IS NULL OR effective_from IS NULL OR effective_to >= effective_from", name="dates_ordered"
        ),
        CheckConstraint("status = 'pending' OR effective_from IS NOT NULL", name="effective_from_set"),
        CheckConstraint("status <> 'terminated' OR effective_to IS NOT NULL", name="termination_dated"),
        Index("ix_payer_enrollments_provider_payer", "provider_id", "payer_id"),
    )
    id: Mapped[str] = uuid_pk()
    provider_id: Mapped[str] = mapped_column(ForeignKey("providers.id"))
    payer_id: Mapped[str] = mapped_column(ForeignKey("payers.id"), index=True)
    status: Mapped[str] = mapped_column(String(20))
    effective_from: Mapped[date | None] = mapped_column(Date, default=None)
    effective_to: Mapped[date | None] = mapped_column(Date, default=None)
    number: Mapped[str | None] = mapped_column(String(40), default=None)  # the payer's provider id, if it gives one
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class ExclusionScreening(Base):
    """One screening run: which lists (and which files, by hash) the active staff were checked against, when."""

    __tablename__ = "exclusion_screenings"
    id: Mapped[str] = uuid_pk()
    screened_on: Mapped[date] = mapped_column(Date, index=True)
    ran_at: Mapped[datetime] = mapped_column(default=utcnow)
    sources: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # "OIG"/"SAM" -> {sha256, rows}
    staff_screened: Mapped[int] = mapped_column(Integer, default=0)
    matches_found: Mapped[int] = mapped_column(Integer, default=0)
    new_matches: Mapped[int] = mapped_column(Integer, default=0)


class ExclusionMatch(Base):
    """A staff member found on an exclusion list (OIG LEIE or SAM), until a person confirms or clears it.

    ``list_key`` identifies the list's record (SAM Number; for the LEIE, which has no record id, a hash of the
    record's identifying columns), so screening the same file again finds the same match, not a new one.
    """

    __tablename__ = "exclusion_matches"
    __table_args__ = (
        UniqueConstraint("staff_id", "source", "list_key", name="uq_exclusion_matches_record"),
        CheckConstraint("status IN ('open', 'confirmed', 'cleared')", name="status_known"),
        CheckConstraint("basis IN ('npi', 'name_dob', 'name')", name="basis_known"),
    )
    id: Mapped[str] = uuid_pk()
    staff_id: Mapped[str] = mapped_column(ForeignKey("staff.id"), index=True)
    source: Mapped[str] = mapped_column(String(10))  # OIG, SAM
    list_key: Mapped[str] = mapped_column(String(64))
    basis: Mapped[str] = mapped_column(String(10))  # npi, name_dob, name (a possible match: no birth date to compare)
    exclusion_type: Mapped[str] = mapped_column(String(80), default="")  # e.g. 1128a1; SAM's exclusion type
    excluded_on: Mapped[date] = mapped_column(Date)
    reinstated_on: Mapped[date | None] = mapped_column(Date, default=None)
    status: Mapped[str] = mapped_column(String(20), default="open")
    found_on: Mapped[date] = mapped_column(Date)
    screening_id: Mapped[str | None] = mapped_column(ForeignKey("exclusion_screenings.id"), default=None)
    decided_by: Mapped[str | None] = mapped_column(String(60), default=None)
    decided_at: Mapped[datetime | None] = mapped_column(default=None)


class TrainingRequirement(Base):
    __tablename__ = "training_requirements"
    id: Mapped[str] = uuid_pk()
    code: Mapped[str] = mapped_column(String(40), unique=True)  # HIPAA, OSHA_BBP, FWA, CPR
    name: Mapped[str] = mapped_column(String(120))
    roles: Mapped[list[str]] = mapped_column(JSON, default=list)  # roles it applies to; empty = everyone
    renewal_days: Mapped[int] = mapped_column(Integer)


class TrainingRecord(Base):
    __tablename__ = "training_records"
    id: Mapped[str] = uuid_pk()
    staff_id: Mapped[str] = mapped_column(ForeignKey("staff.id"), index=True)
    requirement_id: Mapped[str] = mapped_column(ForeignKey("training_requirements.id"), index=True)
    completed_on: Mapped[date] = mapped_column(Date)
    expires_on: Mapped[date] = mapped_column(Date, index=True)
