"""What Visit and VirtualVisit share: the business clock, the pre-visit timeline, eligibility before the visit,
reminders, the no-show policy and the hand-over to the Encounter.

The timeline is recomputed from the appointment in the store each time it changes (a reschedule moves every timer;
a cancellation drops them). Deterministic code only: no clocks but ``workflow.now()``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime, timedelta

from temporalio import workflow
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.workflow import ParentClosePolicy

from flows.revenue._common import RevenueWorkflow, set_visibility
from flows.revenue.coverage import ask_payer

with workflow.unsafe.imports_passed_through():
    from activities.contracts import revenue as rc
    from activities.contracts import visits as c
    from domain.messages import REMINDER as REMINDER_TEMPLATE
    from domain.visits import (
        ELIGIBILITY,
        ELIGIBILITY_RECHECK,
        NO_SHOW,
        REMINDER,
        VisitStep,
        combined_eligibility,
        needs_recheck,
        pre_visit_steps,
    )
    from domain.workitems import Action, Reason
    from flows.revenue.names import ENCOUNTER_WORKFLOW, encounter_workflow_id

# How the pre-visit timeline ended.
CANCELLED = "cancelled"
NO_SHOW_REACHED = "no_show"
INTERRUPTED = "interrupted"


class VisitClock:
    """Business time: it equals workflow time at the start and runs ``86400 / day_seconds`` times as fast."""

    def __init__(self, policy: c.VisitPolicy) -> None:
        self._policy = policy
        self._origin = workflow.now()

    def now(self) -> datetime:
        return self._origin + self._policy.business(workflow.now() - self._origin)

    def real_until(self, at: datetime) -> timedelta:
        return max(timedelta(0), self._policy.real(at - self.now()))


class PreVisitWorkflow(RevenueWorkflow):
    """Base of Visit and VirtualVisit. Subclasses say which template a reminder uses and how long the no-show
    grace is; they call :meth:`pre_visit` and the hand-over helpers from their ``run``."""

    reminder_template = REMINDER_TEMPLATE

    def __init__(self) -> None:
        super().__init__()
        self._schedule: c.VisitSchedule | None = None
        self._changed = False
        self._cancelled = False
        self._over = False  # settled: a background eligibility item is withdrawn
        self._done: set[str] = set()
        self._eligibility: str | None = None
        self._eligibility_task: asyncio.Task[None] | None = None
        self._reminders_sent = 0
        self._clock: VisitClock | None = None
        self._planned_at: datetime | None = None
        self._policy = c.VisitPolicy()

    # --- signals from intake -------------------------------------------------------------------------------

    @workflow.signal(name=c.CHANGED_SIGNAL)
    def appointment_changed(self) -> None:
        self._changed = True

    @workflow.signal(name=c.CANCELLED_SIGNAL)
    def appointment_cancelled(self) -> None:
        self._cancelled = True

    # --- helpers -------------------------------------------------------------------------------------------

    @property
    def clock(self) -> VisitClock:
        assert self._clock is not None
        return self._clock

    @property
    def schedule(self) -> c.VisitSchedule:
        assert self._schedule is not None
        return self._schedule

    def begin(self, data: c.VisitInput) -> None:
        self._policy = data.policy
        self._clock = VisitClock(data.policy)
        self._planned_at = self._clock.now()
        set_visibility(entity_type="appointment", entity_id=data.appointment_id)

    async def load(self, appointment_id: str) -> c.VisitSchedule:
        self._schedule = await self.run_activity(c.visits_load, c.AppointmentRef(appointment_id))
        return self._schedule

    def _key(self, step: VisitStep) -> str:
        if step.kind == ELIGIBILITY:
            return ELIGIBILITY
        return f"{step.kind}:{step.detail}:{self.schedule.starts_at.isoformat()}"

    async def pre_visit(self, grace_minutes: int, interrupt: Callable[[], bool]) -> str:
        """Run the timeline until the no-show time, a cancellation, or ``interrupt()`` (the patient arrived)."""
        policy = self._policy
        while True:
            if self._cancelled or self.schedule.status == "cancelled":
                return CANCELLED
            if self._changed:
                self._changed = False
                await self.load(self.schedule.appointment_id)
                self._planned_at = self.clock.now()
                await self.on_rescheduled()
                continue
            if interrupt():
                return INTERRUPTED
            # Planned from when the schedule was (re)read: a step that comes due while another runs is late, not lost.
            steps = pre_visit_steps(
                self.schedule.starts_at,
                self._planned_at or self.clock.now(),
                eligibility_days_before=policy.eligibility_days_before,
                reminder_hours=policy.reminder_hours,
                no_show_grace_minutes=grace_minutes,
            )
            step = next(s for s in steps if self._key(s) not in self._done)
            try:
                await workflow.wait_condition(
                    lambda: self._cancelled or self._changed or interrupt(),
                    timeout=self.clock.real_until(step.at),
                    timeout_summary=f"visit step {step.kind}",
                )
                continue  # something happened first: look again
            except TimeoutError:
                pass
            self._done.add(self._key(step))
            if step.kind == NO_SHOW:
                return NO_SHOW_REACHED
            await self.run_step(step)

    async def on_rescheduled(self) -> None:
        """A subclass hook: the appointment moved (VirtualVisit moves its room and re-sends the invite)."""

    async def run_step(self, step: VisitStep) -> None:
        if step.kind in (ELIGIBILITY, ELIGIBILITY_RECHECK):
            await self.check_eligibility(recheck=step.kind == ELIGIBILITY_RECHECK)
        elif step.kind == REMINDER:
            await self.remind(f"{self.reminder_template}-{step.detail}h")

    async def remind(self, label: str) -> None:
        schedule = self.schedule
        outcome = await self.run_activity(
            c.messaging_send,
            c.PatientMessage(
                schedule.appointment_id,
                self.reminder_template,
                f"{label}:{schedule.appointment_id}:{schedule.starts_at.isoformat()}",
            ),
        )
        if outcome.sent:
            self._reminders_sent += 1

    # --- eligibility before the visit ---------------------------------------------------------------------

    async def check_eligibility(self, *, recheck: bool) -> None:
        appointment_id = self.schedule.appointment_id
        coverage = await self.run_activity(c.visits_coverage, c.AppointmentRef(appointment_id))
        if recheck and not needs_recheck(self._eligibility or coverage.last_status, coverage.changed):
            return
        if self._eligibility_task is not None and not self._eligibility_task.done():
            return  # a person is on it already
        answers = [
            await ask_payer(
                self, self._policy.revenue, coverage_id, self._policy.portal_task_queue, refusal_is_answer=True
            )
            for coverage_id in coverage.coverage_ids
        ]
        await self._settle([a for a in answers if a.status == "active"], "payer")
        status = combined_eligibility([a.status for a in answers])
        await self._record(status, {a.coverage_id: a.status for a in answers})
        problem = next((a for a in answers if a.status != "active"), None)
        if problem is not None:
            self._eligibility_task = asyncio.create_task(self._eligibility_item(problem))

    async def _settle(self, answers: list[rc.EligibilityAnswer], decided_by: str, status: str = "active") -> None:
        for answer in answers:
            await self.run_activity(
                rc.eligibility_record,
                rc.EligibilityRecord(answer.coverage_id, status, decided_by, answer.route),
            )

    async def _record(self, status: str, statuses: dict[str, str]) -> None:
        self._eligibility = status
        await self.run_activity(
            c.visits_record_eligibility,
            c.VisitEligibility(self.schedule.appointment_id, status, statuses),
        )

    async def _eligibility_item(self, answer: rc.EligibilityAnswer) -> None:
        """An eligibility problem found before the visit: a person decides while the visit goes on."""
        policy = self._policy.revenue
        while True:
            reason = answer.status if answer.reject_reason is None else f"{answer.status}:{answer.reject_reason}"
            resolution = await self.ask(
                policy,
                reason=Reason.ELIGIBILITY_INACTIVE if answer.status == "inactive" else Reason.ELIGIBILITY_INCONCLUSIVE,
                summary=f"visit {self.schedule.appointment_id}: payer {answer.payer_id or '?'} answered {reason}",
                entity_type="coverage",
                entity_id=answer.coverage_id,
                context={"appointment_id": self.schedule.appointment_id, "answer": reason, "route": answer.route},
                until=lambda: self._over,
            )
            if resolution is None:
                return
            if resolution.action in (Action.RETRY_NOW, Action.UPDATE_COVERAGE):
                if resolution.action == Action.UPDATE_COVERAGE:
                    await self.run_activity(
                        rc.eligibility_update_coverage,
                        rc.CoverageUpdate(answer.coverage_id, dict(resolution.fields), resolution.by),
                    )
                answer = await ask_payer(
                    self, policy, answer.coverage_id, self._policy.portal_task_queue, refusal_is_answer=True
                )
                if answer.status != "active":
                    continue
                await self._settle([answer], "payer")
                await self._record("active", {answer.coverage_id: "active"})
                return
            status = "active" if resolution.action == Action.CONFIRM_ELIGIBILITY else "inactive"
            await self._settle([answer], resolution.by, status)
            await self._record(status, {answer.coverage_id: status})
            return

    # --- after the visit ---------------------------------------------------------------------------------

    async def apply_no_show(self) -> c.NoShowResult:
        """The practice's no-show policy: the appointment marked, the fee (if any) on the guarantor's ledger."""
        return await self.run_activity(
            c.visits_no_show,
            c.NoShow(self.schedule.appointment_id, self._policy.no_show_fee_cents, _actor()),
        )

    async def no_show_item(self, fee_cents: int, until: Callable[[], bool]) -> None:
        await self.ask(
            self._policy.revenue,
            reason=Reason.VISIT_NO_SHOW,
            summary=f"no-show: appointment {self.schedule.appointment_id}"
            + (f", fee {fee_cents} cents billed" if fee_cents else ""),
            entity_type="appointment",
            entity_id=self.schedule.appointment_id,
            context={"appointment_id": self.schedule.appointment_id, "fee_cents": str(fee_cents)},
            until=until,
        )

    async def hand_over(self) -> str | None:
        """Start the fulfilled visit's Encounter (which goes on to its Claim); it outlives this workflow."""
        if not self._policy.bill_encounter:
            return None
        appointment_id = self.schedule.appointment_id
        workflow_id = encounter_workflow_id(appointment_id)
        try:
            await workflow.start_child_workflow(
                ENCOUNTER_WORKFLOW,  # by name: abandoned, its result is not ours; its module is not re-run here
                rc.EncounterInput(appointment_id, self._policy.revenue),
                id=workflow_id,
                parent_close_policy=ParentClosePolicy.ABANDON,
            )
        except WorkflowAlreadyStartedError:
            pass  # started before (e.g. by the patient's registration journey): one encounter per appointment
        return workflow_id

    async def settle(self) -> None:
        """Nothing more will happen to this visit: a waiting eligibility item is withdrawn, handlers finish."""
        self._over = True
        if self._eligibility_task is not None:
            await self._eligibility_task
        await workflow.wait_condition(workflow.all_handlers_finished)


def _actor() -> str:
    return f"workflow:{workflow.info().workflow_id}"
