"""The claim and its lines (the status moves are domain.claim_status's)."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import JSON, CheckConstraint, Date, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from domain.claim_status import ClaimStatus, check_transition
from domain.enums import CoverageRank
from domain.models.base import Base, utcnow, uuid_pk


class Claim(Base):
    __tablename__ = "claims"
    __table_args__ = (
        CheckConstraint("total_charge_cents >= 0", name="charge_not_negative"),
        CheckConstraint("frequency_code IN ('1', '7', '8')", name="frequency_code_known"),
        Index("ix_claims_status_payer", "status", "payer_id"),
        # AR aging drill-down: one payer's claims in an age bucket in (date of service, id) order, so a page
        # needs no sort; status last so that the status filter is checked in the index, before any row is read
        # (bench/store.py).
        Index("ix_claims_payer_service_date", "payer_id", "date_of_service", "id", "status"),
    )
    id: Mapped[str] = uuid_pk()
    encounter_id: Mapped[str] = mapped_column(ForeignKey("encounters.id"), index=True)
    patient_id: Mapped[str] = mapped_column(ForeignKey("patients.id"), index=True)
    payer_id: Mapped[str] = mapped_column(ForeignKey("payers.id"), index=True)
    coverage_id: Mapped[str | None] = mapped_column(ForeignKey("coverages.id"), default=None)
    billing_provider_id: Mapped[str] = mapped_column(ForeignKey("providers.id"))
    rank: Mapped[CoverageRank] = mapped_column(String(10), default=CoverageRank.PRIMARY)
    status: Mapped[ClaimStatus] = mapped_column(String(20), default=ClaimStatus.DRAFT)
    frequency_code: Mapped[str] = mapped_column(String(1), default="1")  # 1 original, 7 replacement, 8 void
    original_claim_id: Mapped[str | None] = mapped_column(ForeignKey("claims.id"), default=None)
    primary_claim_id: Mapped[str | None] = mapped_column(ForeignKey("claims.id"), default=None)  # for secondaries
    total_charge_cents: Mapped[int] = mapped_column(Integer, default=0)
    paid_cents: Mapped[int] = mapped_column(Integer, default=0)
    patient_responsibility_cents: Mapped[int] = mapped_column(Integer, default=0)
    payer_claim_control_number: Mapped[str | None] = mapped_column(String(50), default=None)
    date_of_service: Mapped[date] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    submitted_at: Mapped[datetime | None] = mapped_column(default=None)
    adjudicated_at: Mapped[datetime | None] = mapped_column(default=None)
    version_id: Mapped[int] = mapped_column(Integer, default=1)

    lines: Mapped[list[ClaimLine]] = relationship(
        back_populates="claim", order_by="ClaimLine.line_number", cascade="all, delete-orphan"
    )
    __mapper_args__ = {"version_id_col": version_id}

    def transition(self, target: ClaimStatus) -> None:
        """Move to ``target`` if the lifecycle allows it; raises IllegalTransition otherwise."""
        self.status = check_transition(ClaimStatus(self.status), target)


class ClaimLine(Base):
    __tablename__ = "claim_lines"
    __table_args__ = (
        UniqueConstraint("claim_id", "line_number", name="uq_claim_lines_claim_line"),
        CheckConstraint("charge_cents >= 0", name="charge_not_negative"),
        CheckConstraint("units > 0", name="units_positive"),
    )
    id: Mapped[str] = uuid_pk()
    claim_id: Mapped[str] = mapped_column(ForeignKey("claims.id"), index=True)
    service_line_id: Mapped[str | None] = mapped_column(ForeignKey("service_lines.id"), default=None)
    line_number: Mapped[int] = mapped_column(Integer)
    procedure_code: Mapped[str] = mapped_column(String(5))
    modifiers: Mapped[list[str]] = mapped_column(JSON, default=list)
    units: Mapped[int] = mapped_column(Integer, default=1)
    charge_cents: Mapped[int] = mapped_column(Integer)
    diagnosis_pointers: Mapped[list[int]] = mapped_column(JSON, default=list)
    date_of_service: Mapped[date] = mapped_column(Date)
    paid_cents: Mapped[int] = mapped_column(Integer, default=0)

    claim: Mapped[Claim] = relationship(back_populates="lines")
