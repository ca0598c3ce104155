"""The embedded stack's files are its own account's only, on every start: the home 0700, the store, the Temporal
database, the logs and the secrets 0600, even when an older release (or a copy) left them 0644 in 0755 folders."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from tests.support.dev_stack import stack_settings
from workers.security.files import harden_home
from workers.stack import running_stack


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _open_up(home: Path) -> None:
    """What releases before issue 12 left behind."""
    for folder in (home, home / "secrets", home / "logs"):
        folder.mkdir(parents=True, exist_ok=True)
        os.chmod(folder, 0o755)
    for path in (home / "carecycle.db", home / "logs" / "stack.log", home / "secrets" / "note"):
        path.write_text("x")
        os.chmod(path, 0o644)


def test_harden_home_closes_what_was_open(tmp_path: Path) -> None:
    home = tmp_path / "home"
    _open_up(home)
    settings = stack_settings(home, f"sqlite:///{home / 'carecycle.db'}")
    changed = harden_home(settings)
    assert _mode(home) == 0o700 and _mode(home / "secrets") == 0o700 and _mode(home / "logs") == 0o700
    for path in (home / "carecycle.db", home / "logs" / "stack.log", home / "secrets" / "note"):
        assert _mode(path) == 0o600, path
    assert len(changed) == 6 and harden_home(settings) == []


@pytest.mark.temporal
async def test_every_start_leaves_the_files_private(tmp_path: Path) -> None:
    home = tmp_path / "home"
    _open_up(home)
    settings = stack_settings(home, f"sqlite:///{home / 'carecycle.db'}")
    saved = os.umask(0o022)
    try:
        async with running_stack(settings, with_workers=False) as info:
            assert info.temporal is not None
            files = [
                home / "carecycle.db",
                home / "temporal.db",
                home / "logs" / "temporal.log",
                *sorted((home / "secrets").iterdir()),
                *[p for p in home.glob("*.db-*")],
            ]
            assert any(p.name == "codec-server-token" for p in files) and any(p.name == "actor-keys" for p in files)
            for path in files:
                assert _mode(path) == 0o600, f"{path} is {oct(_mode(path))}"
            assert _mode(home) == 0o700 and _mode(home / "logs") == 0o700 and _mode(home / "secrets") == 0o700
    finally:
        os.umask(saved)
