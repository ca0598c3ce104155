"""A readable timeline of a workflow history, payloads decoded through the caller's data converter.

Used by ``carecycle audit replay`` and the console's audit page. Activities with their results, updates
and signals with who sent them and when, timers, search-attribute changes, and the outcome.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from temporalio.api.common.v1 import Header, Payload, Payloads
from temporalio.api.enums.v1 import EventType
from temporalio.api.failure.v1 import Failure
from temporalio.api.history.v1 import HistoryEvent
from temporalio.client import WorkflowHistory
from temporalio.converter import DataConverter

from domain.actors import ACTOR_HEADER, SignedActor, actor_from_json


@dataclass(frozen=True)
class TimelineEntry:
    at: datetime
    event_id: int
    kind: str  # started, activity, activity_failed, update, update_rejected, signal, timer, ...
    title: str
    detail: dict[str, Any] = field(default_factory=dict)


async def _values(converter: DataConverter, payloads: Payloads | None) -> list[Any]:
    if payloads is None or not payloads.payloads:
        return []
    try:
        return await converter.decode_wrapper(payloads)
    except Exception as exc:  # a key we do not hold, an unknown encoding: show that, not a crash
        return [f"<undecodable: {type(exc).__name__}>"]


async def _failure_text(converter: DataConverter, failure: Failure) -> str:
    copy = Failure()
    copy.CopyFrom(failure)
    try:
        error = await converter.decode_failure(copy)
    except Exception as exc:
        return f"<undecodable failure: {type(exc).__name__}>"
    cause = error.__cause__
    text = str(error)
    return f"{text}: {cause}" if cause is not None and str(cause) not in text else text


def _search_attribute_value(payload: Payload) -> Any:
    try:
        return json.loads(payload.data)
    except ValueError:
        return payload.data.decode(errors="replace")


def _duration(value: timedelta) -> str:
    seconds = int(value.total_seconds())
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    parts = [f"{days}d" if days else "", f"{hours}h" if hours else "", f"{minutes}m" if minutes else ""]
    parts.append(f"{secs}s" if secs or not any(parts) else "")
    return "".join(parts)


def _who(args: Sequence[Any], identity: str) -> str:
    first = args[0] if args else None
    if isinstance(first, dict) and first.get("by"):
        return str(first["by"])
    return identity or "unknown"


def _header_actor(header: Header, what: str, name: str) -> dict[str, Any]:
    """The ``carecycle-actor`` header's actor (unverified: the console route checks it) and what it was for."""
    if ACTOR_HEADER not in header.fields:
        return {}
    actor = actor_from_json(header.fields[ACTOR_HEADER].data)
    raw = None if actor is None else {k: getattr(actor, k) for k in SignedActor.__dataclass_fields__}
    return {"header_actor": raw, "header_scope": [what, name]}


def _signed_by(header: Header) -> dict[str, str]:
    """``{"by": label}`` of the header's actor (a start's or signal's sender), {} when there is none."""
    actor = actor_from_json(header.fields[ACTOR_HEADER].data) if ACTOR_HEADER in header.fields else None
    return {} if actor is None else {"by": actor.label}


@dataclass
class _Reading:
    """What a history's earlier events said that a later one needs: the converter, the activities scheduled
    (name, decoded input) by event id, the timers started (in words) by event id, the updates accepted (name,
    who) by update id."""

    converter: DataConverter
    activities: dict[int, tuple[str, list[Any]]] = field(default_factory=dict)
    timers: dict[int, str] = field(default_factory=dict)
    updates: dict[str, tuple[str, str]] = field(default_factory=dict)


async def build_timeline(history: WorkflowHistory, converter: DataConverter) -> list[TimelineEntry]:
    entries: list[TimelineEntry] = []
    reading = _Reading(converter)
    workflow_type = ""
    for event in history.events:
        at = event.event_time.ToDatetime().replace(tzinfo=None)
        if event.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED:
            workflow_type = event.workflow_execution_started_event_attributes.workflow_type.name
        entry = await _entry(event, at, reading)
        if entry is not None:
            scope = entry.detail.get("header_scope")
            if scope and scope[0] == "signal":  # a signal-with-start's signal carries the start's header
                entry.detail["header_scope"] = [*scope, workflow_type]
            entries.append(entry)
    return entries


