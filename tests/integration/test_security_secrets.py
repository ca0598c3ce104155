"""The secrets the embedded stack makes for itself: the codec server token (authorization always on), the
console session key and the first admin, each in a 0600 file under CARECYCLE_HOME/secrets, made once."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
from sqlalchemy.orm import Session, sessionmaker

from console.accounts import Role, add_user, authenticate, list_users
from domain.store.engine import make_engine, make_session_factory
from workers.security.stack_secrets import (
    SecretFileError,
    admin_password_file,
    codec_server_tokens,
    codec_token_file,
    console_session_secret,
    ensure_first_admin,
    session_key_file,
)
from workers.settings import Settings


@pytest.fixture
def settings(tmp_path: Path, sqlite_url: str) -> Settings:
    return Settings(home=tmp_path / "home", database_url=sqlite_url)


@pytest.fixture
def store(sqlite_url: str) -> sessionmaker[Session]:
    return make_session_factory(make_engine(sqlite_url))


def test_codec_token_is_generated_once_in_an_owner_only_file(settings: Settings) -> None:
    [token] = codec_server_tokens(settings)
    path = codec_token_file(settings)
    assert len(token) >= 32 and path.read_text().strip() == token
    assert path.stat().st_mode & 0o777 == 0o600 and path.parent.stat().st_mode & 0o777 == 0o700
    assert codec_server_tokens(settings) == [token]  # a restart keeps the Web UI's token
    configured = replace(settings, codec_server_token="new-token, old-token")
    assert codec_server_tokens(configured) == ["new-token", "old-token"]
    path.chmod(0o644)
    with pytest.raises(SecretFileError, match="owner only"):
        codec_server_tokens(settings)


def test_session_key_from_environment_or_file(settings: Settings) -> None:
    generated = console_session_secret(settings)
    assert console_session_secret(settings) == generated
    assert session_key_file(settings).stat().st_mode & 0o777 == 0o600
    assert console_session_secret(replace(settings, console_session_secret="x" * 40)) == b"x" * 40
    with pytest.raises(SecretFileError, match="at least 32"):
        console_session_secret(replace(settings, console_session_secret="short"))


def test_first_admin_is_created_once_with_a_password_kept_in_a_file(
    settings: Settings, store: sessionmaker[Session]
) -> None:
    path = ensure_first_admin(settings, store)
    assert path == admin_password_file(settings) and path.stat().st_mode & 0o777 == 0o600
    password = path.read_text().strip()
    with store() as session:
        assert authenticate(session, "admin", password).role is Role.ADMIN
        session.commit()
    assert ensure_first_admin(settings, store) == path  # users exist: nothing new is made
    with store() as session:
        assert [u.username for u in list_users(session)] == ["admin"]


def test_no_admin_is_made_when_users_exist(settings: Settings, store: sessionmaker[Session]) -> None:
    with store() as session:
        add_user(session, "ann", Role.BILLER, "a long enough password")
        session.commit()
    assert ensure_first_admin(settings, store) is None
    assert not admin_password_file(settings).exists()
