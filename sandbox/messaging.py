"""Sandbox SMS and e-mail providers, speaking the Twilio Programmable Messaging and the Postmark APIs.

Twilio (mounted at ``/twilio``): ``POST /2010-04-01/Accounts/{AccountSid}/Messages.json`` (HTTP Basic: account SID
and auth token; form To, From, Body, StatusCallback) answers 201 with the message resource; ``GET .../Messages.json``
and ``.../Messages/{Sid}.json`` read them back; ``GET/POST .../IncomingPhoneNumbers[/{Sid}].json`` set the SmsUrl
that replies go to. Status callbacks (sent, then delivered or undelivered) are form posts signed with
``X-Twilio-Signature``. Twilio's magic test numbers behave as documented: +15005550001 is invalid (21211),
+15005550004 is blocked (21610), +15005550009 is not a mobile (21614); a number ending in 0006 is undelivered
(30003), and a number that replied STOP is refused with 21610. ``POST /_sandbox/reply`` (From, Body) plays a
patient's reply to the configured SmsUrl.

Postmark (mounted at ``/postmark``): ``POST /email`` (``X-Postmark-Server-Token``) answers with a MessageID;
``POST /webhooks`` registers a URL for Delivery and Bounce records. Addresses at ``bounce.invalid`` hard-bounce
(after which Postmark refuses them: ErrorCode 406); an address without an ``@`` is ErrorCode 300.
"""

from __future__ import annotations

import base64
import json
import threading
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from domain.messages import is_opt_out_reply
from domain.webhook_signatures import twilio_signature
from sandbox.webhooks import WebhookQueue, parse_form

SANDBOX_ACCOUNT_SID = "AC00000000000000000000000000sandbox"
SANDBOX_AUTH_TOKEN = "sandbox-twilio-auth-token"  # the sandbox's own, documented
SANDBOX_FROM = "+15035550100"
SANDBOX_POSTMARK_TOKEN = "sandbox-postmark-server-token"

_REFUSED = {
    "+15005550001": ("21211", "The 'To' number is not a valid phone number."),
    "+15005550004": ("21610", "Attempt to send to unsubscribed recipient"),
    "+15005550009": ("21614", "'To' number is not a valid mobile number"),
}


def _now() -> str:
    return datetime.now(UTC).strftime("%a, %d %b %Y %H:%M:%S +0000")


@dataclass
class TwilioState:
    account_sid: str
    auth_token: str
    messages: dict[str, dict[str, Any]] = field(default_factory=dict)
    numbers: dict[str, dict[str, str]] = field(default_factory=dict)  # PN sid -> {phone_number, sms_url}
    stopped: set[str] = field(default_factory=set)
    lock: threading.Lock = field(default_factory=threading.Lock)


