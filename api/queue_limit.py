"""How deep the asynchronous queue may grow (``Prefer: respond-async``, api.asynchronous): Bundles accepted and
not applied yet, per API client and for the store as a whole.

A client faster than the applier is refused instead of queued without end: the Bundle that would pass its client's
limit is answered ``429`` (``throttled``), one that would pass the overall limit ``503`` (``transient``), both with
``Retry-After`` and nothing kept, and audited as every refused call is (api.routes.audited). Its client's own
limit is named first: a client over its share is told so even when the whole queue is full too.

The rule here is pure; api.asynchronous counts the queued rows in the transaction that journals the accepts (see
``journal_refusals`` there for why that count is exact across group commit and API processes).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from api.outcome import FhirError, throttled

RETRY_SECONDS = 5  # what Retry-After says: the applier takes tens of Bundles a second (docs/capacity.md)


@dataclass(frozen=True)
class QueueLimit:
    """At most ``per_client`` queued Bundles per API client and ``overall`` in all; 0 or less: no such limit."""

    per_client: int
    overall: int

    @property
    def active(self) -> bool:
        return self.per_client > 0 or self.overall > 0

    def refusals(self, queued: Mapping[str, int], clients: Sequence[str]) -> list[FhirError | None]:
        """For each accept of a group, in order (its client's id), the refusal, or None when it fits; ``queued``:
        the queued Bundles of each client now. An accept that fits takes its place before the next is judged."""
        counts = dict(queued)
        total = sum(counts.values())
        found: list[FhirError | None] = []
        for client in clients:
            refusal = self._refusal(counts.get(client, 0), total)
            if refusal is None:
                counts[client] = counts.get(client, 0) + 1
                total += 1
            found.append(refusal)
        return found

    def _refusal(self, client_queued: int, total: int) -> FhirError | None:
        if 0 < self.per_client <= client_queued:
            text = f"this client has {self.per_client} asynchronous Bundles queued, its limit: send more once applied"
            return throttled(429, text, RETRY_SECONDS)
        if 0 < self.overall <= total:
            text = f"the asynchronous queue is full ({self.overall} Bundles queued, the limit): try again later"
            return throttled(503, text, RETRY_SECONDS)
        return None
