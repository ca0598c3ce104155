"""Writing small state files so that a crash never leaves half of one: write a temporary file beside the
target, flush it to disk, then rename (replace) or link (create once) it into place."""

from __future__ import annotations

import contextlib
import os
import secrets
from pathlib import Path


def atomic_write(path: Path, text: str, *, mode: int = 0o600, exclusive: bool = False) -> None:
    """Write ``text`` to ``path`` whole or not at all, created with ``mode`` (narrowed by the umask, never widened).

    ``exclusive``: never replace an existing file; raises FileExistsError when another writer got there
    first (the link is atomic, so exactly one writer wins and every reader sees a complete file)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        if exclusive:
            os.link(temporary, path)  # fails with FileExistsError if the target exists
        else:
            os.replace(temporary, path)
        _sync_folder(path.parent)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)


def _sync_folder(folder: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
