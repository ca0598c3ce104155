"""Replay scenarios of the Visit and VirtualVisit workflows (see tests/replay/scenarios.py for how they run).

The sandbox (clearinghouse, SMS, e-mail and video vendors) is served on the settings' sandbox port while a scenario
runs, so the real activities talk to it as in the embedded stack; the vendors' webhooks become the signals the
webhook receiver would send.
"""

from __future__ import annotations

import asyncio
import socket
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import uvicorn

from activities.contracts import visits as c
from domain.actors import acting_as, resolve_scope, sign_actor
from domain.services import appointments as svc
from domain.store.uow import UnitOfWork
from domain.workitems import ResolveRequest
from flows.visits import VirtualVisitWorkflow, VisitWorkflow
from tests.replay.scenarios import ReplayRun, Scenario
from tests.support.visits import Clinic, add_patient, add_provider, make_clinic
from workers.security.actors import load_actor_keys

POLICY = c.VisitPolicy(no_show_fee_cents=2500)


async def signed_resolve(
    run: ReplayRun, workflow_id: str, item: str, action: str, *, fields: dict[str, str] | None = None, note: str = ""
) -> ResolveRequest:
    """A console user's resolution, signed at the server's (skipped-ahead) time, as the console would sign it."""
    now = await _now(run)
    values = dict(fields or {})
    actor = sign_actor(
        load_actor_keys(run.container.settings),
        "console",
        "coord.cy",
        scope=resolve_scope(workflow_id, item, action, values, note),
        now=now,
    )
    return ResolveRequest(item, action, actor.label, values, note, actor=actor)


async def _update(run: ReplayRun, handle: Any, name: str, request: Any) -> Any:
    """A visit's Update from the console user its request names, signed (in the ``carecycle-actor`` header, by the
    run's client) at the server's (skipped-ahead) time, as the workers' actor interceptor wants it."""
    at = (await _now(run)).isoformat(timespec="seconds")
    with acting_as("console", request.by, at=at):
        return await handle.execute_update(name, request)


@contextmanager
def sandbox_served(port: int) -> Iterator[None]:
    from sandbox.server import create_app

    with tempfile.TemporaryDirectory() as state:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", port))
        server = uvicorn.Server(uvicorn.Config(create_app(Path(state)), log_level="warning", lifespan="on"))
        thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
        thread.start()
        while not server.started:
            time.sleep(0.02)
        try:
            yield
        finally:
            server.should_exit = True
            thread.join(timeout=10)
            sock.close()


_CLINIC: dict[str, Clinic] = {}


def _clinic(run: ReplayRun) -> Clinic:
    factory = run.container.session_factory
    if "clinic" not in _CLINIC:
        clinic = make_clinic(factory)
        add_provider(factory, clinic, "ana", licensed_in=("OR",))
        add_provider(factory, clinic, "wes", licensed_in=("OR", "WA"))
        _CLINIC["clinic"] = clinic
    return _CLINIC["clinic"]


async def _now(run: ReplayRun) -> datetime:
    """The server's time: ahead of the wall clock once an earlier scenario skipped time."""
    return await run.current_time() if run.current_time else datetime.now(UTC)


async def _book(run: ReplayRun, patient_id: str, provider_id: str, kind: str, starts_in: timedelta) -> str:
    now = await _now(run)
    starts = (now + starts_in).replace(second=0, microsecond=0)
    with UnitOfWork(run.container.session_factory) as uow:
        booked = svc.book(
            uow.session, svc.BookingRequest(patient_id, provider_id, starts, 20, kind), now=now, actor="scenario"
        )
        uow.commit()
    return booked.appointment_id


async def _query(handle: Any, name: str, key: str, value: object, run: ReplayRun) -> dict[str, Any]:
    for _ in range(400):
        state: dict[str, Any] = await handle.query(name)
        if state.get(key) == value:
            return state
        await asyncio.sleep(0.02)
        await run.skip_time(timedelta(minutes=30))
    raise RuntimeError(f"{key} never became {value!r}")


async def _item(handle: Any, reason: str, run: ReplayRun) -> str:
    for _ in range(400):
        for view in await handle.query("work_items"):
            if view["reason"] == reason:
                return str(view["work_item_id"])
        await asyncio.sleep(0.02)
        await run.skip_time(timedelta(hours=1))
    raise RuntimeError(f"no work item {reason}")


