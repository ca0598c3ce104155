"""Outbound webhooks of the sandbox vendors: queued when something happens, delivered by the scheduler.

Real vendors call back from their own servers, a little after the request that caused it; so do these: each
event waits in a queue until :meth:`WebhookQueue.deliver_due` (run every ``poll_seconds`` by sandbox.server, or by
a test) posts it. A delivery that fails is tried again on the next ticks, then dropped (as vendors give up).
Basic-auth credentials in a URL (``https://user:pass@host/path``, Postmark's way) become an Authorization header.
"""

from __future__ import annotations

import base64
import logging
import threading
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field

log = logging.getLogger("sandbox.webhooks")


def parse_form(body: bytes) -> dict[str, str]:
    """An ``application/x-www-form-urlencoded`` body (the vendors' form posts), without a multipart library."""
    return dict(urllib.parse.parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))


MAX_ATTEMPTS = 5


@dataclass
class Delivery:
    url: str
    body: bytes
    headers: dict[str, str]
    attempts: int = 0
    status: int | None = None


@dataclass
class WebhookQueue:
    timeout_seconds: float = 10.0
    pending: list[Delivery] = field(default_factory=list)
    delivered: list[Delivery] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def enqueue(self, url: str, body: bytes, headers: dict[str, str]) -> None:
        with self._lock:
            self.pending.append(Delivery(url, body, dict(headers)))

    def deliver_due(self) -> int:
        """Post every queued event in order; returns how many were delivered."""
        with self._lock:
            batch, self.pending = self.pending, []
        done = 0
        retry: list[Delivery] = []
        for delivery in batch:
            delivery.attempts += 1
            if self._post(delivery):
                done += 1
                self.delivered.append(delivery)
            elif delivery.attempts < MAX_ATTEMPTS:
                retry.append(delivery)
            else:
                log.warning("webhook dropped after %d attempts (HTTP %s)", delivery.attempts, delivery.status)
        with self._lock:
            self.pending[:0] = retry
        return done

    def _post(self, delivery: Delivery) -> bool:
        parts = urllib.parse.urlsplit(delivery.url)
        headers = dict(delivery.headers)
        url = delivery.url
        if parts.username is not None:
            credentials = f"{urllib.parse.unquote(parts.username)}:{urllib.parse.unquote(parts.password or '')}"
            headers["Authorization"] = "Basic " + base64.b64encode(credentials.encode()).decode("ascii")
            netloc = parts.hostname or ""
            if parts.port:
                netloc += f":{parts.port}"
            url = urllib.parse.urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))
        request = urllib.request.Request(url, data=delivery.body, method="POST", headers=headers)  # noqa: S310
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_seconds) as response:  # noqa: S310
                delivery.status = response.status
                return bool(200 <= response.status < 300)
        except urllib.error.HTTPError as error:
            delivery.status = error.code
            return False
        except (urllib.error.URLError, TimeoutError, ConnectionError, OSError):
            delivery.status = None
            return False
