"""``python -m workers.orphan_guard PARENT_PID -- COMMAND...``: run COMMAND so that it dies with its parent.

On Linux the kernel sends SIGTERM to a process whose parent dies (``PR_SET_PDEATHSIG``); the setting survives
``exec``, so this module sets it on itself and then becomes COMMAND (same pid). If the parent is already gone
it exits at once. Elsewhere COMMAND simply runs, and the pid file check of workers.processes reaps it at the
next start. Imports only the standard library: it runs before every dev server start.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys

PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    if not sys.platform.startswith("linux"):
        return
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
    except (OSError, AttributeError):  # no prctl: the next start's reaping covers it
        return


def main(argv: list[str]) -> int:
    if len(argv) < 3 or argv[1] != "--":
        sys.stderr.write("usage: python -m workers.orphan_guard PARENT_PID -- COMMAND...\n")
        return 2
    parent = int(argv[0])
    _die_with_parent()
    if os.getppid() != parent:  # the parent died before the death signal was armed
        return 1
    os.execvp(argv[2], argv[2:])  # noqa: S606 - the command is ours (workers.processes.guarded)


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
