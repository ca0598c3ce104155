"""Work items from inside a workflow: open one, wait for a person's validated resolution, escalate when late.

Usage (any workflow; this is :class:`flows.standalone_work_item.StandaloneWorkItemWorkflow`, trimmed)::

    from flows.workitems import WorkItemRequest, WorkItemsMixin

    @workflow.defn(name="StandaloneWorkItem")
    class StandaloneWorkItemWorkflow(WorkItemsMixin):   # adds the `resolve` Update (+ validator) and a query
        @workflow.run
        async def run(self, job: StandaloneWorkItemInput) -> StandaloneWorkItemResult:
            resolution = await self.work_items.open_and_wait(
                WorkItemRequest(
                    reason=job.reason,                  # a domain.workitems.Reason value; it picks the queue
                    entity_type=job.entity_type,
                    entity_id=job.entity_id,            # opaque id, never PHI
                    summary=job.summary,                # codes only: shown in lists and the Web UI
                    sla=timedelta(seconds=job.sla_seconds),  # business durations come from the workflow input
                    context=dict(job.context),          # codes/ids only
                )
            )
            await workflow.wait_condition(workflow.all_handlers_finished)
            return StandaloneWorkItemResult(resolution.action, resolution.by, dict(resolution.fields))

The revenue workflows open theirs through ``RevenueWorkflow.ask`` (``flows/revenue/_common.py``), which builds
the request from the run's :class:`~activities.contracts.revenue.RevenuePolicy` (SLA in business days) and can
stop waiting when something else answers first. ``check`` on the request is the workflow's own rule for a
resolution (with the facts only it knows), run by the Update validator.

``open_and_wait`` runs the ``workitems.open`` activity (idempotent through a dedupe key made of the
workflow id, run id, reason and a per-run counter), sets the ``WorkQueue`` search attribute and the
workflow's current details, then waits. A person (CLI ``carecycle tasks resolve``, the console, a
scripted biller) sends the Update ``resolve`` with a :class:`ResolveRequest`; its validator checks the
item is open here and :func:`domain.workitems.validate_resolution` accepts it, otherwise the Update is
rejected (type ``InvalidResolution``) and nothing changes: no event in history, no row touched. An
accepted resolution is recorded by ``workitems.record_resolution`` before the Update returns.
Non-terminal actions (``assign``) are recorded and the wait goes on. When the SLA passes without a
resolution, ``workitems.escalate`` raises the item's escalation level, the ``Escalated`` search attribute
is set, and the next escalation comes one SLA later (at most :data:`MAX_ESCALATION_LEVEL`).

Rules: pass opaque ids and codes only (summary/context are visible to operators and in logs); return from
``run`` only after ``workflow.all_handlers_finished`` if Updates may still be running; do not
continue-as-new while an item is open (the open items live in this run's state). The activities run on the
workflow's task queue: every worker registers ``activities.workitems.WorkItemActivities``.

A workflow that needs the update under another class layout can hold a :class:`WorkItems` itself and
forward its own ``@workflow.update(name=RESOLVE_UPDATE)`` handler and validator to ``handle``/``validate``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ApplicationError

with workflow.unsafe.imports_passed_through():
    import flows.calls as calls  # by its full name: `from flows import calls` would re-run it in each sandbox
    from activities.contracts import workitems as contract
    from domain.errors import DomainError, InvalidResolution
    from domain.workitems import (
        RESOLVE_UPDATE,
        WORK_ITEMS_QUERY,
        Resolution,
        ResolveOutcome,
        ResolveRequest,
        is_terminal,
        queue_of,
        validate_resolution,
    )
    from flows.search_attributes import ESCALATED, WORK_QUEUE
    from flows.workitem_values import OpenItem, OpenWorkItemView, WorkItemRequest

MAX_ESCALATION_LEVEL = 3

STORE_ACTIVITY_TIMEOUT = timedelta(seconds=30)
STORE_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(seconds=30),
    non_retryable_error_types=["NotFound", "InvalidResolution"],
)


class WorkItems:
    """One per workflow instance: the open items, their resolutions and the Update logic."""

    def __init__(self) -> None:
        self._open: dict[str, OpenItem] = {}
        self._resolutions: dict[str, Resolution] = {}
        self._opened_per_reason: dict[str, int] = {}

    # --- the workflow's side -------------------------------------------------------------------------

    async def open_and_wait(self, request: WorkItemRequest) -> Resolution:
        """Open the item and return the person's terminal, validated resolution."""
        work_item_id = await self.open(request)
        return await self.wait(work_item_id, request.sla)

    async def open(self, request: WorkItemRequest) -> str:
        info = workflow.info()
        queue = queue_of(request.reason)
        count = self._opened_per_reason.get(request.reason, 0) + 1
        self._opened_per_reason[request.reason] = count
        dedupe_key = request.dedupe_key or f"{info.workflow_id}/{info.run_id}/{request.reason}/{request.key or count}"
        sla_due_at = workflow.now() + request.sla
        opened: contract.OpenedWorkItem = await calls.execute(
            contract.workitems_open,
            contract.OpenWorkItemInput(
                reason=str(request.reason),
                queue=str(queue),
                summary=request.summary,
                entity_type=request.entity_type,
                entity_id=request.entity_id,
                workflow_id=info.workflow_id,
                dedupe_key=dedupe_key,
                sla_due_at=sla_due_at,
                context=dict(request.context),
            ),
            start_to_close_timeout=STORE_ACTIVITY_TIMEOUT,
            retry_policy=STORE_RETRY,
            summary=f"open work item ({request.reason})",
        )
        work_item_id: str = opened.work_item_id
        self._open[work_item_id] = OpenItem(
            reason=str(request.reason),
            queue=str(queue),
            sla_due_at=sla_due_at,
            check=request.check,
            confirm=request.confirm,
        )
        self._refresh_visibility()
        return work_item_id

    async def wait(self, work_item_id: str, sla: timedelta, level: int = 0) -> Resolution:
        """Wait for the item's terminal resolution, escalating one level per SLA passed from ``level`` (an item
        opened already escalated, e.g. for a credential that has expired, starts above 0)."""
        while work_item_id not in self._resolutions:
            timeout = sla if level < MAX_ESCALATION_LEVEL else None
            try:
                await workflow.wait_condition(
                    lambda: work_item_id in self._resolutions,
                    timeout=timeout,
                    timeout_summary=f"SLA of work item {work_item_id}" if timeout else None,
                )
            except TimeoutError:
                level += 1
                await self._escalate(work_item_id, level)
        return self._resolutions.pop(work_item_id)

    async def escalate(self, work_item_id: str, level: int) -> None:
        """Raise an open item's escalation level now (the SLA timer's own escalations go on from there)."""
        await self._escalate(work_item_id, level)

    async def _escalate(self, work_item_id: str, level: int) -> None:
        recorded = await calls.execute(
            contract.workitems_escalate,
            contract.EscalateInput(work_item_id=work_item_id, level=level),
            start_to_close_timeout=STORE_ACTIVITY_TIMEOUT,
            retry_policy=STORE_RETRY,
            summary=f"escalate work item to level {level}",
        )
        item = self._open.get(work_item_id)
        if item is not None:
            item.escalation_level = recorded
        self._refresh_visibility()

    def withdrawn(self, work_item_id: str) -> None:
        """An item the workflow cancelled itself (something else answered first) is no longer open here: the
        ``work_items`` query, the search attributes and the ``resolve`` validator say so."""
        if self._open.pop(work_item_id, None) is not None:
            self._refresh_visibility()

    def views(self) -> list[OpenWorkItemView]:
        return [
            OpenWorkItemView(
                work_item_id=item_id,
                reason=item.reason,
                queue=item.queue,
                sla_due_at=item.sla_due_at,
                escalation_level=item.escalation_level,
                assignee=item.assignee,
            )
            for item_id, item in self._open.items()
        ]

    # --- the Update's side ---------------------------------------------------------------------------

    def validate(self, request: ResolveRequest) -> None:
        """Reject (raise) before anything is written to history; runs in the Update validator."""
        item = self._open.get(request.work_item_id)
        if item is None:
            raise ApplicationError(
                f"work item {request.work_item_id} is not open in this workflow",
                type="InvalidResolution",
                non_retryable=True,
            )
        if item.resolving:
            raise ApplicationError(
                f"work item {request.work_item_id} is already being resolved",
                type="InvalidResolution",
                non_retryable=True,
            )
        resolution = _resolution_of(request)
        try:
            validate_resolution(item.reason, resolution)
            if item.check is not None and resolution.terminal:
                item.check(resolution)
        except InvalidResolution as exc:
            raise ApplicationError(str(exc), type="InvalidResolution", non_retryable=True) from None
        except DomainError as exc:  # the process's rule refused it: the same message its activity would give
            raise ApplicationError(
                f"{resolution.action}: {exc.message}", type="InvalidResolution", non_retryable=True
            ) from None

    async def handle(self, request: ResolveRequest) -> ResolveOutcome:
        item = self._open.get(request.work_item_id)
        if item is None or item.resolving:  # a second Update accepted in the same activation
            raise ApplicationError(
                f"work item {request.work_item_id} is not open in this workflow",
                type="InvalidResolution",
                non_retryable=True,
            )
        resolution = _resolution_of(request)
        terminal = is_terminal(resolution.action)
        if terminal:
            item.resolving = True
        try:
            if terminal and item.confirm is not None:
                await _confirmed(item.confirm, resolution)
            await calls.execute(
                contract.workitems_record_resolution,
                contract.RecordResolutionInput(
                    work_item_id=request.work_item_id,
                    action=resolution.action,
                    by=resolution.by,
                    terminal=terminal,
                    fields=dict(resolution.fields),
                    note=resolution.note,
                ),
                start_to_close_timeout=STORE_ACTIVITY_TIMEOUT,
                retry_policy=STORE_RETRY,
                summary=f"record resolution {resolution.action}",
            )
        except BaseException:
            item.resolving = False
            raise
        if terminal:
            self._open.pop(request.work_item_id, None)  # withdrawn meanwhile (withdrawn()): gone already
            self._resolutions[request.work_item_id] = resolution
            self._refresh_visibility()
        else:
            item.assignee = resolution.fields.get("assignee", item.assignee)
        return ResolveOutcome(work_item_id=request.work_item_id, action=resolution.action, terminal=terminal)

    def _refresh_visibility(self) -> None:
        open_items = list(self._open.items())
        if open_items:
            item_id, latest = open_items[-1]
            workflow.upsert_search_attributes([WORK_QUEUE.value_set(latest.queue)])
            workflow.set_current_details(
                f"Waiting on work item {item_id}: {latest.reason} in queue {latest.queue}, "
                f"SLA due {latest.sla_due_at.isoformat(timespec='minutes')}"
            )
        else:
            workflow.upsert_search_attributes([WORK_QUEUE.value_set("")])
            workflow.set_current_details("")
        if any(item.escalation_level > 0 for _, item in open_items):
            workflow.upsert_search_attributes([ESCALATED.value_set(True)])
        else:
            workflow.upsert_search_attributes([ESCALATED.value_unset()])


