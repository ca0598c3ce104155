"""The demo's visits, through the doors a practice uses: booked as FHIR Appointments through the integration API
(intake starts each one's Visit or VirtualVisit), the virtual visits' steps through the CLI's services
(``workers.visit_desk``: consent, check-in, audio fallback, end, the coordinator's reassignment), nothing written
to the store here.

- an in-person visit booked ahead; the patient arrives and is checked out (the EHR's Appointment again):
  the Visit hands over to the Encounter;
- an in-person visit tomorrow nobody comes to: the Visit workflow applies the no-show policy;
- a virtual visit that falls back to audio only: consent, check-in from home, audio fallback, end (modifier 93,
  POS 10 on its Encounter);
- a virtual visit whose patient checks in from a state the provider holds no license in: blocked, then given to
  a provider licensed there through the validated reassign Update.

The virtual visits start far enough ahead on the business clock (``--time-scale`` real seconds a day) that the
steps land before their no-show time.
"""

from __future__ import annotations

import asyncio
import logging
import math
import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import func, select
from temporalio.client import Client

from activities.contracts import visits as c
from domain import models as m
from domain.actors import acting_as
from domain.errors import DomainError
from domain.services.licensure import provider_licensed_in
from workers.composition import Container
from workers.demo_fhir import APPOINTMENT_SYSTEM, NPI

log = logging.getLogger("carecycle.demo")

# The scripted people's Updates go out as system actors (workers.security.actor_headers signs them).
COORDINATOR = "system:demo:coordinator"
PROVIDER = "system:demo:provider"

HOME_STATE = "OR"  # where the practice is and every provider is licensed
OTHER_STATES = ("WA", "CA", "ID")
STEP_SECONDS = 30.0  # real seconds the virtual visits' steps may take before their start


@dataclass
class Casting:
    """Who takes part in which visit (ids only), read from the store."""

    in_person: tuple[str, str] | None = None  # (patient id, provider NPI)
    no_show: tuple[str, str] | None = None
    audio: tuple[str, str, str] | None = None  # (patient id, provider NPI, the patient's state)
    blocked: tuple[str, str, str, str] | None = None  # (patient id, provider NPI, check-in state, licensed provider id)
    location_id: str = ""


@dataclass
class VisitsShown:
    appointments: dict[str, str] = field(default_factory=dict)  # role -> appointment id
    refused: list[int] = field(default_factory=list)
    steps_refused: list[str] = field(default_factory=list)


def cast(container: Container, patient_ids: list[str], day: date) -> Casting:
    """Four different patients of those the API registered, and providers licensed where each virtual visit's
    patient says they are at check-in (the practice's providers are licensed in Oregon and a few neighbours)."""
    casting = Casting()
    with container.session_factory() as session:
        providers = session.execute(select(m.Provider.id, m.Provider.npi).order_by(m.Provider.npi)).all()
        casting.location_id = session.execute(select(m.Location.id).order_by(m.Location.id).limit(1)).scalar_one()
        patients = [p for p in (session.get(m.Patient, pid) for pid in patient_ids) if p and (p.phone or p.email)]

        def licensed(state: str) -> list[tuple[str, str]]:
            return [(pid, npi) for pid, npi in providers if provider_licensed_in(session, pid, state, day)]

        oregon = licensed(HOME_STATE)
        for state in OTHER_STATES:
            there = licensed(state)
            elsewhere = [p for p in oregon if p not in there]
            if there and elsewhere and patients:
                casting.blocked = (patients.pop(0).id, elsewhere[0][1], state, there[0][0])
                break
        if oregon and patients:
            casting.audio = (patients.pop(0).id, oregon[0][1], HOME_STATE)
        if providers and patients:
            casting.in_person = (patients.pop(0).id, providers[0][1])
        if providers and patients:
            casting.no_show = (patients.pop(0).id, providers[-1][1])
    return casting


