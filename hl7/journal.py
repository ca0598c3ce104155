"""The listener's journal: one ``hl7_messages`` row per (sender, MSH-10), its raw text sealed in the document store.

A message is journaled only once it was read and understood (a refusal stores nothing). The row moves
received -> processed (with the application ACK, answered again for a repeated control id) or failed (the
sender may send the same control id again once the cause is fixed: it is processed again).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TypeVar

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from activities.documents.sealed import SealedDocuments
from domain import models as m
from domain.store.uow import UnitOfWork
from hl7.ack import Ack
from hl7.message import Header

RECEIVED, PROCESSED, FAILED = "received", "processed", "failed"
ATTEMPTS = 6

T = TypeVar("T")


def _busy(error: OperationalError) -> bool:
    text = str(error.orig).lower()
    return "locked" in text or "busy" in text or "deadlock" in text


def retried(work: Callable[[], T]) -> T:
    """``work`` again when the store said busy (SQLite's one writer at a time, a PostgreSQL deadlock)."""
    for attempt in range(1, ATTEMPTS + 1):
        try:
            return work()
        except OperationalError as error:
            if not _busy(error) or attempt == ATTEMPTS:
                raise
            time.sleep(0.02 * attempt * attempt)
    raise AssertionError("unreachable")


class AlreadyInFlight(Exception):
    """Another connection is processing the same sender's control id right now."""


@dataclass(frozen=True)
class Journaled:
    id: str
    status: str
    ack_code: str | None
    ack_text: str | None


@dataclass(frozen=True)
class Pending:
    id: str
    document_key: str


class Journal:
    def __init__(self, session_factory: sessionmaker[Session], documents: SealedDocuments) -> None:
        self._session_factory = session_factory
        self._documents = documents

    def find(self, header: Header) -> Journaled | None:
        return retried(lambda: self._find(header))

    def _find(self, header: Header) -> Journaled | None:
        with self._session_factory() as session:
            row = session.execute(
                select(m.Hl7Message).where(
                    m.Hl7Message.sender == header.sender[:120], m.Hl7Message.control_id == header.control_id
                )
            ).scalar_one_or_none()
            if row is None:
                return None
            return Journaled(row.id, row.status, row.ack_code, row.ack_text)

    def keep(self, header: Header, text: str, prior: Journaled | None) -> tuple[str, str]:
        """Seal the raw message into the document store: (row id, document key). The document is written before
        any row points at it."""
        row_id = prior.id if prior is not None else m.new_id()
        key = f"hl7/{datetime.now(UTC):%Y/%m}/{row_id}.hl7"
        self._documents.put(key, text.encode("utf-8"))
        return row_id, key

    def record(
        self,
        session: Session,
        header: Header,
        row_id: str,
        key: str,
        ack: Ack | None,
        error_code: str | None = None,
        *,
        new: bool,
    ) -> None:
        """The row in ``session``'s transaction: ``received`` (no ACK yet), else processed/failed with its ACK.

        A second sender of the same control id loses on the unique (sender, control id) at commit."""
        now = datetime.now(UTC)
        row = None if new else session.get(m.Hl7Message, row_id)
        if row is None:
            row = m.Hl7Message(
                id=row_id, sender=header.sender[:120], control_id=header.control_id, received_at=now, status=RECEIVED
            )
            session.add(row)
        elif ack is None and row.status == RECEIVED:
            raise AlreadyInFlight(header.control_id)
        row.message_type, row.document_key, row.received_at = header.message_type[:20], key, now
        row.status = RECEIVED if ack is None else PROCESSED if ack.accepted else FAILED
        row.ack_code = ack.code if ack else None
        row.ack_text = ack.text if ack else None
        row.error_code = error_code
        row.processed_at = now if ack else None

    def record_alone(
        self, header: Header, row_id: str, key: str, ack: Ack | None, error_code: str | None = None, *, new: bool
    ) -> None:
        """``record`` in a transaction of its own (retried while the store is busy)."""

        def write() -> None:
            with UnitOfWork(self._session_factory) as uow:
                self.record(uow.session, header, row_id, key, ack, error_code, new=new)
                try:
                    uow.commit()
                except IntegrityError:
                    raise AlreadyInFlight(header.control_id) from None

        retried(write)

    def receive(self, header: Header, text: str, prior: Journaled | None) -> str:
        """Keep the raw message and mark it received (enhanced mode: before the commit ACK); returns the row id."""
        row_id, key = self.keep(header, text, prior)
        self.record_alone(header, row_id, key, None, new=prior is None)
        return row_id

    def finish(self, row_id: str, ack: Ack, error_code: str | None) -> None:
        retried(lambda: self._finish(row_id, ack, error_code))

    def _finish(self, row_id: str, ack: Ack, error_code: str | None) -> None:
        with UnitOfWork(self._session_factory) as uow:
            row = uow.session.get(m.Hl7Message, row_id)
            if row is not None:
                row.status = PROCESSED if ack.accepted else FAILED
                row.ack_code, row.ack_text, row.error_code = ack.code, ack.text, error_code
                row.processed_at = datetime.now(UTC)
                uow.commit()

    def stalled(self, older_than: timedelta, limit: int = 100) -> list[Pending]:
        """Messages received (and committed to) but never finished: the listener stopped in between."""
        cutoff = datetime.now(UTC) - older_than
        with self._session_factory() as session:
            rows = session.execute(
                select(m.Hl7Message.id, m.Hl7Message.document_key, m.Hl7Message.received_at)
                .where(m.Hl7Message.status == RECEIVED)
                .order_by(m.Hl7Message.received_at)
                .limit(limit)
            ).all()
        return [Pending(r.id, r.document_key) for r in rows if _aware(r.received_at) <= cutoff]

    def raw(self, document_key: str) -> str:
        return self._documents.get(document_key).decode("utf-8")


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
