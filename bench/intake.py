"""Front-door benchmark: messages accepted per second through a door, as a ratio to a bare endpoint that only
parses the same payloads, both measured in the same run on the same machine.

HL7 v2 (``--part hl7``, the feeds half):

* measured: the product's listener (``hl7.listener.Hl7Application`` behind ``hl7.mllp.MllpServer``) on a
  throwaway store: each message read, journaled (raw text sealed in a document folder, an ``hl7_messages`` row),
  applied through the intake module in one transaction (patients registered, visits booked, charges recorded and
  the visit closed for billing, process starts queued in the outbox), its ACK journaled and sent. Temporal is
  not in the loop: the starts stay queued (what the listener does after the ACK is not part of acceptance).
* baseline: a bare MLLP socket on the same server class whose handler only decodes, reads the MSH and parses the
  message with hl7apy (the listener's own parser), then answers a minimal AA.
* payloads: per synthetic patient an ADT^A04 (with an IN1), an SIU^S12 and a DFT^P03 (two charges, a DG1),
  sent over ``--connections`` MLLP connections, each in order (a patient's three messages on one connection);
  every round uses new patients, so nothing is answered from the journal.
* rounds alternate bare and measured, so load from elsewhere on the machine weighs on both alike; the ratio is the
  median of the rounds' own ratios (each pair ran under the same load), the ratio of the medians is shown beside it.

Goal: the listener accepts at least 0.5 of the bare socket's messages per second.

FHIR (``--part fhir``, in ``bench/_intake_fhir.py``): transaction Bundles accepted per second by ``carecycle api``
against a bare FastAPI endpoint that only parses them (goal: at least 0.5 of it), and the latency from the
Encounter POST to the claim submitted (p50/p95) against the same visit started directly; see that module.

    .venv/bin/python bench/intake.py                         # both halves, PostgreSQL (throwaway, fsync off)
    .venv/bin/python bench/intake.py --part hl7 --store sqlite --patients 100 --rounds 2
    .venv/bin/python bench/intake.py --part fhir --store sqlite --bundles 40 --rounds 4 --visits 16
    .venv/bin/python bench/intake.py --json
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from activities.documents.local import LocalDocumentStore
from activities.documents.sealed import SealedDocuments
from domain import models as m
from domain.store.engine import make_engine, make_session_factory
from domain.store.migrate import upgrade
from hl7 import samples as s
from hl7.ack import build_ack
from hl7.journal import Journal
from hl7.listener import Hl7Application, ListenerOptions, decode
from hl7.message import parse, read_header
from hl7.mllp import MllpClient, MllpConnection, MllpServer
from intake import Intake
from workers.synthetic import seed_practice

WHEN = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


@contextmanager
def store(kind: str, folder: Path, name: str = "bench_intake") -> Iterator[str]:
    if kind == "sqlite":
        yield f"sqlite:///{folder / f'{name}.db'}"
        return
    from sqlalchemy import text

    from tests.support import postgres

    server = postgres.start()
    try:
        admin = make_engine(server.admin_url, isolation_level="AUTOCOMMIT")
        with admin.connect() as connection:
            connection.execute(text(f"CREATE DATABASE {name}"))
        admin.dispose()
        yield server.url(name)
    finally:
        server.stop()


def practice(factory: sessionmaker[Session]) -> tuple[str, str]:
    with factory() as session:
        seed_practice(session, patients=5, seed=9, ledger_history=False)
        session.commit()
        payer = session.execute(select(m.Payer.payer_id).where(m.Payer.routing == "clearinghouse")).scalars().first()
        npi = session.execute(select(m.Provider.npi).order_by(m.Provider.npi)).scalars().first()
    assert payer and npi
    return payer, npi


def payloads(round_number: int, patients: int, payer: str, npi: str) -> list[list[bytes]]:
    """Per patient: ADT^A04, SIU^S12, DFT^P03 (new MRNs, appointment ids and control ids every round)."""
    out: list[list[bytes]] = []
    for number in range(patients):
        key = f"R{round_number}P{number}"
        patient = s.SamplePatient(
            f"MRN-{key}",
            f"Given{number}",
            f"Bench{round_number}x{number}",
            date(1970, 1, 1) + timedelta(days=number * 37 + round_number),
        )
        # A slot of its own per visit (round and patient): the provider is never double-booked.
        starts = datetime(2026, 3, 2, 8, tzinfo=UTC) + timedelta(hours=round_number * 1000 + number)
        day = starts.date()
        charges = [s.SampleCharge("99213", diagnoses=("I10",)), s.SampleCharge("36415")]
        out.append(
            [
                s.adt(
                    "A04",
                    f"A{key}",
                    patient,
                    [s.SampleInsurance(payer, f"M{key}", effective_from=date(2024, 1, 1))],
                    when=WHEN,
                ).encode(),
                s.siu("S12", f"S{key}", f"APT-{key}", patient, npi, starts, when=WHEN).encode(),
                s.dft(f"D{key}", f"APT-{key}", patient, npi, day, ["I10"], charges, when=WHEN).encode(),
            ]
        )
    return out


async def bare_handler(connection: MllpConnection) -> None:
    async for item in connection.frames():
        assert isinstance(item, bytes)
        text = decode(item)
        header = read_header(text)
        parse(text, header)
        await connection.send(build_ack(header, "AA", control_id="BARE").text.encode())


async def drive(port: int, batches: list[list[bytes]], connections: int) -> tuple[float, int]:
    """Send every batch (a patient's messages, in order) over ``connections`` connections; messages per second."""
    shares = [batches[i::connections] for i in range(connections)]
    refused = 0
    reasons: set[str] = set()

    async def one(share: list[list[bytes]]) -> None:
        nonlocal refused
        client = await MllpClient.connect("127.0.0.1", port)
        try:
            for batch in share:
                for message in batch:
                    (ack,) = await client.exchange(message, timeout=120)
                    if b"MSA|AA|" not in ack:
                        refused += 1
                        msa = ack.decode(errors="replace").split("\r")[1].split("|")
                        reasons.add(f"{msa[1]} {msa[3] if len(msa) > 3 else ''}")
        finally:
            await client.close()

    began = time.perf_counter()
    await asyncio.gather(*(one(share) for share in shares if share))
    elapsed = time.perf_counter() - began
    for reason in sorted(reasons):  # e.g. AE busy: concurrent registrations raced for the next account number
        print(f"    not accepted: {reason}", flush=True)
    return sum(len(b) for b in batches) / elapsed, refused


async def serve_and_drive(
    handler: Callable[[MllpConnection], Awaitable[None]], batches: list[list[bytes]], connections: int
) -> tuple[float, int]:
    async with MllpServer(handler, "127.0.0.1", 0) as server:
        return await drive(server.port, batches, connections)


async def hl7_part(url: str, folder: Path, patients: int, rounds: int, connections: int) -> dict[str, Any]:
    engine = make_engine(url)
    upgrade(engine)
    factory = make_session_factory(engine)
    payer, npi = practice(factory)
    documents = SealedDocuments(LocalDocumentStore(folder / "documents"), {"k1": bytes(range(32))}, "k1")
    application = Hl7Application(Intake(factory), Journal(factory, documents), ListenerOptions())
    await serve_and_drive(bare_handler, payloads(99, 3, payer, npi), 1)  # warm-up: imports, parser tables
    await serve_and_drive(application.serve, payloads(98, 3, payer, npi), 1)
    bare: list[float] = []
    ours: list[float] = []
    refused = 0
    for number in range(rounds):
        batches = payloads(number, patients, payer, npi)
        rate, _ = await serve_and_drive(bare_handler, batches, connections)
        bare.append(rate)
        rate, rejected = await serve_and_drive(application.serve, batches, connections)
        ours.append(rate)
        refused += rejected
        print(
            f"  round {number + 1}: listener {ours[-1]:7.1f} msg/s, bare parse {bare[-1]:7.1f} msg/s, "
            f"ratio {ours[-1] / bare[-1]:.2f}",
            flush=True,
        )
    engine.dispose()
    # Each round's two runs share the machine's load of the moment: the ratio is the median of the paired rounds'.
    ratio = statistics.median(o / b for o, b in zip(ours, bare, strict=True))
    return {
        "messages_per_round": patients * 3,
        "connections": connections,
        "listener_msgs_per_s": round(statistics.median(ours), 1),
        "bare_msgs_per_s": round(statistics.median(bare), 1),
        "ratio": round(ratio, 3),
        "ratio_of_medians": round(statistics.median(ours) / statistics.median(bare), 3),
        "rounds": [round(o / b, 3) for o, b in zip(ours, bare, strict=True)],
        "goal": 0.5,
        "goal_met": ratio >= 0.5,
        "not_accepted": refused,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--part", choices=["all", "hl7", "fhir"], default="all")
    parser.add_argument("--store", choices=["postgres", "sqlite"], default="postgres")
    parser.add_argument("--patients", type=int, default=150, help="HL7: patients per round (three messages each)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--connections", type=int, default=4, help="HL7: MLLP connections")
    parser.add_argument("--bundles", type=int, default=40, help="FHIR: Bundles per side per round")
    parser.add_argument("--concurrency", type=int, default=8, help="FHIR: requests in flight")
    parser.add_argument("--visits", type=int, default=16, help="FHIR: visits per side for the latency (0: none)")
    parser.add_argument("--profile", metavar="FILE", help="FHIR: run the API process under cProfile, stats to FILE")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    out: dict[str, Any] = {"store": args.store}
    if args.part in ("all", "hl7"):
        with tempfile.TemporaryDirectory() as tmp, store(args.store, Path(tmp)) as url:
            print(
                f"HL7 v2 over MLLP ({args.store}, {args.patients * 3} messages a round, {args.connections} connections)"
            )
            figures = asyncio.run(hl7_part(url, Path(tmp), args.patients, args.rounds, args.connections))
        print(
            f"HL7: listener {figures['listener_msgs_per_s']} msg/s vs bare parse {figures['bare_msgs_per_s']} msg/s: "
            f"ratio {figures['ratio']:.2f} (median of the paired rounds; of the medians "
            f"{figures['ratio_of_medians']:.2f}; goal >= 0.5: {'met' if figures['goal_met'] else 'not met'})"
        )
        if figures["not_accepted"]:
            print(f"warning: {figures['not_accepted']} message(s) were not accepted (AE/AR): the figures include them")
        out["hl7"] = figures
    if args.part in ("all", "fhir"):
        from bench._intake_fhir import fhir_part

        with (
            tempfile.TemporaryDirectory() as tmp,
            store(args.store, Path(tmp), "bench_fhir") as throughput_url,
            store(args.store, Path(tmp), "bench_fhir_latency") as latency_url,
        ):
            print(f"FHIR ({args.store}, {args.bundles} Bundles a side a round, {args.concurrency} in flight)")
            fhir = fhir_part(throughput_url, latency_url, Path(tmp), args)
        print(
            f"FHIR: API {fhir['api_bundles_per_s']} Bundles/s vs bare parse {fhir['bare_bundles_per_s']} Bundles/s: "
            f"ratio {fhir['ratio']:.2f} (goal >= 0.5: {'met' if fhir['goal_met'] else 'not met'}); "
            f"Prefer: respond-async accepted {fhir['async_accepted_bundles_per_s']} Bundles/s: ratio "
            f"{fhir['async_ratio']:.2f} (goal >= 0.5: {'met' if fhir['async_goal_met'] else 'not met'}), applied "
            f"{fhir['async_applied_bundles_per_s']} Bundles/s from the first POST to the last applied (ratio "
            f"{fhir['async_applied_ratio']:.2f})"
            + (
                f"; Encounter POST to claim submitted p50 {fhir['latency_p50_s']} s (direct "
                f"{fhir['latency_p50_direct_s']} s), p95 {fhir['latency_p95_s']} s (direct "
                f"{fhir['latency_p95_direct_s']} s)"
                if "latency_p50_s" in fhir
                else ""
            )
        )
        out["fhir"] = fhir
    if args.json:
        print(json.dumps(out))


if __name__ == "__main__":
    main()
