"""Opening work items from posting and reconciliation: once per dedupe key, in one query and one insert.

Summaries and context hold codes, ids and cents only (the PHI stays in the store).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from domain import models as m
from domain.enums import WorkItemState
from domain.ledger.store import select_in

SLA = timedelta(days=3)


@dataclass(frozen=True)
class WorkItemDraft:
    queue: str
    reason: str
    summary: str
    entity_type: str
    entity_id: str
    dedupe_key: str
    context: dict[str, Any] = field(default_factory=dict)


def open_work_items(
    session: Session, drafts: Sequence[WorkItemDraft], *, now: datetime | None = None
) -> list[tuple[str, bool]]:
    """Open the drafts whose dedupe key is new; returns (item id, opened now) for every draft."""
    if not drafts:
        return []
    keys = [d.dedupe_key[:200] for d in drafts]
    known: dict[str, str] = {}
    for key, item_id in select_in(session, m.WorkItem.dedupe_key, keys, select(m.WorkItem.dedupe_key, m.WorkItem.id)):
        known[str(key)] = str(item_id)
    at = now or datetime.now(UTC)
    rows: list[dict[str, Any]] = []
    created: set[str] = set()
    for draft, key in zip(drafts, keys, strict=True):
        if key in known:
            continue
        item_id = m.new_id()
        known[key] = item_id
        created.add(item_id)
        rows.append(
            {
                "id": item_id,
                "queue": draft.queue,
                "reason_code": draft.reason,
                "state": WorkItemState.OPEN.value,
                "summary": draft.summary[:200],
                "context": dict(draft.context),
                "entity_type": draft.entity_type,
                "entity_id": draft.entity_id,
                "workflow_id": None,
                "dedupe_key": key,
                "assignee": None,
                "created_at": at,
                "sla_due_at": at + SLA,
                "escalation_level": 0,
                "version_id": 1,
            }
        )
    if rows:
        session.execute(insert(m.WorkItem), rows)
    return [(known[key], known[key] in created) for key in keys]
