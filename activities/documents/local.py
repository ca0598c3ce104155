"""The local-folder document store: the embedded default under ``CARECYCLE_HOME/documents``.

Each object is a file at its key; its hash, size and content type sit in a sidecar under ``.meta/`` so a
listing of the folder stays the documents themselves. Writes go to a temp file and are renamed into place,
so a reader never sees half a file.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote, urlencode

from activities.documents.store import (
    DocumentCorrupted,
    DocumentNotFound,
    StoredDocument,
    check_size,
    refuse_audit_delete,
    sha256_hex,
    validate_key,
    validate_prefix,
)

_META = ".meta"


class LocalDocumentStore:
    def __init__(
        self,
        root: Path,
        max_bytes: int = 50 * 1024 * 1024,
        *,
        base_url: str | None = None,
        signing_key: bytes | None = None,
    ) -> None:
        self.root = root
        self.max_bytes = max_bytes
        # A signed http link needs a server that checks it (verify_signed_url); without one, a file:// URI.
        self.base_url = base_url.rstrip("/") if base_url else None
        self.signing_key = signing_key

    def _path(self, key: str) -> Path:
        return self.root / validate_key(key)

    def _meta_path(self, key: str) -> Path:
        return self.root / _META / f"{validate_key(key)}.json"

    def _write_atomic(self, path: Path, data: bytes) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def put(self, key: str, data: bytes, content_type: str = "application/octet-stream") -> StoredDocument:
        path = self._path(key)
        check_size(data, self.max_bytes)
        digest = sha256_hex(data)
        now = datetime.now(UTC)
        self._write_atomic(path, data)
        meta = {"sha256": digest, "size": len(data), "content_type": content_type, "created_at": now.isoformat()}
        self._write_atomic(self._meta_path(key), json.dumps(meta).encode())
        return StoredDocument(key, digest, len(data), content_type, now)

    def head(self, key: str) -> StoredDocument:
        path = self._path(key)
        meta_path = self._meta_path(key)
        if not path.is_file():
            raise DocumentNotFound(f"no document at {key}")
        if meta_path.is_file():
            meta = json.loads(meta_path.read_text())
            return StoredDocument(
                key,
                str(meta["sha256"]),
                int(meta["size"]),
                str(meta["content_type"]),
                datetime.fromisoformat(str(meta["created_at"])),
            )
        # A file dropped in by hand: describe it as it is.
        data = path.read_bytes()
        return StoredDocument(key, sha256_hex(data), len(data), "application/octet-stream", None)

    def get(self, key: str) -> bytes:
        info = self.head(key)
        data = self._path(key).read_bytes()
        if sha256_hex(data) != info.sha256:
            raise DocumentCorrupted(f"the document at {key} does not match its stored hash")
        return data

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    def list(self, prefix: str = "") -> list[StoredDocument]:
        validate_prefix(prefix)
        if not self.root.is_dir():
            return []
        found: list[StoredDocument] = []
        for path in sorted(self.root.rglob("*")):
            rel = path.relative_to(self.root)
            if rel.parts[0] == _META or not path.is_file() or path.name.startswith(".tmp-"):
                continue
            key = rel.as_posix()
            if key.startswith(prefix):
                found.append(self.head(key))
        return found

    def presigned_url(self, key: str, expires_seconds: int = 900) -> str:
        path = self._path(key)
        if not path.is_file():
            raise DocumentNotFound(f"no document at {key}")
        if self.base_url is None or self.signing_key is None:
            return path.resolve().as_uri()
        expires = int(time.time()) + expires_seconds
        query = urlencode({"expires": expires, "signature": self._signature(key, expires)})
        return f"{self.base_url}/documents/{quote(key)}?{query}"

    def _signature(self, key: str, expires: int) -> str:
        assert self.signing_key is not None
        return hmac.new(self.signing_key, f"{key}\n{expires}".encode(), hashlib.sha256).hexdigest()

    def verify_signed_url(self, key: str, expires: int, signature: str, now: float | None = None) -> bool:
        """For the server that serves local documents: is this link genuine and not expired?"""
        if self.signing_key is None:
            return False
        if (now if now is not None else time.time()) > expires:
            return False
        return hmac.compare_digest(self._signature(validate_key(key), expires), signature)

    def delete(self, key: str) -> None:
        refuse_audit_delete(key)
        path = self._path(key)
        if not path.is_file():
            raise DocumentNotFound(f"no document at {key}")
        path.unlink()
        self._meta_path(key).unlink(missing_ok=True)