def _appointment(
    key: str, patient_id: str, npi: str, starts: datetime, location: str, virtual: bool, status: str = "booked"
) -> dict[str, Any]:
    resource: dict[str, Any] = {
        "resourceType": "Appointment",
        "identifier": [{"system": APPOINTMENT_SYSTEM, "value": key}],
        "status": status,
        "start": starts.isoformat(),
        "minutesDuration": 20,
        "participant": [
            {"actor": {"reference": f"Patient/{patient_id}"}, "status": "accepted"},
            {"actor": {"identifier": {"system": NPI, "value": npi}}, "status": "accepted"},
            {"actor": {"reference": f"Location/{location}"}, "status": "accepted"},
        ],
    }
    if virtual:
        resource["appointmentType"] = {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0276",
                                                   "code": "VR"}]}  # fmt: skip
    return {
        "fullUrl": f"urn:uuid:{uuid.uuid4()}",
        "resource": resource,
        "request": {"method": "PUT", "url": f"Appointment?identifier={APPOINTMENT_SYSTEM}|{key}"},
    }


def ahead(time_scale: float) -> timedelta:
    """How far ahead the visits start: far enough on the business clock for their steps to land first."""
    return timedelta(days=max(1, math.ceil(STEP_SECONDS / max(time_scale, 0.01))))


def visit_day(time_scale: float) -> date:
    return (datetime.now(UTC) + ahead(time_scale)).date()


async def book(api_url: str, token: str, casting: Casting, time_scale: float) -> VisitsShown:
    """Each visit as its own FHIR transaction (a practice's EHR books one at a time); the in-person visit's
    arrival and check-out come the same way (the Appointment again, arrived, then fulfilled)."""
    shown = VisitsShown()
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    later = ahead(time_scale)
    plan = {
        "in_person": (casting.in_person, now + later + timedelta(hours=3), False),
        "no_show": (casting.no_show, now + timedelta(days=1), False),
        "audio_only": (casting.audio, now + later, True),
        "licensure_block": (casting.blocked, now + later + timedelta(hours=1), True),
    }
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/fhir+json"}
    async with httpx.AsyncClient(timeout=60, headers=headers) as client:
        for role, (who, starts, virtual) in plan.items():
            if who is None:
                log.warning("the demo found nobody for a visit", extra={"visit": role})
                continue
            key = f"demo-{role}-{starts.date().isoformat()}-{who[0][:8]}"
            for status in ("booked", "arrived", "fulfilled") if role == "in_person" else ("booked",):
                entry = _appointment(key, who[0], who[1], starts, casting.location_id, virtual, status)
                answer = await client.post(
                    api_url, json={"resourceType": "Bundle", "type": "transaction", "entry": [entry]}
                )
                if answer.status_code != 200:
                    shown.refused.append(answer.status_code)
                    break
                shown.appointments[role] = answer.json()["entry"][0]["response"]["location"].split("/")[1]
                if status == "booked" and role == "in_person":
                    await asyncio.sleep(1.0)  # its Visit starts (intake) before the patient arrives
    return shown


async def _until(desk: Any, appointment_id: str, states: tuple[str, ...], seconds: float = 60.0) -> str | None:
    seen = None
    for _ in range(int(seconds / 0.2)):
        view = await desk.state(appointment_id)
        seen = view.get("state") if view else None
        if seen in states:
            return str(seen)
        await asyncio.sleep(0.2)
    return seen


