"""Talking to outside vendors over HTTP (SMS, e-mail, video): one small client with typed failures.

:class:`VendorUnavailable` (network, timeouts, 5xx, 429) may succeed later: the activity is retried.
:class:`VendorRefused` (4xx: bad request, bad credentials, an unsubscribed number) will not: the workflow decides.
Messages carry the vendor's status and error code, never a phone number, an address or a message text.
"""

from __future__ import annotations

import base64
import http.client
import json
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping
from typing import Any

_RETRYABLE = frozenset({408, 425, 429, 500, 502, 503, 504})


class VendorError(Exception):
    retryable = False

    def __init__(self, message: str, *, status: int | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code


class VendorUnavailable(VendorError):
    retryable = True


class VendorRefused(VendorError):
    retryable = False


def basic_auth(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode("ascii")


class VendorClient:
    def __init__(self, base_url: str, headers: Mapping[str, str], *, name: str, timeout_seconds: float = 20.0) -> None:
        if not base_url.startswith(("http://", "https://")):
            raise ValueError(f"{name}: the base URL must be http(s), got {base_url.split(':')[0]!r}")
        self.base_url = base_url.rstrip("/")
        self._headers = dict(headers)
        self.name = name
        self.timeout_seconds = timeout_seconds

    def json(self, method: str, path: str, body: Mapping[str, Any] | None = None) -> dict[str, Any]:
        data = None if body is None else json.dumps(body).encode()
        return self._send(method, path, data, "application/json")

    def form(self, method: str, path: str, fields: Mapping[str, str]) -> dict[str, Any]:
        return self._send(method, path, urllib.parse.urlencode(fields).encode(), "application/x-www-form-urlencoded")

    def _send(self, method: str, path: str, data: bytes | None, content_type: str) -> dict[str, Any]:
        request = urllib.request.Request(self.base_url + path, data=data, method=method)  # noqa: S310 - checked
        for name, value in self._headers.items():
            request.add_header(name, value)
        request.add_header("Accept", "application/json")
        if data is not None:
            request.add_header("Content-Type", content_type)
        where = f"{self.name} {method} {path.split('?')[0]}"
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_seconds) as response:  # noqa: S310
                raw: bytes = response.read()
        except urllib.error.HTTPError as error:
            code, message = _error_of(error)
            cls = VendorUnavailable if error.code in _RETRYABLE else VendorRefused
            raise cls(
                f"{where}: HTTP {error.code} {code or ''} {message}".rstrip(), status=error.code, code=code
            ) from None
        except (urllib.error.URLError, http.client.HTTPException, TimeoutError, ConnectionError) as error:
            reason = getattr(error, "reason", None) or type(error).__name__
            raise VendorUnavailable(f"{where}: unreachable ({reason})") from None
        if not raw:
            return {}
        try:
            parsed = json.loads(raw)
        except ValueError:
            raise VendorUnavailable(f"{where}: the answer is not JSON") from None
        return parsed if isinstance(parsed, dict) else {"data": parsed}


def _error_of(error: urllib.error.HTTPError) -> tuple[str | None, str]:
    """The vendor's error code and message (Twilio: code/message, Postmark: ErrorCode/Message, Daily: error/info)."""
    try:
        data = json.loads(error.read() or b"{}")
    except (ValueError, OSError):
        return None, ""
    if not isinstance(data, dict):
        return None, ""
    code = data.get("code", data.get("ErrorCode", data.get("error")))
    message = data.get("message", data.get("Message", data.get("info", "")))
    return (None if code is None else str(code)), str(message)[:200]