async def _entry(event: HistoryEvent, at: datetime, reading: _Reading) -> TimelineEntry | None:
    """The event's timeline entry in words, by its type (_EVENTS); None for an event type the timeline skips or
    one that only tells a later event something (an activity's scheduling)."""
    read = _EVENTS.get(event.event_type)
    return None if read is None else await read(event, at, reading)


# --- one reader per event type -------------------------------------------------------------------------------


async def _started(event: HistoryEvent, at: datetime, reading: _Reading) -> TimelineEntry | None:
    a = event.workflow_execution_started_event_attributes
    return TimelineEntry(
        at,
        event.event_id,
        "started",
        f"workflow {a.workflow_type.name} started on task queue {a.task_queue.name}",
        {
            "input": await _values(reading.converter, a.input),
            "identity": a.identity,
            **_header_actor(a.header, "start", a.workflow_type.name),
        }
        | _signed_by(a.header),
    )


async def _activity_scheduled(event: HistoryEvent, at: datetime, reading: _Reading) -> TimelineEntry | None:
    s = event.activity_task_scheduled_event_attributes
    reading.activities[event.event_id] = (s.activity_type.name, await _values(reading.converter, s.input))
    return None


async def _activity_completed(event: HistoryEvent, at: datetime, reading: _Reading) -> TimelineEntry | None:
    c = event.activity_task_completed_event_attributes
    name, inputs = reading.activities.get(c.scheduled_event_id, ("?", []))
    return TimelineEntry(
        at,
        event.event_id,
        "activity",
        f"activity {name} completed",
        {"input": inputs, "result": await _values(reading.converter, c.result)},
    )


async def _activity_failed(event: HistoryEvent, at: datetime, reading: _Reading) -> TimelineEntry | None:
    f = event.activity_task_failed_event_attributes
    name, inputs = reading.activities.get(f.scheduled_event_id, ("?", []))
    failure = await _failure_text(reading.converter, f.failure)
    return TimelineEntry(
        at,
        event.event_id,
        "activity_failed",
        f"activity {name} failed",
        {"input": inputs, "failure": failure, "retry_state": f.retry_state},
    )


async def _activity_timed_out(event: HistoryEvent, at: datetime, reading: _Reading) -> TimelineEntry | None:
    t = event.activity_task_timed_out_event_attributes
    name, _ = reading.activities.get(t.scheduled_event_id, ("?", []))
    return TimelineEntry(at, event.event_id, "activity_failed", f"activity {name} timed out")


async def _timer_started(event: HistoryEvent, at: datetime, reading: _Reading) -> TimelineEntry | None:
    ts = event.timer_started_event_attributes
    summary = ""
    if event.user_metadata.HasField("summary"):
        values = await _values(reading.converter, Payloads(payloads=[event.user_metadata.summary]))
        summary = f" ({values[0]})" if values else ""
    duration = _duration(ts.start_to_fire_timeout.ToTimedelta())
    reading.timers[event.event_id] = f"{duration}{summary}"
    return TimelineEntry(at, event.event_id, "timer", f"timer started: {duration}{summary}")


async def _timer_fired(event: HistoryEvent, at: datetime, reading: _Reading) -> TimelineEntry | None:
    started = reading.timers.get(event.timer_fired_event_attributes.started_event_id, "?")
    return TimelineEntry(at, event.event_id, "timer", f"timer fired: {started}")


async def _timer_cancelled(event: HistoryEvent, at: datetime, reading: _Reading) -> TimelineEntry | None:
    started = reading.timers.get(event.timer_canceled_event_attributes.started_event_id, "?")
    return TimelineEntry(at, event.event_id, "timer", f"timer cancelled: {started}")


async def _update_accepted(event: HistoryEvent, at: datetime, reading: _Reading) -> TimelineEntry | None:
    request = event.workflow_execution_update_accepted_event_attributes.accepted_request
    args = await _values(reading.converter, request.input.args)
    who = _who(args, request.meta.identity)
    reading.updates[request.meta.update_id] = (request.input.name, who)
    signed = _header_actor(request.input.header, "update", request.input.name)
    return TimelineEntry(
        at,
        event.event_id,
        "update",
        f"update {request.input.name} accepted from {who}",
        {"args": args, "by": who, **signed},
    )


