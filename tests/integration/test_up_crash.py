"""Crashes leave nothing that misleads: `carecycle up` killed with SIGKILL takes its Temporal dev server with it;
a dev server a dead owner left on the home's state file is stopped by the next start; a port held by another
process, or another live `up` on the same home, is one line (exit 1) and never "carecycle is up"."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest

from tests.integration.test_stack import CARECYCLE, _alive, _children, _env, _start, _stop
from workers import processes
from workers.settings import Settings
from workers.temporal import dev_server_for

pytestmark = [pytest.mark.temporal, pytest.mark.e2e]


def _gone(pid: int, within: float = 30.0) -> bool:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if not _alive(pid):
            return True
        time.sleep(0.2)
    return False


def _record(home: Path) -> dict[str, object]:
    return dict(json.loads((home / "run" / "temporal-dev-server.json").read_text()))


def test_sigkill_takes_the_dev_server_along_and_the_next_up_is_really_up(tmp_path: Path) -> None:
    home = tmp_path / "home"
    env = _env(home)
    log = tmp_path / "up.log"
    process, _ = _start(env, log)
    children = _children(process.pid)
    server = _record(home)
    assert server["pid"] in children and server["owner_pid"] == process.pid
    process.send_signal(signal.SIGKILL)
    process.wait(30)
    if process.stdout is not None:
        process.stdout.close()
    assert _gone(int(server["pid"])), "the dev server outlived its SIGKILLed owner"  # type: ignore[call-overload]

    process, banner = _start(env, log)
    try:
        assert "carecycle is up" in banner
        server = _record(home)
        listening = processes.listening_pids(int(env["CARECYCLE_TEMPORAL_PORT"]))
        assert listening is None or listening == {server["pid"]}
        assert server["owner_pid"] == process.pid
    finally:
        code, _ = _stop(process)
    assert code == 0
    assert not (home / "run" / "temporal-dev-server.json").exists()


def test_a_dev_server_left_by_a_dead_owner_is_stopped_at_the_next_start(tmp_path: Path) -> None:
    home = tmp_path / "home"
    env = _env(home)
    settings = Settings(
        home=home,
        database_url=f"sqlite:///{home / 'carecycle.db'}",
        temporal_port=int(env["CARECYCLE_TEMPORAL_PORT"]),
        temporal_ui_port=int(env["CARECYCLE_TEMPORAL_UI_PORT"]),
    )
    server = dev_server_for(settings)
    home.mkdir()
    # An owner that died without stopping its server (what SIGKILL did before the orphan guard).
    owner = subprocess.Popen(["sleep", "60"])
    orphan = subprocess.Popen(
        server.command(), start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    record = processes.ChildRecord(
        "temporal",
        orphan.pid,
        processes.start_time(orphan.pid),
        owner.pid,
        processes.start_time(owner.pid),
        str(server.db_file),
    )
    assert server.pid_file is not None
    processes.write_record(server.pid_file, record)
    owner.kill()
    owner.wait()
    log = tmp_path / "up.log"
    try:
        process, banner = _start(env, log)
        try:
            assert "carecycle is up" in banner
            orphan.wait(30)  # reaped: ours to collect, it was our child in this test
            assert _record(home)["pid"] != orphan.pid
        finally:
            code, _ = _stop(process)
        assert code == 0
    finally:
        if orphan.poll() is None:
            os.killpg(orphan.pid, signal.SIGKILL)
            orphan.wait()


def test_a_taken_port_or_a_live_up_on_the_same_home_is_refused(tmp_path: Path) -> None:
    home = tmp_path / "home"
    env = _env(home)
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", int(env["CARECYCLE_TEMPORAL_PORT"])))
        squatter.listen()
        done = subprocess.run([CARECYCLE, "up"], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 1 and "carecycle is up" not in done.stdout
    assert done.stderr.strip().splitlines()[-1].startswith("error: port 127.0.0.1:")
    assert "is in use" in done.stderr and "Traceback" not in done.stderr

    log = tmp_path / "up.log"
    process, _ = _start(env, log)
    try:
        other = {**env, "CARECYCLE_CODEC_SERVER_PORT": str(int(env["CARECYCLE_CODEC_SERVER_PORT"]) + 1)}
        second = subprocess.run([CARECYCLE, "up"], env=other, capture_output=True, text=True, timeout=120)
        assert second.returncode == 1 and "carecycle is up" not in second.stdout
        assert f"another carecycle (pid {process.pid}) already runs" in second.stderr
    finally:
        code, _ = _stop(process)
    assert code == 0
