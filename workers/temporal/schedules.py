"""Durable Temporal Schedules: every portal payer's EOBs are fetched at an interval, by the server, not by cron.

One schedule per payer whose ``routing`` is ``portal``: it starts ``PortalEobIntake`` on the ``portal`` task
queue every ``settings.portal_eob_interval_minutes`` (0: no schedules), each payer at its own offset within
the interval. Overlap policy SKIP: while a payer's
run is going (it may wait for a person's one-time code) the next tick is skipped, so there is one run at a
time per payer. A stack that was down catches up at most the one run it missed (catch-up window = interval).

Schedule ids are ``carecycle-portal-eobs-<payer id>`` (the payer's clearinghouse id, no PHI); only ids with
that prefix are ours, and ``apply_schedules`` never touches another schedule. Each run's workflow id is the
intake's business id with the server's start time appended (``portal-eobs-SBXCC-2026-11-27T08:00:00Z``).

``apply_schedules`` is idempotent: it creates the missing ones, updates those whose interval, action or input
changed (keeping a paused schedule paused, with its note), and deletes ours of payers no longer portal-routed.
It runs at ``carecycle up`` and is ``carecycle schedules apply`` for a deployment.
"""

from __future__ import annotations

import asyncio
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from temporalio.client import (
    Client,
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleAlreadyRunningError,
    ScheduleDescription,
    ScheduleHandle,
    ScheduleIntervalSpec,
    ScheduleOverlapPolicy,
    SchedulePolicy,
    ScheduleSpec,
    ScheduleState,
    ScheduleUpdate,
    ScheduleUpdateInput,
)
from temporalio.service import RPCError, RPCStatusCode

from activities.contracts.portal import PortalEobIntakeInput
from activities.contracts.queues import TaskQueue
from domain import models as m
from domain.enums import PayerRouting
from flows.portal import portal_eob_intake_id
from workers.settings import Settings, SettingsError

SCHEDULE_PREFIX = "carecycle-portal-eobs-"
WORKFLOW_TYPE = "PortalEobIntake"
OVERLAP = ScheduleOverlapPolicy.SKIP


class ScheduleNotFound(Exception):
    """No carecycle schedule has this id (the message names the id only)."""


class ScheduleBusy(Exception):
    """A triggered schedule already has its one run going."""


def schedule_id(payer_id: str) -> str:
    return f"{SCHEDULE_PREFIX}{payer_id}"


def resolve_schedule_id(ident: str) -> str:
    """A schedule id, or the payer id it is named after (``SBXCC`` -> ``carecycle-portal-eobs-SBXCC``)."""
    return ident if ident.startswith(SCHEDULE_PREFIX) else schedule_id(ident)


