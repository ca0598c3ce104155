"""The document store interface and the rules every backend shares (keys, hashes, size limit).

Keys are relative, slash-separated paths such as ``eob/SBXCC/2026/11/<uuid>.pdf``. Each object carries its
SHA-256 as metadata; reads check it, so a file changed behind our back is noticed, not posted.
Error messages name keys and sizes only: keys are made of opaque ids, never PHI.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol, runtime_checkable

from domain.errors import DomainError, NotFound, ValidationError

_KEY_PART = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._=-]{0,127}$")
MAX_KEY_LENGTH = 512


class DocumentError(DomainError):
    code = "document_error"


class InvalidDocumentKey(ValidationError):
    code = "invalid_document_key"


class DocumentTooLarge(ValidationError):
    code = "document_too_large"

    def __init__(self, size: int, limit: int) -> None:
        super().__init__(f"the document is {size} bytes, over the limit of {limit} bytes")
        self.size = size
        self.limit = limit


class DocumentNotFound(NotFound):
    code = "document_not_found"


class DocumentCorrupted(DocumentError):
    """The bytes read do not match the hash recorded when they were stored."""

    code = "document_corrupted"


class DocumentStoreUnavailable(DocumentError):
    """The backend cannot be reached or refused us (credentials, permissions, network)."""

    code = "document_store_unavailable"


@dataclass(frozen=True)
class StoredDocument:
    key: str
    sha256: str
    size_bytes: int
    content_type: str
    created_at: datetime | None = None


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def validate_key(key: str) -> str:
    """Return the key if it is a safe relative path (no '..', no leading slash, plain characters)."""
    if not isinstance(key, str) or not key or len(key) > MAX_KEY_LENGTH:
        raise InvalidDocumentKey("a document key must be 1 to 512 characters")
    parts = key.split("/")
    for part in parts:
        if part in ("", ".", "..") or not _KEY_PART.match(part):
            raise InvalidDocumentKey(f"not a valid document key: {key!r}")
    return key


def validate_prefix(prefix: str) -> str:
    if prefix == "":
        return prefix
    trimmed = prefix[:-1] if prefix.endswith("/") else prefix
    validate_key(trimmed)
    return prefix


def check_size(data: bytes, limit: int) -> None:
    if len(data) > limit:
        raise DocumentTooLarge(len(data), limit)


@runtime_checkable
class DocumentStore(Protocol):
    """Where files live. Objects are write-once per key in practice: a put to an existing key replaces it."""

    def put(self, key: str, data: bytes, content_type: str = "application/octet-stream") -> StoredDocument: ...

    def get(self, key: str) -> bytes:
        """The bytes, after checking them against their stored SHA-256 (DocumentCorrupted if they differ)."""
        ...

    def head(self, key: str) -> StoredDocument: ...

    def exists(self, key: str) -> bool: ...

    def list(self, prefix: str = "") -> list[StoredDocument]: ...

    def presigned_url(self, key: str, expires_seconds: int = 900) -> str: ...

    def delete(self, key: str) -> None:
        """Remove an object; audit exports (keys under ``audit/``) refuse deletion."""
        ...


AUDIT_PREFIX = "audit/"


def refuse_audit_delete(key: str) -> None:
    if key.startswith(AUDIT_PREFIX):
        raise DocumentError(f"audit exports are kept: {key} cannot be deleted")
