"""X12 benchmark: parse a big 835 and generate a big 837P, as ratios to baselines measured in the same run.

* 835 parse (``domain.x12.remit835.parse_835``: envelope, every claim/line/CAS into Remittance values, balancing
  checks) of a generated file with 10,000 claims and 40,000 service lines, against:
  - pyx12 parsing the same kind of file (its ``X12ContextReader`` walking the 835 map, which is how pyx12 parses
    into loops). pyx12 is slow, so it is timed on a subset of the claims and scaled linearly to the full file
    (stated in the output). Goal: we are at least 20x faster.
  - a bare split of the same text into segments and elements (``[s.split("*") for s in text.split("~")]``):
    the floor for any parser in Python. Goal: within 4x of it.
* peak memory of the parse (tracemalloc, measured in a separate run so it does not slow the timing) as a
  multiple of the file size, held whole (``parse_835``: every claim kept) and streamed (``stream_835`` over 1 MB
  chunks, each claim dropped once read, as ``carecycle edi parse --json`` and ``edi validate`` read a file).
  Goal: at most 10x.
* 837P generation (``write_837p``) of 10,000 claims, with their HL tree and control numbers.

    .venv/bin/python bench/edi.py                  # 10,000 claims, 40,000 lines
    .venv/bin/python bench/edi.py --claims 2000    # a quick run
    .venv/bin/python bench/edi.py --claims 105000 --write /tmp/payer.835 # also write the 835 (50 MB) for the CLI

The 50 MB figures of the CLI (bench/README.md, docs/edi.md) are ``/usr/bin/time -v carecycle edi parse
/tmp/payer.835 --json > /dev/null`` and ``... edi validate /tmp/payer.835``: peak RSS of the whole process.
"""

from __future__ import annotations

import argparse
import gc
import io
import logging
import random
import sys
import time
import tracemalloc
from collections.abc import Callable, Iterator
from datetime import date, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from domain.remittance import Adjustment, ClaimPayment, ProviderAdjustment, Remittance, ServiceLinePayment
from domain.x12.claim837 import (
    Address,
    PayerParty,
    Person,
    ProfessionalClaim,
    ProviderParty,
    ServiceLine,
    Submitter,
    Subscriber,
    write_837p,
)
from domain.x12.envelope import ControlNumbers, Party
from domain.x12.remit835 import parse_835, stream_835, write_835

PROCEDURES = [("99213", 13500), ("99214", 19500), ("36415", 1500), ("85025", 3500), ("80053", 4500), ("93000", 6500)]
SENDER = Party("ZZ", "BENCHPAYER")
RECEIVER = Party("ZZ", "BENCHPRACTICE")
WHEN = datetime(2026, 1, 21, 10, 0)


def make_remittance(claims: int, lines_per_claim: int, rng: random.Random) -> Remittance:
    payments = []
    start = date(2025, 12, 1)
    for number in range(claims):
        day = start + timedelta(days=rng.randrange(45))
        lines = []
        for line_number in range(lines_per_claim):
            code, charge = rng.choice(PROCEDURES)
            contractual = charge * rng.randrange(10, 35) // 100
            patient = charge * rng.randrange(0, 20) // 100
            adjustments = [Adjustment("CO", "45", contractual)]
            if patient:
                adjustments.append(Adjustment("PR", rng.choice(["1", "2", "3"]), patient))
            lines.append(
                ServiceLinePayment(
                    procedure=code,
                    modifiers=("25",) if line_number == 0 and rng.random() < 0.3 else (),
                    charge_cents=charge,
                    paid_cents=charge - contractual - patient,
                    units=1,
                    line_control_number=f"{number:08d}-{line_number}",
                    service_date=day,
                    adjustments=tuple(adjustments),
                    remarks=("N130",) if rng.random() < 0.1 else (),
                    allowed_cents=charge - contractual,
                )
            )
        payments.append(
            ClaimPayment(
                patient_control_number=f"claim-{number:08d}",
                status_code="1",
                charge_cents=sum(line.charge_cents for line in lines),
                paid_cents=sum(line.paid_cents for line in lines),
                patient_responsibility_cents=sum(
                    a.amount_cents for line in lines for a in line.adjustments if a.group == "PR"
                ),
                payer_claim_control_number=f"PCN{number:010d}",
                claim_filing_indicator="12",
                service_lines=tuple(lines),
                patient_member_id=f"M{rng.randrange(10**8):08d}",
                service_date=day,
            )
        )
    plb = (ProviderAdjustment("L6", "INTEREST", -1234), ProviderAdjustment("WO", "PCN0000000001", 5000))
    remittance = Remittance(
        payer_id="60054",
        payer_name="BENCH HEALTH PLAN",
        payee_name="BENCH PRACTICE",
        payee_id="1234567893",
        payment_method="ACH",
        payment_amount_cents=0,
        trace_number="BENCH0001",
        payment_date=date(2026, 1, 20),
        claims=tuple(payments),
        provider_adjustments=plb,
    )
    from dataclasses import replace

    return replace(remittance, payment_amount_cents=remittance.expected_payment_cents())


