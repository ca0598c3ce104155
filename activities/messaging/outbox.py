"""The messaging outbox: a patient message rendered into the store, then handed to the SMS and e-mail providers.

One activity, ``messaging.send``: it renders the template (domain.messages: first name, time, place, and a virtual
visit's join link only), writes one ``outbound_messages`` row per channel under the message key (so a retried
activity sends nothing twice that the provider accepted), skips the channels the patient opted out of, and hands
the rest to the providers. The provider's delivery receipts come back through the webhook receiver
(:mod:`activities.messaging.receipts`). Nothing of the text or the address leaves the store except to the provider.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from temporalio import activity

from activities.contracts import visits as c
from activities.messaging.adapters import (
    EMAIL_UNREACHABLE_CODES,
    SMS_OPTED_OUT_CODE,
    SMS_UNREACHABLE_CODES,
    Accepted,
    EmailSender,
    SmsSender,
)
from activities.revenue.base import StoreActivities, domain_errors_are_final
from activities.vendors import VendorRefused
from domain import models as m
from domain.enums import AppointmentKind, MessageStatus
from domain.errors import NotFound, ValidationError
from domain.messages import EMAIL, SMS, TELEHEALTH_INVITE, recipients, render, to_e164, visit_time
from domain.store.engine import recorded_after_side_effect

# Mints a join link for the patient of a virtual visit (a fresh meeting token): appointment id -> URL.
JoinLink = Callable[[str], str]


@dataclass(frozen=True)
class MessagingConfig:
    timezone: str = "America/Los_Angeles"  # how patients read the visit's time
    sms_status_callback: str | None = None  # where the SMS provider posts delivery receipts


class MessagingActivities(StoreActivities):
    def __init__(
        self,
        session_factory: sessionmaker[Session],
        sms: SmsSender | None,
        email: EmailSender | None,
        config: MessagingConfig,
        join_link: JoinLink | None = None,
    ) -> None:
        super().__init__(session_factory)
        self._sms = sms
        self._email = email
        self._config = config
        self._join_link = join_link

    @activity.defn(name=c.MESSAGING_SEND)
    @domain_errors_are_final
    def send(self, data: c.PatientMessage) -> c.MessageOutcome:
        pending, opted_out = self._queue(data)
        sent: list[str] = []
        failed: list[str] = []
        for row_id, channel in pending:
            if self._deliver(row_id, channel):
                sent.append(channel)
            else:
                failed.append(channel)
        return c.MessageOutcome(data.key, tuple(sent), tuple(opted_out), tuple(failed))

    def _queue(self, data: c.PatientMessage) -> tuple[list[tuple[str, str]], list[str]]:
        """Write the outbox rows (once per key and channel); returns the rows still to send and the opted-out
        channels."""
        keys = [f"{data.key}:{SMS}", f"{data.key}:{EMAIL}"]
        query = select(m.OutboundMessage).where(m.OutboundMessage.key.in_(keys))
        with self.uow() as uow:
            known = uow.session.execute(query).first() is not None
        # A virtual visit's join link is minted (a vendor call, its own transaction) before the rows are written.
        link = self._link(data) if not known else None
        with self.uow() as uow:
            session = uow.session
            existing = {row.channel: row for row in session.execute(query).scalars()}
            if not existing:
                self._render_rows(session, data, link)
                uow.commit()
                existing = {row.channel: row for row in session.execute(query).scalars()}
            pending = [(row.id, row.channel) for row in existing.values() if row.status == MessageStatus.QUEUED]
            opted_out = sorted(row.channel for row in existing.values() if row.status == MessageStatus.OPTED_OUT)
        return sorted(pending, key=lambda p: p[1], reverse=True), opted_out

    def _link(self, data: c.PatientMessage) -> str | None:
        if data.template != TELEHEALTH_INVITE:
            return None
        if self._join_link is None:
            raise ValidationError("no video vendor is configured to make a join link")
        return self._join_link(data.appointment_id)

    def _render_rows(self, session: Session, data: c.PatientMessage, link: str | None) -> None:
        appointment = session.get(m.Appointment, data.appointment_id)
        if appointment is None:
            raise NotFound(f"unknown appointment {data.appointment_id}")
        patient = session.get(m.Patient, appointment.patient_id)
        location = session.get(m.Location, appointment.location_id)
        practice = session.execute(select(m.Practice).limit(1)).scalar_one_or_none()
        if patient is None or location is None or practice is None:
            raise NotFound(f"appointment {data.appointment_id} lacks its patient, location or practice")
        virtual = appointment.kind == AppointmentKind.TELEHEALTH
        values = {
            "first_name": patient.first_name,
            "when": visit_time(_aware(appointment.starts_at), self._config.timezone),
            "place": "online (video visit)" if virtual else f"{location.name}, {location.address_line}",
            "practice_phone": practice.phone,
        }
        if link is not None:
            values["link"] = link
        rendered = render(data.template, values)
        opted = set(
            session.execute(select(m.MessageOptOut.channel).where(m.MessageOptOut.patient_id == patient.id)).scalars()
        )
        chosen, suppressed = recipients(patient.phone, patient.email, opted)
        for recipient in chosen:
            address = to_e164(recipient.address) if recipient.channel == SMS else recipient.address
            session.add(_row(data, patient.id, recipient.channel, address, rendered.subject, rendered.body))
        for channel in suppressed:
            row = _row(data, patient.id, channel, "", rendered.subject, "")
            row.status = MessageStatus.OPTED_OUT
            session.add(row)

    def _deliver(self, row_id: str, channel: str) -> bool:
        with self.uow() as uow:
            row = uow.session.get(m.OutboundMessage, row_id)
            assert row is not None
            to, subject, body = row.to_address, row.subject, row.body
        try:
            accepted = self._hand_over(channel, to, subject, body, row_id)
        except VendorRefused as refused:
            recorded_after_side_effect(partial(self._refused, row_id, channel, refused))
            return False

        def record() -> None:
            with self.uow() as uow:
                row = uow.session.get(m.OutboundMessage, row_id)
                assert row is not None
                row.status = MessageStatus.SENT
                row.provider = accepted.provider
                row.provider_message_id = accepted.message_id
                row.sent_at = row.status_at = datetime.now(UTC)
                uow.commit()

        recorded_after_side_effect(record)  # the vendor has the message: a lost write race must not send it again
        activity.logger.info("message sent", extra={"message_id": row_id, "channel": channel})
        return True

    def _hand_over(self, channel: str, to: str, subject: str, body: str, reference: str) -> Accepted:
        if channel == SMS:
            if self._sms is None:
                raise VendorRefused("no SMS provider is configured", code="not_configured")
            return self._sms.send(to, body, self._config.sms_status_callback)
        if self._email is None:
            raise VendorRefused("no e-mail provider is configured", code="not_configured")
        return self._email.send(to, subject, body, reference)

    def _refused(self, row_id: str, channel: str, refused: VendorRefused) -> None:
        """A provider's final no: the row says why; an SMS 21610 (the number replied STOP) is an opt-out."""
        unreachable = SMS_UNREACHABLE_CODES if channel == SMS else EMAIL_UNREACHABLE_CODES
        with self.uow() as uow:
            row = uow.session.get(m.OutboundMessage, row_id)
            assert row is not None
            opted_out = channel == SMS and refused.code == SMS_OPTED_OUT_CODE
            row.status = MessageStatus.OPTED_OUT if opted_out else MessageStatus.FAILED
            row.error_code = (refused.code or str(refused.status or "refused"))[:40]
            row.status_at = datetime.now(UTC)
            if opted_out:
                record_opt_out(uow.session, row.patient_id, channel, "provider")
            uow.commit()
        if refused.code not in unreachable and refused.code != "not_configured":
            activity.logger.warning("message refused", extra={"message_id": row_id, "code": refused.code})


def _row(
    data: c.PatientMessage, patient_id: str, channel: str, address: str, subject: str, body: str
) -> m.OutboundMessage:
    return m.OutboundMessage(
        key=f"{data.key}:{channel}",
        channel=channel,
        template=data.template,
        patient_id=patient_id,
        appointment_id=data.appointment_id,
        to_address=address,
        subject=subject,
        body=body,
        status=MessageStatus.QUEUED,
    )


def record_opt_out(session: Session, patient_id: str, channel: str, source: str) -> bool:
    """The patient opted out of ``channel`` (once; True when it is new)."""
    found = session.execute(
        select(m.MessageOptOut.id).where(m.MessageOptOut.patient_id == patient_id, m.MessageOptOut.channel == channel)
    ).first()
    if found is not None:
        return False
    session.add(m.MessageOptOut(patient_id=patient_id, channel=channel, source=source))
    return True


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)
