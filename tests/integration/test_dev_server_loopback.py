"""The embedded Temporal dev server listens on loopback only: every socket its process tree listens on (the
frontend, the HTTP API, the metrics port and the Web UI, whatever ports the CLI picks) is bound to 127.0.0.1, so
nobody on the network can reach a raw Temporal client to it (the workers' actor checks are the second wall)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
from pathlib import Path

import pytest

from tests.support.dev_stack import stack_settings
from workers.settings import LOOPBACK
from workers.temporal import dev_server_for

pytestmark = [
    pytest.mark.temporal,
    pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc"),
]


def _tree(pid: int) -> set[int]:
    """``pid`` and its descendants (the orphan guard runs the temporal CLI as its child)."""
    found = {pid}
    frontier = [pid]
    while frontier:
        parent = frontier.pop()
        for task in Path(f"/proc/{parent}/task").glob("*/children"):
            with contextlib.suppress(OSError):
                for child in task.read_text().split():
                    if int(child) not in found:
                        found.add(int(child))
                        frontier.append(int(child))
    return found


def _listening(pids: set[int]) -> list[tuple[str, int]]:
    """(address hex, port) of every listening TCP socket of ``pids``, IPv4 and IPv6."""
    inodes: set[str] = set()
    for pid in pids:
        with contextlib.suppress(OSError):
            for fd in Path(f"/proc/{pid}/fd").iterdir():
                with contextlib.suppress(OSError):
                    link = os.readlink(fd)
                    if link.startswith("socket:["):
                        inodes.add(link[8:-1])
    sockets: list[tuple[str, int]] = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            if fields[3] == "0A" and fields[9] in inodes:  # LISTEN
                address, port = fields[1].rsplit(":", 1)
                sockets.append((address, int(port, 16)))
    return sockets


def test_the_dev_server_is_told_to_bind_loopback(tmp_path: Path) -> None:
    command = dev_server_for(stack_settings(tmp_path, "sqlite://", ui=True)).command()
    assert command[command.index("--ip") + 1] == LOOPBACK
    assert "--ui-ip" not in command or command[command.index("--ui-ip") + 1] == LOOPBACK  # defaults to --ip


async def test_every_socket_of_the_dev_server_is_on_loopback(tmp_path: Path) -> None:
    settings = stack_settings(tmp_path, "sqlite://", ui=True)
    async with dev_server_for(settings) as server:
        assert server.pid is not None
        for _ in range(100):  # the Web UI may start listening a moment after the frontend answers
            sockets = _listening(_tree(server.pid))
            if settings.temporal_ui_port in {port for _, port in sockets}:
                break
            await asyncio.sleep(0.1)
    ports = {port for _, port in sockets}
    assert settings.temporal_port in ports and settings.temporal_ui_port in ports, sockets
    loopback_v4 = "0100007F"  # 127.0.0.1 as /proc/net/tcp writes it (little-endian hex)
    loopback_v6 = "00000000000000000000000001000000"  # ::1
    assert all(address in (loopback_v4, loopback_v6) for address, _ in sockets), sockets
