"""File modes of the embedded stack's home: readable by the service's own account only, on every start.

The home, its ``secrets``, ``logs``, ``documents`` and ``sandbox`` folders are 0700; the store (a SQLite file
and its WAL/SHM companions), the Temporal dev server's database, every log file and every secret 0600. The
process umask is set to 077 first, so files created afterwards (a new WAL, the dev server's log, a document)
are born private; :func:`harden_home` then repairs whatever an older release or a copy left open.
"""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path

from sqlalchemy.engine import make_url

from workers.settings import Settings

log = logging.getLogger("carecycle.security")

PRIVATE_DIRS = ("secrets", "logs", "documents", "sandbox")
DB_SUFFIXES = ("", "-wal", "-shm", "-journal")


def private_umask() -> None:
    os.umask(0o077)


def store_files(settings: Settings) -> list[Path]:
    """The SQLite store's files (none for PostgreSQL) and the Temporal dev server's."""
    files: list[Path] = []
    url = make_url(settings.database_url)
    if url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:"):
        base = Path(url.database or "")
        files += [base.with_name(base.name + suffix) for suffix in DB_SUFFIXES]
    temporal = settings.home / "temporal.db"
    files += [temporal.with_name(temporal.name + suffix) for suffix in DB_SUFFIXES]
    return files


def _chmod(path: Path, mode: int, changed: list[Path]) -> None:
    try:
        info = path.lstat()
    except FileNotFoundError:
        return
    if stat.S_ISLNK(info.st_mode):
        return  # never follow a link out of the home
    if stat.S_IMODE(info.st_mode) != mode:
        os.chmod(path, mode)
        changed.append(path)


def harden_home(settings: Settings) -> list[Path]:
    """Set the modes; returns the paths that were changed (logged: an operator sees what was open)."""
    changed: list[Path] = []
    home = settings.home
    home.mkdir(parents=True, exist_ok=True, mode=0o700)
    _chmod(home, 0o700, changed)
    for name in PRIVATE_DIRS:
        folder = home / name
        if folder.is_dir() and not folder.is_symlink():
            _chmod(folder, 0o700, changed)
    for folder, mode in ((home / "secrets", 0o600), (home / "logs", 0o600)):
        if folder.is_dir() and not folder.is_symlink():
            for path in folder.rglob("*"):
                _chmod(path, 0o700 if path.is_dir() else mode, changed)
    for path in store_files(settings):
        _chmod(path, 0o600, changed)
    if changed:
        log.warning("file modes tightened on %d path(s) under the home (now owner-only)", len(changed))
    return changed