def make_claims(count: int, rng: random.Random) -> list[ProfessionalClaim]:
    address = Address("1 MAIN ST", "HARRISBURG", "PA", "17101")
    billing = ProviderParty("1234567893", "BENCH PRACTICE", taxonomy="207Q00000X", tax_id="123456789", address=address)
    rendering = ProviderParty("1245319599", "SMITH", "JANE", "1", "207Q00000X")
    payer = PayerParty("BENCH HEALTH PLAN", "60054")
    claims = []
    for number in range(count):
        lines = []
        for line_number in range(4):
            code, charge = rng.choice(PROCEDURES)
            lines.append(ServiceLine(code, charge, 1, (), (1,), date(2026, 1, 5), None, f"{number:08d}-{line_number}"))
        subscriber = Subscriber(f"M{number:08d}", Person("DOE", "PAT", date(1980, 1, 1), "F", address))
        claims.append(
            ProfessionalClaim(
                claim_id=f"claim-{number:08d}",
                total_charge_cents=sum(line.charge_cents for line in lines),
                place_of_service="11",
                billing_provider=billing,
                subscriber=subscriber,
                payer=payer,
                diagnoses=("E119", "I10"),
                lines=tuple(lines),
                rendering_provider=rendering,
            )
        )
    return claims


def best_of(runs: int, action: Callable[[], object]) -> float:
    # Like timeit: the cyclic garbage collector is off while timing, so a baseline that keeps hundreds of
    # thousands of lists alive (the bare split) is not charged for collections our parser avoids.
    timings = []
    for _ in range(runs):
        gc.collect()
        gc.disable()
        try:
            started = time.process_time()
            action()
            timings.append(time.process_time() - started)
        finally:
            gc.enable()
    return min(timings)


def pyx12_parse(text: str) -> int:
    import pyx12.error_handler
    import pyx12.params
    import pyx12.x12context

    logging.getLogger("pyx12").setLevel(logging.CRITICAL)
    reader = pyx12.x12context.X12ContextReader(
        pyx12.params.params(), pyx12.error_handler.errh_null(), io.StringIO(text)
    )
    claims = 0
    for node in reader.iter_segments():
        if node.id == "CLP":
            claims += 1
            node.get_value("CLP01")
    return claims


def _chunks(text: str, size: int) -> Iterator[str]:
    for start in range(0, len(text), size):
        yield text[start : start + size]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--claims", type=int, default=10_000)
    parser.add_argument("--lines", type=int, default=4, help="service lines per claim (default 4)")
    parser.add_argument("--pyx12-claims", type=int, default=500, help="claims in the subset pyx12 parses")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--write", type=Path, metavar="FILE", help="also write the generated 835 to FILE")
    args = parser.parse_args()
    rng = random.Random(2026)

    remittance = make_remittance(args.claims, args.lines, rng)
    text = write_835([remittance], sender=SENDER, receiver=RECEIVER, control=ControlNumbers(1, 1), when=WHEN)
    size = len(text.encode())
    print(f"835: {args.claims:,} claims, {args.claims * args.lines:,} service lines, {size / 1e6:.1f} MB")
    if args.write:
        args.write.write_text(text)
        print(f"  written to {args.write}")

    (parsed,) = parse_835(text)
    assert len(parsed.claims) == args.claims and not parsed.warnings, "the generated file must parse and balance"
    ours = best_of(args.runs, lambda: parse_835(text))
    bare = best_of(args.runs, lambda: [s.split("*") for s in text.split("~")])
    print(f"  carecycle parse_835:         {ours:7.3f} s  ({size / ours / 1e6:.1f} MB/s)")
    print(
        f"  bare split (segments+elems): {bare:7.3f} s  -> carecycle is {ours / bare:.2f}x the bare split (goal <= 4x)"
    )

    subset = make_remittance(args.pyx12_claims, args.lines, random.Random(7))
    subset_text = write_835([subset], sender=SENDER, receiver=RECEIVER, control=ControlNumbers(1, 1), when=WHEN)
    assert pyx12_parse(subset_text) == args.pyx12_claims
    pyx12_subset = best_of(1, lambda: pyx12_parse(subset_text))
    ours_subset = best_of(args.runs, lambda: parse_835(subset_text))
    pyx12_scaled = pyx12_subset * args.claims / args.pyx12_claims
    print(
        f"  pyx12 X12ContextReader:      {pyx12_subset:7.3f} s on {args.pyx12_claims:,} claims "
        f"-> {pyx12_scaled:.1f} s scaled linearly to {args.claims:,} claims"
    )
    print(
        f"  -> carecycle is {pyx12_scaled / ours:.0f}x faster than pyx12 on the full file (scaled), "
        f"{pyx12_subset / ours_subset:.0f}x on the same subset (goal >= 20x)"
    )

    gc.collect()
    tracemalloc.start()
    kept = parse_835(text)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    del kept
    print(f"  peak memory while parsing:   {peak / 1e6:7.1f} MB = {peak / size:.1f}x the file size (goal <= 10x)")
    gc.collect()
    tracemalloc.start()
    claims = sum(1 for reader in stream_835(_chunks(text, 1 << 20)) for _ in reader.claims())
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert claims == args.claims
    print(f"  ... streamed (1 MB chunks):  {peak / 1e6:7.1f} MB = {peak / size:.2f}x the file size (goal <= 10x)")

    claims = make_claims(args.claims, rng)

    def generate() -> str:
        return write_837p(
            claims,
            sender=RECEIVER,
            receiver=SENDER,
            control=ControlNumbers(1, 1),
            submitter=Submitter("BENCH PRACTICE", "BENCHPRACTICE"),
            receiver_name="BENCH CLEARINGHOUSE",
            when=WHEN,
        )

    generated = generate()
    seconds = best_of(args.runs, generate)
    print(
        f"837P: {args.claims:,} claims ({args.claims * 4:,} lines) generated in {seconds:.3f} s "
        f"({args.claims / seconds:,.0f} claims/s, {len(generated) / 1e6:.1f} MB)"
    )


if __name__ == "__main__":
    main()