async def _update_completed(event: HistoryEvent, at: datetime, reading: _Reading) -> TimelineEntry | None:
    done = event.workflow_execution_update_completed_event_attributes
    name, who = reading.updates.get(done.meta.update_id, ("?", "?"))
    if done.outcome.HasField("failure"):
        return TimelineEntry(
            at,
            event.event_id,
            "update_failed",
            f"update {name} from {who} failed",
            {"failure": await _failure_text(reading.converter, done.outcome.failure)},
        )
    return TimelineEntry(
        at,
        event.event_id,
        "update",
        f"update {name} from {who} completed",
        {"result": await _values(reading.converter, done.outcome.success)},
    )


async def _signaled(event: HistoryEvent, at: datetime, reading: _Reading) -> TimelineEntry | None:
    sig = event.workflow_execution_signaled_event_attributes
    args = await _values(reading.converter, sig.input)
    who = _who(args, sig.identity)
    signed = _header_actor(sig.header, "signal", sig.signal_name)
    who = _signed_by(sig.header).get("by", who)
    return TimelineEntry(
        at, event.event_id, "signal", f"signal {sig.signal_name} from {who}", {"args": args, "by": who, **signed}
    )


async def _search_attributes(event: HistoryEvent, at: datetime, reading: _Reading) -> TimelineEntry | None:
    fields = event.upsert_workflow_search_attributes_event_attributes.search_attributes.indexed_fields
    attributes = {name: _search_attribute_value(payload) for name, payload in fields.items()}
    shown = ", ".join(f"{k}={v}" for k, v in sorted(attributes.items()))
    return TimelineEntry(at, event.event_id, "search_attributes", f"search attributes: {shown}", attributes)


async def _child_started(event: HistoryEvent, at: datetime, reading: _Reading) -> TimelineEntry | None:
    child = event.start_child_workflow_execution_initiated_event_attributes
    title = f"child workflow {child.workflow_type.name} started ({child.workflow_id})"
    return TimelineEntry(at, event.event_id, "child", title)


async def _child_completed(event: HistoryEvent, at: datetime, reading: _Reading) -> TimelineEntry | None:
    cc = event.child_workflow_execution_completed_event_attributes
    return TimelineEntry(
        at,
        event.event_id,
        "child",
        f"child workflow {cc.workflow_execution.workflow_id} completed",
        {"result": await _values(reading.converter, cc.result)},
    )


async def _completed(event: HistoryEvent, at: datetime, reading: _Reading) -> TimelineEntry | None:
    result = await _values(reading.converter, event.workflow_execution_completed_event_attributes.result)
    return TimelineEntry(at, event.event_id, "completed", "workflow completed", {"result": result})


async def _failed(event: HistoryEvent, at: datetime, reading: _Reading) -> TimelineEntry | None:
    failure = await _failure_text(reading.converter, event.workflow_execution_failed_event_attributes.failure)
    return TimelineEntry(at, event.event_id, "failed", "workflow failed", {"failure": failure})


async def _continued(event: HistoryEvent, at: datetime, reading: _Reading) -> TimelineEntry | None:
    return TimelineEntry(at, event.event_id, "continued", "workflow continued as new")


async def _terminated(event: HistoryEvent, at: datetime, reading: _Reading) -> TimelineEntry | None:
    by = event.workflow_execution_terminated_event_attributes.identity or "unknown"
    return TimelineEntry(at, event.event_id, "terminated", f"workflow terminated by {by}")


async def _cancelled(event: HistoryEvent, at: datetime, reading: _Reading) -> TimelineEntry | None:
    return TimelineEntry(at, event.event_id, "cancelled", "workflow cancelled")


async def _timed_out(event: HistoryEvent, at: datetime, reading: _Reading) -> TimelineEntry | None:
    return TimelineEntry(at, event.event_id, "timed_out", "workflow timed out")


