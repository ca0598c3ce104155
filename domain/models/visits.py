"""The visit: appointments, virtual visits and telehealth consent, encounters and their service lines."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from sqlalchemy import JSON, Boolean, CheckConstraint, Date, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from domain.enums import AppointmentKind, AppointmentStatus, VirtualVisitState
from domain.models.base import Base, utcnow, uuid_pk


class Appointment(Base):
    """A booked visit: in person at a location, or virtual (telehealth) with the location the provider bills from.

    Its status follows FHIR's Appointment.status (booked, arrived, fulfilled, cancelled, noshow; see
    :mod:`domain.visits` for the legal moves). One durable Visit (or VirtualVisit) workflow per appointment owns
    its timers; the ``eligibility_*`` columns hold what that workflow and the nightly batch last learned about
    the patient's coverage for this visit (a fingerprint of the coverage, never its values).
    """

    __tablename__ = "appointments"
    __table_args__ = (Index("ix_appointments_provider_starts", "provider_id", "starts_at"),)
    id: Mapped[str] = uuid_pk()
    patient_id: Mapped[str] = mapped_column(ForeignKey("patients.id"), index=True)
    provider_id: Mapped[str] = mapped_column(ForeignKey("providers.id"), index=True)
    location_id: Mapped[str] = mapped_column(ForeignKey("locations.id"))
    kind: Mapped[AppointmentKind] = mapped_column(String(20))
    status: Mapped[AppointmentStatus] = mapped_column(String(20), index=True)
    starts_at: Mapped[datetime]
    duration_minutes: Mapped[int] = mapped_column(Integer, default=20)
    visit_reason: Mapped[str | None] = mapped_column(String(120), default=None)  # PHI-adjacent, never logged
    visit_type: Mapped[str] = mapped_column(String(30), default="follow_up")  # domain.visits.VISIT_TYPES
    source: Mapped[str] = mapped_column(String(20), default="console")  # which door booked it: fhir, hl7, csv, ...
    cancel_reason: Mapped[str | None] = mapped_column(String(40), default=None)  # a code, never free text
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    eligibility_status: Mapped[str | None] = mapped_column(String(20), default=None)  # active/inactive/inconclusive
    eligibility_checked_at: Mapped[datetime | None] = mapped_column(default=None)
    eligibility_fingerprint: Mapped[str | None] = mapped_column(String(64), default=None)
    version_id: Mapped[int] = mapped_column(Integer, default=1)
    __mapper_args__ = {"version_id_col": version_id}

    @property
    def ends_at(self) -> datetime:
        return self.starts_at + timedelta(minutes=self.duration_minutes)


class VirtualVisit(Base):
    """The telehealth side of a virtual appointment: the vendor's room, consent, check-in, who joined, how it ended.

    ``patient_location`` (home or other) and ``patient_state`` are what the patient said at check-in; they give
    the encounter its place of service (10 or 02) and decide whose license counts. ``provider_join_url`` carries
    the provider's meeting token (a secret): it is shown to signed-in staff only, never logged.
    """

    __tablename__ = "virtual_visits"
    __phi__ = ("provider_join_url",)
    id: Mapped[str] = uuid_pk()
    appointment_id: Mapped[str] = mapped_column(ForeignKey("appointments.id"), unique=True)
    state: Mapped[VirtualVisitState] = mapped_column(String(20), index=True, default=VirtualVisitState.INVITED)
    vendor: Mapped[str] = mapped_column(String(20), default="daily")
    room_name: Mapped[str | None] = mapped_column(String(80), default=None)
    room_url: Mapped[str | None] = mapped_column(String(255), default=None)
    provider_join_url: Mapped[str | None] = mapped_column(String(2000), default=None)
    tokens_issued: Mapped[int] = mapped_column(Integer, default=0)
    room_deleted_at: Mapped[datetime | None] = mapped_column(default=None)  # deleting the room revokes its tokens
    patient_location: Mapped[str | None] = mapped_column(String(10), default=None)  # home or other
    patient_state: Mapped[str | None] = mapped_column(String(2), default=None)
    checked_in_at: Mapped[datetime | None] = mapped_column(default=None)
    patient_joined_at: Mapped[datetime | None] = mapped_column(default=None)
    provider_joined_at: Mapped[datetime | None] = mapped_column(default=None)
    audio_only: Mapped[bool] = mapped_column(Boolean, default=False)
    audio_fallback_at: Mapped[datetime | None] = mapped_column(default=None)
    ended_at: Mapped[datetime | None] = mapped_column(default=None)
    duration_seconds: Mapped[int | None] = mapped_column(Integer, default=None)
    blocked_reason: Mapped[str | None] = mapped_column(String(40), default=None)  # a code (not_licensed)
    invites_sent: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class TelehealthConsent(Base):
    """A patient's consent to be seen by telehealth: when, how it was given, and the state the patient was in."""

    __tablename__ = "telehealth_consents"
    id: Mapped[str] = uuid_pk()
    patient_id: Mapped[str] = mapped_column(ForeignKey("patients.id"), index=True)
    appointment_id: Mapped[str | None] = mapped_column(ForeignKey("appointments.id"), index=True, default=None)
    given_at: Mapped[datetime] = mapped_column(default=utcnow)
    method: Mapped[str] = mapped_column(String(20))  # verbal, electronic, written
    patient_state: Mapped[str] = mapped_column(String(2))
    recorded_by: Mapped[str] = mapped_column(String(60))


