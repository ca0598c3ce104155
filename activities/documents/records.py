"""The ``Document`` row beside the bytes: what a key holds (kind, hash, size) and which entity it belongs to."""

from __future__ import annotations

from sqlalchemy import select

from activities.documents.store import DocumentStore, StoredDocument
from domain.models import Document
from domain.store.uow import UnitOfWork


def record_document(
    uow: UnitOfWork,
    stored: StoredDocument,
    kind: str,
    *,
    entity_type: str | None = None,
    entity_id: str | None = None,
) -> Document:
    """Insert or refresh the row for ``stored.key`` in the open unit of work (the caller commits)."""
    row = uow.session.scalar(select(Document).where(Document.key == stored.key))
    if row is None:
        row = Document(
            key=stored.key,
            kind=kind,
            content_type=stored.content_type,
            size_bytes=stored.size_bytes,
            sha256=stored.sha256,
            entity_type=entity_type,
            entity_id=entity_id,
        )
        uow.session.add(row)
    else:
        row.kind = kind
        row.content_type = stored.content_type
        row.size_bytes = stored.size_bytes
        row.sha256 = stored.sha256
        row.entity_type = entity_type or row.entity_type
        row.entity_id = entity_id or row.entity_id
    uow.flush()
    return row


def store_and_record(
    store: DocumentStore,
    uow: UnitOfWork,
    key: str,
    data: bytes,
    content_type: str,
    kind: str,
    *,
    entity_type: str | None = None,
    entity_id: str | None = None,
) -> StoredDocument:
    """Put the bytes, then record them; the row commits with the caller's unit of work."""
    stored = store.put(key, data, content_type)
    record_document(uow, stored, kind, entity_type=entity_type, entity_id=entity_id)
    return stored
