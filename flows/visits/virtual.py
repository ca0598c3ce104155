"""VirtualVisit: the telehealth coordinator's process for one virtual appointment (``virtual-visit-<appointment id>``).

Licensure first: the provider must hold an active license in the patient's state on the visit date, or the visit
is blocked with a ``provider_not_licensed`` item until the coordinator reassigns a licensed provider (the
``reassign`` Update, or the item's ``reassign_provider`` resolution; both validated with the same rule the
activity applies). Then the vendor's room, the invite with the join link through the outbox, the pre-visit
timeline (eligibility, reminders with the link), consent and check-in (patient's location and state), the
waiting room (the vendor's webhooks: participant joined/left, meeting ended), the provider joining, a fallback to
audio only (an Update; recorded as an event), and the end: the encounter gets POS 10 (home) or 02, modifier 95
(video) or 93 (audio only) and the duration, then goes on to its claim. No patient in the room N minutes after the
start is a no-show. A cancelled or failed visit deletes the room, which revokes its tokens.
"""

from __future__ import annotations

import asyncio
from datetime import date, datetime, timedelta

from temporalio import workflow
from temporalio.exceptions import ActivityError, ApplicationError, ChildWorkflowError

from flows.revenue._common import DomainFailure, set_visibility
from flows.visits._previsit import CANCELLED, NO_SHOW_REACHED, PreVisitWorkflow
from flows.visits._telehealth import VENDOR, Participants, VisitState

with workflow.unsafe.imports_passed_through():
    from activities.contracts import visits as c
    from activities.contracts import workitems as wc
    from domain.errors import ValidationError
    from domain.licensure import License
    from domain.messages import TELEHEALTH_INVITE
    from domain.visits import (
        check_consent_method,
        check_patient_location,
        check_state,
        licensure_problem,
        telehealth_modifier,
        telehealth_place_of_service,
    )
    from domain.workitems import Action, Reason, ResolveRequest
    from flows.workitems import WorkItemRequest

ENDED_STATES = ("done", "no_show", "cancelled", "failed")
UNBLOCKED_BEFORE_THE_ROOM = "virtual-visit-unblocked-before-the-room"