_EventReader = Callable[[HistoryEvent, datetime, _Reading], Awaitable[TimelineEntry | None]]
_EVENTS: dict[EventType.ValueType, _EventReader] = {
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED: _started,
    EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED: _activity_scheduled,
    EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED: _activity_completed,
    EventType.EVENT_TYPE_ACTIVITY_TASK_FAILED: _activity_failed,
    EventType.EVENT_TYPE_ACTIVITY_TASK_TIMED_OUT: _activity_timed_out,
    EventType.EVENT_TYPE_TIMER_STARTED: _timer_started,
    EventType.EVENT_TYPE_TIMER_FIRED: _timer_fired,
    EventType.EVENT_TYPE_TIMER_CANCELED: _timer_cancelled,
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED: _update_accepted,
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_COMPLETED: _update_completed,
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED: _signaled,
    EventType.EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES: _search_attributes,
    EventType.EVENT_TYPE_START_CHILD_WORKFLOW_EXECUTION_INITIATED: _child_started,
    EventType.EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_COMPLETED: _child_completed,
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED: _completed,
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_FAILED: _failed,
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW: _continued,
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_TERMINATED: _terminated,
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CANCELED: _cancelled,
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_TIMED_OUT: _timed_out,
}


def entry_json(entry: TimelineEntry) -> dict[str, Any]:
    return {
        "at": entry.at.isoformat(),
        "event_id": entry.event_id,
        "kind": entry.kind,
        "title": entry.title,
        **entry.detail,
    }


def format_value(value: Any, limit: int = 300) -> str:
    text = json.dumps(value, default=str, sort_keys=True) if not isinstance(value, str) else value
    return text if len(text) <= limit else text[: limit - 3] + "..."


# --- in words, for people ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class HumanEntry:
    """One timeline line as a person reads it: when, who, what happened in words, the amounts in dollars."""

    at: datetime
    event_id: int
    kind: str
    who: str
    what: str
    amounts: tuple[str, ...]
    entry: TimelineEntry


PHRASES = {
    "workitems.open": "Opened a work item for a person",
    "workitems.record_resolution": "Recorded the person's resolution",
    "workitems.escalate": "Escalated the overdue work item",
}


def _words(name: str) -> str:
    if name in PHRASES:
        return PHRASES[name]
    area, _, verb = name.partition(".")
    text = (verb or area).replace("_", " ")
    return f"{text.capitalize()} ({area})" if verb else text.capitalize()


def amounts_in(value: Any, *, limit: int = 6) -> list[tuple[str, int]]:
    """Every ``*_cents`` number inside a decoded value, as (what, cents), first ones first."""
    found: list[tuple[str, int]] = []

    def walk(item: Any) -> None:
        if len(found) >= limit:
            return
        if isinstance(item, dict):
            for key, inner in item.items():
                if isinstance(key, str) and key.endswith("_cents") and isinstance(inner, int) and inner:
                    found.append((key.removesuffix("_cents").replace("_", " "), inner))
                else:
                    walk(inner)
        elif isinstance(item, list | tuple):
            for inner in item:
                walk(inner)

    walk(value)
    return found[:limit]


def humanize(entry: TimelineEntry, dollars: Any) -> HumanEntry:
    """``dollars`` formats cents (console.format.dollars): passed in so this module stays free of the console."""
    detail = entry.detail
    who = str(detail.get("by") or "the system")
    what = entry.title
    if entry.kind in ("activity", "activity_failed"):
        name = entry.title.removeprefix("activity ").rsplit(" ", 1)[0]
        done = {"activity": "done", "activity_failed": "failed"}[entry.kind]
        if entry.title.endswith("timed out"):
            done = "timed out"
        what = _words(name) if done == "done" else f"{_words(name)}: {done}"
    elif entry.kind in ("update", "update_failed", "signal"):
        args = detail.get("args") or [{}]
        first = args[0] if args and isinstance(args[0], dict) else {}
        if first.get("action"):
            what = f"{entry.title.split(' from ')[0].capitalize()}: {str(first['action']).replace('_', ' ')}"
            if first.get("note"):
                what += f" ({first['note']})"
    elif entry.kind == "started":
        what = entry.title.replace("workflow ", "Process ", 1)
    values = [detail.get(k) for k in ("input", "result", "args") if detail.get(k)]
    amounts = tuple(f"{label}: {dollars(cents)}" for label, cents in amounts_in(values))
    return HumanEntry(entry.at, entry.event_id, entry.kind, who, what, amounts, entry)
