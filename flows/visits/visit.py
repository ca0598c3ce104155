"""Visit: one in-person appointment from booking to the encounter (``visit-<appointment id>``).

Before the visit: eligibility (270/271) N days before and again the day before when the answer was unknown or the
coverage changed (a problem opens an eligibility item while the visit goes on), reminders 72 h and 24 h before.
A reschedule moves every timer, a cancellation drops them. The front desk's ``arrive`` and ``close`` Updates move
the appointment (validated against the legal moves of domain.visits); no arrival by the grace period applies the
no-show policy (the appointment marked, the fee on the ledger, an item for the front desk). Closing hands the
visit over to the Encounter, and so to the Claim.
"""

from __future__ import annotations

from temporalio import workflow
from temporalio.exceptions import ApplicationError

from flows.revenue._common import DomainFailure, set_visibility
from flows.visits._previsit import CANCELLED, NO_SHOW_REACHED, PreVisitWorkflow

with workflow.unsafe.imports_passed_through():
    from activities.contracts import visits as c
    from domain.visits import can_move


@workflow.defn(name="Visit")
class VisitWorkflow(PreVisitWorkflow):
    def __init__(self) -> None:
        super().__init__()
        self._status = "booked"
        self._arrived = False
        self._closed = False

    @workflow.query(name=c.STATE_QUERY)
    def state(self) -> dict[str, object]:
        schedule = self._schedule
        return {
            "status": self._status,
            "stage": self._stage,
            "starts_at": schedule.starts_at.isoformat() if schedule else None,
            "eligibility": self._eligibility,
            "reminders_sent": self._reminders_sent,
        }

    # --- the front desk ----------------------------------------------------------------------------------

    @workflow.update(name=c.ARRIVE_UPDATE)
    async def arrive(self, request: c.ActorRequest) -> str:
        return await self._move("arrived", request.by)

    @arrive.validator
    def validate_arrive(self, request: c.ActorRequest) -> None:
        self._check_move("arrived", request.by)

    @workflow.update(name=c.CLOSE_UPDATE)
    async def close(self, request: c.ActorRequest) -> str:
        return await self._move("fulfilled", request.by)

    @close.validator
    def validate_close(self, request: c.ActorRequest) -> None:
        self._check_move("fulfilled", request.by)

    def _check_move(self, target: str, by: str) -> None:
        if not by.strip():
            raise ApplicationError("say who does it (by)", type="InvalidRequest", non_retryable=True)
        if self._schedule is None or self._over or not can_move(self._status, target):
            raise ApplicationError(
                f"the visit is {self._status}; it cannot become {target}", type="IllegalTransition", non_retryable=True
            )

    async def _move(self, target: str, by: str) -> str:
        try:
            schedule = await self.run_activity(
                c.visits_set_status, c.StatusChange(self.schedule.appointment_id, target, by)
            )
        except DomainFailure as failure:
            # The store refused the move (it has moved on: the EHR's arrival and check-out raced this Update):
            # the Update fails with the store's reason; the workflow task does not (it was retried for ever).
            raise ApplicationError(failure.message, type=failure.code, non_retryable=True) from None
        self._schedule = schedule
        self._status = schedule.status
        self._arrived = self._arrived or target == "arrived"
        self._closed = self._closed or target == "fulfilled"
        return self._status

    # --- the process -------------------------------------------------------------------------------------

    @workflow.run
    async def run(self, data: c.VisitInput) -> c.VisitResult:
        self.begin(data)
        schedule = await self.load(data.appointment_id)
        self._status = schedule.status
        result = await self._run(data)
        await self.settle()
        set_visibility(stage=f"visit_{result.outcome}")
        return result

    async def _run(self, data: c.VisitInput) -> c.VisitResult:
        appointment_id = data.appointment_id
        self._stage = "before_visit"
        set_visibility(stage="visit_booked")
        outcome = await self.pre_visit(data.policy.no_show_grace_minutes, lambda: self._arrived)
        if outcome == CANCELLED:
            return await self._cancelled_result()
        if outcome == NO_SHOW_REACHED and not self._arrived:
            no_show = await self.apply_no_show()
            if no_show.marked:
                self._status = "noshow"
                self._stage = "no_show"
                set_visibility(stage="visit_noshow")
                await self.no_show_item(no_show.fee_cents, lambda: self._arrived or self._cancelled)
                if not self._arrived:
                    return self._result("noshow")
            else:  # the store had moved on (arrived or cancelled before the no-show time was reached)
                schedule = await self.load(appointment_id)
                self._status = schedule.status
                if schedule.status == "cancelled":
                    return await self._cancelled_result()
                self._arrived = self._arrived or schedule.status in ("arrived", "fulfilled")
        self._stage = "arrived"
        set_visibility(stage="visit_arrived")
        await workflow.wait_condition(lambda: self._closed or self._cancelled or self._status == "fulfilled")
        if not (self._closed or self._status == "fulfilled"):
            return await self._cancelled_result()
        self._stage = "fulfilled"
        encounter = await self.hand_over()
        return self._result("fulfilled", encounter)

    async def _cancelled_result(self) -> c.VisitResult:
        self._stage = "cancelled"
        self._status = "cancelled"
        schedule = self.schedule
        await self.run_activity(
            c.messaging_send,
            c.PatientMessage(schedule.appointment_id, "cancellation", f"cancellation:{schedule.appointment_id}"),
        )
        return self._result("cancelled")

    def _result(self, outcome: str, encounter: str | None = None) -> c.VisitResult:
        return c.VisitResult(
            self.schedule.appointment_id,
            outcome,
            encounter_workflow_id=encounter,
            reminders_sent=self._reminders_sent,
            eligibility=self._eligibility,
        )
