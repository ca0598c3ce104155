"""The environment a test or bench gives a carecycle process: this one's, without the variables carecycle reads."""

from __future__ import annotations

import os

OURS = ("CARECYCLE_", "TEMPORAL_")  # the variables a carecycle process reads: a test's stack gives its own


def environ_without_ours(*also: str) -> dict[str, str]:
    """``os.environ`` without the CARECYCLE_/TEMPORAL_ variables (and those starting with any prefix in ``also``),
    so that a child process or a CLI run reads the settings its test gives it, never the developer's shell's."""
    prefixes = OURS + also
    return {k: v for k, v in os.environ.items() if not k.startswith(prefixes)}
