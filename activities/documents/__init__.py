"""The document store: one interface, a local folder (embedded default) and S3 (production).

Workflows carry document keys, never the bytes: an activity puts a file here and hands the key on.
"""

from activities.documents.store import (
    DocumentCorrupted,
    DocumentError,
    DocumentNotFound,
    DocumentStore,
    DocumentStoreUnavailable,
    DocumentTooLarge,
    InvalidDocumentKey,
    StoredDocument,
    sha256_hex,
    validate_key,
)

__all__ = [
    "DocumentCorrupted",
    "DocumentError",
    "DocumentNotFound",
    "DocumentStore",
    "DocumentStoreUnavailable",
    "DocumentTooLarge",
    "InvalidDocumentKey",
    "StoredDocument",
    "sha256_hex",
    "validate_key",
]
