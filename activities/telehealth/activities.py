"""The VirtualVisit's activities: the plan (licensure), reassignment, the vendor's room, consent, check-in, events,
and the encounter at the end. Store work goes through domain.services.telehealth; the room through the video port.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session, sessionmaker
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.contracts import revenue as rc
from activities.contracts import visits as c
from activities.revenue.base import StoreActivities, domain_errors_are_final
from activities.telehealth.video import Room, VideoVendor, join_url
from activities.vendors import VendorRefused
from domain import audit
from domain.enums import VirtualVisitState
from domain.services import telehealth as svc

# How long a join link stays good after the visit's scheduled end (a late start, a long visit).
LINK_GRACE = timedelta(hours=12)


def vendor_errors_are_final(fn: Callable[..., Any]) -> Callable[..., Any]:
    """A vendor's final refusal (4xx) leaves as a non-retryable ``vendor_refused``; outages are retried."""
    import functools

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except VendorRefused as refused:
            raise ApplicationError(str(refused), type="vendor_refused", non_retryable=True) from None

    return wrapper


def _plan(p: svc.Plan) -> c.VirtualVisitPlan:
    return c.VirtualVisitPlan(
        appointment_id=p.appointment_id,
        provider_id=p.provider_id,
        patient_state=p.patient_state,
        visit_day=p.day.isoformat(),
        problem=p.problem,
        candidates=tuple(
            c.ProviderOption(
                option.provider_id,
                tuple(
                    c.LicenseView(
                        lic.state,
                        lic.status,
                        lic.issued_on.isoformat(),
                        lic.expires_on.isoformat() if lic.expires_on else None,
                    )
                    for lic in option.licenses
                ),
                option.free,
            )
            for option in p.candidates
        ),
        consent_on_file=p.consent_on_file,
        has_contact=p.has_contact,
    )


def _actor() -> str:
    return f"workflow:{activity.info().workflow_id}" if activity.in_activity() else "system"


