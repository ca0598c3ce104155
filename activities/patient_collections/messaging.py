"""The messaging adapter: each message becomes a JSON file in an outbox folder (under CARECYCLE_HOME).

The embedded stack has no mail or SMS gateway; a production sender (or a person) drains the outbox. File names
are the message's opaque id, never an address or a name. Writing is atomic and idempotent by message key.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path


@dataclass(frozen=True)
class Message:
    key: str  # idempotency: the same key is sent once (e.g. the statement's cycle key)
    channel: str  # mail, email, sms
    recipient_type: str  # guarantor
    recipient_id: str  # opaque id; the sender looks the address up
    subject: str
    body: str
    attachment_key: str | None = None  # a document store key


class OutboxMessenger:
    def __init__(self, outbox_dir: Path) -> None:
        self.outbox_dir = outbox_dir

    @classmethod
    def under_home(cls, home: Path) -> OutboxMessenger:
        """The embedded default: ``<CARECYCLE_HOME>/outbox`` (the composition root passes settings.home)."""
        return cls(home / "outbox")

    def _path(self, key: str) -> Path:
        return self.outbox_dir / f"{hashlib.sha256(key.encode()).hexdigest()[:32]}.json"

    def send(self, message: Message) -> str:
        """Queue the message; returns its outbox file name. Sending the same key twice writes one file."""
        if message.channel not in ("mail", "email", "sms"):
            raise ValueError(f"unknown channel {message.channel!r}")
        self.outbox_dir.mkdir(parents=True, exist_ok=True)
        path = self._path(message.key)
        if path.exists():
            return path.name
        payload = asdict(message) | {"queued_at": datetime.now(UTC).isoformat()}
        temporary = path.with_suffix(".tmp")
        temporary.write_text(json.dumps(payload, indent=2))
        os.replace(temporary, path)
        return path.name

    def sent(self) -> list[dict[str, object]]:
        if not self.outbox_dir.exists():
            return []
        return [json.loads(p.read_text()) for p in sorted(self.outbox_dir.glob("*.json"))]
