"""The clearinghouse over HTTP: the sandbox's API, or a real clearinghouse exposing the same routes.

Routes (relative to the base URL, e.g. ``http://127.0.0.1:8090/clearinghouse``): ``POST /x12/837`` (JSON receipt
with the 999), ``POST /x12/270`` and ``POST /x12/276`` (X12 answer in the body), ``GET /mailbox?kind=...``
and ``POST /mailbox/confirm``. stdlib urllib only: one request per call, explicit timeouts.
"""

from __future__ import annotations

import http.client
import json
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from activities.clearinghouse.base import (
    ACKNOWLEDGMENT_KINDS,
    REMITTANCE_KINDS,
    ClearinghouseRejected,
    ClearinghouseUnavailable,
    InboundDocument,
    SubmissionResult,
)

X12_MEDIA_TYPE = "application/edi-x12"
# Statuses worth retrying: the request itself was fine, the server was not.
_RETRYABLE_STATUSES = frozenset({408, 425, 429, 500, 502, 503, 504})


class HttpClearinghouse:
    def __init__(
        self, base_url: str, *, timeout_seconds: float = 30.0, token: str | None = None, page_size: int = 100
    ) -> None:
        parsed = urllib.parse.urlsplit(base_url)
        if parsed.scheme not in ("http", "https") or not parsed.netloc:
            raise ValueError("clearinghouse URL must be http(s)://host[:port]/path")
        self.base_url = base_url.rstrip("/")
        self.timeout_seconds = timeout_seconds
        self._token = token
        # Each fetch returns at most this many documents, oldest first; confirm them and fetch again for more.
        self.page_size = page_size

    def __repr__(self) -> str:  # never the token
        return f"HttpClearinghouse({self.base_url!r})"

    # --- the port ------------------------------------------------------------------------------------

    def submit_837(self, x12: str) -> SubmissionResult:
        receipt = self._json(self._request("POST", "/x12/837", x12.encode("utf-8"), X12_MEDIA_TYPE))
        try:
            return SubmissionResult(
                batch_id=str(receipt["batch_id"]),
                accepted=bool(receipt["accepted"]),
                ack_999=receipt.get("ack_999"),
                ack_277ca=receipt.get("ack_277ca"),
            )
        except (KeyError, TypeError):
            raise ClearinghouseRejected("clearinghouse receipt lacks batch_id or accepted") from None

    def fetch_acknowledgments(self) -> list[InboundDocument]:
        return self._mailbox(ACKNOWLEDGMENT_KINDS)

    def fetch_remittances(self) -> list[InboundDocument]:
        return self._mailbox(REMITTANCE_KINDS)

    def confirm(self, document_ids: Sequence[str]) -> None:
        if not document_ids:
            return
        body = json.dumps({"ids": list(document_ids)}).encode("utf-8")
        self._request("POST", "/mailbox/confirm", body, "application/json")

    def eligibility(self, x12_270: str) -> str:
        return self._request("POST", "/x12/270", x12_270.encode("utf-8"), X12_MEDIA_TYPE).decode("utf-8")

    def claim_status(self, x12_276: str) -> str:
        return self._request("POST", "/x12/276", x12_276.encode("utf-8"), X12_MEDIA_TYPE).decode("utf-8")

    # --- plumbing ----------------------------------------------------------------------------------

    def _mailbox(self, kinds: tuple[str, ...]) -> list[InboundDocument]:
        query = urllib.parse.urlencode([("kind", kind) for kind in kinds] + [("limit", str(self.page_size))])
        data = self._json(self._request("GET", f"/mailbox?{query}"))
        documents: list[InboundDocument] = []
        try:
            for item in data["documents"]:
                documents.append(
                    InboundDocument(
                        id=str(item["id"]),
                        kind=str(item["kind"]),
                        x12=str(item["x12"]),
                        received_at=datetime.fromisoformat(item["created_at"]) if item.get("created_at") else None,
                    )
                )
        except (KeyError, TypeError, ValueError):
            raise ClearinghouseRejected("clearinghouse mailbox answer is malformed") from None
        return documents

    def _request(self, method: str, path: str, body: bytes | None = None, content_type: str | None = None) -> bytes:
        request = urllib.request.Request(self.base_url + path, data=body, method=method)  # noqa: S310
        if content_type:
            request.add_header("Content-Type", content_type)
        request.add_header("Accept", "application/json, application/edi-x12, text/plain")
        if self._token:
            request.add_header("Authorization", f"Bearer {self._token}")
        where = f"{method} {path.split('?')[0]}"
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_seconds) as response:  # noqa: S310
                payload: bytes = response.read()
                return payload
        except urllib.error.HTTPError as error:
            detail = _error_detail(error)
            if error.code in _RETRYABLE_STATUSES:
                raise ClearinghouseUnavailable(f"{where}: HTTP {error.code}{detail}") from None
            raise ClearinghouseRejected(f"{where}: HTTP {error.code}{detail}") from None
        except (urllib.error.URLError, http.client.HTTPException, TimeoutError, ConnectionError) as error:
            reason = getattr(error, "reason", None) or type(error).__name__
            raise ClearinghouseUnavailable(f"{where}: clearinghouse unreachable ({reason})") from None

    @staticmethod
    def _json(payload: bytes) -> dict[str, Any]:
        try:
            data = json.loads(payload)
        except ValueError:
            raise ClearinghouseRejected("clearinghouse answered something that is not JSON") from None
        if not isinstance(data, dict):
            raise ClearinghouseRejected("clearinghouse answered JSON that is not an object")
        return data


def _error_detail(error: urllib.error.HTTPError) -> str:
    """The server's own error code and message (the sandbox's messages carry no PHI)."""
    try:
        data = json.loads(error.read() or b"{}")
    except (ValueError, OSError):
        return ""
    if isinstance(data, dict) and data.get("message"):
        return f" {data.get('error', '')}: {str(data['message'])[:300]}"
    return ""
