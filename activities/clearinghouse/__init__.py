"""Adapters to the clearinghouse: one port, an HTTP and a drop-folder (SFTP-style) implementation.

``connect_clearinghouse(url)`` picks one by the URL's scheme, so the same activities talk to the sandbox or a
real clearinghouse by configuration (settings.clearinghouse_url): ``http(s)://host/path`` for the HTTP API,
``file:///path`` (or a bare path) for mailbox folders.
"""

from __future__ import annotations

import urllib.parse
from pathlib import Path

from activities.clearinghouse.base import (
    ACKNOWLEDGMENT_KINDS,
    REMITTANCE_KINDS,
    Clearinghouse,
    ClearinghouseError,
    ClearinghouseRejected,
    ClearinghouseUnavailable,
    InboundDocument,
    SubmissionResult,
    acknowledgments_of,
    remittances_of,
)
from activities.clearinghouse.dropfolder import DropFolderClearinghouse, LocalMailbox, Mailbox
from activities.clearinghouse.http_api import HttpClearinghouse
from activities.clearinghouse.sandbox_admin import RosterEntry, SandboxAdmin, roster_entry


def connect_clearinghouse(url: str, *, timeout_seconds: float = 30.0, token: str | None = None) -> Clearinghouse:
    """The clearinghouse at ``url``: http(s) -> HttpClearinghouse, file:// or a path -> DropFolderClearinghouse."""
    parsed = urllib.parse.urlsplit(url)
    if parsed.scheme in ("http", "https"):
        return HttpClearinghouse(url, timeout_seconds=timeout_seconds, token=token)
    if parsed.scheme == "file":
        return DropFolderClearinghouse(
            LocalMailbox(Path(urllib.parse.unquote(parsed.path))), timeout_seconds=timeout_seconds
        )
    if parsed.scheme == "" and url:
        return DropFolderClearinghouse(LocalMailbox(Path(url)), timeout_seconds=timeout_seconds)
    raise ValueError(f"unsupported clearinghouse URL scheme {parsed.scheme!r}: use http(s):// or file://")


__all__ = [
    "ACKNOWLEDGMENT_KINDS",
    "REMITTANCE_KINDS",
    "Clearinghouse",
    "ClearinghouseError",
    "ClearinghouseRejected",
    "ClearinghouseUnavailable",
    "DropFolderClearinghouse",
    "HttpClearinghouse",
    "InboundDocument",
    "LocalMailbox",
    "Mailbox",
    "RosterEntry",
    "SandboxAdmin",
    "SubmissionResult",
    "acknowledgments_of",
    "connect_clearinghouse",
    "remittances_of",
    "roster_entry",
]
