"""How vendors sign their webhooks, so that the sender (the sandbox) and the receiver agree byte for byte.

Twilio signs with HMAC-SHA1 of the full URL followed by every POST parameter (sorted by name) as name+value,
keyed with the account's auth token, base64 (header ``X-Twilio-Signature``). Daily signs with HMAC-SHA256 of
``<timestamp>.<body>`` keyed with the webhook's base64 secret, base64 (headers ``X-Webhook-Signature`` and
``X-Webhook-Timestamp``). Pure: stdlib only.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from collections.abc import Mapping


def twilio_signature(auth_token: str, url: str, params: Mapping[str, str]) -> str:
    payload = url + "".join(f"{name}{params[name]}" for name in sorted(params))
    digest = hmac.new(auth_token.encode(), payload.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode("ascii")


def daily_signature(secret_b64: str, timestamp: str, body: bytes) -> str:
    try:
        key = base64.b64decode(secret_b64, validate=True)
    except (binascii.Error, ValueError):
        key = secret_b64.encode()
    digest = hmac.new(key, timestamp.encode() + b"." + body, hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


def same(expected: str, given: str | None) -> bool:
    return given is not None and hmac.compare_digest(expected.encode(), given.encode())
