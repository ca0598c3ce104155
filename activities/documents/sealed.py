"""Documents kept encrypted in the document store (AES-GCM with key ids), for raw messages full of PHI (HL7 v2).

The bytes stored are ``MAGIC || len(kid) || kid || nonce(12) || AES-GCM(data)`` with the key id and the
document key as associated data, so a sealed document cannot be moved to another key or relabelled to another
key id. Opening accepts any configured key id (rotation); sealing uses the active one. The keys are the payload
codec keys (``workers.security.keys``), handed in by the composition root.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from activities.documents.store import DocumentCorrupted, DocumentStore, StoredDocument

MAGIC = b"CCSEAL1"
NONCE_BYTES = 12
SEALED_CONTENT_TYPE = "application/vnd.carecycle.sealed"


class SealedDocuments:
    def __init__(self, store: DocumentStore, keys: Mapping[str, bytes], active_key_id: str) -> None:
        if active_key_id not in keys:
            raise ValueError("the active key id is not among the keys")
        self.store = store
        self._ciphers = {kid: AESGCM(key) for kid, key in keys.items()}
        self._active = active_key_id

    def seal(self, key: str, data: bytes) -> bytes:
        kid = self._active.encode()
        nonce = os.urandom(NONCE_BYTES)
        sealed = self._ciphers[self._active].encrypt(nonce, data, kid + b"\0" + key.encode())
        return MAGIC + bytes([len(kid)]) + kid + nonce + sealed

    def open(self, key: str, blob: bytes) -> bytes:
        if not blob.startswith(MAGIC) or len(blob) < len(MAGIC) + 1:
            raise DocumentCorrupted(f"document {key} is not a sealed document")
        size = blob[len(MAGIC)]
        start = len(MAGIC) + 1
        kid = blob[start : start + size]
        nonce = blob[start + size : start + size + NONCE_BYTES]
        cipher = self._ciphers.get(kid.decode(errors="replace"))
        if cipher is None:
            raise DocumentCorrupted(f"document {key} is sealed with an unknown key id")
        try:
            return cipher.decrypt(nonce, blob[start + size + NONCE_BYTES :], kid + b"\0" + key.encode())
        except InvalidTag:
            raise DocumentCorrupted(f"document {key} does not authenticate under its key") from None

    def put(self, key: str, data: bytes) -> StoredDocument:
        return self.store.put(key, self.seal(key, data), SEALED_CONTENT_TYPE)

    def get(self, key: str) -> bytes:
        return self.open(key, self.store.get(key))
