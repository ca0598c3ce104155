"""Starting the embedded Temporal dev server when a port it picked is taken before it binds it.

The CLI chooses its internal ports itself, so another process can take one between its choice and its bind; it
then exits with "address already in use" (one CI run lost a test that way). Such a start is tried again; any
other exit is reported at once. The race is made real here: the port is held by a listening socket after the
port check has passed (the check is skipped), exactly what a racing process does."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from tests.support.dev_stack import free_port
from workers.temporal.dev_server import DevServer, DevServerError

pytestmark = pytest.mark.temporal


class _Racing(DevServer):
    """A dev server whose port is taken after the port check; ``release_after`` starts give it back."""

    def __init__(self, tmp: Path, release_after: int | None, **kwargs: object) -> None:
        self.held = socket.socket()
        self.held.bind(("127.0.0.1", 0))
        self.held.listen()
        super().__init__(
            db_file=tmp / "temporal.db",
            port=int(self.held.getsockname()[1]),
            ui_port=None,
            log_file=tmp / "temporal.log",
            **kwargs,  # type: ignore[arg-type]
        )
        self.release_after = release_after
        self.starts = 0

    def _check_ports(self) -> None:  # the check passed; the port is taken right after it
        pass

    def start(self) -> None:
        if self.starts == self.release_after:
            self.held.close()
        self.starts += 1
        super().start()


async def test_a_start_that_lost_its_port_is_tried_again(tmp_path: Path) -> None:
    server = _Racing(tmp_path, release_after=1)
    try:
        async with server:
            assert server.pid is not None
        assert server.starts == 2
        assert (tmp_path / "temporal.log").read_bytes().count(b"address already in use") == 1
    finally:
        server.held.close()


async def test_a_port_held_throughout_fails_after_the_attempts(tmp_path: Path) -> None:
    server = _Racing(tmp_path, release_after=None, start_attempts=2)
    try:
        with pytest.raises(DevServerError, match="exited with code"):
            async with server:
                pass
        assert server.starts == 2
        assert (tmp_path / "temporal.log").read_bytes().count(b"address already in use") == 2
    finally:
        server.held.close()


async def test_any_other_exit_is_reported_at_once(tmp_path: Path) -> None:
    (tmp_path / "temporal.db").mkdir()  # its state file is a directory: the CLI cannot open it
    server = DevServer(db_file=tmp_path / "temporal.db", port=free_port(), ui_port=None, log_file=tmp_path / "t.log")
    starts = 0
    original = server.start

    def counted() -> None:
        nonlocal starts
        starts += 1
        original()

    server.start = counted  # type: ignore[method-assign]
    with pytest.raises(DevServerError, match="exited with code"):
        async with server:
            pass
    assert starts == 1