class Encounter(Base):
    __tablename__ = "encounters"
    __table_args__ = (UniqueConstraint("appointment_id"),)
    id: Mapped[str] = uuid_pk()
    appointment_id: Mapped[str | None] = mapped_column(ForeignKey("appointments.id"), default=None)
    patient_id: Mapped[str] = mapped_column(ForeignKey("patients.id"), index=True)
    provider_id: Mapped[str] = mapped_column(ForeignKey("providers.id"))
    location_id: Mapped[str] = mapped_column(ForeignKey("locations.id"))
    date_of_service: Mapped[date] = mapped_column(Date)
    place_of_service: Mapped[str] = mapped_column(String(2))
    diagnosis_codes: Mapped[list[str]] = mapped_column(JSON, default=list)  # ICD-10-CM, no dots, in order
    coded: Mapped[bool] = mapped_column(Boolean, default=False)
    # A virtual visit's modifier for its E/M lines (95 video, 93 audio only) and how long it lasted.
    telehealth_modifier: Mapped[str | None] = mapped_column(String(2), default=None)
    duration_minutes: Mapped[int | None] = mapped_column(Integer, default=None)

    service_lines: Mapped[list[ServiceLine]] = relationship(
        back_populates="encounter", order_by="ServiceLine.line_number", cascade="all, delete-orphan"
    )


class ServiceLine(Base):
    __tablename__ = "service_lines"
    __table_args__ = (
        UniqueConstraint("encounter_id", "line_number", name="uq_service_lines_encounter_line"),
        CheckConstraint("charge_cents >= 0", name="charge_not_negative"),
        CheckConstraint("units > 0", name="units_positive"),
    )
    id: Mapped[str] = uuid_pk()
    encounter_id: Mapped[str] = mapped_column(ForeignKey("encounters.id"), index=True)
    line_number: Mapped[int] = mapped_column(Integer)
    procedure_code: Mapped[str] = mapped_column(String(5))
    modifiers: Mapped[list[str]] = mapped_column(JSON, default=list)
    units: Mapped[int] = mapped_column(Integer, default=1)
    charge_cents: Mapped[int] = mapped_column(Integer)
    diagnosis_pointers: Mapped[list[int]] = mapped_column(JSON, default=list)  # 1-based into diagnosis_codes

    encounter: Mapped[Encounter] = relationship(back_populates="service_lines")