class TelehealthActivities(StoreActivities):
    def __init__(self, session_factory: sessionmaker[Session], video: VideoVendor | None) -> None:
        super().__init__(session_factory)
        self._video = video

    def all(self) -> list[Callable[..., Any]]:
        return [
            self.prepare,
            self.reassign,
            self.open_room,
            self.close_room,
            self.record,
            self.consent,
            self.check_in,
            self.finish,
        ]

    @property
    def video(self) -> VideoVendor:
        if self._video is None:
            raise VendorRefused("no video vendor is configured", code="not_configured")
        return self._video

    @activity.defn(name=c.TELEHEALTH_PREPARE)
    @domain_errors_are_final
    def prepare(self, ref: c.AppointmentRef) -> c.VirtualVisitPlan:
        with self.uow() as uow:
            result = _plan(svc.plan(uow.session, ref.appointment_id))
            uow.commit()  # the virtual-visit row, created the first time
        return result

    @activity.defn(name=c.TELEHEALTH_REASSIGN)
    @domain_errors_are_final
    @vendor_errors_are_final
    def reassign(self, data: c.Reassignment) -> c.VirtualVisitPlan:
        with self.uow() as uow:
            svc.reassign(uow.session, data.appointment_id, data.provider_id, data.patient_state, actor=data.actor)
            row = svc.visit_row(uow.session, data.appointment_id)
            room = row.room_name
            uow.commit()
        if room is not None and row.room_url and row.room_deleted_at is None:
            self._provider_link(data.appointment_id, Room(room, row.room_url))
        with self.uow() as uow:
            return _plan(svc.plan(uow.session, data.appointment_id))

    @activity.defn(name=c.TELEHEALTH_OPEN_ROOM)
    @domain_errors_are_final
    @vendor_errors_are_final
    def open_room(self, data: c.RoomRequest) -> c.RoomOpened:
        name = c.room_name(data.appointment_id)
        room, created = self.video.open_room(name, int(data.expires_at.timestamp()))
        with self.uow() as uow:
            row = svc.visit_row(uow.session, data.appointment_id)
            row.room_name, row.room_url, row.room_deleted_at = room.name, room.url, None
            row.vendor = self.video.provider
            uow.commit()
        self._provider_link(data.appointment_id, room)
        return c.RoomOpened(data.appointment_id, room.name, created)

    def _provider_link(self, appointment_id: str, room: Room) -> None:
        with self.uow() as uow:
            appointment = svc.virtual_appointment(uow.session, appointment_id)
            expires = _expiry(appointment.starts_at, appointment.duration_minutes)
            provider_id = appointment.provider_id
        token = self.video.meeting_token(room.name, f"provider:{provider_id}", True, expires)
        with self.uow() as uow:
            row = svc.visit_row(uow.session, appointment_id)
            row.provider_join_url = join_url(room, token)
            row.tokens_issued += 1
            uow.commit()

    def patient_link(self, appointment_id: str) -> str:
        """A fresh join link for the patient (the messaging outbox asks for one per invite)."""
        with self.uow() as uow:
            appointment = svc.virtual_appointment(uow.session, appointment_id)
            row = svc.visit_row(uow.session, appointment_id)
            if row.room_name is None or row.room_url is None or row.room_deleted_at is not None:
                raise VendorRefused(f"virtual visit {appointment_id} has no open room", code="no_room")
            room = Room(row.room_name, row.room_url)
            expires = _expiry(appointment.starts_at, appointment.duration_minutes)
        token = self.video.meeting_token(room.name, f"patient:{appointment.patient_id}", False, expires)
        with self.uow() as uow:
            svc.visit_row(uow.session, appointment_id).tokens_issued += 1
            uow.commit()
        return join_url(room, token)

    @activity.defn(name=c.TELEHEALTH_CLOSE_ROOM)
    @domain_errors_are_final
    @vendor_errors_are_final
    def close_room(self, ref: c.AppointmentRef) -> c.RoomClosed:
        """Delete the room: every token issued for it stops working (the compensation of a cancelled or failed
        visit, and the clean-up after one that ended)."""
        with self.uow() as uow:
            row = svc.visit_row(uow.session, ref.appointment_id)
            name, deleted_at = row.room_name, row.room_deleted_at
        if name is None or deleted_at is not None:
            return c.RoomClosed(ref.appointment_id, False)
        deleted = self.video.delete_room(name)
        with self.uow() as uow:
            row = svc.visit_row(uow.session, ref.appointment_id)
            row.room_deleted_at = datetime.now(UTC)
            row.provider_join_url = None
            audit.record(
                uow.session,
                actor=_actor(),
                action="telehealth.room_deleted",
                entity_type="appointment",
                entity_id=ref.appointment_id,
                details={"tokens_revoked": row.tokens_issued},
            )
            uow.commit()
        return c.RoomClosed(ref.appointment_id, deleted)

    @activity.defn(name=c.TELEHEALTH_RECORD)
    @domain_errors_are_final
    def record(self, event: c.TelehealthEvent) -> rc.Nothing:
        with self.uow() as uow:
            row = svc.visit_row(uow.session, event.appointment_id)
            if event.kind == "state":
                row.state = VirtualVisitState(event.state)
                row.blocked_reason = event.detail or None if event.state in ("blocked", "failed") else None
            elif event.kind == "patient_joined":
                row.patient_joined_at = row.patient_joined_at or event.at
            elif event.kind == "provider_joined":
                row.provider_joined_at = row.provider_joined_at or event.at
            elif event.kind == "audio_fallback":
                row.audio_only, row.audio_fallback_at = True, event.at
                row.state = VirtualVisitState.IN_PROGRESS
            elif event.kind == "invite_sent":
                row.invites_sent = max(row.invites_sent, int(event.detail or "0"))
            if event.kind != "state" and event.state in {s.value for s in VirtualVisitState}:
                row.state = VirtualVisitState(event.state)
            audit.record(
                uow.session,
                actor=event.actor,
                action=f"telehealth.{event.kind}",
                entity_type="appointment",
                entity_id=event.appointment_id,
                workflow_id=activity.info().workflow_id if activity.in_activity() else None,
                details={"state": event.state, **({"detail": event.detail} if event.detail else {})},
            )
            uow.commit()
        return rc.Nothing()

    @activity.defn(name=c.TELEHEALTH_CONSENT)
    @domain_errors_are_final
    def consent(self, data: c.ConsentRecord) -> rc.Nothing:
        with self.uow() as uow:
            svc.record_consent(
                uow.session, data.appointment_id, data.method, data.patient_state, data.at, actor=data.by
            )
            uow.commit()
        return rc.Nothing()

    @activity.defn(name=c.TELEHEALTH_CHECK_IN)
    @domain_errors_are_final
    def check_in(self, data: c.CheckInRecord) -> c.VirtualVisitPlan:
        with self.uow() as uow:
            svc.check_in(
                uow.session, data.appointment_id, data.patient_location, data.patient_state, data.at, actor=data.by
            )
            uow.commit()
            return _plan(svc.plan(uow.session, data.appointment_id))

    @activity.defn(name=c.TELEHEALTH_FINISH)
    @domain_errors_are_final
    def finish(self, data: c.VisitFinish) -> c.FinishedVisit:
        with self.uow() as uow:
            done = svc.finish(
                uow.session,
                data.appointment_id,
                audio_only=data.audio_only,
                started_at=data.started_at,
                ended_at=data.ended_at,
                actor=data.actor,
            )
            uow.commit()
        return c.FinishedVisit(
            data.appointment_id, done.encounter_id, done.place_of_service, done.modifier, done.duration_minutes
        )


def _expiry(starts_at: datetime, duration_minutes: int) -> int:
    start = starts_at if starts_at.tzinfo else starts_at.replace(tzinfo=UTC)
    return int((start + timedelta(minutes=duration_minutes) + LINK_GRACE).timestamp())
