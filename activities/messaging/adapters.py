"""The SMS and e-mail providers, behind one small port each.

SMS speaks the Twilio Programmable Messaging API (``POST /2010-04-01/Accounts/{AccountSid}/Messages.json``, form
fields To/From/Body/StatusCallback, HTTP Basic with the account SID and auth token; delivery receipts come to the
StatusCallback URL signed with ``X-Twilio-Signature``). E-mail speaks the Postmark API (``POST /email`` with
``X-Postmark-Server-Token``; Delivery and Bounce webhooks configured with ``POST /webhooks``). The sandbox
(sandbox.messaging) speaks the same shapes, so production swaps the base URL and the credentials.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from activities.vendors import VendorClient, VendorRefused, basic_auth

# Twilio error codes that mean "this number will not take messages" (unsubscribed, not a mobile, invalid).
SMS_UNREACHABLE_CODES = frozenset({"21610", "21614", "21211", "21408"})
SMS_OPTED_OUT_CODE = "21610"  # the recipient replied STOP: Twilio refuses every message to them
# Postmark error codes for an address that will not take mail (inactive after a bounce, invalid).
EMAIL_UNREACHABLE_CODES = frozenset({"300", "406"})


@dataclass(frozen=True)
class Accepted:
    provider: str  # twilio, postmark
    message_id: str
    status: str  # the provider's first status (queued, accepted)


class SmsSender(Protocol):
    def send(self, to_e164: str, body: str, status_callback: str | None) -> Accepted: ...


class EmailSender(Protocol):
    def send(self, to: str, subject: str, body: str, reference: str) -> Accepted: ...


class TwilioSms:
    provider = "twilio"

    def __init__(self, base_url: str, account_sid: str, auth_token: str, from_number: str) -> None:
        self._client = VendorClient(base_url, {"Authorization": basic_auth(account_sid, auth_token)}, name="sms")
        self._account_sid = account_sid
        self._from = from_number

    def send(self, to_e164: str, body: str, status_callback: str | None) -> Accepted:
        fields = {"To": to_e164, "From": self._from, "Body": body}
        if status_callback:
            fields["StatusCallback"] = status_callback
        answer = self._client.form("POST", f"/2010-04-01/Accounts/{self._account_sid}/Messages.json", fields)
        sid = str(answer.get("sid") or "")
        if not sid:
            raise VendorRefused("sms: the provider accepted the message without a sid")
        return Accepted(self.provider, sid, str(answer.get("status") or "queued"))

    def set_reply_url(self, url: str) -> None:
        """Where patients' replies (STOP) to our number go: the number's SmsUrl (IncomingPhoneNumbers API)."""
        from urllib.parse import quote

        base = f"/2010-04-01/Accounts/{self._account_sid}/IncomingPhoneNumbers"
        found = self._client.json("GET", f"{base}.json?PhoneNumber={quote(self._from)}")
        numbers = found.get("incoming_phone_numbers") or []
        if not numbers:
            raise VendorRefused("sms: our sending number is not on the account", code="21452")
        self._client.form("POST", f"{base}/{numbers[0]['sid']}.json", {"SmsUrl": url, "SmsMethod": "POST"})


class PostmarkEmail:
    provider = "postmark"

    def __init__(self, base_url: str, server_token: str, from_address: str) -> None:
        self._client = VendorClient(base_url, {"X-Postmark-Server-Token": server_token}, name="email")
        self._from = from_address

    def send(self, to: str, subject: str, body: str, reference: str) -> Accepted:
        answer = self._client.json(
            "POST",
            "/email",
            {
                "From": self._from,
                "To": to,
                "Subject": subject,
                "TextBody": body,
                "MessageStream": "outbound",
                "Metadata": {"reference": reference},  # our outbox row id: no PHI
            },
        )
        if int(answer.get("ErrorCode") or 0) != 0:
            raise VendorRefused(f"email: error {answer.get('ErrorCode')}", code=str(answer.get("ErrorCode")))
        return Accepted(self.provider, str(answer["MessageID"]), "accepted")

    def register_webhook(self, url: str) -> None:
        """Delivery and bounce notifications to ``url`` (Postmark: ``POST /webhooks``; basic auth in the URL)."""
        self._client.json(
            "POST",
            "/webhooks",
            {
                "Url": url,
                "MessageStream": "outbound",
                "Triggers": {"Delivery": {"Enabled": True}, "Bounce": {"Enabled": True, "IncludeContent": False}},
            },
        )
