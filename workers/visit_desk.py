"""The front desk's and the telehealth coordinator's actions on appointments, for the CLI and the console.

Everything that books, moves, cancels or (re)starts a visit goes through intake (the one module that starts a
patient's processes), as the EHR's events do; the visit's own steps (consent, check-in, audio fallback, end,
reassignment, invites) are the visit workflow's validated Updates. Reads (lists, a visit's page) come from the store
and the workflow's ``state`` query.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from temporalio.client import Client, WorkflowUpdateFailedError
from temporalio.service import RPCError, RPCStatusCode

from activities.contracts import visits as c
from domain import models as m
from domain.enums import AppointmentKind, AppointmentStatus
from domain.errors import DomainError, NotFound, ValidationError
from intake import Actor, BusinessId, Intake, Outcome, Ref, ScheduleAppointment, StartVisit
from workers.composition import Container

CARECYCLE_APPOINTMENTS = "urn:carecycle:appointment"  # the business identifier of a visit booked in carecycle


class VisitRefused(DomainError):
    """The visit workflow refused an action (its validator's message: codes, ids, states)."""

    code = "refused"


@dataclass(frozen=True)
class Booking:
    patient_id: str
    provider: str  # our provider id or the provider's NPI
    starts_at: datetime
    duration_minutes: int = 20
    kind: str = AppointmentKind.IN_PERSON
    visit_type: str = "follow_up"
    location_id: str | None = None


class VisitDesk:
    def __init__(self, container: Container, client: Client, intake: Intake | None = None) -> None:
        from workers.api import build_intake

        self.container = container
        self.client = client
        self.intake = intake or build_intake(container, client)

    # --- through intake ------------------------------------------------------------------------------------

    async def book(self, actor: Actor, booking: Booking) -> Outcome:
        npi = self._npi(booking.provider)
        command = ScheduleAppointment(
            BusinessId(CARECYCLE_APPOINTMENTS, str(uuid.uuid4())),
            Ref.to(booking.patient_id),
            npi,
            booking.starts_at,
            AppointmentStatus.BOOKED,
            AppointmentKind(booking.kind),
            booking.duration_minutes,
            booking.location_id,
            visit_type=booking.visit_type,
        )
        return await self.intake.submit(actor, command)

    async def reschedule(
        self, actor: Actor, appointment_id: str, starts_at: datetime, minutes: int | None = None
    ) -> Outcome:
        return await self._change(actor, appointment_id, starts_at=starts_at, duration_minutes=minutes)

    async def cancel(self, actor: Actor, appointment_id: str, reason: str) -> Outcome:
        return await self._change(actor, appointment_id, status=AppointmentStatus.CANCELLED, cancel_reason=reason)

    async def move(self, actor: Actor, appointment_id: str, status: str) -> Outcome:
        """The desk's check-in (arrived) and check-out (fulfilled) of an in-person visit."""
        return await self._change(actor, appointment_id, status=AppointmentStatus(status))

    async def start(self, actor: Actor, appointment_id: str) -> Outcome:
        return await self.intake.submit(actor, StartVisit(Ref.to(appointment_id)))

    async def _change(self, actor: Actor, appointment_id: str, **changes: Any) -> Outcome:
        with self.container.session_factory() as session:
            row = session.get(m.Appointment, appointment_id)
            if row is None:
                raise NotFound(f"unknown appointment {appointment_id}")
            provider = session.get(m.Provider, row.provider_id)
            assert provider is not None
            starts = row.starts_at if row.starts_at.tzinfo else row.starts_at.replace(tzinfo=UTC)
            command = ScheduleAppointment(
                BusinessId(CARECYCLE_APPOINTMENTS, appointment_id),
                Ref.to(row.patient_id),
                provider.npi,
                changes.get("starts_at") or starts,
                changes.get("status") or AppointmentStatus(row.status),
                AppointmentKind(row.kind),
                changes.get("duration_minutes") or row.duration_minutes,
                row.location_id,
                target=appointment_id,
                cancel_reason=changes.get("cancel_reason"),
            )
        return await self.intake.submit(actor, command)

    def _npi(self, provider: str) -> str:
        with self.container.session_factory() as session:
            row = session.get(m.Provider, provider)
            if row is None:
                row = session.execute(select(m.Provider).where(m.Provider.npi == provider.strip())).scalar_one_or_none()
            if row is None:
                raise NotFound(f"unknown provider {provider}")
            return row.npi

    # --- the visit workflow's Updates ----------------------------------------------------------------------

    async def update(self, appointment_id: str, name: str, request: Any) -> Any:
        """Send one of the visit workflow's Updates; its validator's refusal becomes one clear error."""
        workflow_id = self.workflow_id(appointment_id)
        try:
            return await self.client.get_workflow_handle(workflow_id).execute_update(name, request)
        except WorkflowUpdateFailedError as exc:
            raise VisitRefused(str(exc.cause or exc)) from None
        except RPCError as exc:
            if exc.status == RPCStatusCode.NOT_FOUND:
                raise NotFound(f"no visit process runs for appointment {appointment_id}") from None
            raise

    def workflow_id(self, appointment_id: str) -> str:
        with self.container.session_factory() as session:
            row = session.get(m.Appointment, appointment_id)
            if row is None:
                raise NotFound(f"unknown appointment {appointment_id}")
            virtual = row.kind == AppointmentKind.TELEHEALTH
        return c.virtual_visit_workflow_id(appointment_id) if virtual else c.visit_workflow_id(appointment_id)

    async def state(self, appointment_id: str) -> dict[str, Any] | None:
        """The visit workflow's own view (None when none runs or ran)."""
        try:
            result: dict[str, Any] = await self.client.get_workflow_handle(self.workflow_id(appointment_id)).query(
                c.STATE_QUERY
            )
        except RPCError:
            return None
        return result

    async def resend_invite(self, appointment_id: str, by: str) -> int:
        """The join link again (a fresh token), through the VirtualVisit's validated Update; the invites sent."""
        result: int = await self.update(appointment_id, c.RESEND_INVITE_UPDATE, c.ActorRequest(by))
        return result

    async def reassign(self, appointment_id: str, provider_id: str, by: str) -> str:
        if not provider_id.strip():
            raise ValidationError("name the provider to give the visit to")
        result: str = await self.update(appointment_id, c.REASSIGN_UPDATE, c.ReassignRequest(provider_id, by))
        return result


class TelehealthDeskForConsole:
    """The console's telehealth page's actions (console.web.TelehealthDesk) on the CLI's desk: the same intake
    command and the same Updates, the signed-in console user acting as ``console:<user name>``."""

    def __init__(self, container: Container, client: Client) -> None:
        self._container = container
        self._client = client
        self._desk: VisitDesk | None = None

    def _visit_desk(self) -> VisitDesk:
        if self._desk is None:
            self._desk = VisitDesk(self._container, self._client)
        return self._desk

    async def cancel(self, user: str, appointment_id: str, reason: str) -> str:
        outcome = await self._visit_desk().cancel(Actor("console", user), appointment_id, reason)
        return str(outcome.change)

    async def start(self, user: str, appointment_id: str) -> str:
        """``carecycle telehealth start``'s intake command: the booked visit's VirtualVisit, unless it runs."""
        outcome = await self._visit_desk().start(Actor("console", user), appointment_id)
        return ", ".join(outcome.starts)

    async def resend_invite(self, user: str, appointment_id: str) -> int:
        actor = Actor("console", user)
        with actor.acting():  # the Update signed as the signed-in user (workers.security.actor_headers)
            return await self._visit_desk().resend_invite(appointment_id, actor.label)

    async def reassign(self, user: str, appointment_id: str, provider_id: str) -> str:
        actor = Actor("console", user)
        with actor.acting():
            return await self._visit_desk().reassign(appointment_id, provider_id, actor.label)
