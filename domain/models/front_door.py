"""The front door (intake): business identifiers, what was accepted, processes to start, API clients, and
the HL7 v2 feed's messages."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from domain.models.base import Base, utcnow, uuid_pk


class ExternalIdentifier(Base):
    """A practice system's identifier (the EHR's MRN, appointment id, encounter id...) mapped to our row.

    ``kind`` names our entity (patient, coverage, appointment, encounter, condition, charge); the pair
    (system, value) is the sender's. One identifier names one row of a kind, so a repeated event finds it.
    """

    __tablename__ = "external_identifiers"
    __phi__ = ("value",)  # an MRN is an identifier of a person
    __table_args__ = (UniqueConstraint("kind", "system", "value", name="uq_external_identifiers_kind_system_value"),)
    id: Mapped[str] = uuid_pk()
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
    id: Mapped[str] = uuid_pk()
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
    id: Mapped[str] = uuid_pk()
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
    id: Mapped[str] = uuid_pk()
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


class FhirAsyncRequest(Base):
    """A transaction Bundle the API accepted with ``Prefer: respond-async`` (``202``, then polled at
    ``/fhir/_async/<id>``): journaled before the answer, applied later through the same intake path as a
    synchronous POST. The Bundle is PHI: it is kept only sealed (AES-GCM with the payload codec keys, bound to
    the row's id) and dropped once applied. The answer kept (a transaction-response Bundle of ids and statuses,
    or an OperationOutcome naming elements) holds no PHI. Status: queued -> done | failed | cancelled."""

    __tablename__ = "fhir_async_requests"
    __phi__ = ("sealed_body",)
    __table_args__ = (
        CheckConstraint("status IN ('queued', 'done', 'failed', 'cancelled')", name="status_known"),
        Index("ix_fhir_async_requests_status_received_at", "status", "received_at"),
    )
    id: Mapped[str] = uuid_pk()
    client_id: Mapped[str] = mapped_column(ForeignKey("api_clients.id"))
    status: Mapped[str] = mapped_column(String(10), default="queued")
    sealed_body: Mapped[bytes | None] = mapped_column(LargeBinary, default=None)
    base_url: Mapped[str] = mapped_column(String(255))  # the FHIR base the Bundle was posted to (for fullUrls)
    entries: Mapped[int] = mapped_column(Integer, default=0)
    http_status: Mapped[int | None] = mapped_column(Integer, default=None)  # what a synchronous POST answered
    answer: Mapped[str | None] = mapped_column(Text, default=None)  # JSON: the response Bundle or OperationOutcome
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(String(60), default=None)  # an error type, never a message
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(default=None)


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
    id: Mapped[str] = uuid_pk()
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