async def _confirmed(confirm: Callable[[Resolution], Awaitable[object]], resolution: Resolution) -> None:
    """Run a request's ``confirm``; the rule's refusal fails the Update with its message."""
    try:
        await confirm(resolution)
    except InvalidResolution as exc:
        raise ApplicationError(str(exc), type="InvalidResolution", non_retryable=True) from None
    except DomainError as exc:
        raise ApplicationError(
            f"{resolution.action}: {exc.message}", type="InvalidResolution", non_retryable=True
        ) from None


def _resolution_of(request: ResolveRequest) -> Resolution:
    return Resolution(action=request.action, by=request.by, fields=dict(request.fields), note=request.note)


class WorkItemsMixin:
    """Gives a workflow class the ``resolve`` Update (with its validator) and the ``work_items`` query.

    The helper is created lazily, so the workflow's own ``__init__``/``@workflow.init`` stays free.
    """

    _work_items: WorkItems | None = None

    @property
    def work_items(self) -> WorkItems:
        if self._work_items is None:
            self._work_items = WorkItems()
        return self._work_items

    @workflow.update(name=RESOLVE_UPDATE)
    async def resolve(self, request: ResolveRequest) -> ResolveOutcome:
        return await self.work_items.handle(request)

    @resolve.validator
    def validate_resolve(self, request: ResolveRequest) -> None:
        self.work_items.validate(request)
        self.validate_own_resolution(request)

    def validate_own_resolution(self, request: ResolveRequest) -> None:
        """A workflow's own check of a resolution, beyond its reason's fields (e.g. that a reassigned provider is
        licensed): raise an ApplicationError of type ``InvalidResolution`` to refuse. Runs in the validator."""

    @workflow.query(name=WORK_ITEMS_QUERY)
    def open_work_items(self) -> list[OpenWorkItemView]:
        return self.work_items.views()


def __getattr__(name: str) -> Any:
    """StandaloneWorkItem has its own module now (flows.standalone_work_item); its names are still found here for
    the imports that named this module."""
    if name in ("StandaloneWorkItemInput", "StandaloneWorkItemResult", "StandaloneWorkItemWorkflow"):
        from flows import standalone_work_item

        return getattr(standalone_work_item, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "MAX_ESCALATION_LEVEL",
    "RESOLVE_UPDATE",
    "WORK_ITEMS_QUERY",
    "OpenWorkItemView",
    "ResolveOutcome",
    "ResolveRequest",
    "WorkItemRequest",
    "WorkItems",
    "WorkItemsMixin",
]
