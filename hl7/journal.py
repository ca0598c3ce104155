"""The listener's journal: one ``hl7_messages`` row per (sender, MSH-10), its raw text sealed in the document store.

A message is journaled only once it was read and understood (a refusal stores nothing). The row moves
received -> processed (with the application ACK, answered again for a repeated control id) or failed (the
sender may send the same control id again once the cause is fixed: it is processed again).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from activities.documents.sealed import SealedDocuments
from domain import models as m
from domain.store.uow import UnitOfWork
from hl7.ack import Ack
from hl7.message import Header

RECEIVED, PROCESSED, FAILED = "received", "processed", "failed"


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
        with self._session_factory() as session:
            row = session.execute(
                select(m.Hl7Message).where(
                    m.Hl7Message.sender == header.sender[:120], m.Hl7Message.control_id == header.control_id
                )
            ).scalar_one_or_none()
            if row is None:
                return None
            return Journaled(row.id, row.status, row.ack_code, row.ack_text)

    def receive(self, header: Header, text: str, prior: Journaled | None) -> str:
        """Keep the raw message (sealed) and mark it received; returns the row id. The document is written
        first: a row never points at a document that is not there."""
        row_id = prior.id if prior is not None else m.new_id()
        now = datetime.now(UTC)
        key = f"hl7/{now:%Y/%m}/{row_id}.hl7"
        self._documents.put(key, text.encode("utf-8"))
        with UnitOfWork(self._session_factory) as uow:
            if prior is None:
                uow.session.add(
                    m.Hl7Message(
                        id=row_id,
                        sender=header.sender[:120],
                        control_id=header.control_id,
                        message_type=header.message_type[:20],
                        document_key=key,
                        status=RECEIVED,
                        received_at=now,
                    )
                )
            else:
                row = uow.session.get(m.Hl7Message, row_id)
                if row is None or row.status == RECEIVED:
                    raise AlreadyInFlight(header.control_id)
                row.status, row.document_key, row.received_at = RECEIVED, key, now
                row.ack_code = row.ack_text = row.error_code = None
                row.processed_at = None
            try:
                uow.commit()
            except IntegrityError:
                raise AlreadyInFlight(header.control_id) from None
        return row_id

    def finish(self, row_id: str, ack: Ack, error_code: str | None) -> None:
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
