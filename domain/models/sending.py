"""What goes out: claim submissions and X12 control numbers, documents, outbound messages and opt-outs,
portal session leases."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from domain.enums import MessageStatus
from domain.models.base import Base, utcnow, uuid_pk


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
    id: Mapped[str] = uuid_pk()
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
    id: Mapped[str] = uuid_pk()
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
    id: Mapped[str] = uuid_pk()
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
    id: Mapped[str] = uuid_pk()
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
