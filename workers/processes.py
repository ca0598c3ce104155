"""Child processes that must not outlive carecycle, and finding the ones a crash left behind.

A server carecycle starts (the Temporal dev server) runs in its own process group, started through
``workers.orphan_guard`` so that the kernel stops it when its parent dies, and is recorded in a pid file
under ``$CARECYCLE_HOME/run``: its pid, its start time (so a reused pid is never mistaken for it) and its
owner's. The next start reads the file: an owner still alive means another carecycle serves this home; a server
whose owner died is stopped (its whole process group) before anything binds its ports.

``listening_pids`` tells who answers on a port (Linux ``/proc``), so a start can confirm that the server
answering is the one it started and not a stranger holding the port.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path


def start_time(pid: int) -> int | None:
    """The process's start time in clock ticks since boot (Linux), or None when it is gone or unknown."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat[stat.rfind(")") + 2 :].split()
    if not fields or fields[0] == "Z":  # a zombie is gone for our purposes
        return None
    return int(fields[19])


def alive(pid: int, started: int | None = None) -> bool:
    """Whether ``pid`` runs (and, given ``started``, is still the same process)."""
    if pid <= 0:
        return False
    if Path("/proc").is_dir():
        now = start_time(pid)
        return now is not None and (started is None or now == started)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def command_line(pid: int) -> list[str]:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return []
    return [part.decode(errors="replace") for part in raw.split(b"\0") if part]


def guarded(command: list[str]) -> list[str]:
    """``command`` wrapped so that it dies with this process (workers.orphan_guard; Linux)."""
    if not sys.platform.startswith("linux"):
        return command
    return [sys.executable, "-m", "workers.orphan_guard", str(os.getpid()), "--", *command]


@dataclass(frozen=True)
class ChildRecord:
    name: str
    pid: int
    started: int | None
    owner_pid: int
    owner_started: int | None
    marker: str  # a string its command line holds (e.g. the state file), checked before it is stopped


def write_record(path: Path, record: ChildRecord) -> None:
    from workers.files import atomic_write

    atomic_write(path, json.dumps(asdict(record)) + "\n")


def read_record(path: Path) -> ChildRecord | None:
    try:
        data = json.loads(path.read_text())
        return ChildRecord(**data)
    except FileNotFoundError:
        return None
    except (OSError, ValueError, TypeError):
        return None  # a torn or foreign file: treated as absent (processes are still found by marker)


def record_for(name: str, pid: int, marker: str) -> ChildRecord:
    return ChildRecord(name, pid, start_time(pid), os.getpid(), start_time(os.getpid()), marker)


def stop_group(pid: int, grace: float = 10.0) -> None:
    """SIGTERM the process group led by ``pid`` (or the process), then SIGKILL what is left after ``grace``."""
    started = start_time(pid)

    def send(sig: signal.Signals) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            if os.getpgid(pid) == pid:
                os.killpg(pid, sig)
            else:
                os.kill(pid, sig)

    send(signal.SIGTERM)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        if not alive(pid, started):
            return
        time.sleep(0.1)
    send(signal.SIGKILL)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and alive(pid, started):
        time.sleep(0.05)


def processes_with(marker: str, program: str) -> list[int]:
    """Pids whose command line runs ``program`` and mentions ``marker`` (Linux; empty elsewhere)."""
    found: list[int] = []
    proc = Path("/proc")
    if not proc.is_dir():
        return found
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        command = command_line(int(entry.name))
        if command and any(Path(part).name == program for part in command[:2]) and marker in command:
            found.append(int(entry.name))
    return found


def parent_of(pid: int) -> int | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return int(stat[stat.rfind(")") + 2 :].split()[1])


def port_free(host: str, port: int) -> bool:
    """Whether nothing listens on ``host:port`` now (a bind test; SO_REUSEADDR as servers use it)."""
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            return False
    return True


def listening_pids(port: int) -> set[int] | None:
    """The pids with a socket listening on ``port`` (any address); None when this system cannot tell."""
    inodes: set[str] = set()
    readable = False
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        readable = True
        for line in lines:
            fields = line.split()
            if len(fields) > 9 and fields[3] == "0A" and int(fields[1].rsplit(":", 1)[1], 16) == port:
                inodes.add(fields[9])
    if not readable:
        return None
    owners: set[int] = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            for fd in (entry / "fd").iterdir():
                with contextlib.suppress(OSError):
                    link = os.readlink(fd)
                    if link.startswith("socket:[") and link[8:-1] in inodes:
                        owners.add(int(entry.name))
                        break
    return owners