@dataclass(frozen=True)
class PayerSchedule:
    """What one portal payer's schedule should be."""

    payer_id: str
    interval: timedelta
    day_seconds: float | None = None  # the home's business day when compressed (workers.clock); None: real

    @property
    def schedule_id(self) -> str:
        return schedule_id(self.payer_id)

    @property
    def offset(self) -> timedelta:
        """Where in each interval this payer's runs fall: spread by payer (stable across processes), so the
        portal workers, a browser each, are not asked for every payer at the same minute."""
        minutes = int(self.interval.total_seconds() // 60)
        return timedelta(minutes=zlib.crc32(self.payer_id.encode()) % minutes) if minutes > 1 else timedelta(0)

    def intake_input(self) -> PortalEobIntakeInput:
        return PortalEobIntakeInput(self.payer_id, day_seconds=self.day_seconds)

    def schedule(self, state: ScheduleState | None = None) -> Schedule:
        minutes = int(self.interval.total_seconds() // 60)
        return Schedule(
            action=ScheduleActionStartWorkflow(
                WORKFLOW_TYPE,
                self.intake_input(),
                id=portal_eob_intake_id(self.payer_id),
                task_queue=TaskQueue.PORTAL.value,
            ),
            spec=ScheduleSpec(intervals=[ScheduleIntervalSpec(every=self.interval, offset=self.offset)]),
            policy=SchedulePolicy(overlap=OVERLAP, catchup_window=self.interval),
            state=state or ScheduleState(note=f"portal EOB intake every {minutes} min (carecycle schedules apply)"),
        )


@dataclass(frozen=True)
class ScheduleChanges:
    """What ``apply_schedules`` did, by schedule id."""

    created: tuple[str, ...] = ()
    updated: tuple[str, ...] = ()
    deleted: tuple[str, ...] = ()
    unchanged: tuple[str, ...] = ()


@dataclass(frozen=True)
class ScheduleView:
    """One of our schedules as Temporal has it."""

    schedule_id: str
    payer_id: str
    workflow_type: str
    task_queue: str
    interval_minutes: int | None
    paused: bool
    note: str | None
    next_run_at: datetime | None
    running_workflow_ids: tuple[str, ...]
    last_run_at: datetime | None
    last_workflow_id: str | None
    runs_started: int
    runs_skipped_overlap: int


def interval_from(settings: Settings) -> timedelta | None:
    """The schedules' interval; None when they are switched off (0)."""
    minutes = settings.portal_eob_interval_minutes
    if minutes < 0:
        raise SettingsError(f"CARECYCLE_PORTAL_EOB_INTERVAL_MINUTES must not be negative, got {minutes}")
    return timedelta(minutes=minutes) if minutes else None


def portal_payer_ids(session_factory: sessionmaker[Session]) -> list[str]:
    with session_factory() as session:
        return list(
            session.execute(
                select(m.Payer.payer_id).where(m.Payer.routing == PayerRouting.PORTAL).order_by(m.Payer.payer_id)
            ).scalars()
        )


def desired_schedules(payer_ids: Sequence[str], settings: Settings) -> list[PayerSchedule]:
    interval = interval_from(settings)
    if interval is None:
        return []
    day = settings.business_day_seconds if settings.business_day_seconds != 86400.0 else None
    return [PayerSchedule(payer_id, interval, day) for payer_id in payer_ids]


async def _fingerprint(client: Client, schedule: Schedule) -> tuple[object, ...]:
    """The parts of a schedule that ``apply_schedules`` owns; the state (paused, note) is the operator's."""
    action = schedule.action
    if not isinstance(action, ScheduleActionStartWorkflow):
        return ("not a start-workflow action",)
    args: tuple[object, ...] = tuple(action.args)
    if args and not isinstance(args[0], PortalEobIntakeInput):  # described: encoded (encrypted) payloads
        try:
            args = tuple(await client.data_converter.decode(list(action.args), [PortalEobIntakeInput]))
        except Exception:  # an input we cannot read (an old key, an old shape) is rewritten
            args = ("undecodable",)
    spec = schedule.spec
    return (
        action.workflow,
        action.id,
        action.task_queue,
        args,
        tuple((i.every, i.offset or timedelta(0)) for i in spec.intervals),
        tuple(spec.cron_expressions),
        len(spec.calendars),
        schedule.policy.overlap,
        schedule.policy.catchup_window,
    )


async def _describe(handle: ScheduleHandle) -> ScheduleDescription | None:
    try:
        return await handle.describe()
    except RPCError as exc:
        if exc.status == RPCStatusCode.NOT_FOUND:
            return None
        raise


async def _owned_ids(client: Client) -> list[str]:
    """Our schedules' ids, from the visibility store (a schedule created a moment ago may be missing yet)."""
    found: list[str] = []
    async for entry in await client.list_schedules():
        if entry.id.startswith(SCHEDULE_PREFIX):
            found.append(entry.id)
    return sorted(found)


async def _ensure(client: Client, wanted: PayerSchedule) -> str:
    """Create or update one schedule; returns created, updated or unchanged."""
    handle = client.get_schedule_handle(wanted.schedule_id)
    described = await _describe(handle)
    if described is None:
        try:
            await client.create_schedule(wanted.schedule_id, wanted.schedule())
            return "created"
        except ScheduleAlreadyRunningError:  # another `carecycle up` created it between our describe and create
            pass
    target = await _fingerprint(client, wanted.schedule())
    changed = False

    async def updater(current: ScheduleUpdateInput) -> ScheduleUpdate | None:
        nonlocal changed
        existing = current.description.schedule
        if await _fingerprint(client, existing) == target:
            return None
        changed = True
        return ScheduleUpdate(wanted.schedule(state=existing.state))  # a paused schedule stays paused

    await handle.update(updater)
    return "updated" if changed else "unchanged"


async def apply_schedules(
    client: Client, session_factory: sessionmaker[Session], settings: Settings
) -> ScheduleChanges:
    """Make Temporal's schedules match the store's portal payers and the configured interval."""
    wanted = desired_schedules(await asyncio.to_thread(portal_payer_ids, session_factory), settings)
    outcome: dict[str, list[str]] = {"created": [], "updated": [], "unchanged": [], "deleted": []}
    for schedule in wanted:
        outcome[await _ensure(client, schedule)].append(schedule.schedule_id)
    keep = {schedule.schedule_id for schedule in wanted}
    for stale in await _owned_ids(client):
        if stale in keep:
            continue
        try:
            await client.get_schedule_handle(stale).delete()
        except RPCError as exc:
            if exc.status != RPCStatusCode.NOT_FOUND:  # gone already: the visibility store lags behind
                raise
            continue
        outcome["deleted"].append(stale)
    return ScheduleChanges(**{key: tuple(ids) for key, ids in outcome.items()})


def _view(described: ScheduleDescription) -> ScheduleView:
    schedule, info = described.schedule, described.info
    action = schedule.action
    workflow_type = action.workflow if isinstance(action, ScheduleActionStartWorkflow) else type(action).__name__
    task_queue = action.task_queue or "" if isinstance(action, ScheduleActionStartWorkflow) else ""
    intervals = schedule.spec.intervals
    last = info.recent_actions[-1] if info.recent_actions else None
    last_workflow_id = getattr(last.action, "workflow_id", None) if last is not None else None
    return ScheduleView(
        schedule_id=described.id,
        payer_id=described.id.removeprefix(SCHEDULE_PREFIX),
        workflow_type=workflow_type,
        task_queue=task_queue,
        interval_minutes=int(intervals[0].every.total_seconds() // 60) if intervals else None,
        paused=schedule.state.paused,
        note=schedule.state.note,
        next_run_at=None if schedule.state.paused or not info.next_action_times else info.next_action_times[0],
        running_workflow_ids=tuple(str(getattr(run, "workflow_id", "")) for run in info.running_actions),
        last_run_at=last.started_at if last is not None else None,
        last_workflow_id=last_workflow_id,
        runs_started=info.num_actions,
        runs_skipped_overlap=info.num_actions_skipped_overlap,
    )


async def describe_schedule(client: Client, ident: str) -> ScheduleView:
    sid = resolve_schedule_id(ident)
    described = await _describe(client.get_schedule_handle(sid))
    if described is None:
        raise ScheduleNotFound(f"no schedule {sid} (see `carecycle schedules list`)")
    return _view(described)


async def list_schedules(client: Client) -> list[ScheduleView]:
    """Our schedules, each described (the listing only names them; the description is current)."""
    views: list[ScheduleView] = []
    for sid in await _owned_ids(client):
        described = await _describe(client.get_schedule_handle(sid))
        if described is not None:  # deleted since it was listed
            views.append(_view(described))
    return views


async def _owned_handle(client: Client, ident: str) -> ScheduleHandle:
    sid = resolve_schedule_id(ident)
    handle = client.get_schedule_handle(sid)
    if await _describe(handle) is None:
        raise ScheduleNotFound(f"no schedule {sid} (see `carecycle schedules list`)")
    return handle


async def trigger_schedule(client: Client, ident: str) -> ScheduleView:
    """Start the schedule's action now, under its overlap policy: a payer's run already going is not doubled.

    Raises ``ScheduleBusy`` when a run is going (the trigger would be skipped)."""
    view = await describe_schedule(client, ident)
    if view.running_workflow_ids:
        raise ScheduleBusy(
            f"schedule {view.schedule_id} has a run going ({', '.join(view.running_workflow_ids)}): not started again"
        )
    await client.get_schedule_handle(view.schedule_id).trigger()
    return view


async def pause_schedule(client: Client, ident: str, note: str | None = None) -> str:
    handle = await _owned_handle(client, ident)
    await handle.pause(note=note or "paused with carecycle schedules pause")
    return handle.id


async def unpause_schedule(client: Client, ident: str, note: str | None = None) -> str:
    handle = await _owned_handle(client, ident)
    await handle.unpause(note=note or "unpaused with carecycle schedules unpause")
    return handle.id
