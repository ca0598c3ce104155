"""The SQLAlchemy 2 mapping of the domain.

Entities are plain declarative classes; the rules that act on them live beside them as functions and
methods that need no database. PHI columns are declared with ``repr=False`` semantics through
:func:`_phi` so that a ``repr`` of a row never shows them.

Primary keys are UUID strings: workflows carry them as opaque business keys.
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from domain.claim_status import ClaimStatus, check_transition
from domain.enums import (
    AccountKind,
    AppointmentKind,
    AppointmentStatus,
    CoverageRank,
    CredentialKind,
    MessageStatus,
    PayerKind,
    PayerRouting,
    PaymentPlanStatus,
    SubscriberRelationship,
    VirtualVisitState,
    WorkItemState,
)

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def new_id() -> str:
    return str(uuid.uuid4())


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {datetime: DateTime(timezone=True), dict[str, Any]: JSON, list[str]: JSON, list[int]: JSON}

    # Columns named here are PHI: never shown by repr, never put in logs or workflow payloads.
    __phi__: tuple[str, ...] = ()

    def __repr__(self) -> str:
        shown = []
        for column in self.__table__.columns:
            if column.key in self.__phi__:
                continue
            shown.append(f"{column.key}={getattr(self, column.key, None)!r}")
        return f"{type(self).__name__}({', '.join(shown)})"


def _pk() -> Mapped[str]:
    return mapped_column(String(36), primary_key=True, default=new_id)


# --- the practice and its people -------------------------------------------------------------------------


class Practice(Base):
    __tablename__ = "practices"
    id: Mapped[str] = _pk()
    name: Mapped[str] = mapped_column(String(120))
    npi: Mapped[str] = mapped_column(String(10))  # group (type 2) NPI: the billing provider
    tax_id: Mapped[str] = mapped_column(String(9))
    taxonomy: Mapped[str] = mapped_column(String(10))
    address_line: Mapped[str] = mapped_column(String(120))
    city: Mapped[str] = mapped_column(String(60))
    state: Mapped[str] = mapped_column(String(2))
    postal_code: Mapped[str] = mapped_column(String(10))
    phone: Mapped[str] = mapped_column(String(20))


class Location(Base):
    __tablename__ = "locations"
    id: Mapped[str] = _pk()
    practice_id: Mapped[str] = mapped_column(ForeignKey("practices.id"), index=True)
    name: Mapped[str] = mapped_column(String(120))
    address_line: Mapped[str] = mapped_column(String(120))
    city: Mapped[str] = mapped_column(String(60))
    state: Mapped[str] = mapped_column(String(2))
    postal_code: Mapped[str] = mapped_column(String(10))
    place_of_service: Mapped[str] = mapped_column(String(2), default="11")


class Provider(Base):
    __tablename__ = "providers"
    id: Mapped[str] = _pk()
    practice_id: Mapped[str] = mapped_column(ForeignKey("practices.id"), index=True)
    first_name: Mapped[str] = mapped_column(String(60))
    last_name: Mapped[str] = mapped_column(String(60))
    credential: Mapped[str] = mapped_column(String(10))  # MD, DO, NP, PA
    npi: Mapped[str] = mapped_column(String(10), unique=True)
    taxonomy: Mapped[str] = mapped_column(String(10))
    staff_id: Mapped[str | None] = mapped_column(ForeignKey("staff.id"), default=None)


class Staff(Base):
    __tablename__ = "staff"
    __phi__ = ("email", "birth_date")
    id: Mapped[str] = _pk()
    practice_id: Mapped[str] = mapped_column(ForeignKey("practices.id"), index=True)
    first_name: Mapped[str] = mapped_column(String(60))
    last_name: Mapped[str] = mapped_column(String(60))
    role: Mapped[str] = mapped_column(String(40))  # physician, nurse, biller, front_desk, coordinator
    email: Mapped[str] = mapped_column(String(120))
    hired_on: Mapped[date] = mapped_column(Date)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    # Exclusion screening matches a person by NPI, then by name and birth date (docs/staff.md).
    birth_date: Mapped[date | None] = mapped_column(Date, default=None)
    npi: Mapped[str | None] = mapped_column(String(10), index=True, default=None)  # individual (type 1) NPI


class ConsoleUser(Base):
    """Who may sign in to the operations console, with one role (operations, biller, auditor, admin).

    ``password_hash`` is a self-describing KDF string (Argon2id ``$argon2id$...``; older ``scrypt$n$r$p$salt$hash``
    ones are rehashed at the next sign-in), never the password. Failed sign-ins are throttled in
    ``sign_in_throttles``, keyed by the typed name whether or not it exists.
    """

    __tablename__ = "console_users"
    id: Mapped[str] = _pk()
    username: Mapped[str] = mapped_column(String(60), unique=True)
    role: Mapped[str] = mapped_column(String(20))
    password_hash: Mapped[str] = mapped_column(String(255))
    staff_id: Mapped[str | None] = mapped_column(ForeignKey("staff.id"), default=None)
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_sign_in_at: Mapped[datetime | None] = mapped_column(default=None)
    password_changed_at: Mapped[datetime | None] = mapped_column(default=None)


class ConsoleSession(Base):
    """A signed-in browser. The cookie holds a random token; the row holds its SHA-256 (``id``), so a copy of the
    table cannot be replayed. A session ends (``ended_at``) at sign-out, after ``idle`` minutes without a request,
    at ``expires_at``, or when the user's password changes, the user is disabled or an admin revokes it."""

    __tablename__ = "console_sessions"
    __table_args__ = (Index("ix_console_sessions_user_open", "user_id", "ended_at"),)
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("console_users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    ended_at: Mapped[datetime | None] = mapped_column(default=None)
    end_reason: Mapped[str | None] = mapped_column(String(20), default=None)
    client_address: Mapped[str] = mapped_column(String(64), default="")


class SignInThrottle(Base):
    """Failed sign-ins per key: a client address, a typed user name (known or not), a known device.

    ``key`` is an HMAC of the scope and the value, never the typed text (people type passwords into the name
    field). ``failures`` counts within the window that started at ``window_started_at``; ``locked_until`` is set
    when they reach the scope's limit."""

    __tablename__ = "sign_in_throttles"
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    scope: Mapped[str] = mapped_column(String(10))
    failures: Mapped[int] = mapped_column(Integer, default=0)
    window_started_at: Mapped[datetime] = mapped_column(default=utcnow)
    locked_until: Mapped[datetime | None] = mapped_column(default=None, index=True)


class Payer(Base):
    __tablename__ = "payers"
    __table_args__ = (
        CheckConstraint("timely_filing_days > 0", name="timely_filing_positive"),
        CheckConstraint("follow_up_days > 0", name="follow_up_positive"),
    )
    id: Mapped[str] = _pk()
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
    id: Mapped[str] = _pk()
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
    id: Mapped[str] = _pk()
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
    id: Mapped[str] = _pk()
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
    id: Mapped[str] = _pk()
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


# --- the visit ------------------------------------------------------------------------------------------


class Appointment(Base):
    """A booked visit: in person at a location, or virtual (telehealth) with the location the provider bills from.

    Its status follows FHIR's Appointment.status (booked, arrived, fulfilled, cancelled, noshow; see
    :mod:`domain.visits` for the legal moves). One durable Visit (or VirtualVisit) workflow per appointment owns
    its timers; the ``eligibility_*`` columns hold what that workflow and the nightly batch last learned about
    the patient's coverage for this visit (a fingerprint of the coverage, never its values).
    """

    __tablename__ = "appointments"
    __table_args__ = (Index("ix_appointments_provider_starts", "provider_id", "starts_at"),)
    id: Mapped[str] = _pk()
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
    id: Mapped[str] = _pk()
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
    id: Mapped[str] = _pk()
    patient_id: Mapped[str] = mapped_column(ForeignKey("patients.id"), index=True)
    appointment_id: Mapped[str | None] = mapped_column(ForeignKey("appointments.id"), index=True, default=None)
    given_at: Mapped[datetime] = mapped_column(default=utcnow)
    method: Mapped[str] = mapped_column(String(20))  # verbal, electronic, written
    patient_state: Mapped[str] = mapped_column(String(2))
    recorded_by: Mapped[str] = mapped_column(String(60))


class Encounter(Base):
    __tablename__ = "encounters"
    __table_args__ = (UniqueConstraint("appointment_id"),)
    id: Mapped[str] = _pk()
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
    id: Mapped[str] = _pk()
    encounter_id: Mapped[str] = mapped_column(ForeignKey("encounters.id"), index=True)
    line_number: Mapped[int] = mapped_column(Integer)
    procedure_code: Mapped[str] = mapped_column(String(5))
    modifiers: Mapped[list[str]] = mapped_column(JSON, default=list)
    units: Mapped[int] = mapped_column(Integer, default=1)
    charge_cents: Mapped[int] = mapped_column(Integer)
    diagnosis_pointers: Mapped[list[int]] = mapped_column(JSON, default=list)  # 1-based into diagnosis_codes

    encounter: Mapped[Encounter] = relationship(back_populates="service_lines")


# --- the claim ------------------------------------------------------------------------------------------


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
    id: Mapped[str] = _pk()
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
    id: Mapped[str] = _pk()
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


# --- remittances ----------------------------------------------------------------------------------------


class Remittance(Base):
    __tablename__ = "remittances"
    __table_args__ = (UniqueConstraint("payer_id", "trace_number", name="uq_remittances_payer_trace"),)
    id: Mapped[str] = _pk()
    payer_id: Mapped[str] = mapped_column(ForeignKey("payers.id"), index=True)
    trace_number: Mapped[str] = mapped_column(String(50))
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
    id: Mapped[str] = _pk()
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
    id: Mapped[str] = _pk()
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
    id: Mapped[str] = _pk()
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
    id: Mapped[str] = _pk()
    remittance_id: Mapped[str] = mapped_column(ForeignKey("remittances.id"), index=True)
    reason_code: Mapped[str] = mapped_column(String(5))
    reference: Mapped[str] = mapped_column(String(50))
    amount_cents: Mapped[int] = mapped_column(Integer)

    remittance: Mapped[Remittance] = relationship(back_populates="provider_adjustments")


# --- the ledger -----------------------------------------------------------------------------------------


class Account(Base):
    __tablename__ = "accounts"
    __table_args__ = (Index("ix_accounts_owner", "owner_type", "owner_id"),)
    id: Mapped[str] = _pk()
    code: Mapped[str] = mapped_column(String(80), unique=True)  # e.g. "patient_ar:<guarantor id>", "revenue"
    name: Mapped[str] = mapped_column(String(120))
    kind: Mapped[AccountKind] = mapped_column(String(20))
    owner_type: Mapped[str | None] = mapped_column(String(20), default=None)  # guarantor, payer
    owner_id: Mapped[str | None] = mapped_column(String(36), default=None)


class JournalEntry(Base):
    __tablename__ = "journal_entries"
    id: Mapped[str] = _pk()
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
    id: Mapped[str] = _pk()
    entry_id: Mapped[str] = mapped_column(ForeignKey("journal_entries.id"), index=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id"), index=True)
    debit_cents: Mapped[int] = mapped_column(Integer, default=0)
    credit_cents: Mapped[int] = mapped_column(Integer, default=0)

    entry: Mapped[JournalEntry] = relationship(back_populates="lines")


class PatientPayment(Base):
    __tablename__ = "patient_payments"
    __table_args__ = (CheckConstraint("amount_cents > 0", name="amount_positive"),)
    id: Mapped[str] = _pk()
    patient_id: Mapped[str] = mapped_column(ForeignKey("patients.id"), index=True)
    amount_cents: Mapped[int] = mapped_column(Integer)
    method: Mapped[str] = mapped_column(String(10))
    reference: Mapped[str | None] = mapped_column(String(50), default=None)
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    recorded_by: Mapped[str] = mapped_column(String(60))


class BankDeposit(Base):
    __tablename__ = "bank_deposits"
    id: Mapped[str] = _pk()
    source_file: Mapped[str] = mapped_column(String(255))
    imported_at: Mapped[datetime] = mapped_column(default=utcnow)


class BankDepositLine(Base):
    __tablename__ = "bank_deposit_lines"
    __table_args__ = (UniqueConstraint("deposit_id", "line_number", name="uq_bank_deposit_lines_line"),)
    id: Mapped[str] = _pk()
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
    id: Mapped[str] = _pk()
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
    id: Mapped[str] = _pk()
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


# --- work for people ------------------------------------------------------------------------------------


class WorkItem(Base):
    __tablename__ = "work_items"
    __table_args__ = (
        Index("ix_work_items_queue_state_due", "queue", "state", "sla_due_at"),
        # The work-queue listing (open and claimed items of a queue, by SLA): only the active items, in order.
        Index(
            "ix_work_items_active_queue_due",
            "queue",
            "sla_due_at",
            "created_at",
            postgresql_where=text("state IN ('open', 'claimed')"),
            sqlite_where=text("state IN ('open', 'claimed')"),
        ),
        UniqueConstraint("dedupe_key", name="uq_work_items_dedupe_key"),
    )
    id: Mapped[str] = _pk()
    queue: Mapped[str] = mapped_column(String(40))  # eligibility, coding, claim_edits, rejections, denials, ...
    reason_code: Mapped[str] = mapped_column(String(40))
    state: Mapped[WorkItemState] = mapped_column(String(20), default=WorkItemState.OPEN)
    summary: Mapped[str] = mapped_column(String(200))  # no PHI: codes and ids only
    context: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    entity_type: Mapped[str] = mapped_column(String(30))
    entity_id: Mapped[str] = mapped_column(String(36), index=True)
    workflow_id: Mapped[str | None] = mapped_column(String(120), index=True, default=None)
    dedupe_key: Mapped[str] = mapped_column(String(200))  # a workflow opens each item once, even on retry
    assignee: Mapped[str | None] = mapped_column(String(60), default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    sla_due_at: Mapped[datetime]
    escalation_level: Mapped[int] = mapped_column(Integer, default=0)
    resolution_action: Mapped[str | None] = mapped_column(String(40), default=None)
    resolution: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    resolved_by: Mapped[str | None] = mapped_column(String(60), default=None)
    resolved_at: Mapped[datetime | None] = mapped_column(default=None)
    version_id: Mapped[int] = mapped_column(Integer, default=1)
    __mapper_args__ = {"version_id_col": version_id}


# --- people's qualifications ----------------------------------------------------------------------------


class Credential(Base):
    __tablename__ = "credentials"
    __table_args__ = (CheckConstraint("expires_on IS NULL OR expires_on >= issued_on", name="dates_ordered"),)
    id: Mapped[str] = _pk()
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
    id: Mapped[str] = _pk()
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
    id: Mapped[str] = _pk()
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
    id: Mapped[str] = _pk()
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
    id: Mapped[str] = _pk()
    code: Mapped[str] = mapped_column(String(40), unique=True)  # HIPAA, OSHA_BBP, FWA, CPR
    name: Mapped[str] = mapped_column(String(120))
    roles: Mapped[list[str]] = mapped_column(JSON, default=list)  # roles it applies to; empty = everyone
    renewal_days: Mapped[int] = mapped_column(Integer)


class TrainingRecord(Base):
    __tablename__ = "training_records"
    id: Mapped[str] = _pk()
    staff_id: Mapped[str] = mapped_column(ForeignKey("staff.id"), index=True)
    requirement_id: Mapped[str] = mapped_column(ForeignKey("training_requirements.id"), index=True)
    completed_on: Mapped[date] = mapped_column(Date)
    expires_on: Mapped[date] = mapped_column(Date, index=True)


# --- audit and sending ----------------------------------------------------------------------------------


class AuditEvent(Base):
    """Append-only and hash-chained (domain.audit): the migrations install triggers that refuse UPDATE and DELETE
    on this table; ``seq`` numbers the rows without gaps, ``prev_hash`` is the previous row's ``row_hash``."""

    __tablename__ = "audit_events"
    __table_args__ = (
        Index("ix_audit_events_entity", "entity_type", "entity_id"),
        Index("ix_audit_events_actor", "actor", "occurred_at"),
        Index("ix_audit_events_action", "action", "occurred_at"),
    )
    id: Mapped[str] = _pk()
    seq: Mapped[int] = mapped_column(Integer, unique=True)
    prev_hash: Mapped[str] = mapped_column(String(64))
    row_hash: Mapped[str] = mapped_column(String(64))
    occurred_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    actor: Mapped[str] = mapped_column(String(60))  # a user name or "workflow:<id>" / "system"
    action: Mapped[str] = mapped_column(String(60))
    entity_type: Mapped[str] = mapped_column(String(30))
    entity_id: Mapped[str] = mapped_column(String(36))
    workflow_id: Mapped[str | None] = mapped_column(String(120), default=None)
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class AuditChain(Base):
    """The audit trail's head: one row (id 1) with the last sequence number and hash. Appending an event updates
    it first, which serialises concurrent writers (domain.audit)."""

    __tablename__ = "audit_chain"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    last_seq: Mapped[int] = mapped_column(Integer, default=0)
    last_hash: Mapped[str] = mapped_column(String(64))


class ClaimSubmission(Base):
    """One 837P interchange sent (or about to be sent) for a claim (domain.services.submissions).

    Built and recorded in one transaction (``built``), sent to the clearinghouse outside any transaction, its
    outcome recorded in another (``sent``, idempotent on the interchange control number); a built one the claim
    changed after is ``superseded``. The X12 text holds PHI: it stays in the store."""

    __tablename__ = "claim_submissions"
    __table_args__ = (
        UniqueConstraint("interchange_control_number", name="uq_claim_submissions_interchange"),
        Index("ix_claim_submissions_claim_state", "claim_id", "state"),
    )
    __phi__ = ("x12",)
    id: Mapped[str] = _pk()
    claim_id: Mapped[str] = mapped_column(ForeignKey("claims.id"))
    interchange_control_number: Mapped[int] = mapped_column(Integer)  # ISA13
    group_control_number: Mapped[int] = mapped_column(Integer)  # GS06: a 999's AK102 names it
    frequency_code: Mapped[str] = mapped_column(String(1))
    claim_version: Mapped[int] = mapped_column(Integer)  # the claim's version_id when the 837P was built
    x12: Mapped[str] = mapped_column(Text)
    document_key: Mapped[str | None] = mapped_column(String(255), default=None)
    state: Mapped[str] = mapped_column(String(12), default="built")  # built, sent, superseded
    built_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(default=None)
    batch_id: Mapped[str | None] = mapped_column(String(80), default=None)  # the clearinghouse's id of the batch


class ControlNumber(Base):
    """The last X12 control number we used, per kind (ISA13, GS06, ST02), so every file we send is unique."""

    __tablename__ = "control_numbers"
    name: Mapped[str] = mapped_column(String(20), primary_key=True)
    last_value: Mapped[int] = mapped_column(Integer, default=0)


class Document(Base):
    """A file in the document store: the row holds its key, hash and kind; the bytes live in the store."""

    __tablename__ = "documents"
    id: Mapped[str] = _pk()
    key: Mapped[str] = mapped_column(String(255), unique=True)
    kind: Mapped[str] = mapped_column(String(30))  # eob_pdf, era_835, ack_999, claim_837, statement, screenshot, ...
    content_type: Mapped[str] = mapped_column(String(80))
    size_bytes: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    entity_type: Mapped[str | None] = mapped_column(String(30), default=None)
    entity_id: Mapped[str | None] = mapped_column(String(36), default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class OutboundMessage(Base):
    """The messaging outbox: one row per message to a patient (SMS or e-mail), from queued to the delivery receipt.

    ``key`` makes sending idempotent (a reminder is one row however often its activity runs). The rendered text
    and the address live here, in the store, never in a workflow payload or a log; templates hold no PHI beyond
    the first name, the time and the place (domain.messages).
    """

    __tablename__ = "outbound_messages"
    __phi__ = ("to_address", "subject", "body")
    id: Mapped[str] = _pk()
    key: Mapped[str] = mapped_column(String(200), unique=True)
    channel: Mapped[str] = mapped_column(String(10))  # sms, email
    template: Mapped[str] = mapped_column(String(40))  # reminder_72h, telehealth_invite, ...
    patient_id: Mapped[str] = mapped_column(ForeignKey("patients.id"), index=True)
    appointment_id: Mapped[str | None] = mapped_column(ForeignKey("appointments.id"), index=True, default=None)
    to_address: Mapped[str] = mapped_column(String(120))
    subject: Mapped[str] = mapped_column(String(200), default="")
    body: Mapped[str] = mapped_column(String(2000))
    status: Mapped[MessageStatus] = mapped_column(String(20), default=MessageStatus.QUEUED, index=True)
    provider: Mapped[str | None] = mapped_column(String(20), default=None)  # twilio, postmark
    provider_message_id: Mapped[str | None] = mapped_column(String(80), index=True, default=None)
    error_code: Mapped[str | None] = mapped_column(String(40), default=None)
    queued_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(default=None)
    status_at: Mapped[datetime | None] = mapped_column(default=None)


class MessageOptOut(Base):
    """A patient who asked not to be messaged on a channel (an SMS STOP, a request at the desk)."""

    __tablename__ = "message_opt_outs"
    __table_args__ = (UniqueConstraint("patient_id", "channel", name="uq_message_opt_outs_patient_channel"),)
    id: Mapped[str] = _pk()
    patient_id: Mapped[str] = mapped_column(ForeignKey("patients.id"), index=True)
    channel: Mapped[str] = mapped_column(String(10))  # sms, email
    opted_out_at: Mapped[datetime] = mapped_column(default=utcnow)
    source: Mapped[str] = mapped_column(String(20))  # sms_keyword, desk, email_unsubscribe


class PortalSessionLease(Base):
    """Which worker may drive a session at one payer-portal account now, across every machine.

    Portals end an account's earlier session when it signs in again, so two workers on the same account
    knock each other out. A row is free when ``expires_at`` has passed (a release sets it to the release
    time; a crashed holder's lease simply runs out). ``token`` grows by one each time the lease changes
    hands: renewals and releases name it, so a holder that lost its lease cannot touch its successor's.
    The account is stored as a hash: usernames stay out of the table.
    """

    __tablename__ = "portal_session_leases"
    account_hash: Mapped[str] = mapped_column(String(64), primary_key=True)  # sha256 of payer_id:username
    payer_id: Mapped[str] = mapped_column(String(20))
    holder: Mapped[str] = mapped_column(String(200))  # host:pid:uuid of the acquisition
    token: Mapped[int] = mapped_column(Integer)
    acquired_at: Mapped[datetime] = mapped_column()
    expires_at: Mapped[datetime] = mapped_column()


# --- the front door (intake): business identifiers, what was accepted, processes to start, API clients ---------


class ExternalIdentifier(Base):
    """A practice system's identifier (the EHR's MRN, appointment id, encounter id...) mapped to our row.

    ``kind`` names our entity (patient, coverage, appointment, encounter, condition, charge); the pair
    (system, value) is the sender's. One identifier names one row of a kind, so a repeated event finds it.
    """

    __tablename__ = "external_identifiers"
    __phi__ = ("value",)  # an MRN is an identifier of a person
    __table_args__ = (UniqueConstraint("kind", "system", "value", name="uq_external_identifiers_kind_system_value"),)
    id: Mapped[str] = _pk()
    kind: Mapped[str] = mapped_column(String(20))
    system: Mapped[str] = mapped_column(String(255))
    value: Mapped[str] = mapped_column(String(100))
    entity_id: Mapped[str] = mapped_column(String(36), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class IntakeRecord(Base):
    """What the front door last accepted for one of our rows: its version (FHIR ``meta.versionId``, ETag), a
    hash of the accepted content (a repeated event is ``unchanged``), and the status the sender gave it."""

    __tablename__ = "intake_records"
    entity_type: Mapped[str] = mapped_column(String(20), primary_key=True)
    entity_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    version: Mapped[int] = mapped_column(Integer, default=1)
    content_hash: Mapped[str] = mapped_column(String(64))
    source_status: Mapped[str | None] = mapped_column(String(20), default=None)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_by: Mapped[str] = mapped_column(String(60))


class ClinicalEntry(Base):
    """A diagnosis (FHIR Condition) or a billable service (FHIR ChargeItem) as the practice sent it, before and
    after its encounter is closed for billing (then its codes are the encounter's diagnoses and service lines)."""

    __tablename__ = "clinical_entries"
    __table_args__ = (
        CheckConstraint("kind IN ('condition', 'charge')", name="kind_known"),
        CheckConstraint("quantity > 0", name="quantity_positive"),
        CheckConstraint("price_cents IS NULL OR price_cents >= 0", name="price_not_negative"),
    )
    id: Mapped[str] = _pk()
    kind: Mapped[str] = mapped_column(String(10))
    patient_id: Mapped[str] = mapped_column(ForeignKey("patients.id"), index=True)
    encounter_id: Mapped[str | None] = mapped_column(ForeignKey("encounters.id"), index=True, default=None)
    code: Mapped[str] = mapped_column(String(10))  # ICD-10-CM (no dot) or CPT/HCPCS
    modifiers: Mapped[list[str]] = mapped_column(JSON, default=list)
    quantity: Mapped[int] = mapped_column(Integer, default=1)
    price_cents: Mapped[int | None] = mapped_column(Integer, default=None)  # None: the practice's fee schedule
    reason_codes: Mapped[list[str]] = mapped_column(JSON, default=list)  # a charge's diagnoses (ICD-10-CM)
    status: Mapped[str] = mapped_column(String(20), default="active")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ProcessStart(Base):
    """A process the front door must start once its transaction has committed (a transactional outbox).

    Written in the same transaction as the data; started after commit under a business workflow id, then
    ``started_at`` is set. A crash in between leaves the row pending: the next dispatch (a retried event, the
    API's sweep) starts it, and the business id makes a second start a no-op."""

    __tablename__ = "process_starts"
    id: Mapped[str] = _pk()
    process: Mapped[str] = mapped_column(String(20))  # registration, encounter, appointment
    entity_id: Mapped[str] = mapped_column(String(36))
    workflow_id: Mapped[str] = mapped_column(String(120))
    detail: Mapped[str] = mapped_column(String(20), default="")  # e.g. booked, rescheduled, cancelled
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(index=True, default=None)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(String(60), default=None)  # an error type, never a message


class ApiClient(Base):
    """A system allowed to call the integration API: a bearer token (only its SHA-256 is kept) and scopes."""

    __tablename__ = "api_clients"
    id: Mapped[str] = _pk()
    name: Mapped[str] = mapped_column(String(60), unique=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    scopes: Mapped[list[str]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(default=None)


class ApiRateWindow(Base):
    """The calls of one API client in one minute (a fixed window starting at ``window_start``, epoch seconds): every
    API process adds to the same row, so a client's limit holds across all the processes behind the load
    balancer (api.clients.RateLimit). Rows of past windows are deleted as the client's next window begins."""

    __tablename__ = "api_rate_windows"
    client_id: Mapped[str] = mapped_column(ForeignKey("api_clients.id"), primary_key=True)
    window_start: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    calls: Mapped[int] = mapped_column(Integer, default=0)


# --- the HL7 v2 feed ---------------------------------------------------------------------------------------


class Hl7Message(Base):
    """An HL7 v2 message the listener took: who sent it (MSH-3/MSH-4), its control id (MSH-10, unique per
    sender: a repeat is answered with the stored ACK), where its raw text is kept (sealed, in the document
    store) and what became of it. The row and the ACK hold no PHI (types, ids, codes)."""

    __tablename__ = "hl7_messages"
    __table_args__ = (
        UniqueConstraint("sender", "control_id", name="uq_hl7_messages_sender_control_id"),
        CheckConstraint("status IN ('received', 'processed', 'failed')", name="status_known"),
    )
    id: Mapped[str] = _pk()
    sender: Mapped[str] = mapped_column(String(120))
    control_id: Mapped[str] = mapped_column(String(199))
    message_type: Mapped[str] = mapped_column(String(20))  # e.g. ADT^A04
    document_key: Mapped[str] = mapped_column(String(255))
    status: Mapped[str] = mapped_column(String(10), default="received", index=True)
    ack_code: Mapped[str | None] = mapped_column(String(2), default=None)
    ack_text: Mapped[str | None] = mapped_column(Text, default=None)  # the application ACK as sent
    error_code: Mapped[str | None] = mapped_column(String(8), default=None)  # HL7 table 0357
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    processed_at: Mapped[datetime | None] = mapped_column(default=None)
