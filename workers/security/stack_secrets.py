"""Secrets the embedded stack makes for itself under ``$CARECYCLE_HOME/secrets`` (0700 folder, 0600 files).

When the environment does not provide them: the codec server's access token, the key that signs console
session cookies, and the first console administrator's password. Each is generated once and then read
back, so a restart keeps sessions, the Web UI's token and the admin's password. Production passes the
first two in the environment (CARECYCLE_CODEC_SERVER_TOKEN, CARECYCLE_CONSOLE_SESSION_SECRET) and creates
console users with ``carecycle users add``.
"""

from __future__ import annotations

import secrets
from pathlib import Path

from sqlalchemy.orm import Session, sessionmaker

from workers.settings import Settings


class SecretFileError(Exception):
    """A secret file is unusable (too open, empty); messages never contain the secret."""


def secrets_dir(settings: Settings) -> Path:
    return settings.home / "secrets"


def codec_token_file(settings: Settings) -> Path:
    return secrets_dir(settings) / "codec-server-token"


def session_key_file(settings: Settings) -> Path:
    return secrets_dir(settings) / "console-session-key"


def admin_password_file(settings: Settings) -> Path:
    return secrets_dir(settings) / "console-admin-password"


def write_secret(path: Path, value: str) -> None:
    """Create ``path`` readable by its owner only, whole or not at all; never overwrite (a second writer gets
    FileExistsError). A crash while writing leaves no file, never an empty or partial one (workers.files)."""
    from workers.files import atomic_write

    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    atomic_write(path, value + "\n", mode=0o600, exclusive=True)


def read_secret(path: Path) -> str:
    if path.stat().st_mode & 0o077:
        raise SecretFileError(f"secret file {path} must be readable by its owner only (chmod 600)")
    value = path.read_text().strip()
    if not value:
        raise SecretFileError(f"secret file {path} is empty")
    return value


def read_or_create_secret(path: Path) -> str:
    if not path.exists():
        try:
            write_secret(path, secrets.token_urlsafe(32))
        except FileExistsError:  # another process created it first: use theirs
            pass
    return read_secret(path)


def codec_server_tokens(settings: Settings) -> list[str]:
    """The bearer tokens the codec server accepts: CARECYCLE_CODEC_SERVER_TOKEN (comma-separated, so a
    token can be rotated), else the generated token file under home. Never empty: authorization is always on."""
    if settings.codec_server_token:
        tokens = [t.strip() for t in settings.codec_server_token.split(",") if t.strip()]
        if tokens:
            return tokens
    return [read_or_create_secret(codec_token_file(settings))]


def console_session_secret(settings: Settings) -> bytes:
    if settings.console_session_secret:
        if len(settings.console_session_secret) < 32:
            raise SecretFileError("CARECYCLE_CONSOLE_SESSION_SECRET must be at least 32 characters")
        return settings.console_session_secret.encode()
    return read_or_create_secret(session_key_file(settings)).encode()


def ensure_first_admin(settings: Settings, session_factory: sessionmaker[Session]) -> Path | None:
    """With no console user at all, create ``admin`` with a generated password kept in a 0600 file.

    Returns the file's path when it holds the first admin's password (printed by ``carecycle up``; the
    password itself is never printed or logged), None when users were made some other way."""
    from console.accounts import Role, add_user, count_users

    path = admin_password_file(settings)
    with session_factory() as session:
        if count_users(session) == 0:
            password = read_secret(path) if path.exists() else None
            if password is None:
                password = secrets.token_urlsafe(18)
                write_secret(path, password)
            add_user(session, "admin", Role.ADMIN, password, actor="system:first-start")
            session.commit()
            return path
    return path if path.exists() else None
