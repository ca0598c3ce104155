"""Run a callable under cProfile in every thread, timing each thread's CPU (not wall time, which would count
the waits for the GIL and for locks): the API's store work runs in ``asyncio.to_thread`` workers, which a plain
``cProfile.run`` does not see. The threads' stats are merged into one file.

    python -c "from bench._profiled import profile_cli; profile_cli('api.prof', ['api'])"
"""

from __future__ import annotations

import cProfile
import pstats
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

_profiles: list[cProfile.Profile] = []
_lock = threading.Lock()


def _start_in_thread(frame: Any, event: str, arg: Any) -> None:
    sys.setprofile(None)  # this thread's hook only: threads started later get theirs
    profile = cProfile.Profile(time.thread_time)
    with _lock:
        _profiles.append(profile)
    profile.enable()


def run_profiled(work: Callable[[], Any], path: str) -> Any:
    threading.setprofile(_start_in_thread)  # type: ignore[arg-type]
    main = cProfile.Profile(time.thread_time)
    _profiles.append(main)
    main.enable()
    try:
        return work()
    finally:
        main.disable()
        threading.setprofile(None)  # type: ignore[arg-type]
        stats: pstats.Stats | None = None
        for profile in _profiles:
            try:
                profile.create_stats()
            except Exception:  # still enabled in a live thread: its figures so far
                profile.snapshot_stats()
            if not getattr(profile, "stats", None):
                continue
            if stats is None:
                stats = pstats.Stats(profile)
            else:
                stats.add(profile)
        if stats is not None:
            stats.dump_stats(path)


def profile_cli(path: str, argv: list[str]) -> int:
    from workers.cli import run

    code: int = run_profiled(lambda: run(argv), path)
    return code
