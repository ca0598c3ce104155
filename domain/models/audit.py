"""The audit trail: append-only, hash-chained events and the chain's head."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from domain.models.base import Base, utcnow, uuid_pk


class AuditEvent(Base):
    """Append-only and hash-chained (domain.audit): the migrations install triggers that refuse UPDATE and DELETE
    on this table; ``seq`` numbers the rows without gaps, ``prev_hash`` is the previous row's ``row_hash``."""

    __tablename__ = "audit_events"
    __table_args__ = (
        Index("ix_audit_events_entity", "entity_type", "entity_id"),
        Index("ix_audit_events_actor", "actor", "occurred_at"),
        Index("ix_audit_events_action", "action", "occurred_at"),
    )
    id: Mapped[str] = uuid_pk()
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
