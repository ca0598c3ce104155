"""Work-item activities: open a WorkItem row once, record a person's resolution, escalate an overdue item.

Synchronous activities (run on the worker's thread pool) over the unit of work. Every one is idempotent,
so Temporal's retries and a re-delivered Update never open, resolve or escalate twice.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker
from temporalio import activity

from activities.contracts import workitems as contract
from activities.workitem_context import describe
from domain import audit
from domain import models as m
from domain.audit import RESOLUTION_ACTION
from domain.enums import WorkItemState
from domain.errors import NotFound
from domain.store.uow import UnitOfWork
from domain.workitems import Action


class WorkItemActivities:
    def __init__(self, session_factory: sessionmaker[Session]) -> None:
        self._session_factory = session_factory

    def all(self) -> list[Callable[..., Any]]:
        """The bound activity methods, for a worker's ``activities=`` list."""
        return [self.open, self.record_resolution, self.escalate]

    @activity.defn(name=contract.OPEN)
    def open(self, request: contract.OpenWorkItemInput) -> contract.OpenedWorkItem:
        existing = self._find(request.dedupe_key)
        if existing is not None:
            return contract.OpenedWorkItem(work_item_id=existing, created=False)
        with UnitOfWork(self._session_factory) as uow:
            context = describe(
                uow.session, request.reason, request.entity_type, request.entity_id, dict(request.context)
            )
        item = m.WorkItem(
            queue=request.queue,
            reason_code=request.reason,
            state=WorkItemState.OPEN,
            summary=request.summary[:200],
            context=context,
            entity_type=request.entity_type,
            entity_id=request.entity_id,
            workflow_id=request.workflow_id,
            dedupe_key=request.dedupe_key,
            sla_due_at=request.sla_due_at,
        )
        try:
            with UnitOfWork(self._session_factory) as uow:
                uow.session.add(item)
                uow.commit()
                work_item_id = item.id
        except IntegrityError:
            # A concurrent attempt inserted it first: the unique dedupe key makes opening idempotent.
            found = self._find(request.dedupe_key)
            if found is None:
                raise
            return contract.OpenedWorkItem(work_item_id=found, created=False)
        activity.logger.info("work item opened", extra={"work_item_id": work_item_id, "queue": request.queue})
        return contract.OpenedWorkItem(work_item_id=work_item_id, created=True)

    def _find(self, dedupe_key: str) -> str | None:
        with UnitOfWork(self._session_factory) as uow:
            return uow.session.execute(
                select(m.WorkItem.id).where(m.WorkItem.dedupe_key == dedupe_key)
            ).scalar_one_or_none()

    @activity.defn(name=contract.RECORD_RESOLUTION)
    def record_resolution(self, request: contract.RecordResolutionInput) -> None:
        with UnitOfWork(self._session_factory) as uow:
            item = uow.session.get(m.WorkItem, request.work_item_id)
            if item is None:
                raise NotFound(f"work item {request.work_item_id} does not exist")
            if request.action == Action.ASSIGN:
                item.assignee = request.fields.get("assignee")
                if item.state == WorkItemState.OPEN:
                    item.state = WorkItemState.CLAIMED
            elif item.state in (WorkItemState.RESOLVED, WorkItemState.CANCELLED):
                return  # a retry after the commit: already recorded
            else:
                item.state = WorkItemState.CANCELLED if request.action == Action.CANCEL else WorkItemState.RESOLVED
                item.resolution_action = request.action
                item.resolution = {"fields": dict(request.fields), "note": request.note}
                item.resolved_by = request.by
                item.resolved_at = datetime.now(UTC)
            # Every resolution is an audit event naming who acted (the Update's verified actor); field names
            # only, their values stay in the work item (they may be PHI).
            audit.record(
                uow.session,
                actor=request.by,
                action=RESOLUTION_ACTION,
                entity_type="work_item",
                entity_id=item.id,
                workflow_id=item.workflow_id,
                details={"action": request.action, "terminal": request.terminal, "fields": sorted(request.fields)},
            )
            uow.commit()
        activity.logger.info(
            "work item resolution recorded", extra={"work_item_id": request.work_item_id, "action": request.action}
        )

    @activity.defn(name=contract.ESCALATE)
    def escalate(self, request: contract.EscalateInput) -> int:
        with UnitOfWork(self._session_factory) as uow:
            item = uow.session.get(m.WorkItem, request.work_item_id)
            if item is None:
                raise NotFound(f"work item {request.work_item_id} does not exist")
            if item.escalation_level < request.level:
                item.escalation_level = request.level
                uow.commit()
            level = item.escalation_level
        activity.logger.info(
            "work item escalated", extra={"work_item_id": request.work_item_id, "escalation_level": level}
        )
        return level
