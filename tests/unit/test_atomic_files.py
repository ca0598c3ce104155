"""Secret and state files are written whole or not at all: a crash (here: the disk fills) while a secret is
written leaves no empty or partial file that would lock the stack out at the next start."""

from __future__ import annotations

import errno
import os
import threading
from pathlib import Path

import pytest

from workers.files import atomic_write
from workers.security.keys import load_keys
from workers.security.stack_secrets import codec_server_tokens, console_session_secret
from workers.settings import Settings


def _disk_full(fd: int, *args: object, **kwargs: object) -> object:
    os.close(fd)
    raise OSError(errno.ENOSPC, "No space left on device")


@pytest.mark.parametrize(
    "make",
    [codec_server_tokens, console_session_secret, lambda s: load_keys(s, create_if_missing=True)],
    ids=["codec-token", "session-key", "codec-keys"],
)
def test_a_crash_while_writing_a_secret_leaves_nothing_behind(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, make: object
) -> None:
    settings = Settings(home=tmp_path, database_url="sqlite://")
    with monkeypatch.context() as patch:
        patch.setattr(os, "fdopen", _disk_full)
        with pytest.raises(OSError, match="No space left"):
            make(settings)  # type: ignore[operator]
    assert list((tmp_path / "secrets").iterdir()) == []  # neither an empty secret nor a temporary file
    assert make(settings)  # type: ignore[operator]  # the next start makes it as if nothing happened
    for path in (tmp_path / "secrets").iterdir():
        assert path.stat().st_mode & 0o777 == 0o600 and path.read_text().strip()


def test_exclusive_writers_agree_on_one_complete_file(tmp_path: Path) -> None:
    target = tmp_path / "secret"
    winners: list[str] = []

    def write(value: str) -> None:
        try:
            atomic_write(target, value * 1000, mode=0o600, exclusive=True)
            winners.append(value)
        except FileExistsError:
            pass

    threads = [threading.Thread(target=write, args=(chr(65 + n),)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(winners) == 1 and target.read_text() == winners[0] * 1000
    assert [p.name for p in tmp_path.iterdir()] == ["secret"]


def test_replacing_write_keeps_the_old_file_until_the_new_one_is_complete(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "state.json"
    atomic_write(target, "old")
    with monkeypatch.context() as patch:
        patch.setattr(os, "fdopen", _disk_full)
        with pytest.raises(OSError):
            atomic_write(target, "new")
    assert target.read_text() == "old" and [p.name for p in tmp_path.iterdir()] == ["state.json"]