async def visit_fulfilled(run: ReplayRun) -> str:
    """Self-pay (no coverage to ask about), two reminders, the patient arrives, the visit closes, the Encounter is
    handed the visit."""
    clinic = _clinic(run)
    patient = add_patient(run.container.session_factory, clinic, "vic", coverage=False)
    appointment_id = await _book(run, patient, clinic.providers["ana"], "in_person", timedelta(days=4))
    with sandbox_served(run.container.settings.sandbox_port):
        handle = await run.client.start_workflow(
            VisitWorkflow.run,
            c.VisitInput(appointment_id, POLICY),
            id=c.visit_workflow_id(appointment_id),
            task_queue=c.VISIT_TASK_QUEUE,
        )
        await _query(handle, c.STATE_QUERY, "reminders_sent", 2, run)
        await _update(run, handle, c.ARRIVE_UPDATE, c.ActorRequest("desk.amy"))
        await _update(run, handle, c.CLOSE_UPDATE, c.ActorRequest("desk.amy"))
        await handle.result()
    return handle.id


async def visit_no_show_after_eligibility_item(run: ReplayRun) -> str:
    """The payer does not know the coverage (not on its roster): an eligibility item before the visit, decided by
    a person; the patient does not come: the no-show fee and the front desk's item."""
    clinic = _clinic(run)
    patient = add_patient(run.container.session_factory, clinic, "nia")
    appointment_id = await _book(run, patient, clinic.providers["ana"], "in_person", timedelta(days=2))
    with sandbox_served(run.container.settings.sandbox_port):
        handle = await run.client.start_workflow(
            VisitWorkflow.run,
            c.VisitInput(appointment_id, POLICY),
            id=c.visit_workflow_id(appointment_id),
            task_queue=c.VISIT_TASK_QUEUE,
        )
        item, reason = await _eligibility_item(handle, run)
        if reason == "eligibility_inactive":  # the self-pay path: the visit goes on, billed to the patient
            resolution = await signed_resolve(run, handle.id, item, "mark_inactive", note="payer: no coverage")
        else:
            resolution = await signed_resolve(
                run, handle.id, item, "confirm_eligibility", fields={"reference": "call-7"}, note="payer phone"
            )
        await handle.execute_update("resolve", resolution)
        item = await _item(handle, "visit_no_show", run)
        await handle.execute_update("resolve", await signed_resolve(run, handle.id, item, "complete"))
        await handle.result()
    return handle.id


async def _eligibility_item(handle: Any, run: ReplayRun) -> tuple[str, str]:
    for _ in range(400):
        for view in await handle.query("work_items"):
            if view["reason"] in ("eligibility_inactive", "eligibility_inconclusive"):
                return str(view["work_item_id"]), str(view["reason"])
        await asyncio.sleep(0.05)
        await run.skip_time(timedelta(hours=1))
    raise RuntimeError("no eligibility item")


async def virtual_visit_reassigned_audio_only(run: ReplayRun) -> str:
    """The patient is in WA and the provider licensed only in OR: blocked, reassigned to a WA-licensed provider
    (after a refused choice), invited, consented, checked in at home, both in the room, audio fallback, ended."""
    clinic = _clinic(run)
    patient = add_patient(run.container.session_factory, clinic, "wil", state="WA", coverage=False)
    appointment_id = await _book(run, patient, clinic.providers["ana"], "telehealth", timedelta(days=1))
    with sandbox_served(run.container.settings.sandbox_port):
        handle = await run.client.start_workflow(
            VirtualVisitWorkflow.run,
            c.VisitInput(appointment_id, POLICY),
            id=c.virtual_visit_workflow_id(appointment_id),
            task_queue=c.VISIT_TASK_QUEUE,
        )
        item = await _item(handle, "provider_not_licensed", run)
        try:
            await handle.execute_update(
                "resolve",
                await signed_resolve(
                    run, handle.id, item, "reassign_provider", fields={"provider_id": clinic.providers["ana"]}
                ),
            )
        except Exception:  # refused by the validator (not licensed in WA): leaves no trace in history
            pass
        await handle.execute_update(
            "resolve",
            await signed_resolve(
                run, handle.id, item, "reassign_provider", fields={"provider_id": clinic.providers["wes"]}
            ),
        )
        await _query(handle, c.STATE_QUERY, "state", "invited", run)
        await _update(run, handle, c.CONSENT_UPDATE, c.ConsentRequest("electronic", "WA", "coord"))
        await _update(run, handle, c.CHECK_IN_UPDATE, c.CheckInRequest("home", "WA", "coord"))
        now = await _now(run)
        await handle.signal(c.VENDOR_EVENT_SIGNAL, c.VendorEvent("participant_joined", "patient", now, "e1"))
        await handle.signal(c.VENDOR_EVENT_SIGNAL, c.VendorEvent("participant_joined", "provider", now, "e2"))
        await _query(handle, c.STATE_QUERY, "state", "in_progress", run)
        await _update(run, handle, c.AUDIO_FALLBACK_UPDATE, c.ActorRequest("dr.wes"))
        await _update(run, handle, c.END_UPDATE, c.ActorRequest("dr.wes"))
        await handle.result()
    return handle.id


