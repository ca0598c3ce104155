"""EOB PDF benchmark: pages per second through ``activities.eob.extract_eob`` as a ratio to pdfplumber's
bare ``extract_text`` over the same file, measured in the same run (goal: within 2x).

The file is a sandbox EOB in each payer layout with many claims spanning many pages.

    .venv/bin/python bench/pdf.py                 # 300 claims per file, 3 rounds
    .venv/bin/python bench/pdf.py --claims 60     # a quick run
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import pdfplumber

from activities.eob import extract_eob_details
from sandbox.eob import render_eob
from sandbox.eob.samples import sample_remittance

PAYERS = {"cascade": ("SBXCC", "Cascade Care Plans"), "harbor": ("SBXHH", "Harbor Health Alliance")}


def bare(path: Path) -> int:
    with pdfplumber.open(path) as pdf:
        for page in pdf.pages:
            page.extract_text()
        return len(pdf.pages)


def product(path: Path) -> int:
    return extract_eob_details(path).pages


def timed(fn, path: Path) -> tuple[float, int]:  # type: ignore[no-untyped-def]
    start = time.perf_counter()
    pages = fn(path)
    return time.perf_counter() - start, pages


def alternate(path: Path, rounds: int) -> tuple[float, float, int]:
    """Median times of the baseline and the product, run in turn so that machine load hits both alike."""
    bare_times, product_times = [], []
    pages = 0
    for _ in range(rounds):
        elapsed, pages = timed(bare, path)
        bare_times.append(elapsed)
        elapsed, product_pages = timed(product, path)
        product_times.append(elapsed)
        assert pages == product_pages
    return statistics.median(bare_times), statistics.median(product_times), pages


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--claims", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        for layout, (payer_id, name) in PAYERS.items():
            path = Path(folder) / f"{layout}.pdf"
            path.write_bytes(render_eob(sample_remittance(payer_id, name, args.claims, seed=1), layout))
            bare_time, product_time, pages = alternate(path, args.rounds)
            bare_rate, product_rate = pages / bare_time, pages / product_time
            print(
                f"{layout:8s} {pages:4d} pages  bare extract_text {bare_rate:7.1f} pages/s  "
                f"extract_eob {product_rate:7.1f} pages/s  ratio {bare_rate / product_rate:.2f}x (goal <= 2x)"
            )


if __name__ == "__main__":
    main()
