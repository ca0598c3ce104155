"""The clearinghouse as SFTP-style mailbox folders (the batch channel most clearinghouses offer).

Layout (the sandbox's drop folder has the same one, see sandbox/clearinghouse/dropfolder.py)::

    inbound/    we upload NAME.837 / NAME.270 / NAME.276, written as NAME.x.part then renamed
    outbound/   the clearinghouse answers NAME.999, NAME.277ca, NAME.271, NAME.277, NAME.error.txt and *.835
    received/   where confirm() moves the answers we have stored (our side's archive)

Files are reached through a :class:`Mailbox`: :class:`LocalMailbox` is a folder (a local path, or an SFTP
server mounted with sshfs/rclone); a real SFTP client plugs in by implementing the same four calls.
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

from activities.clearinghouse.base import (
    ClearinghouseRejected,
    ClearinghouseUnavailable,
    InboundDocument,
    SubmissionResult,
)
from domain.x12.ack999 import parse_999
from domain.x12.envelope import X12Error

INBOUND, OUTBOUND, RECEIVED = "inbound", "outbound", "received"
_KIND_BY_SUFFIX = {".999": "999", ".277ca": "277CA", ".835": "835", ".271": "271", ".277": "277"}


class Mailbox(Protocol):
    def names(self, folder: str) -> list[str]: ...

    def read(self, folder: str, name: str) -> str: ...

    def write(self, folder: str, name: str, text: str) -> None:
        """Atomically: a reader never sees half a file."""
        ...

    def move(self, folder: str, name: str, to_folder: str) -> None: ...

    def modified(self, folder: str, name: str) -> datetime | None: ...


class LocalMailbox:
    def __init__(self, root: Path | str) -> None:
        self.root = Path(root)

    def __repr__(self) -> str:
        return f"LocalMailbox({str(self.root)!r})"

    def _folder(self, folder: str) -> Path:
        path = self.root / folder
        path.mkdir(parents=True, exist_ok=True)
        return path

    def names(self, folder: str) -> list[str]:
        try:
            return sorted(p.name for p in self._folder(folder).iterdir() if p.is_file())
        except OSError as error:
            raise ClearinghouseUnavailable(f"mailbox folder {folder} unreadable ({error.strerror})") from None

    def read(self, folder: str, name: str) -> str:
        try:
            return (self._folder(folder) / name).read_text(encoding="utf-8")
        except FileNotFoundError:
            raise ClearinghouseRejected(f"no document {name} in {folder}") from None
        except OSError as error:
            raise ClearinghouseUnavailable(f"mailbox file {name} unreadable ({error.strerror})") from None

    def write(self, folder: str, name: str, text: str) -> None:
        target = self._folder(folder) / name
        partial = target.with_name(name + ".part")
        try:
            partial.write_text(text, encoding="utf-8")
            os.replace(partial, target)
        except OSError as error:
            raise ClearinghouseUnavailable(f"mailbox upload of {name} failed ({error.strerror})") from None

    def move(self, folder: str, name: str, to_folder: str) -> None:
        try:
            os.replace(self._folder(folder) / name, self._folder(to_folder) / name)
        except FileNotFoundError:
            return  # already moved: confirm is idempotent
        except OSError as error:
            raise ClearinghouseUnavailable(f"mailbox move of {name} failed ({error.strerror})") from None

    def modified(self, folder: str, name: str) -> datetime | None:
        try:
            return datetime.fromtimestamp((self._folder(folder) / name).stat().st_mtime, UTC)
        except OSError:
            return None


class DropFolderClearinghouse:
    def __init__(
        self,
        mailbox: Mailbox,
        *,
        timeout_seconds: float = 30.0,
        poll_seconds: float = 0.2,
    ) -> None:
        self.mailbox = mailbox
        self.timeout_seconds = timeout_seconds
        self.poll_seconds = poll_seconds

    def __repr__(self) -> str:
        return f"DropFolderClearinghouse({self.mailbox!r})"

    def submit_837(self, x12: str) -> SubmissionResult:
        """Upload the batch and wait up to the timeout for its 999; without one the 999 comes via the mailbox."""
        stem = f"batch-{uuid.uuid4().hex}"
        self.mailbox.write(INBOUND, f"{stem}.837", x12)
        answer = self._await(stem, (".999",), required=False)
        if answer is None:
            return SubmissionResult(batch_id=stem, accepted=None)
        name, text = answer
        if name.endswith(".error.txt"):
            raise ClearinghouseRejected(f"clearinghouse refused batch {stem}: {text.strip()[:300]}")
        try:
            accepted = any(ack.sets_accepted > 0 for ack in parse_999(text))
        except X12Error as error:
            raise ClearinghouseRejected(f"999 for batch {stem} is unreadable: {error}") from None
        ack_277 = f"{stem}.277ca"
        return SubmissionResult(
            batch_id=stem,
            accepted=accepted,
            ack_999=text,
            ack_277ca=self.mailbox.read(OUTBOUND, ack_277) if ack_277 in self.mailbox.names(OUTBOUND) else None,
        )

    def fetch_acknowledgments(self) -> list[InboundDocument]:
        return self._documents(("999", "277CA"))

    def fetch_remittances(self) -> list[InboundDocument]:
        return self._documents(("835",))

    def confirm(self, document_ids: Sequence[str]) -> None:
        for name in document_ids:
            if "/" in name or "\\" in name or name.startswith("."):
                raise ClearinghouseRejected(f"not a mailbox document id: {name[:60]!r}")
            self.mailbox.move(OUTBOUND, name, RECEIVED)

    def eligibility(self, x12_270: str) -> str:
        return self._inquiry(x12_270, ".270", ".271")

    def claim_status(self, x12_276: str) -> str:
        return self._inquiry(x12_276, ".276", ".277")

    # --- plumbing ----------------------------------------------------------------------------------

    def _inquiry(self, x12: str, suffix: str, answer_suffix: str) -> str:
        stem = f"inquiry-{uuid.uuid4().hex}"
        self.mailbox.write(INBOUND, f"{stem}{suffix}", x12)
        answer = self._await(stem, (answer_suffix,), required=True)
        assert answer is not None
        name, text = answer
        self.mailbox.move(OUTBOUND, name, RECEIVED)
        if name.endswith(".error.txt"):
            raise ClearinghouseRejected(f"clearinghouse refused inquiry {stem}: {text.strip()[:300]}")
        return text

    def _await(self, stem: str, suffixes: tuple[str, ...], *, required: bool) -> tuple[str, str] | None:
        wanted = [stem + s for s in suffixes] + [f"{stem}.error.txt"]
        deadline = time.monotonic() + self.timeout_seconds
        while True:
            present = set(self.mailbox.names(OUTBOUND))
            for name in wanted:
                if name in present:
                    return name, self.mailbox.read(OUTBOUND, name)
            if time.monotonic() >= deadline:
                if required:
                    raise ClearinghouseUnavailable(
                        f"no answer to {stem} in the mailbox after {self.timeout_seconds:g} seconds"
                    )
                return None
            time.sleep(self.poll_seconds)

    def _documents(self, kinds: tuple[str, ...]) -> list[InboundDocument]:
        documents: list[InboundDocument] = []
        for name in self.mailbox.names(OUTBOUND):
            if name.endswith(".part"):
                continue
            kind = _KIND_BY_SUFFIX.get(Path(name).suffix.lower())
            if kind in kinds:
                documents.append(
                    InboundDocument(
                        id=name,
                        kind=kind,
                        x12=self.mailbox.read(OUTBOUND, name),
                        received_at=self.mailbox.modified(OUTBOUND, name),
                    )
                )
        documents.sort(key=lambda d: (d.received_at or datetime.min.replace(tzinfo=UTC), d.id))
        return documents
