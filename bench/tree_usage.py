"""Run a command and report the peak resident memory summed over its whole process tree, with wall and CPU time.

    .venv/bin/python bench/tree_usage.py .venv/bin/carecycle demo --patients 100 --auto-resolve --home /tmp/d --json

``/usr/bin/time -v`` reports the largest single process; a demo is a dozen or more (the demo, the Temporal dev
server, Playwright's driver, Chromium's processes). This samples ``/proc`` every half second: the sum of VmRSS
over the tree (shared pages counted in each process, as RSS does), and each process's CPU seconds as last seen.
Prints one JSON line on stderr at the end; the command's own output passes through. Linux only.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections import Counter


def _children() -> dict[int, list[int]]:
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as stat:
                    parent = int(stat.read().rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                continue
            children.setdefault(parent, []).append(int(entry))
    return children


def _tree(root: int) -> list[int]:
    children, tree = _children(), [root]
    for pid in tree:
        tree.extend(children.get(pid, []))
    return tree


def _rss(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def _cpu(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return 0.0


def _name(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline") as cmdline:
            parts = cmdline.read().split("\0")
    except OSError:
        return "?"
    return " ".join([parts[0].rsplit("/", 1)[-1], *(p.rsplit("/", 1)[-1] for p in parts[1:2])])[:40]


def main(command: list[str]) -> int:
    began = time.monotonic()
    process = subprocess.Popen(command)
    peak, processes_at_peak = 0, 0
    cpu: dict[int, float] = {}
    names: dict[int, str] = {}
    while process.poll() is None:
        tree = _tree(process.pid)
        total = sum(_rss(pid) for pid in tree)
        for pid in tree:
            cpu[pid] = _cpu(pid)
            names.setdefault(pid, _name(pid))
        if total > peak:
            peak, processes_at_peak = total, len(tree)
        time.sleep(0.5)
    by_name: Counter[str] = Counter()
    for pid, seconds in cpu.items():
        by_name[names.get(pid, "?")] += seconds
    summary = {
        "wall_s": round(time.monotonic() - began, 1),
        "peak_rss_mb": round(peak / 2**20),
        "processes_at_peak": processes_at_peak,
        "cpu_s": round(sum(cpu.values()), 1),
        "cpu_s_by_command": {name: round(seconds, 1) for name, seconds in by_name.most_common(8)},
        "returncode": process.returncode,
    }
    print(json.dumps(summary), file=sys.stderr)
    return process.returncode


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    sys.exit(main(sys.argv[1:]))