@workflow.defn(name="VirtualVisit")
class VirtualVisitWorkflow(PreVisitWorkflow):
    reminder_template = TELEHEALTH_INVITE

    def __init__(self) -> None:
        super().__init__()
        self._state = VisitState()
        self._people = Participants()
        self._plan: c.VirtualVisitPlan | None = None
        self._room_open = False
        self._invites = 0
        self._reassigned_to: str | None = None
        self._reassigned_by: str | None = None
        self._block_item: str | None = None

    @workflow.query(name=c.STATE_QUERY)
    def state(self) -> dict[str, object]:
        plan, schedule = self._plan, self._schedule
        return {
            **self._state.view(),
            **self._people.view(),
            "starts_at": schedule.starts_at.isoformat() if schedule else None,
            "provider_id": plan.provider_id if plan else None,
            "patient_state": plan.patient_state if plan else None,
            "problem": plan.problem if plan else None,
            "invites_sent": self._invites,
            "reminders_sent": self._reminders_sent,
            "eligibility": self._eligibility,
            "reassigned_to": self._reassigned_to,
            "work_item_id": self._block_item,
        }

    # --- Updates from the coordinator, the provider and the patient's check-in ---------------------------

    @workflow.update(name=c.CONSENT_UPDATE)
    async def consent(self, request: c.ConsentRequest) -> str:
        await self.run_activity(
            c.telehealth_consent,
            c.ConsentRecord(
                self.schedule.appointment_id, request.method, request.patient_state.upper(), workflow.now(), request.by
            ),
        )
        self._state.consented = True
        if self._state.name in ("started", "invited"):
            await self._set_state("consented", request.by)
        return self._state.name

    @consent.validator
    def validate_consent(self, request: c.ConsentRequest) -> None:
        self._open_for("consent", request.by)
        _refuse_invalid(lambda: (check_consent_method(request.method), check_state(request.patient_state)))

    @workflow.update(name=c.CHECK_IN_UPDATE)
    async def check_in(self, request: c.CheckInRequest) -> str:
        plan = await self.run_activity(
            c.telehealth_check_in,
            c.CheckInRecord(
                self.schedule.appointment_id,
                request.patient_location,
                request.patient_state.upper(),
                workflow.now(),
                request.by,
            ),
        )
        self._plan = plan
        self._state.patient_location = request.patient_location
        self._state.checked_in = True
        if plan.problem is None and self._state.name in ("started", "invited", "consented"):
            await self._set_state("checked_in", request.by)
        return self._state.name

    @check_in.validator
    def validate_check_in(self, request: c.CheckInRequest) -> None:
        self._open_for("check-in", request.by)
        if not (self._state.consented or (self._plan is not None and self._plan.consent_on_file)):
            raise ApplicationError(
                "record the patient's telehealth consent first", type="InvalidRequest", non_retryable=True
            )
        _refuse_invalid(lambda: (check_patient_location(request.patient_location), check_state(request.patient_state)))

    @workflow.update(name=c.AUDIO_FALLBACK_UPDATE)
    async def audio_fallback(self, request: c.ActorRequest) -> str:
        now = workflow.now()
        self._people.audio_only = True
        self._people.showed = True
        if self._people.started_at is None:
            self._people.started_at = now
        await self._event("audio_fallback", "in_progress", request.by, now)
        self._state.name = "in_progress"
        return self._state.name

    @audio_fallback.validator
    def validate_audio_fallback(self, request: c.ActorRequest) -> None:
        self._open_for("audio fallback", request.by)
        if self._people.audio_only:
            raise ApplicationError("the visit is audio only already", type="InvalidRequest", non_retryable=True)
        if self._state.name in ("blocked", "invited"):
            raise ApplicationError(
                f"the visit is {self._state.name}: check the patient in first",
                type="InvalidRequest",
                non_retryable=True,
            )

    @workflow.update(name=c.END_UPDATE)
    async def end(self, request: c.ActorRequest) -> str:
        self._people.ended_at = workflow.now()
        self._people.ended_by = request.by
        return "ending"

    @end.validator
    def validate_end(self, request: c.ActorRequest) -> None:
        self._open_for("end", request.by)
        if self._people.started_at is None:
            raise ApplicationError("the visit has not started", type="InvalidRequest", non_retryable=True)

    @workflow.update(name=c.RESEND_INVITE_UPDATE)
    async def resend_invite(self, request: c.ActorRequest) -> int:
        await self._invite()
        return self._invites

    @resend_invite.validator
    def validate_resend_invite(self, request: c.ActorRequest) -> None:
        self._open_for("resend the invite", request.by)
        if not self._room_open:
            raise ApplicationError("the visit has no room yet (blocked?)", type="InvalidRequest", non_retryable=True)

    @workflow.update(name=c.REASSIGN_UPDATE)
    async def reassign(self, request: c.ReassignRequest) -> str:
        await self._reassign(request.provider_id, request.by)
        self._reassigned_by = request.by
        return request.provider_id

    @reassign.validator
    def validate_reassign(self, request: c.ReassignRequest) -> None:
        self._open_for("reassign", request.by)
        self._check_reassignment(request.provider_id)

    def validate_own_resolution(self, request: ResolveRequest) -> None:
        if request.action == Action.REASSIGN_PROVIDER:
            self._check_reassignment(request.fields.get("provider_id", ""))

    @workflow.signal(name=c.VENDOR_EVENT_SIGNAL)
    async def vendor_event(self, event: c.VendorEvent) -> None:
        await workflow.wait_condition(lambda: self._schedule is not None)
        happened = self._people.apply(event)
        if happened is not None:
            self._state.name = self._people.live_state(self._state.name, self._state.base())
            await self._event(happened, self._state.name, "vendor", event.at)

    def _open_for(self, what: str, by: str) -> None:
        if not by.strip():
            raise ApplicationError("say who does it (by)", type="InvalidRequest", non_retryable=True)
        if self._schedule is None or self._state.name in ENDED_STATES or self._people.ended_at is not None:
            raise ApplicationError(
                f"the visit is {self._state.name}: no {what} now", type="IllegalTransition", non_retryable=True
            )

    def _check_reassignment(self, provider_id: str) -> None:
        """The reassignment's validator: the same licensure rule the activity applies, on the licenses the
        workflow read with its plan (the activity checks again on the store's current rows)."""
        plan = self._plan
        if plan is None or self._people.started_at is not None:
            raise ApplicationError("the visit cannot be reassigned now", type="InvalidResolution", non_retryable=True)
        if provider_id == plan.provider_id:
            raise ApplicationError(
                f"provider {provider_id} has the visit already", type="InvalidResolution", non_retryable=True
            )
        option = next((o for o in plan.candidates if o.provider_id == provider_id), None)
        if option is None:
            raise ApplicationError(f"unknown provider {provider_id}", type="InvalidResolution", non_retryable=True)
        licenses = [
            License(
                v.state,
                v.status,
                date.fromisoformat(v.issued_on),
                date.fromisoformat(v.expires_on) if v.expires_on else None,
            )
            for v in option.licenses
        ]
        problem = licensure_problem(provider_id, licenses, plan.patient_state, date.fromisoformat(plan.visit_day))
        if problem is not None:
            raise ApplicationError(problem, type="InvalidResolution", non_retryable=True)
        if not option.free:
            raise ApplicationError(
                f"provider {provider_id} is booked at that time", type="InvalidResolution", non_retryable=True
            )

    async def _reassign(self, provider_id: str, by: str) -> None:
        assert self._plan is not None
        self._plan = await self.run_activity(
            c.telehealth_reassign,
            c.Reassignment(self.schedule.appointment_id, provider_id, self._plan.patient_state, by),
        )
        self._reassigned_to = provider_id

    # --- the process -------------------------------------------------------------------------------------

    @workflow.run
    async def run(self, data: c.VisitInput) -> c.VirtualVisitResult:
        self.begin(data)
        schedule = await self.load(data.appointment_id)
        try:
            result = await self._run(data) if schedule.status != "cancelled" else await self._cancel()
        except (ActivityError, ChildWorkflowError, DomainFailure) as failure:
            result = await self._fail(failure)
        await self.settle()
        set_visibility(stage=f"telehealth_{result.outcome}")
        return result

    async def _run(self, data: c.VisitInput) -> c.VirtualVisitResult:
        appointment_id = data.appointment_id
        set_visibility(stage="telehealth_invited")
        self._plan = await self.run_activity(c.telehealth_prepare, c.AppointmentRef(appointment_id))
        while True:
            if self._plan.problem is not None and self._people.started_at is None:
                if not await self._blocked():
                    return await self._cancel()
                continue
            if not self._room_open:
                await self._open_room()
                await self._invite()
                await self._set_state(self._state.base(), "workflow")  # invited, or consented/checked in already
            outcome = await self.pre_visit(
                data.policy.virtual_no_show_minutes,
                lambda: self._people.showed or (self._plan is not None and self._plan.problem is not None),
            )
            if outcome == CANCELLED:
                return await self._cancel()
            if self._plan.problem is not None and not self._people.showed:
                continue  # checked in from a state the provider is not licensed in: blocked
            if outcome == NO_SHOW_REACHED and not self._people.showed:
                return await self._no_show()
            break
        await workflow.wait_condition(
            lambda: self._cancelled or (self._people.started_at is not None and self._people.ended_at is not None)
        )
        if self._people.ended_at is None:
            return await self._cancel()
        return await self._finish()

    async def on_rescheduled(self) -> None:
        if self._room_open:
            await self._open_room()  # the room's expiry follows the new time
            await self._invite()

    async def _open_room(self) -> None:
        schedule = self.schedule
        expires = schedule.starts_at + timedelta(minutes=schedule.duration_minutes) + timedelta(hours=12)
        await self.run_activity(c.telehealth_open_room, c.RoomRequest(schedule.appointment_id, expires), VENDOR)
        self._room_open = True

    async def _invite(self) -> None:
        self._invites += 1
        schedule = self.schedule
        await self.run_activity(
            c.messaging_send,
            c.PatientMessage(
                schedule.appointment_id,
                "telehealth_invite",
                f"invite-{self._invites}:{schedule.appointment_id}:{schedule.starts_at.isoformat()}",
            ),
        )
        await self._event("invite_sent", self._state.name, "workflow", workflow.now(), str(self._invites))

    async def _blocked(self) -> bool:
        """Wait for a licensed provider (reassignment) or a fixed license; False when the visit was cancelled."""
        plan = self._plan
        assert plan is not None
        await self._set_state("blocked", "workflow", "not_licensed")
        set_visibility(stage="telehealth_blocked")
        request = WorkItemRequest(
            reason=Reason.PROVIDER_NOT_LICENSED,
            entity_type="appointment",
            entity_id=plan.appointment_id,
            summary=(plan.problem or "provider not licensed")[:200],
            sla=self._policy.revenue.days(1),
            context={"provider_id": plan.provider_id, "patient_state": plan.patient_state, "visit_day": plan.visit_day},
        )
        item_id = await self.work_items.open(request)
        self._block_item = item_id
        waiting = asyncio.ensure_future(self.work_items.wait(item_id, request.sla))
        await workflow.wait_condition(
            lambda: waiting.done() or self._cancelled or (self._plan is not None and self._plan.problem is None)
        )
        self._block_item = None
        if waiting.done():
            resolution = waiting.result()
            if resolution.action == Action.REASSIGN_PROVIDER:
                await self._reassign(resolution.fields["provider_id"], resolution.by)
            elif resolution.action == Action.RETRY_NOW:
                self._plan = await self.run_activity(c.telehealth_prepare, c.AppointmentRef(plan.appointment_id))
            # cancel: the item is closed; the visit stays blocked until reassigned or cancelled through intake
            if self._plan is not None and self._plan.problem is None:
                await self._leave_block()
            return True
        waiting.cancel()
        if self._cancelled:
            await self._record_item(item_id, "cancel", "workflow", "the visit was cancelled")
            return False
        if self._reassigned_to is None:  # the patient checked in from a state the provider is licensed in
            await self._record_item(
                item_id, Action.RETRY_NOW, "workflow", "licensed in the patient's state at check-in"
            )
        else:
            await self._record_item(
                item_id,
                Action.REASSIGN_PROVIDER,
                self._reassigned_by or "coordinator",
                "reassigned through the visit's reassign Update",
                {"provider_id": self._reassigned_to},
            )
        await self._leave_block()
        return True

    async def _leave_block(self) -> None:
        """Back to the coordinator's state the visit had once a licensed provider has it; but never "invited"
        before the room is open and the invite sent: a visit blocked from the start records nothing here (the
        run loop opens the room, invites, and only then says "invited")."""
        if self._room_open:
            await self._set_state(self._state.base(), "workflow")
        elif workflow.patched(UNBLOCKED_BEFORE_THE_ROOM):
            self._state.name = "started"
        else:  # histories from before the patch said "invited" here, before the room was open
            await self._set_state(self._state.before_block, "workflow")

    async def _record_item(
        self, item_id: str, action: str, by: str, note: str, fields: dict[str, str] | None = None
    ) -> None:
        await self.run_activity(
            wc.workitems_record_resolution,
            wc.RecordResolutionInput(item_id, action, by, True, fields or {}, note),
        )

    async def _no_show(self) -> c.VirtualVisitResult:
        no_show = await self.apply_no_show()
        await self._close_room()
        await self._set_state("no_show", "workflow")
        if no_show.marked:
            await self.no_show_item(no_show.fee_cents, lambda: self._cancelled)
        return self._result("no_show")

    async def _finish(self) -> c.VirtualVisitResult:
        people = self._people
        assert people.ended_at is not None
        finished = await self.run_activity(
            c.telehealth_finish,
            c.VisitFinish(
                self.schedule.appointment_id,
                people.audio_only,
                people.started_at,
                people.ended_at,
                people.ended_by or "vendor",
            ),
        )
        await self._close_room()
        await self._set_state("done", "workflow")
        encounter = await self.hand_over()
        return c.VirtualVisitResult(
            self.schedule.appointment_id,
            "done",
            finished.place_of_service,
            finished.modifier,
            finished.duration_minutes,
            encounter,
            self._reassigned_to,
        )

    async def _cancel(self) -> c.VirtualVisitResult:
        await self._close_room()
        if self._state.name != "cancelled":
            await self._set_state("cancelled", "workflow")
            schedule = self.schedule
            await self.run_activity(
                c.messaging_send,
                c.PatientMessage(schedule.appointment_id, "cancellation", f"cancellation:{schedule.appointment_id}"),
            )
        return self._result("cancelled")

    async def _fail(self, failure: Exception) -> c.VirtualVisitResult:
        """Compensation: the room deleted (its tokens die with it), the coordinator told through an item."""
        code = failure.code if isinstance(failure, DomainFailure) else type(failure.__cause__ or failure).__name__
        self._work_log.append(f"failed:{code}")
        await self._close_room()
        await self._set_state("failed", "workflow", code[:40])
        await self.ask(
            self._policy.revenue,
            reason=Reason.VIRTUAL_VISIT_FAILED,
            summary=f"virtual visit {self.schedule.appointment_id} failed ({code})",
            entity_type="appointment",
            entity_id=self.schedule.appointment_id,
            context={"error": code[:40]},
            until=lambda: self._cancelled,
        )
        return self._result("failed")

    async def _close_room(self) -> None:
        if not self._room_open:
            return
        await self.run_activity(c.telehealth_close_room, c.AppointmentRef(self.schedule.appointment_id), VENDOR)
        self._room_open = False

    async def _set_state(self, name: str, actor: str, detail: str = "") -> None:
        if name == "blocked" and self._state.name != "blocked":
            self._state.before_block = self._state.name if self._state.name != "started" else "invited"
        self._state.name = name
        await self._event("state", name, actor, workflow.now(), detail)

    async def _event(self, kind: str, state: str, actor: str, at: datetime, detail: str = "") -> None:
        await self.run_activity(
            c.telehealth_record,
            c.TelehealthEvent(self.schedule.appointment_id, kind, state, at, actor, detail),
        )

    def _result(self, outcome: str) -> c.VirtualVisitResult:
        return c.VirtualVisitResult(self.schedule.appointment_id, outcome, reassigned_to=self._reassigned_to)


def _refuse_invalid(check: object) -> None:
    """Run a domain check in a validator: its ValidationError refuses the Update with the same message."""
    try:
        check()  # type: ignore[operator]
    except ValidationError as exc:
        raise ApplicationError(str(exc), type="InvalidRequest", non_retryable=True) from None


__all__ = ["VirtualVisitWorkflow", "telehealth_modifier", "telehealth_place_of_service"]
