"""The loop StaffCredentialing and TrainingRenewal share: things with a due date, a work item before it.

Each *subject* (a credential, a training requirement) has a due date (its expiry, the training's renewal
date). The workflow reads the subjects through an activity, sleeps on a durable timer until the earliest of:
a subject's lead time before its due date (then it opens the subject's work item and waits for a person,
with SLA escalation, in a task of its own), a subject's due date (then ``_at_due`` runs: a credential
lapses), or the periodic re-read; a signal wakes it at once. A resolved item marks the subject's due date as
handled, so a later due date (a renewal) starts the next cycle and the same one never asks twice.

Work item dedupe keys are business keys (subject and due date), not run ids, so an item the batch sweep
opened for the same credential and expiry is adopted, and a continued run finds the items of its
predecessor. The run continues-as-new after ``reads_per_run`` reads when no item is open.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from activities.contracts.staff import (
        BusinessClock,
        StaffPolicy,
        StaffTrackingInput,
        StaffTrackingResult,
    )
    from domain.errors import InvalidResolution
    from domain.workitems import (
        RESOLVE_UPDATE,
        WORK_ITEMS_QUERY,
        Resolution,
        ResolveOutcome,
        ResolveRequest,
    )
    from flows.search_attributes import ENTITY_ID, ENTITY_TYPE, STAGE
    from flows.workitems import OpenWorkItemView, WorkItemRequest, WorkItems

STORE_TIMEOUT = timedelta(seconds=30)
STORE_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(minutes=1),
    non_retryable_error_types=["NotFound", "InvalidResolution"],
)


@dataclass(frozen=True)
class Subject:
    """One tracked thing as the loop sees it."""

    subject_id: str
    due_on: date
    item_open: bool = False  # an item for this due date already exists: adopt it now, whatever the lead
    item_done: bool = False  # the item for this due date was resolved before (by an earlier workflow)
    past_due_done: bool = True  # False: ``_at_due`` still has to run when the due date passes


@dataclass(frozen=True)
class Snapshot:
    active: bool
    subjects: list[Subject]


class StaffTracking:
    """Base of the staff workflows: subclasses say what a subject is and what a resolution does."""

    stage = ""
    lead_days_field = ""

    def __init__(self) -> None:
        self._work_items = WorkItems()
        self._handled: dict[str, str] = {}
        self._working: dict[str, Subject] = {}  # subject id -> subject whose item is open
        self._item_subject: dict[str, Subject] = {}  # work item id -> subject
        self._changed = False
        self._resolved = 0
        self._staff_id = ""
        self._policy = StaffPolicy()
        self._clock: BusinessClock | None = None
        self._tasks: list[asyncio.Task[None]] = []

    # --- what a subclass provides -----------------------------------------------------------------------

    async def _read(self) -> Snapshot:
        raise NotImplementedError

    def _lead_days(self) -> int:
        raise NotImplementedError

    def _lead_days_for(self, subject: Subject) -> int:
        """How long before its due date a subject's item opens (by default the same for every subject)."""
        return self._lead_days()

    def _sla(self, subject: Subject) -> timedelta:
        return self._policy.days(self._policy.work_item_sla_days)

    def _opening_level(self, subject: Subject) -> int:
        """The escalation level an item opens at (above 0: already late, e.g. an expired credential)."""
        return 0

    def _item_request(self, subject: Subject) -> WorkItemRequest:
        raise NotImplementedError

    def _check(self, subject: Subject, resolution: Resolution) -> None:
        """Raise InvalidResolution when the resolution does not fit the subject's facts (runs in the validator)."""

    async def _apply(self, subject: Subject, resolution: Resolution, work_item_id: str) -> None:
        """Record what the person's terminal resolution says."""

    async def _at_due(self, subject: Subject) -> None:
        """The due date passed with no renewal."""

    # --- the loop -----------------------------------------------------------------------------------------

    @property
    def clock(self) -> BusinessClock:
        assert self._clock is not None
        return self._clock

    def today(self) -> date:
        return self.clock.today(workflow.now())

    async def _track(self, job: StaffTrackingInput) -> StaffTrackingResult:
        self._staff_id, self._policy = job.staff_id, job.policy
        now = workflow.now()
        self._clock = job.clock or BusinessClock(
            origin_at=now, origin_day=now.date().isoformat(), day_seconds=job.policy.day_seconds
        )
        self._handled = dict(job.handled)
        workflow.upsert_search_attributes(
            [STAGE.value_set(self.stage), ENTITY_TYPE.value_set("staff"), ENTITY_ID.value_set(job.staff_id)]
        )
        reads = 0
        while True:
            self._changed = False
            snapshot = await self._read()
            reads += 1
            now = workflow.now()
            wake = [now + self._policy.days(self._policy.reread_days)]
            if snapshot.active:
                for subject in snapshot.subjects:
                    wake.extend(await self._consider(subject, now))
            elif not self._working:
                await workflow.wait_condition(workflow.all_handlers_finished)
                return StaffTrackingResult(
                    staff_id=job.staff_id, items_resolved=self._resolved, ended_because="staff_inactive"
                )
            if not self._working and (
                reads >= self._policy.reads_per_run or workflow.info().is_continue_as_new_suggested()
            ):
                await workflow.wait_condition(workflow.all_handlers_finished)
                present = {s.subject_id for s in snapshot.subjects}
                workflow.continue_as_new(
                    StaffTrackingInput(
                        staff_id=job.staff_id,
                        policy=job.policy,
                        clock=self._clock,
                        handled={k: v for k, v in self._handled.items() if k in present},
                    )
                )
            until = min(wake)
            try:
                await workflow.wait_condition(
                    lambda: self._changed,
                    timeout=max(until - now, timedelta(seconds=1)),
                    timeout_summary=f"next {self.stage} check",
                )
            except TimeoutError:
                pass

    async def _consider(self, subject: Subject, now: datetime) -> list[datetime]:
        """Open the subject's item or lapse it if its time came; return when to look at it next."""
        wake: list[datetime] = []
        if subject.item_done:
            self._handled[subject.subject_id] = subject.due_on.isoformat()
        if (
            subject.subject_id not in self._working
            and self._handled.get(subject.subject_id) != subject.due_on.isoformat()
        ):
            opens_at = self.clock.at(subject.due_on - timedelta(days=self._lead_days_for(subject)))
            if subject.item_open or now >= opens_at:
                self._start_work(subject)
            else:
                wake.append(opens_at)
        if not subject.past_due_done:
            due_at = self.clock.at(subject.due_on)
            if now >= due_at:
                await self._at_due(subject)
            else:
                wake.append(due_at)
        return wake

    def _start_work(self, subject: Subject) -> None:
        self._working[subject.subject_id] = subject
        # Hold a reference to each running task (the event loop keeps only weak ones); drop finished ones.
        self._tasks = [task for task in self._tasks if not task.done()]
        self._tasks.append(asyncio.create_task(self._work(subject)))

    async def _work(self, subject: Subject) -> None:
        work_item_id = await self._work_items.open(self._item_request(subject))
        self._item_subject[work_item_id] = subject
        level = self._opening_level(subject)
        if level:
            await self._work_items.escalate(work_item_id, level)
        resolution = await self._work_items.wait(work_item_id, self._sla(subject), level)
        try:
            await self._apply(subject, resolution, work_item_id)
        except ActivityError as exc:
            # A final refusal (e.g. the credential was deleted meanwhile): the item is resolved; the next read
            # shows what is left to track.
            workflow.logger.warning(
                "recording the resolution failed", extra={"work_item_id": work_item_id, "error": str(exc.cause)}
            )
        self._handled[subject.subject_id] = subject.due_on.isoformat()
        del self._item_subject[work_item_id]
        del self._working[subject.subject_id]
        self._resolved += 1
        self._changed = True

    # --- the Update and the query ---------------------------------------------------------------------------

    @workflow.update(name=RESOLVE_UPDATE)
    async def resolve(self, request: ResolveRequest) -> ResolveOutcome:
        return await self._work_items.handle(request)

    @resolve.validator
    def validate_resolve(self, request: ResolveRequest) -> None:
        self._work_items.validate(request)
        subject = self._item_subject.get(request.work_item_id)
        if subject is None:
            return
        try:
            self._check(subject, request.resolution())
        except InvalidResolution as exc:
            raise ApplicationError(str(exc), type="InvalidResolution", non_retryable=True) from None

    @workflow.query(name=WORK_ITEMS_QUERY)
    def open_work_items(self) -> list[OpenWorkItemView]:
        return self._work_items.views()


__all__ = ["STORE_RETRY", "STORE_TIMEOUT", "Snapshot", "StaffTracking", "Subject"]