def _twilio_error(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse(
        {
            "code": int(code),
            "message": message,
            "more_info": f"https://www.twilio.com/docs/errors/{code}",
            "status": status,
        },
        status_code=status,
    )


def create_twilio_app(
    queue: WebhookQueue,
    account_sid: str = SANDBOX_ACCOUNT_SID,
    auth_token: str = SANDBOX_AUTH_TOKEN,
    from_number: str = SANDBOX_FROM,
) -> FastAPI:
    state = TwilioState(account_sid, auth_token)
    state.numbers["PN" + uuid.uuid5(uuid.NAMESPACE_URL, from_number).hex] = {"phone_number": from_number, "sms_url": ""}
    app = FastAPI(title="sandbox twilio", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.twilio = state
    vendor = _Twilio(state, queue)
    _add_message_routes(app, vendor)
    _add_number_routes(app, vendor)
    return app


_TWILIO_BASE = "/2010-04-01/Accounts/{sid}"


@dataclass
class _Twilio:
    """What every route of the sandbox Twilio shares: its state, and the queue its signed callbacks leave through."""

    state: TwilioState
    queue: WebhookQueue

    def authorized(self, request: Request, sid: str) -> bool:
        header = request.headers.get("authorization", "")
        credentials = f"{self.state.account_sid}:{self.state.auth_token}".encode()
        expected = "Basic " + base64.b64encode(credentials).decode()
        return sid == self.state.account_sid and header == expected

    def callback(self, url: str, params: dict[str, str]) -> None:
        body = urlencode(params).encode()
        headers = {
            "Content-Type": "application/x-www-form-urlencoded",
            "X-Twilio-Signature": twilio_signature(self.state.auth_token, url, params),
        }
        self.queue.enqueue(url, body, headers)


def _twilio_unauthorized() -> JSONResponse:
    return _twilio_error(401, "20003", "Authenticate")


def _refusal(state: TwilioState, to: str, body: str) -> JSONResponse | None:
    """Why Twilio would refuse to send ``body`` to ``to`` (bad number or body, magic test number, STOP); else None."""
    if not to.startswith("+1") or len(to) != 12 or not to[1:].isdigit():
        return _twilio_error(400, "21211", f"The 'To' number {to[:3]}... is not a valid phone number.")
    if not body or len(body) > 1600:
        return _twilio_error(400, "21617", "The concatenated message body exceeds the 1600 character limit.")
    if to in _REFUSED:
        code, message = _REFUSED[to]
        return _twilio_error(400, code, message)
    if to in state.stopped:
        return _twilio_error(400, "21610", "Attempt to send to unsubscribed recipient")
    return None


def _report_status(vendor: _Twilio, resource: dict[str, Any], status_callback: str) -> None:
    """The status callbacks of a new message: sent, then delivered (or undelivered, for numbers ending in 0006)."""
    to, message_sid = resource["to"], resource["sid"]
    common = {
        "MessageSid": message_sid,
        "SmsSid": message_sid,
        "AccountSid": resource["account_sid"],
        "From": resource["from"],
        "To": to,
    }
    vendor.callback(status_callback, {**common, "MessageStatus": "sent", "SmsStatus": "sent"})
    if to.endswith("0006"):
        vendor.callback(
            status_callback,
            {**common, "MessageStatus": "undelivered", "SmsStatus": "undelivered", "ErrorCode": "30003"},
        )
        resource.update(status="undelivered", error_code=30003)
    else:
        vendor.callback(status_callback, {**common, "MessageStatus": "delivered", "SmsStatus": "delivered"})
        resource["status"] = "delivered"


def _add_message_routes(app: FastAPI, vendor: _Twilio) -> None:
    """``POST|GET .../Messages.json`` and ``GET .../Messages/{Sid}.json``."""
    state = vendor.state

    @app.post(_TWILIO_BASE + "/Messages.json")
    async def create_message(sid: str, request: Request) -> JSONResponse:
        if not vendor.authorized(request, sid):
            return _twilio_unauthorized()
        form = parse_form(await request.body())
        to, sender, body = form.get("To", ""), form.get("From", ""), form.get("Body", "")
        refusal = _refusal(state, to, body)
        if refusal is not None:
            return refusal
        message_sid = "SM" + uuid.uuid4().hex
        resource: dict[str, Any] = {
            "sid": message_sid,
            "account_sid": sid,
            "to": to,
            "from": sender,
            "body": body,
            "status": "queued",
            "num_segments": str(1 + len(body) // 160),
            "direction": "outbound-api",
            "date_created": _now(),
            "error_code": None,
            "error_message": None,
            "uri": f"{_TWILIO_BASE.format(sid=sid)}/Messages/{message_sid}.json",
        }
        with state.lock:
            state.messages[message_sid] = resource
        status_callback = form.get("StatusCallback")
        if status_callback:
            _report_status(vendor, resource, status_callback)
        return JSONResponse(resource, status_code=201)

    @app.get(_TWILIO_BASE + "/Messages.json")
    def list_messages(sid: str, request: Request) -> JSONResponse:
        if not vendor.authorized(request, sid):
            return _twilio_unauthorized()
        with state.lock:
            return JSONResponse({"messages": list(state.messages.values())})

    @app.get(_TWILIO_BASE + "/Messages/{message_sid}.json")
    def get_message(sid: str, message_sid: str, request: Request) -> JSONResponse:
        if not vendor.authorized(request, sid):
            return _twilio_unauthorized()
        found = state.messages.get(message_sid)
        if found is None:
            return _twilio_error(404, "20404", f"The requested resource {message_sid} was not found")
        return JSONResponse(found)


def _add_number_routes(app: FastAPI, vendor: _Twilio) -> None:
    """``GET .../IncomingPhoneNumbers.json``, ``POST .../IncomingPhoneNumbers/{Sid}.json`` and the patient's reply."""
    state = vendor.state

    @app.get(_TWILIO_BASE + "/IncomingPhoneNumbers.json")
    def list_numbers(sid: str, request: Request) -> JSONResponse:
        if not vendor.authorized(request, sid):
            return _twilio_unauthorized()
        wanted = request.query_params.get("PhoneNumber")
        numbers = [
            {"sid": pn, "phone_number": n["phone_number"], "sms_url": n["sms_url"]}
            for pn, n in state.numbers.items()
            if wanted in (None, n["phone_number"])
        ]
        return JSONResponse({"incoming_phone_numbers": numbers})

    @app.post(_TWILIO_BASE + "/IncomingPhoneNumbers/{pn_sid}.json")
    async def update_number(sid: str, pn_sid: str, request: Request) -> JSONResponse:
        if not vendor.authorized(request, sid):
            return _twilio_unauthorized()
        number = state.numbers.get(pn_sid)
        if number is None:
            return _twilio_error(404, "20404", f"The requested resource {pn_sid} was not found")
        form = parse_form(await request.body())
        number["sms_url"] = str(form.get("SmsUrl", number["sms_url"]))
        return JSONResponse({"sid": pn_sid, **number})

    @app.post("/_sandbox/reply")
    async def reply(request: Request) -> JSONResponse:
        """A patient texts back (e.g. STOP): posted to the SmsUrl of the number they reply to."""
        form = parse_form(await request.body())
        sender, body = form.get("From", ""), form.get("Body", "")
        to = form.get("To", SANDBOX_FROM)
        if is_opt_out_reply(body):
            state.stopped.add(sender)
        target = next((n["sms_url"] for n in state.numbers.values() if n["phone_number"] == to), "")
        if target:
            message = {"MessageSid": "SM" + uuid.uuid4().hex, "AccountSid": state.account_sid}
            vendor.callback(target, {**message, "From": sender, "To": to, "Body": body})
        return JSONResponse({"forwarded": bool(target)})


@dataclass
class PostmarkState:
    server_token: str
    messages: dict[str, dict[str, Any]] = field(default_factory=dict)
    webhooks: list[str] = field(default_factory=list)
    inactive: set[str] = field(default_factory=set)
    lock: threading.Lock = field(default_factory=threading.Lock)


def create_postmark_app(queue: WebhookQueue, server_token: str = SANDBOX_POSTMARK_TOKEN) -> FastAPI:
    state = PostmarkState(server_token)
    app = FastAPI(title="sandbox postmark", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.postmark = state
    vendor = _Postmark(state, queue)
    _add_email_route(app, vendor)
    _add_webhook_and_outbound_routes(app, vendor)
    return app


@dataclass
class _Postmark:
    """What every route of the sandbox Postmark shares: its state, and the queue its webhooks leave through."""

    state: PostmarkState
    queue: WebhookQueue

    def authorized(self, request: Request) -> bool:
        return request.headers.get("x-postmark-server-token") == self.state.server_token

    def notify(self, record: dict[str, Any]) -> None:
        for url in list(self.state.webhooks):
            self.queue.enqueue(url, json.dumps(record).encode(), {"Content-Type": "application/json"})


def _postmark_refused(status: int, code: int, message: str) -> JSONResponse:
    return JSONResponse({"ErrorCode": code, "Message": message}, status_code=status)


def _postmark_unauthorized() -> JSONResponse:
    return _postmark_refused(401, 10, "Request does not contain a valid Server token.")


def _bounce(message_id: str, to: str, now: str, metadata: Any) -> dict[str, Any]:
    return {
        "RecordType": "Bounce",
        "ID": int(uuid.uuid4().int % 10**9),
        "Type": "HardBounce",
        "TypeCode": 1,
        "MessageID": message_id,
        "Email": to,
        "BouncedAt": now,
        "Inactive": True,
        "CanActivate": True,
        "MessageStream": "outbound",
        "Metadata": metadata,
    }


def _delivery(message_id: str, to: str, now: str, metadata: Any) -> dict[str, Any]:
    return {
        "RecordType": "Delivery",
        "ServerID": 1,
        "MessageStream": "outbound",
        "MessageID": message_id,
        "Recipient": to,
        "Tag": "",
        "DeliveredAt": now,
        "Details": "Test delivery",
        "Metadata": metadata,
    }


def _add_email_route(app: FastAPI, vendor: _Postmark) -> None:
    """``POST /email``: sent at once, then a Delivery record (or a Bounce, for ``@bounce.invalid``)."""
    state = vendor.state

    @app.post("/email")
    async def send(request: Request) -> JSONResponse:
        if not vendor.authorized(request):
            return _postmark_unauthorized()
        data = await request.json()
        to = str(data.get("To", "")).strip()
        if "@" not in to or not data.get("From"):
            return _postmark_refused(422, 300, "Invalid email request")
        if to.lower() in state.inactive:
            return _postmark_refused(422, 406, "You tried to send to a recipient that has been marked as inactive.")
        message_id = str(uuid.uuid4())
        now = datetime.now(UTC).isoformat()
        with state.lock:
            state.messages[message_id] = {
                "MessageID": message_id,
                "To": to,
                "Subject": data.get("Subject", ""),
                "TextBody": data.get("TextBody", ""),
                "Metadata": data.get("Metadata", {}),
            }
        if to.lower().endswith("@bounce.invalid"):
            state.inactive.add(to.lower())
            vendor.notify(_bounce(message_id, to, now, data.get("Metadata", {})))
        else:
            vendor.notify(_delivery(message_id, to, now, data.get("Metadata", {})))
        return JSONResponse({"To": to, "SubmittedAt": now, "MessageID": message_id, "ErrorCode": 0, "Message": "OK"})


def _add_webhook_and_outbound_routes(app: FastAPI, vendor: _Postmark) -> None:
    """``POST /webhooks`` (a URL for Delivery and Bounce records) and ``GET /messages/outbound``."""
    state = vendor.state

    @app.post("/webhooks")
    async def add_webhook(request: Request) -> JSONResponse:
        if not vendor.authorized(request):
            return _postmark_unauthorized()
        data = await request.json()
        url = str(data.get("Url", ""))
        if not url.startswith(("http://", "https://")):
            return _postmark_refused(422, 300, "Invalid webhook URL")
        if url not in state.webhooks:
            state.webhooks.append(url)
        return JSONResponse(
            {
                "ID": state.webhooks.index(url) + 1,
                "Url": url,
                "MessageStream": "outbound",
                "Triggers": data.get("Triggers", {}),
            }
        )

    @app.get("/messages/outbound")
    def outbound(request: Request) -> JSONResponse:
        if not vendor.authorized(request):
            return _postmark_unauthorized()
        with state.lock:
            return JSONResponse({"TotalCount": len(state.messages), "Messages": list(state.messages.values())})