async def virtual_visit_cancelled(run: ReplayRun) -> str:
    """Invited, the invite re-sent, then cancelled: the room is deleted (its tokens revoked)."""
    clinic = _clinic(run)
    patient = add_patient(run.container.session_factory, clinic, "cal", coverage=False)
    appointment_id = await _book(run, patient, clinic.providers["ana"], "telehealth", timedelta(days=2))
    with sandbox_served(run.container.settings.sandbox_port):
        handle = await run.client.start_workflow(
            VirtualVisitWorkflow.run,
            c.VisitInput(appointment_id, POLICY),
            id=c.virtual_visit_workflow_id(appointment_id),
            task_queue=c.VISIT_TASK_QUEUE,
        )
        await _query(handle, c.STATE_QUERY, "state", "invited", run)
        await _update(run, handle, c.RESEND_INVITE_UPDATE, c.ActorRequest("coord"))
        with UnitOfWork(run.container.session_factory) as uow:
            svc.cancel(uow.session, appointment_id, "patient", now=await _now(run), actor="scenario")
            uow.commit()
        await handle.signal(c.CANCELLED_SIGNAL)
        await handle.result()
    return handle.id


async def virtual_visit_reassigned_before_the_room(run: ReplayRun) -> str:
    """Blocked from the start (the patient in WA, the provider licensed only in OR) and reassigned before any room
    was open: no state is recorded on the way out of the block, the room opens, the invite goes, "invited"
    (patch virtual-visit-unblocked-before-the-room); then cancelled."""
    clinic = _clinic(run)
    patient = add_patient(run.container.session_factory, clinic, "ria", state="WA", coverage=False)
    appointment_id = await _book(run, patient, clinic.providers["ana"], "telehealth", timedelta(days=1))
    with sandbox_served(run.container.settings.sandbox_port):
        handle = await run.client.start_workflow(
            VirtualVisitWorkflow.run,
            c.VisitInput(appointment_id, POLICY),
            id=c.virtual_visit_workflow_id(appointment_id),
            task_queue=c.VISIT_TASK_QUEUE,
        )
        await _query(handle, c.STATE_QUERY, "state", "blocked", run)
        await _update(run, handle, c.REASSIGN_UPDATE, c.ReassignRequest(clinic.providers["wes"], "coord"))
        await _query(handle, c.STATE_QUERY, "state", "invited", run)
        with UnitOfWork(run.container.session_factory) as uow:
            svc.cancel(uow.session, appointment_id, "patient", now=await _now(run), actor="scenario")
            uow.commit()
        await handle.signal(c.CANCELLED_SIGNAL)
        await handle.result()
    return handle.id


async def virtual_visit_unblocked_by_check_in(run: ReplayRun) -> str:
    """Blocked from the start (the patient's address in WA, the provider licensed only in OR); the patient checks
    in from Oregon: the block lifts (its item recorded as retry_now), the room opens, checked in; audio only."""
    clinic = _clinic(run)
    patient = add_patient(run.container.session_factory, clinic, "oda", state="WA", coverage=False)
    appointment_id = await _book(run, patient, clinic.providers["ana"], "telehealth", timedelta(days=1))
    with sandbox_served(run.container.settings.sandbox_port):
        handle = await run.client.start_workflow(
            VirtualVisitWorkflow.run,
            c.VisitInput(appointment_id, POLICY),
            id=c.virtual_visit_workflow_id(appointment_id),
            task_queue=c.VISIT_TASK_QUEUE,
        )
        await _query(handle, c.STATE_QUERY, "state", "blocked", run)
        await _update(run, handle, c.CONSENT_UPDATE, c.ConsentRequest("verbal", "OR", "coord"))
        await _update(run, handle, c.CHECK_IN_UPDATE, c.CheckInRequest("other", "OR", "coord"))
        await _query(handle, c.STATE_QUERY, "state", "checked_in", run)
        await _update(run, handle, c.AUDIO_FALLBACK_UPDATE, c.ActorRequest("dr.ana"))
        await _update(run, handle, c.END_UPDATE, c.ActorRequest("dr.ana"))
        await handle.result()
    return handle.id


SCENARIOS: dict[str, Scenario] = {
    "visit_fulfilled": visit_fulfilled,
    "visit_no_show_after_eligibility_item": visit_no_show_after_eligibility_item,
    "virtual_visit_reassigned_audio_only": virtual_visit_reassigned_audio_only,
    "virtual_visit_cancelled": virtual_visit_cancelled,
    "virtual_visit_reassigned_before_the_room": virtual_visit_reassigned_before_the_room,
    "virtual_visit_unblocked_by_check_in": virtual_visit_unblocked_by_check_in,
}