async def play(container: Container, client: Client, casting: Casting, shown: VisitsShown) -> None:
    """The virtual visits' steps, as the coordinator, the patient's check-in and the provider make them. Each
    patient says at check-in which state they are in: Oregon for the audio-only visit (its provider is licensed
    there), a neighbour state for the other (its provider is not: blocked until the coordinator reassigns it)."""
    from workers.visit_desk import VisitDesk

    desk = VisitDesk(container, client)
    by = COORDINATOR
    audio = shown.appointments.get("audio_only")
    if audio and casting.audio:
        state = casting.audio[2]
        await _steps(desk, shown, audio, [
            (c.CONSENT_UPDATE, c.ConsentRequest("verbal", state, by)),
            (c.CHECK_IN_UPDATE, c.CheckInRequest("other", state, by)),
            ("wait", "checked_in"),
            (c.AUDIO_FALLBACK_UPDATE, c.ActorRequest(PROVIDER)),
            (c.END_UPDATE, c.ActorRequest(PROVIDER)),
        ])  # fmt: skip
    blocked = shown.appointments.get("licensure_block")
    if blocked and casting.blocked:
        state = casting.blocked[2]
        await _steps(desk, shown, blocked, [
            (c.CONSENT_UPDATE, c.ConsentRequest("electronic", state, by)),
            (c.CHECK_IN_UPDATE, c.CheckInRequest("other", state, by)),
            ("wait", "blocked"),
            (c.REASSIGN_UPDATE, casting.blocked[3]),
            ("wait", "checked_in"),
        ])  # fmt: skip


async def _steps(desk: Any, shown: VisitsShown, appointment_id: str, steps: list[tuple[str, Any]]) -> None:
    if await _until(desk, appointment_id, ("invited", "blocked")) is None:
        shown.steps_refused.append("never started")
        return
    for name, request in steps:
        try:
            if name == "wait":
                if await _until(desk, appointment_id, (request,)) != request:
                    shown.steps_refused.append(f"never {request}")
                    return
            elif name == c.REASSIGN_UPDATE:
                with acting_as("system", COORDINATOR.removeprefix("system:")):
                    await desk.reassign(appointment_id, request, COORDINATOR)
            else:
                with acting_as("system", request.by.removeprefix("system:")):  # signed as the scripted person
                    await desk.update(appointment_id, name, request)
        except DomainError as exc:
            shown.steps_refused.append(f"{name}:{type(exc).__name__}")
            log.warning("a demo visit step was refused", extra={"step": name, "error": str(exc)[:160]})
            return


async def wait_for_outcomes(container: Container, shown: VisitsShown, seconds: float) -> dict[str, Any]:
    """Until the no-show is marked and the audio-only visit is done (or ``seconds`` passed): the counts."""
    counts: dict[str, Any] = {}
    for _ in range(int(seconds / 0.5)):
        counts = await asyncio.to_thread(visit_counts, container, shown)
        if counts["no_shows"] >= (1 if "no_show" in shown.appointments else 0) and counts["audio_only"] >= (
            1 if "audio_only" in shown.appointments else 0
        ):
            break
        await asyncio.sleep(0.5)
    return counts


def visit_counts(container: Container, shown: VisitsShown) -> dict[str, Any]:
    """What the store says happened to the demo's visits (counts and codes only)."""
    ids = list(shown.appointments.values())
    with container.session_factory() as session:
        rows = session.execute(select(m.Appointment.kind, m.Appointment.status).where(m.Appointment.id.in_(ids))).all()
        virtual = session.execute(select(m.VirtualVisit).where(m.VirtualVisit.appointment_id.in_(ids))).scalars().all()
        reassigned = session.execute(
            select(func.count())
            .select_from(m.AuditEvent)
            .where(m.AuditEvent.entity_id.in_(ids), m.AuditEvent.action == "telehealth.reassigned")
        ).scalar_one()
    return {
        "booked_through_the_api": len(rows),
        "in_person": sum(1 for kind, _ in rows if kind == "in_person"),
        "in_person_fulfilled": sum(1 for kind, status in rows if kind == "in_person" and status == "fulfilled"),
        "virtual": sum(1 for kind, _ in rows if kind == "telehealth"),
        "no_shows": sum(1 for kind, status in rows if kind == "in_person" and status == "noshow"),
        # a virtual visit nobody joined in time (the reassigned one's provider never joins in the demo)
        "virtual_no_shows": sum(1 for v in virtual if v.state == "no_show"),
        "audio_only": sum(1 for v in virtual if v.audio_only and v.state == "done"),
        "licensure_blocks_resolved_by_reassignment": int(reassigned),
        "refused": shown.refused + shown.steps_refused,
    }
