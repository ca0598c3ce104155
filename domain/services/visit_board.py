"""What the front desk and the telehealth coordinator see of visits: lists and one visit, read from the store.

Opaque ids, codes, states and times only (no names, no addresses, no message texts): the CLI prints these, the
console renders them, and neither needs PHI rights for it. Shared by ``carecycle visits|telehealth list|show`` and
the console's telehealth page.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from domain import models as m
from domain.enums import AppointmentKind, VirtualVisitState
from domain.errors import NotFound

# The coordinator's board, in the order a day goes.
BOARD_STATES = (
    VirtualVisitState.BOOKED,
    VirtualVisitState.INVITED,
    VirtualVisitState.CONSENTED,
    VirtualVisitState.CHECKED_IN,
    VirtualVisitState.WAITING,
    VirtualVisitState.IN_PROGRESS,
    VirtualVisitState.DONE,
    VirtualVisitState.NO_SHOW,
    VirtualVisitState.BLOCKED,
    VirtualVisitState.CANCELLED,
    VirtualVisitState.FAILED,
)


@dataclass(frozen=True)
class VisitLine:
    appointment_id: str
    patient_id: str
    provider_id: str
    kind: str
    status: str
    starts_at: datetime
    duration_minutes: int
    visit_type: str
    eligibility: str | None
    telehealth_state: str | None = None
    patient_state: str | None = None
    patient_location: str | None = None
    audio_only: bool = False
    blocked_reason: str | None = None
    invites_sent: int = 0
    duration_seconds: int | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _line(appointment: m.Appointment, virtual: m.VirtualVisit | None) -> VisitLine:
    return VisitLine(
        appointment.id,
        appointment.patient_id,
        appointment.provider_id,
        str(appointment.kind),
        str(appointment.status),
        _aware(appointment.starts_at),
        appointment.duration_minutes,
        appointment.visit_type,
        appointment.eligibility_status,
        str(virtual.state) if virtual else None,
        virtual.patient_state if virtual else None,
        virtual.patient_location if virtual else None,
        bool(virtual and virtual.audio_only),
        virtual.blocked_reason if virtual else None,
        virtual.invites_sent if virtual else 0,
        virtual.duration_seconds if virtual else None,
    )


def visits(
    session: Session,
    *,
    day: date | None = None,
    status: str | None = None,
    kind: str | None = None,
    state: str | None = None,
    limit: int = 500,
) -> list[VisitLine]:
    """Appointments by start time (of ``day`` in UTC when given), with their virtual visit's state."""
    query = (
        select(m.Appointment, m.VirtualVisit)
        .outerjoin(m.VirtualVisit, m.VirtualVisit.appointment_id == m.Appointment.id)
        .order_by(m.Appointment.starts_at, m.Appointment.id)
        .limit(limit)
    )
    if day is not None:
        start = datetime.combine(day, time(), tzinfo=UTC)
        query = query.where(m.Appointment.starts_at >= start, m.Appointment.starts_at < start + timedelta(days=1))
    if status is not None:
        query = query.where(m.Appointment.status == status)
    if kind is not None:
        query = query.where(m.Appointment.kind == kind)
    if state is not None:
        query = query.where(m.VirtualVisit.state == state)
    return [_line(appointment, virtual) for appointment, virtual in session.execute(query).all()]


def telehealth_board(session: Session, day: date) -> dict[str, list[VisitLine]]:
    """The day's virtual visits grouped by state (every state present, in the board's order). A visit whose
    VirtualVisit has recorded nothing yet is ``booked``: no room, no invite (never shown as invited before it is)."""
    board: dict[str, list[VisitLine]] = {str(s): [] for s in BOARD_STATES}
    for line in visits(session, day=day, kind=AppointmentKind.TELEHEALTH):
        board.setdefault(line.telehealth_state or VirtualVisitState.BOOKED.value, []).append(line)
    return board


def visit_detail(session: Session, appointment_id: str) -> dict[str, Any]:
    """One visit: the appointment, its virtual visit, its consents, its messages (channel, template, status: never
    the text or the address) and its audit trail (actions and codes)."""
    appointment = session.get(m.Appointment, appointment_id)
    if appointment is None:
        raise NotFound(f"unknown appointment {appointment_id}")
    virtual = session.execute(
        select(m.VirtualVisit).where(m.VirtualVisit.appointment_id == appointment_id)
    ).scalar_one_or_none()
    messages = session.execute(
        select(m.OutboundMessage)
        .where(m.OutboundMessage.appointment_id == appointment_id)
        .order_by(m.OutboundMessage.queued_at)
    ).scalars()
    consents = session.execute(
        select(m.TelehealthConsent)
        .where(m.TelehealthConsent.appointment_id == appointment_id)
        .order_by(m.TelehealthConsent.given_at)
    ).scalars()
    trail = session.execute(
        select(m.AuditEvent)
        .where(m.AuditEvent.entity_type == "appointment", m.AuditEvent.entity_id == appointment_id)
        .order_by(m.AuditEvent.occurred_at)
    ).scalars()
    return {
        **_line(appointment, virtual).as_dict(),
        "cancel_reason": appointment.cancel_reason,
        "source": appointment.source,
        "room": virtual.room_name if virtual else None,
        "room_deleted": bool(virtual and virtual.room_deleted_at),
        "consents": [
            {"given_at": c.given_at, "method": c.method, "patient_state": c.patient_state, "recorded_by": c.recorded_by}
            for c in consents
        ],
        "messages": [
            {
                "template": msg.template,
                "channel": msg.channel,
                "status": str(msg.status),
                "error_code": msg.error_code,
                "queued_at": msg.queued_at,
            }
            for msg in messages
        ],
        "events": [
            {"at": e.occurred_at, "action": e.action, "actor": e.actor, "details": e.details or {}} for e in trail
        ],
    }
