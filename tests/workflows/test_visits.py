"""Visit and VirtualVisit on the time-skipping server, every path, with activities mocked by name.

The fake world answers like the store and the vendors would and records what the workflows asked of it, with the
(skipped) time each activity was scheduled at; people act through the real Updates and signals.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from temporalio import activity, workflow
from temporalio.client import WorkflowHandle, WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

with workflow.unsafe.imports_passed_through():
    from activities.contracts import revenue as rc
    from activities.contracts import visits as c
    from activities.contracts import workitems as wi
    from domain.visits import telehealth_modifier, telehealth_place_of_service, visit_minutes
    from flows.visits import VirtualVisitWorkflow, VisitWorkflow
    from flows.workitems import ResolveRequest

pytestmark = pytest.mark.temporal

POLICY = c.VisitPolicy(no_show_fee_cents=2500, bill_encounter=False)
TODAY = datetime.now(UTC).date().isoformat()


def _license(state: str) -> c.LicenseView:
    today = datetime.now(UTC).date()
    return c.LicenseView(
        state, "active", (today - timedelta(days=400)).isoformat(), (today + timedelta(days=400)).isoformat()
    )


@dataclass
class World:
    appointment_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    starts_at: datetime = field(default_factory=lambda: datetime.now(UTC).replace(microsecond=0) + timedelta(days=7))
    kind: str = "in_person"
    status: str = "booked"
    eligibility: list[str] = field(default_factory=lambda: ["active"])
    coverage_changed: list[bool] = field(default_factory=lambda: [False])
    problem: str | None = None  # the plan's licensure problem (at prepare)
    problem_at_check_in: str | None = None
    patient_state: str = "OR"
    candidates: tuple[c.ProviderOption, ...] = ()
    fail_invite: bool = False
    calls: list[tuple[str, Any, datetime]] = field(default_factory=list)
    work_items: dict[str, wi.OpenWorkItemInput] = field(default_factory=dict)
    resolutions: list[wi.RecordResolutionInput] = field(default_factory=list)
    location: str | None = None

    def called(self, name: str) -> list[Any]:
        return [arg for called, arg, _ in self.calls if called == name]

    def times(self, name: str) -> list[datetime]:
        return [at for called, _, at in self.calls if called == name]

    def schedule(self, provider_id: str = "prov-1") -> c.VisitSchedule:
        return c.VisitSchedule(
            self.appointment_id,
            "pat-1",
            provider_id,
            self.kind,
            self.status,
            self.starts_at,
            20,
            self.starts_at.date().isoformat(),
        )

    def plan(self, provider_id: str = "prov-1", problem: str | None = None) -> c.VirtualVisitPlan:
        return c.VirtualVisitPlan(
            self.appointment_id,
            provider_id,
            self.patient_state,
            self.starts_at.date().isoformat(),
            problem,
            self.candidates,
            False,
            True,
        )

    def activities(self) -> list[Callable[..., Any]]:
        world = self

        def log(name: str, arg: Any) -> None:
            world.calls.append((name, arg, activity.info().current_attempt_scheduled_time))

        @activity.defn(name=wi.OPEN)
        async def open_item(data: wi.OpenWorkItemInput) -> wi.OpenedWorkItem:
            for item_id, item in world.work_items.items():
                if item.dedupe_key == data.dedupe_key:
                    return wi.OpenedWorkItem(item_id, created=False)
            item_id = f"wi-{len(world.work_items) + 1}"
            world.work_items[item_id] = data
            log(wi.OPEN, data)
            return wi.OpenedWorkItem(item_id, created=True)

        @activity.defn(name=wi.RECORD_RESOLUTION)
        async def record(data: wi.RecordResolutionInput) -> None:
            world.resolutions.append(data)

        @activity.defn(name=wi.ESCALATE)
        async def escalate(data: wi.EscalateInput) -> int:
            return data.level

        @activity.defn(name=c.VISITS_LOAD)
        async def load(ref: c.AppointmentRef) -> c.VisitSchedule:
            log(c.VISITS_LOAD, ref)
            return world.schedule(world.plan().provider_id if not world.called(c.TELEHEALTH_REASSIGN) else "prov-2")

        @activity.defn(name=c.VISITS_COVERAGE)
        async def coverage(ref: c.AppointmentRef) -> c.VisitCoverage:
            log(c.VISITS_COVERAGE, ref)
            changed = world.coverage_changed.pop(0) if len(world.coverage_changed) > 1 else world.coverage_changed[0]
            return c.VisitCoverage(ref.appointment_id, ("cov-1",), changed, None)

        @activity.defn(name=rc.ELIGIBILITY_CHECK)
        async def check(ref: rc.CoverageRef) -> rc.EligibilityAnswer:
            log(rc.ELIGIBILITY_CHECK, ref)
            status = world.eligibility.pop(0) if len(world.eligibility) > 1 else world.eligibility[0]
            return rc.EligibilityAnswer(ref.coverage_id, "SBXBM", status, "clearinghouse")

        @activity.defn(name=rc.ELIGIBILITY_RECORD)
        async def record_coverage(data: rc.EligibilityRecord) -> rc.Nothing:
            log(rc.ELIGIBILITY_RECORD, data)
            return rc.Nothing()

        @activity.defn(name=c.VISITS_RECORD_ELIGIBILITY)
        async def record_visit(data: c.VisitEligibility) -> rc.Nothing:
            log(c.VISITS_RECORD_ELIGIBILITY, data)
            return rc.Nothing()

        @activity.defn(name=c.MESSAGING_SEND)
        async def send(data: c.PatientMessage) -> c.MessageOutcome:
            log(c.MESSAGING_SEND, data)
            if world.fail_invite and data.template == "telehealth_invite":
                raise ApplicationError("the provider refused the message", type="vendor_refused", non_retryable=True)
            return c.MessageOutcome(data.key, ("sms", "email"))

        @activity.defn(name=c.VISITS_SET_STATUS)
        async def set_status(data: c.StatusChange) -> c.VisitSchedule:
            log(c.VISITS_SET_STATUS, data)
            world.status = data.status
            return world.schedule()

        @activity.defn(name=c.VISITS_NO_SHOW)
        async def no_show(data: c.NoShow) -> c.NoShowResult:
            log(c.VISITS_NO_SHOW, data)
            world.status = "noshow"
            return c.NoShowResult(data.appointment_id, True, data.fee_cents, "g-1")

        @activity.defn(name=c.TELEHEALTH_PREPARE)
        async def prepare(ref: c.AppointmentRef) -> c.VirtualVisitPlan:
            log(c.TELEHEALTH_PREPARE, ref)
            return world.plan(problem=world.problem)

        @activity.defn(name=c.TELEHEALTH_REASSIGN)
        async def reassign(data: c.Reassignment) -> c.VirtualVisitPlan:
            log(c.TELEHEALTH_REASSIGN, data)
            return world.plan(provider_id=data.provider_id)

        @activity.defn(name=c.TELEHEALTH_OPEN_ROOM)
        async def open_room(data: c.RoomRequest) -> c.RoomOpened:
            log(c.TELEHEALTH_OPEN_ROOM, data)
            return c.RoomOpened(data.appointment_id, c.room_name(data.appointment_id), True)

        @activity.defn(name=c.TELEHEALTH_CLOSE_ROOM)
        async def close_room(ref: c.AppointmentRef) -> c.RoomClosed:
            log(c.TELEHEALTH_CLOSE_ROOM, ref)
            return c.RoomClosed(ref.appointment_id, True)

        @activity.defn(name=c.TELEHEALTH_RECORD)
        async def record_event(data: c.TelehealthEvent) -> rc.Nothing:
            log(c.TELEHEALTH_RECORD, data)
            return rc.Nothing()

        @activity.defn(name=c.TELEHEALTH_CONSENT)
        async def consent(data: c.ConsentRecord) -> rc.Nothing:
            log(c.TELEHEALTH_CONSENT, data)
            return rc.Nothing()

        @activity.defn(name=c.TELEHEALTH_CHECK_IN)
        async def check_in(data: c.CheckInRecord) -> c.VirtualVisitPlan:
            log(c.TELEHEALTH_CHECK_IN, data)
            world.location = data.patient_location
            world.patient_state = data.patient_state
            return world.plan(problem=world.problem_at_check_in)

        @activity.defn(name=c.TELEHEALTH_FINISH)
        async def finish(data: c.VisitFinish) -> c.FinishedVisit:
            log(c.TELEHEALTH_FINISH, data)
            return c.FinishedVisit(
                data.appointment_id,
                "enc-1",
                telehealth_place_of_service(world.location),
                telehealth_modifier(data.audio_only),
                visit_minutes(data.started_at, data.ended_at),
            )

        return [
            open_item,
            record,
            escalate,
            load,
            coverage,
            check,
            record_coverage,
            record_visit,
            send,
            set_status,
            no_show,
            prepare,
            reassign,
            open_room,
            close_room,
            record_event,
            consent,
            check_in,
            finish,
        ]


@dataclass
class Harness:
    env: WorkflowEnvironment
    queue: str
    world: World

    async def start(self, policy: c.VisitPolicy = POLICY) -> WorkflowHandle[Any, Any]:
        world = self.world
        if world.kind == "telehealth":
            return await self.env.client.start_workflow(
                VirtualVisitWorkflow.run,
                c.VisitInput(world.appointment_id, policy),
                id=c.virtual_visit_workflow_id(world.appointment_id),
                task_queue=self.queue,
            )
        return await self.env.client.start_workflow(
            VisitWorkflow.run,
            c.VisitInput(world.appointment_id, policy),
            id=c.visit_workflow_id(world.appointment_id),
            task_queue=self.queue,
        )

    async def until(self, condition: Callable[[], bool], step: timedelta = timedelta(hours=1)) -> None:
        """Let business time pass in steps until the fake world saw what the test waits for."""
        for _ in range(400):
            if condition():
                return
            await asyncio.sleep(0.01)
            await self.env.sleep(step)
        raise AssertionError("the world never got there")

    async def state(self, handle: WorkflowHandle[Any, Any], key: str, value: object) -> None:
        seen: Any = None
        for _ in range(300):
            try:
                seen = (await handle.query(c.STATE_QUERY))[key]
            except RPCError:
                seen = None
            if seen == value:
                return
            await asyncio.sleep(0.02)
        raise AssertionError(f"{key} never became {value!r} (last {seen!r})")

    async def item(self, handle: WorkflowHandle[Any, Any], reason: str) -> str:
        """Let business time pass until the workflow waits on a work item of ``reason``."""
        for _ in range(300):
            try:
                items = await handle.query("work_items")
            except RPCError:
                items = []
            for item in items:
                if item["reason"] == reason:
                    return str(item["work_item_id"])
            await asyncio.sleep(0.01)
            await self.env.sleep(timedelta(hours=1))
        raise AssertionError(f"no open work item {reason}")


@pytest.fixture
async def harness(time_skipping_env: WorkflowEnvironment) -> AsyncIterator[Harness]:
    world = World()
    queue = f"visits-{uuid.uuid4()}"
    async with Worker(
        time_skipping_env.client,
        task_queue=queue,
        workflows=[VisitWorkflow, VirtualVisitWorkflow],
        activities=world.activities(),
    ):
        yield Harness(time_skipping_env, queue, world)


async def _refused(update: Any, message: str) -> None:
    with pytest.raises(WorkflowUpdateFailedError) as refused:
        await update
    assert message in str(refused.value.cause)


def _reminders(world: World) -> list[c.PatientMessage]:
    return [m for m in world.called(c.MESSAGING_SEND) if m.template in ("reminder", "telehealth_invite")]


# --- Visit ---------------------------------------------------------------------------------------------------


async def test_a_visit_gets_eligibility_and_reminders_on_time_then_is_handed_over(harness: Harness) -> None:
    world = harness.world
    handle = await harness.start(replace(POLICY, bill_encounter=True))
    await harness.until(lambda: len(_reminders(world)) == 2)
    start = world.starts_at
    (checked,) = world.times(rc.ELIGIBILITY_CHECK)  # active and unchanged: no day-before recheck
    assert start - timedelta(days=3) <= checked < start - timedelta(days=3) + timedelta(hours=1)
    sent = world.times(c.MESSAGING_SEND)
    assert start - timedelta(hours=72) <= sent[0] < start - timedelta(hours=71)
    assert start - timedelta(hours=24) <= sent[1] < start - timedelta(hours=23)
    assert [m.key.split(":")[0] for m in _reminders(world)] == ["reminder-72h", "reminder-24h"]
    assert world.called(c.VISITS_RECORD_ELIGIBILITY)[0].status == "active"
    assert await handle.execute_update(c.ARRIVE_UPDATE, c.ActorRequest("desk.amy")) == "arrived"
    await _refused(handle.execute_update(c.ARRIVE_UPDATE, c.ActorRequest("desk.amy")), "cannot become arrived")
    await handle.execute_update(c.CLOSE_UPDATE, c.ActorRequest("desk.amy"))
    result = await handle.result()
    assert result.outcome == "fulfilled" and result.reminders_sent == 2
    assert result.encounter_workflow_id == f"encounter-{world.appointment_id}"
    encounter = await harness.env.client.get_workflow_handle(result.encounter_workflow_id).describe()
    assert encounter.workflow_type == "Encounter"
    assert [s.status for s in world.called(c.VISITS_SET_STATUS)] == ["arrived", "fulfilled"]
    assert not world.called(c.VISITS_NO_SHOW)


async def test_a_reschedule_moves_every_timer(harness: Harness) -> None:
    world = harness.world
    handle = await harness.start()
    await harness.until(lambda: len(_reminders(world)) == 1)  # the 72 h reminder went
    old_start = world.starts_at
    world.starts_at = old_start + timedelta(days=5)
    await handle.signal(c.CHANGED_SIGNAL)
    await harness.until(lambda: len(_reminders(world)) == 3)
    keys = [m.key for m in _reminders(world)]
    assert old_start.isoformat() in keys[0]
    assert all(world.starts_at.isoformat() in key for key in keys[1:])
    sent = world.times(c.MESSAGING_SEND)
    assert world.starts_at - timedelta(hours=72) <= sent[1] < world.starts_at - timedelta(hours=71)
    assert world.starts_at - timedelta(hours=24) <= sent[2] < world.starts_at - timedelta(hours=23)
    await harness.until(lambda: bool(world.called(c.VISITS_NO_SHOW)), timedelta(minutes=30))
    assert world.times(c.VISITS_NO_SHOW)[0] >= world.starts_at + timedelta(minutes=15)
    await handle.signal(c.CANCELLED_SIGNAL)  # cancelled after the no-show: the front desk's item is withdrawn
    assert (await handle.result()).outcome == "noshow"
    assert [r.action for r in world.resolutions] == ["cancel"]


async def test_a_cancellation_drops_the_timers(harness: Harness) -> None:
    world = harness.world
    handle = await harness.start(replace(POLICY, eligibility_days_before=5))
    await harness.until(lambda: bool(world.called(rc.ELIGIBILITY_CHECK)))
    world.status = "cancelled"
    await handle.signal(c.CANCELLED_SIGNAL)
    result = await handle.result()
    assert result.outcome == "cancelled"
    assert [m.template for m in world.called(c.MESSAGING_SEND)] == ["cancellation"]
    assert not world.called(c.VISITS_NO_SHOW)


async def test_a_no_show_applies_the_policy(harness: Harness) -> None:
    world = harness.world
    world.starts_at = datetime.now(UTC).replace(microsecond=0) + timedelta(hours=30)
    handle = await harness.start()
    item = await harness.item(handle, "visit_no_show")
    (no_show,) = world.called(c.VISITS_NO_SHOW)
    assert no_show.fee_cents == 2500
    assert world.times(c.VISITS_NO_SHOW)[0] >= world.starts_at + timedelta(minutes=15)
    assert world.work_items[item].context["fee_cents"] == "2500"
    await handle.execute_update("resolve", ResolveRequest(item, "complete", "desk.amy"))
    assert (await handle.result()).outcome == "noshow"


async def test_an_eligibility_problem_opens_an_item_before_the_visit(harness: Harness) -> None:
    world = harness.world
    world.eligibility = ["inconclusive"]
    handle = await harness.start()
    item = await harness.item(handle, "eligibility_inconclusive")
    assert world.times(wi.OPEN)[0] < world.starts_at - timedelta(days=2)
    await handle.execute_update(
        "resolve", ResolveRequest(item, "confirm_eligibility", "elig.eve", {"reference": "call-1"}, "called payer")
    )
    await harness.until(lambda: len(world.called(c.VISITS_RECORD_ELIGIBILITY)) == 2)
    assert world.called(c.VISITS_RECORD_ELIGIBILITY)[-1].status == "active"
    assert world.called(rc.ELIGIBILITY_RECORD)[-1].decided_by == "elig.eve"
    await handle.execute_update(c.ARRIVE_UPDATE, c.ActorRequest("desk.amy"))
    await handle.execute_update(c.CLOSE_UPDATE, c.ActorRequest("desk.amy"))
    assert (await handle.result()).eligibility == "active"


async def test_changed_coverage_is_checked_again_the_day_before(harness: Harness) -> None:
    world = harness.world
    world.coverage_changed = [False, True]
    handle = await harness.start()
    await harness.until(lambda: len(world.called(rc.ELIGIBILITY_CHECK)) == 2)
    second = world.times(rc.ELIGIBILITY_CHECK)[1]
    assert world.starts_at - timedelta(days=1) <= second < world.starts_at - timedelta(hours=23)
    await handle.signal(c.CANCELLED_SIGNAL)
    await handle.result()


# --- VirtualVisit --------------------------------------------------------------------------------------------


def _event(kind: str, role: str, at: datetime) -> c.VendorEvent:
    return c.VendorEvent(kind, role, at, str(uuid.uuid4()))


async def _to_check_in(harness: Harness, location: str = "home") -> WorkflowHandle[Any, Any]:
    world = harness.world
    world.kind = "telehealth"
    world.starts_at = datetime.now(UTC).replace(microsecond=0) + timedelta(days=2)
    handle = await harness.start()
    await harness.state(handle, "state", "invited")
    await handle.execute_update(c.CONSENT_UPDATE, c.ConsentRequest("verbal", "OR", "coord.cy"))
    await handle.execute_update(c.CHECK_IN_UPDATE, c.CheckInRequest(location, world.patient_state, "coord.cy"))
    return handle


async def test_a_video_visit_from_invite_to_the_encounter(harness: Harness) -> None:
    world = harness.world
    handle = await _to_check_in(harness)
    (room,) = world.called(c.TELEHEALTH_OPEN_ROOM)
    (invite,) = [m for m in world.called(c.MESSAGING_SEND) if m.key.startswith("invite-1")]
    assert invite.template == "telehealth_invite"
    await harness.state(handle, "state", "checked_in")
    at = world.starts_at
    await handle.signal(c.VENDOR_EVENT_SIGNAL, _event("participant_joined", "patient", at - timedelta(minutes=2)))
    await harness.state(handle, "state", "waiting")
    await handle.signal(c.VENDOR_EVENT_SIGNAL, _event("participant_joined", "provider", at))
    await harness.state(handle, "state", "in_progress")
    await handle.signal(c.VENDOR_EVENT_SIGNAL, _event("meeting_ended", "", at + timedelta(minutes=17, seconds=5)))
    result = await handle.result()
    assert (result.outcome, result.place_of_service, result.modifier, result.duration_minutes) == (
        "done",
        "10",
        "95",
        18,
    )
    assert world.called(c.TELEHEALTH_CLOSE_ROOM) == [c.AppointmentRef(world.appointment_id)]
    assert room.expires_at > world.starts_at
    states = [e.state for e in world.called(c.TELEHEALTH_RECORD) if e.kind == "state"]
    assert states == ["invited", "consented", "checked_in", "done"]


async def test_an_audio_fallback_gives_modifier_93_and_pos_from_the_location(harness: Harness) -> None:
    world = harness.world
    handle = await _to_check_in(harness, location="other")
    await _refused(handle.execute_update(c.END_UPDATE, c.ActorRequest("dr.ana")), "has not started")
    await handle.signal(c.VENDOR_EVENT_SIGNAL, _event("participant_joined", "patient", world.starts_at))
    await handle.execute_update(c.AUDIO_FALLBACK_UPDATE, c.ActorRequest("dr.ana"))
    await harness.env.sleep(timedelta(minutes=12))
    await handle.execute_update(c.END_UPDATE, c.ActorRequest("dr.ana"))
    result = await handle.result()
    assert (result.place_of_service, result.modifier) == ("02", "93")
    assert result.duration_minutes >= 12
    (finish,) = world.called(c.TELEHEALTH_FINISH)
    assert finish.audio_only and finish.actor == "dr.ana"
    fallback = [e for e in world.called(c.TELEHEALTH_RECORD) if e.kind == "audio_fallback"]
    assert len(fallback) == 1 and fallback[0].actor == "dr.ana"


async def test_a_licensure_block_is_resolved_by_a_validated_reassignment(harness: Harness) -> None:
    world = harness.world
    world.kind = "telehealth"
    world.patient_state = "WA"
    world.problem = "provider prov-1 holds no active license in WA"
    world.candidates = (
        c.ProviderOption("prov-2", (_license("OR"), _license("WA")), free=True),
        c.ProviderOption("prov-3", (_license("OR"),), free=True),
        c.ProviderOption("prov-4", (_license("WA"),), free=False),
    )
    handle = await harness.start()
    item = await harness.item(handle, "provider_not_licensed")
    await harness.state(handle, "state", "blocked")
    assert not world.called(c.TELEHEALTH_OPEN_ROOM)  # nobody is invited to a visit that may not happen
    for provider, message in (("prov-3", "no active license in WA"), ("prov-4", "booked at that time")):
        with pytest.raises(WorkflowUpdateFailedError) as refused:
            await handle.execute_update(
                "resolve", ResolveRequest(item, "reassign_provider", "coord.cy", {"provider_id": provider})
            )
        assert message in str(refused.value.cause)
    assert not world.called(c.TELEHEALTH_REASSIGN)
    await handle.execute_update(
        "resolve", ResolveRequest(item, "reassign_provider", "coord.cy", {"provider_id": "prov-2"})
    )
    await harness.state(handle, "state", "invited")
    assert [r.provider_id for r in world.called(c.TELEHEALTH_REASSIGN)] == ["prov-2"]
    assert len(world.called(c.TELEHEALTH_OPEN_ROOM)) == 1
    # "invited" is said only once the room is open and the invite went out: never on the way out of the block.
    steps = [
        name if name != c.TELEHEALTH_RECORD else f"{arg.kind}:{arg.state}"
        for name, arg, _ in world.calls
        if name in (c.TELEHEALTH_OPEN_ROOM, c.MESSAGING_SEND, c.TELEHEALTH_RECORD)
    ]
    after_block = steps[steps.index("state:blocked") + 1 :]
    assert after_block == [
        c.TELEHEALTH_OPEN_ROOM,
        c.MESSAGING_SEND,
        "invite_sent:started",
        "state:invited",
    ]
    assert (await handle.query(c.STATE_QUERY))["provider_id"] == "prov-2"
    await handle.signal(c.CANCELLED_SIGNAL)
    result = await handle.result()
    assert result.outcome == "cancelled" and result.reassigned_to == "prov-2"


async def test_a_check_in_from_another_state_blocks_until_the_reassign_update(harness: Harness) -> None:
    world = harness.world
    world.candidates = (c.ProviderOption("prov-2", (_license("CA"),), free=True),)
    world.problem_at_check_in = "provider prov-1 holds no active license in CA"
    world.patient_state = "CA"
    handle = await _to_check_in(harness)
    await harness.item(handle, "provider_not_licensed")
    await harness.state(handle, "state", "blocked")
    await handle.execute_update(c.REASSIGN_UPDATE, c.ReassignRequest("prov-2", "coord.cy"))
    await harness.state(handle, "state", "checked_in")
    (resolution,) = [r for r in world.resolutions if r.action == "reassign_provider"]
    assert resolution.by == "coord.cy" and resolution.fields == {"provider_id": "prov-2"}
    await handle.signal(c.VENDOR_EVENT_SIGNAL, _event("participant_joined", "patient", world.starts_at))
    await handle.signal(c.VENDOR_EVENT_SIGNAL, _event("participant_joined", "provider", world.starts_at))
    await handle.signal(c.VENDOR_EVENT_SIGNAL, _event("meeting_ended", "", world.starts_at + timedelta(minutes=9)))
    result = await handle.result()
    assert result.outcome == "done" and result.reassigned_to == "prov-2" and result.duration_minutes == 9


async def test_a_failed_vendor_call_deletes_the_room(harness: Harness) -> None:
    world = harness.world
    world.kind = "telehealth"
    world.fail_invite = True
    handle = await harness.start()
    item = await harness.item(handle, "virtual_visit_failed")
    assert len(world.called(c.TELEHEALTH_OPEN_ROOM)) == 1
    assert world.called(c.TELEHEALTH_CLOSE_ROOM) == [c.AppointmentRef(world.appointment_id)]
    await harness.state(handle, "state", "failed")
    await handle.execute_update("resolve", ResolveRequest(item, "complete", "coord.cy"))
    assert (await handle.result()).outcome == "failed"


async def test_a_cancelled_virtual_visit_deletes_its_room(harness: Harness) -> None:
    world = harness.world
    world.kind = "telehealth"
    handle = await harness.start()
    await harness.state(handle, "state", "invited")
    await handle.signal(c.CANCELLED_SIGNAL)
    assert (await handle.result()).outcome == "cancelled"
    assert len(world.called(c.TELEHEALTH_CLOSE_ROOM)) == 1


async def test_nobody_in_the_room_is_a_no_show(harness: Harness) -> None:
    world = harness.world
    world.kind = "telehealth"
    world.starts_at = datetime.now(UTC).replace(microsecond=0) + timedelta(hours=5)
    handle = await harness.start()
    item = await harness.item(handle, "visit_no_show")
    assert world.times(c.VISITS_NO_SHOW)[0] >= world.starts_at + timedelta(minutes=10)
    assert len(world.called(c.TELEHEALTH_CLOSE_ROOM)) == 1
    await handle.execute_update("resolve", ResolveRequest(item, "complete", "coord.cy"))
    assert (await handle.result()).outcome == "no_show"
