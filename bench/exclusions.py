"""Exclusion screening over a LEIE-sized file: time and memory against reading the same file once.

A synthetic OIG LEIE (``UPDATED.csv`` layout) of ``--rows`` records (80,000 by default, the real file's size) with
two of the synthetic practice's staff planted in it is screened by the product's path
(``activities.staff.screening.ExclusionScreening.run``: stream, hash, parse, match against the staff index, record
the matches, renew the screening credentials, open the items) over a throwaway SQLite store. The baseline is the
least any screening must do: read the same file once through ``csv.reader`` and touch every field.

Printed: the time ratio (product / baseline, median of ``--rounds``, alternating) and the peak Python memory of
each side (tracemalloc), which shows that the file is streamed (the product's peak stays near the baseline's,
nowhere near the file's size). No absolute timing is meant to be compared across machines.

    .venv/bin/python bench/exclusions.py [--rows 80000] [--rounds 5] [--json]
"""

from __future__ import annotations

import argparse
import csv
import json
import statistics
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def _measure(work: Callable[[], object]) -> tuple[float, int]:
    tracemalloc.start()
    started = time.perf_counter()
    work()
    elapsed = time.perf_counter() - started
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return elapsed, peak


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=80_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    from sqlalchemy import select

    from activities.staff.screening import ExclusionScreening, ListFile
    from domain import models as m
    from domain.store.engine import make_engine, make_session_factory
    from domain.store.migrate import upgrade
    from sandbox.exclusions import Planted, write_leie
    from workers.synthetic import seed_practice

    today = datetime.now(UTC).date()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        engine = make_engine(f"sqlite:///{folder / 'store.db'}")
        upgrade(engine)
        factory = make_session_factory(engine)
        with factory() as session:
            seed_practice(session, patients=5, seed=3, as_of=today)
            session.commit()
            staff = session.scalars(select(m.Staff).order_by(m.Staff.id).limit(2)).all()
            plant = [Planted(s.first_name, s.last_name, s.birth_date) for s in staff]
        leie = write_leie(folder / "UPDATED.csv", count=args.rows, plant=plant)
        size = leie.stat().st_size
        screening = ExclusionScreening(factory)

        def product() -> object:
            return screening.run([ListFile("OIG", leie)], today, actor="bench")

        def baseline() -> object:
            fields = 0
            with leie.open(encoding="utf-8", newline="") as handle:
                for row in csv.reader(handle):
                    fields += len(row)
            return fields

        product_times, baseline_times, product_peaks, baseline_peaks = [], [], [], []
        for _ in range(args.rounds):
            elapsed, peak = _measure(baseline)
            baseline_times.append(elapsed)
            baseline_peaks.append(peak)
            elapsed, peak = _measure(product)
            product_times.append(elapsed)
            product_peaks.append(peak)
        outcome = product()
        engine.dispose()
    ratio = statistics.median(p / b for p, b in zip(product_times, baseline_times, strict=True))
    figures: dict[str, Any] = {
        "rows": args.rows,
        "file_bytes": size,
        "matches": len(outcome.matches),  # type: ignore[attr-defined]
        "time_ratio_median": round(ratio, 2),
        "product_peak_bytes": max(product_peaks),
        "baseline_peak_bytes": max(baseline_peaks),
        "product_peak_per_file_byte": round(max(product_peaks) / size, 4),
    }
    print(f"LEIE of {args.rows} rows ({size / 1e6:.1f} MB), {figures['matches']} planted matches found")
    print(f"screening / one csv.reader pass: {ratio:.2f}x (median of {args.rounds})")
    print(
        f"peak Python memory: screening {max(product_peaks) / 1e6:.2f} MB, baseline {max(baseline_peaks) / 1e6:.2f} "
        f"MB ({figures['product_peak_per_file_byte']:.1%} of the file)"
    )
    if args.json:
        print(json.dumps(figures))
    return 0


if __name__ == "__main__":
    sys.exit(main())
