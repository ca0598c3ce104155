"""Contract of the work-item activities (implemented by ``activities.workitems.WorkItemActivities``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from activities.contracts.reference import ActivityRef

OPEN = "workitems.open"
RECORD_RESOLUTION = "workitems.record_resolution"
ESCALATE = "workitems.escalate"


@dataclass(frozen=True)
class OpenWorkItemInput:
    """``summary`` and ``context`` hold codes and opaque ids only: they are shown in lists and logs."""

    reason: str
    queue: str
    summary: str
    entity_type: str
    entity_id: str
    workflow_id: str
    dedupe_key: str
    sla_due_at: datetime
    context: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class OpenedWorkItem:
    work_item_id: str
    created: bool  # False when the dedupe key found the item opened by an earlier attempt


@dataclass(frozen=True)
class RecordResolutionInput:
    work_item_id: str
    action: str
    by: str
    terminal: bool
    fields: dict[str, str] = field(default_factory=dict)
    note: str = ""


@dataclass(frozen=True)
class EscalateInput:
    work_item_id: str
    level: int


# --- typed references: how a workflow names these activities (flows.calls); mypy checks the types -----------

workitems_open = ActivityRef(OPEN, OpenWorkItemInput, OpenedWorkItem)
workitems_record_resolution = ActivityRef(RECORD_RESOLUTION, RecordResolutionInput, type(None))
workitems_escalate = ActivityRef(ESCALATE, EscalateInput, int)
