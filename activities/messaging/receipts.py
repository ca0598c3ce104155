"""What the SMS and e-mail providers tell us after sending: delivery receipts, bounces, STOP replies.

Called by the webhook receiver (workers.webhooks) once it has checked the provider's signature. Each call is
idempotent (a receipt delivered twice changes nothing more) and writes only the outbox row's status and, for a
STOP reply or an unsubscribe, the patient's opt-out.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from activities.messaging.adapters import SMS_OPTED_OUT_CODE
from activities.messaging.outbox import record_opt_out
from domain import models as m
from domain.enums import MessageStatus
from domain.errors import ValidationError
from domain.messages import EMAIL, SMS, is_opt_out_reply, to_e164
from domain.store.uow import UnitOfWork

# Twilio MessageStatus -> ours (queued/sending/sent are the provider's own steps before the handset).
_SMS_STATUSES = {
    "sent": MessageStatus.SENT,
    "delivered": MessageStatus.DELIVERED,
    "undelivered": MessageStatus.UNDELIVERED,
    "failed": MessageStatus.FAILED,
}
# A later status never goes back to an earlier one (receipts may arrive out of order).
_RANK = {
    MessageStatus.QUEUED: 0,
    MessageStatus.SENT: 1,
    MessageStatus.DELIVERED: 2,
    MessageStatus.UNDELIVERED: 2,
    MessageStatus.FAILED: 2,
    MessageStatus.OPTED_OUT: 3,
}


def _by_provider_id(session: Session, provider: str, message_id: str) -> m.OutboundMessage | None:
    return session.execute(
        select(m.OutboundMessage).where(
            m.OutboundMessage.provider == provider, m.OutboundMessage.provider_message_id == message_id
        )
    ).scalar_one_or_none()


def _move(row: m.OutboundMessage, status: MessageStatus, error_code: str | None) -> bool:
    if _RANK[status] < _RANK[MessageStatus(row.status)] or row.status == status:
        return False
    row.status = status
    row.error_code = error_code[:40] if error_code else row.error_code
    row.status_at = datetime.now(UTC)
    return True


def record_sms_status(
    factory: sessionmaker[Session], message_sid: str, status: str, error_code: str | None = None
) -> bool:
    """A Twilio status callback. Returns True when it changed the row (False: unknown sid, repeat, or older)."""
    target = _SMS_STATUSES.get(status)
    with UnitOfWork(factory) as uow:
        row = _by_provider_id(uow.session, "twilio", message_sid)
        if row is None or target is None:
            return False
        if error_code == SMS_OPTED_OUT_CODE:
            target = MessageStatus.OPTED_OUT
            record_opt_out(uow.session, row.patient_id, SMS, "sms_keyword")
        changed = _move(row, target, error_code)
        uow.commit()
        return changed


def record_sms_reply(factory: sessionmaker[Session], from_number: str, body: str) -> int:
    """An incoming SMS. A STOP (or UNSUBSCRIBE, ...) opts every patient with that number out of SMS; returns
    how many patients it opted out. Other replies are not read here."""
    if not is_opt_out_reply(body):
        return 0
    try:
        number = to_e164(from_number)
    except ValidationError:
        return 0
    digits = number[2:]
    opted = 0
    with UnitOfWork(factory) as uow:
        session = uow.session
        # Phones are stored as typed; compare their digits (few patients share a number).
        candidates = session.execute(
            select(m.Patient.id, m.Patient.phone).where(m.Patient.phone.like(f"%{digits[-4:]}"))
        ).all()
        for patient_id, phone in candidates:
            if "".join(ch for ch in phone if ch.isdigit())[-10:] == digits:
                opted += int(record_opt_out(session, patient_id, SMS, "sms_keyword"))
        uow.commit()
    return opted


def record_email_event(
    factory: sessionmaker[Session], record_type: str, message_id: str, bounce_type: str = ""
) -> bool:
    """A Postmark webhook: Delivery, Bounce (a hard bounce or spam complaint ends the address), SubscriptionChange."""
    with UnitOfWork(factory) as uow:
        row = _by_provider_id(uow.session, "postmark", message_id)
        if row is None:
            return False
        if record_type == "Delivery":
            changed = _move(row, MessageStatus.DELIVERED, None)
        elif record_type == "Bounce":
            changed = _move(row, MessageStatus.UNDELIVERED, bounce_type or "bounce")
        elif record_type in ("SubscriptionChange", "SpamComplaint"):
            record_opt_out(uow.session, row.patient_id, EMAIL, "email_unsubscribe")
            changed = _move(row, MessageStatus.OPTED_OUT, record_type)
        else:
            return False
        uow.commit()
        return changed
