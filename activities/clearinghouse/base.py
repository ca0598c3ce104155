"""The clearinghouse port: what the platform's activities need from a clearinghouse, whoever runs it.

Two implementations: :class:`~activities.clearinghouse.http_api.HttpClearinghouse` (the sandbox's HTTP API, or a
real clearinghouse speaking the same shape) and :class:`~activities.clearinghouse.dropfolder.DropFolderClearinghouse`
(SFTP-style mailbox folders). Both deal in X12 text; the helpers at the bottom turn documents into the
domain.x12 value types. Calls are synchronous with timeouts: run them from sync activities (thread pool).

Errors: :class:`ClearinghouseUnavailable` (network, timeouts, 5xx, 429: retry) and
:class:`ClearinghouseRejected` (the clearinghouse refused the request itself: do not retry, a person looks).
A 999 that rejects a batch is not an exception: it is a result (``SubmissionResult.accepted`` is False).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol, runtime_checkable

from domain.remittance import Remittance
from domain.x12.ack999 import Acknowledgment999, parse_999
from domain.x12.remit835 import parse_835

ACKNOWLEDGMENT_KINDS = ("999", "277CA")
REMITTANCE_KINDS = ("835",)


class ClearinghouseError(Exception):
    """Talking to the clearinghouse failed. Messages carry status codes and ids, never PHI."""

    retryable = False


class ClearinghouseUnavailable(ClearinghouseError):
    """Down, slow or overloaded: the same request may succeed later."""

    retryable = True


class ClearinghouseRejected(ClearinghouseError):
    """The clearinghouse refused the request (unreadable file, bad credentials, unknown document)."""

    retryable = False


@dataclass(frozen=True)
class SubmissionResult:
    batch_id: str  # the clearinghouse's id of the batch (or the drop-folder file name)
    accepted: bool | None  # the 999 accepted at least one transaction set; None: no 999 yet
    ack_999: str | None = None
    # The 277CA when the clearinghouse answered it at once; it also always arrives via fetch_acknowledgments.
    ack_277ca: str | None = None

    def acknowledgments(self) -> list[Acknowledgment999]:
        return parse_999(self.ack_999) if self.ack_999 else []


@dataclass(frozen=True)
class InboundDocument:
    id: str  # stable: pass it to confirm() once the document is stored
    kind: str  # 999, 277CA, 835
    x12: str
    received_at: datetime | None = None


@runtime_checkable
class Clearinghouse(Protocol):
    def submit_837(self, x12: str) -> SubmissionResult:
        """Send one 837P batch; returns the 999 when the clearinghouse answers it synchronously."""
        ...

    def fetch_acknowledgments(self) -> list[InboundDocument]:
        """999s and 277CAs not yet confirmed, oldest first (at least once: confirm after storing).

        May return a page: confirm what was stored and call again until it returns nothing.
        """
        ...

    def fetch_remittances(self) -> list[InboundDocument]:
        """835s not yet confirmed, oldest first."""
        ...

    def confirm(self, document_ids: Sequence[str]) -> None:
        """The platform has stored these documents; the clearinghouse may drop them from the mailbox."""
        ...

    def eligibility(self, x12_270: str) -> str:
        """Real-time 270 -> 271."""
        ...

    def claim_status(self, x12_276: str) -> str:
        """Real-time 276 -> 277."""
        ...


def remittances_of(document: InboundDocument) -> list[Remittance]:
    """The remittances of an 835 document (domain.x12 parser: balancing problems come back as warnings)."""
    return parse_835(document.x12)


def acknowledgments_of(document: InboundDocument) -> list[Acknowledgment999]:
    return parse_999(document.x12)
