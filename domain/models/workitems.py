"""Work for people: the work item a process opens when it cannot go on by itself."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Index, Integer, String, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from domain.enums import WorkItemState
from domain.models.base import Base, utcnow, uuid_pk


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
    id: Mapped[str] = uuid_pk()
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
