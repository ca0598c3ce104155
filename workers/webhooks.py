"""The webhook receiver: what the messaging and video vendors tell us after the fact, checked and recorded.

Routes (under the public base URL the vendors are given, ``settings.webhooks_url``):

    POST /webhooks/twilio/status    SMS status callbacks (form; ``X-Twilio-Signature`` over the public URL)
    POST /webhooks/twilio/inbound   SMS replies (form, signed the same way): STOP opts the number out
    POST /webhooks/postmark         e-mail Delivery / Bounce / SubscriptionChange records (HTTP Basic)
    POST /webhooks/daily            video participant.joined / participant.left / meeting.ended (HMAC-SHA256,
                                    ``X-Webhook-Signature`` over ``<X-Webhook-Timestamp>.<body>``), signalled to the
                                    appointment's VirtualVisit workflow
    GET  /health

A request whose signature does not check out is refused with 403 and changes nothing. Receipts are recorded by
activities.messaging.receipts (idempotent); nothing here logs a phone number, an address or a message text.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from sqlalchemy.orm import Session, sessionmaker
from starlette.concurrency import run_in_threadpool
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from activities.contracts import visits as c
from activities.messaging import receipts
from domain.actors import acting_as
from domain.webhook_signatures import daily_signature, same, twilio_signature

log = logging.getLogger("carecycle.webhooks")

MAX_CLOCK_SKEW_SECONDS = 300  # a Daily webhook older than this is a replay


@dataclass(frozen=True)
class WebhookSecrets:
    public_url: str  # how the vendors reach us, e.g. https://hooks.practice.example (no trailing slash)
    twilio_auth_token: str
    postmark_user: str
    postmark_password: str
    daily_hmac: str  # base64


def postmark_hook_url(secrets: WebhookSecrets) -> str:
    """Postmark's way of authenticating a webhook: credentials in the URL it is given."""
    scheme, _, rest = secrets.public_url.partition("://")
    return f"{scheme}://{secrets.postmark_user}:{secrets.postmark_password}@{rest}/webhooks/postmark"


@dataclass(frozen=True)
class _Receiver:
    """What the handlers need, kept on the app's state."""

    client: Client | None
    session_factory: sessionmaker[Session]
    secrets: WebhookSecrets


def create_webhooks_app(
    client: Client | None, session_factory: sessionmaker[Session], secrets: WebhookSecrets
) -> FastAPI:
    app = FastAPI(title="carecycle webhooks", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.receiver = _Receiver(client, session_factory, secrets)
    app.add_api_route("/webhooks/twilio/status", twilio_status, methods=["POST"])
    app.add_api_route("/webhooks/twilio/inbound", twilio_inbound, methods=["POST"])
    app.add_api_route("/webhooks/postmark", postmark, methods=["POST"])
    app.add_api_route("/webhooks/daily", daily, methods=["POST"])
    app.add_api_route("/health", health, methods=["GET"])
    return app


def _receiver(request: Request) -> _Receiver:
    receiver: _Receiver = request.app.state.receiver
    return receiver


async def _twilio_form(request: Request, path: str) -> dict[str, str] | None:
    """The form Twilio posted, if its signature over our public URL checks out."""
    secrets = _receiver(request).secrets
    form = dict(parse_qsl((await request.body()).decode("utf-8", "replace"), keep_blank_values=True))
    expected = twilio_signature(secrets.twilio_auth_token, secrets.public_url.rstrip("/") + path, form)
    return form if same(expected, request.headers.get("x-twilio-signature")) else None


async def twilio_status(request: Request) -> Response:
    form = await _twilio_form(request, "/webhooks/twilio/status")
    if form is None:
        return _forbidden("signature")
    await run_in_threadpool(
        receipts.record_sms_status,
        _receiver(request).session_factory,
        form.get("MessageSid", ""),
        form.get("MessageStatus", ""),
        form.get("ErrorCode") or None,
    )
    return Response(status_code=204)


async def twilio_inbound(request: Request) -> Response:
    form = await _twilio_form(request, "/webhooks/twilio/inbound")
    if form is None:
        return _forbidden("signature")
    opted = await run_in_threadpool(
        receipts.record_sms_reply, _receiver(request).session_factory, form.get("From", ""), form.get("Body", "")
    )
    if opted:
        log.info("sms opt-out recorded", extra={"patients": opted})
    # TwiML: Twilio itself answers STOP with the carrier's confirmation; we add nothing.
    return Response("<Response/>", media_type="application/xml")


async def postmark(request: Request) -> Response:
    import base64

    secrets = _receiver(request).secrets
    expected = "Basic " + base64.b64encode(f"{secrets.postmark_user}:{secrets.postmark_password}".encode()).decode()
    if not same(expected, request.headers.get("authorization")):
        return _forbidden("credentials")
    record = await request.json()
    if not isinstance(record, dict):
        return JSONResponse({"error": "not a record"}, status_code=400)
    await run_in_threadpool(
        receipts.record_email_event,
        _receiver(request).session_factory,
        str(record.get("RecordType", "")),
        str(record.get("MessageID", "")),
        str(record.get("Type", "")),
    )
    return Response(status_code=204)


async def daily(request: Request) -> Response:
    receiver = _receiver(request)
    body = await request.body()
    stamp = request.headers.get("x-webhook-timestamp", "")
    if not same(daily_signature(receiver.secrets.daily_hmac, stamp, body), request.headers.get("x-webhook-signature")):
        return _forbidden("signature")
    if not stamp.isdigit() or abs(time.time() - int(stamp)) > MAX_CLOCK_SKEW_SECONDS:
        return _forbidden("timestamp")
    signal = vendor_event(json.loads(body))
    if signal is None or receiver.client is None:
        return Response(status_code=204)
    appointment_id, vendor = signal
    try:
        with acting_as("system", "webhooks"):  # the vendor's signed event, passed on signed as ours
            await receiver.client.get_workflow_handle(c.virtual_visit_workflow_id(appointment_id)).signal(
                c.VENDOR_EVENT_SIGNAL, vendor
            )
    except RPCError as exc:
        if exc.status != RPCStatusCode.NOT_FOUND:
            return JSONResponse({"error": "temporal unavailable"}, status_code=503)  # the vendor retries
    return Response(status_code=204)


async def health() -> dict[str, str]:
    return {"status": "ok"}


def vendor_event(event: dict[str, Any]) -> tuple[str, c.VendorEvent] | None:
    """A Daily webhook as (appointment id, the VirtualVisit's signal), or None for an event of no visit of ours."""
    kinds = {
        "participant.joined": "participant_joined",
        "participant.left": "participant_left",
        "meeting.ended": "meeting_ended",
    }
    kind = kinds.get(str(event.get("type")))
    payload = event.get("payload") or {}
    appointment_id = c.appointment_of_room(str(payload.get("room", "")))
    if kind is None or appointment_id is None:
        return None
    user = str(payload.get("user_id") or "")
    role = user.split(":", 1)[0] if user.startswith(("patient:", "provider:")) else ""
    seconds = payload.get("end_ts") if kind == "meeting_ended" else payload.get("joined_at")
    if kind == "participant_left" and payload.get("joined_at") is not None:
        seconds = float(payload["joined_at"]) + float(payload.get("duration") or 0)
    at = datetime.fromtimestamp(float(seconds if seconds is not None else event.get("event_ts") or time.time()), UTC)
    return appointment_id, c.VendorEvent(kind, role, at, str(event.get("id") or ""))


def _forbidden(what: str) -> JSONResponse:
    return JSONResponse({"error": f"bad {what}"}, status_code=403)
