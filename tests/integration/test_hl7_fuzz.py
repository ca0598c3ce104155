"""Bad input at the HL7 listener (a real MLLP socket, the real store): garbage, bad MSH, unknown message types and
versions, truncated frames, huge messages, and seeded random mutations of valid messages. The listener never
crashes or logs a traceback, answers every complete frame with an ACK (AR for what it cannot take, AE for what
it cannot apply, with an ERR segment), stores nothing for a refusal, and keeps serving."""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select

from activities.documents.local import LocalDocumentStore
from activities.documents.sealed import SealedDocuments
from domain import models as m
from domain.store.engine import make_engine, make_session_factory
from hl7 import samples as s
from hl7.journal import Journal
from hl7.listener import Hl7Application, ListenerOptions
from hl7.mllp import END_BLOCK, START_BLOCK, MllpClient, MllpServer
from intake import Intake

WHEN = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
PATIENT = s.SamplePatient("MRN-F1", "Fay", "Zed", date(1985, 6, 7))
LIMIT = 64 * 1024


@dataclass
class Listener:
    port: int
    factory: object
    documents: Path

    def counts(self) -> tuple[int, ...]:
        with self.factory() as session:  # type: ignore[operator]
            return tuple(
                int(session.execute(select(func.count()).select_from(model)).scalar_one())
                for model in (m.Patient, m.Appointment, m.Encounter, m.Coverage, m.Hl7Message)
            )

    def stored_documents(self) -> int:
        return sum(1 for p in self.documents.rglob("*.hl7")) if self.documents.exists() else 0


@pytest.fixture
async def listener(store_url: str, tmp_path: Path) -> AsyncIterator[Listener]:
    from workers.synthetic import seed_practice

    engine = make_engine(store_url)
    factory = make_session_factory(engine)
    with factory() as session:
        seed_practice(session, patients=1, seed=5, ledger_history=False)
        session.commit()
    root = tmp_path / "documents"
    journal = Journal(factory, SealedDocuments(LocalDocumentStore(root), {"k1": bytes(32)}, "k1"))
    application = Hl7Application(Intake(factory), journal, ListenerOptions(max_frame_bytes=LIMIT))
    async with MllpServer(application.serve, "127.0.0.1", 0, max_frame_bytes=LIMIT) as server:
        yield Listener(server.port, factory, root)
    engine.dispose()


def msa(ack: bytes) -> list[str]:
    lines = {line.split("|")[0]: line.split("|") for line in ack.decode("utf-8", "replace").split("\r") if line}
    assert "MSH" in lines and "MSA" in lines, ack
    return lines["MSA"] + (["ERR"] if "ERR" in lines else [])


REFUSED = [
    b"",
    b"hello",
    b"\x00\x01\x02\xff" * 50,
    b"MSH",
    b"MSH|",
    b"MSH|^~\\&",
    b"MSH|^~\\&|EHR|CLINIC",
    b"PID|1||123\r",
    b"MSH|^~\\&|EHR|CLINIC|CC|P|20260301||ADT^A04|C1|P|9.9\rPID|1\r",  # unknown version
    b"MSH|^~\\&|EHR|CLINIC|CC|P|20260301||ADT^A04||P|2.5.1\rPID|1\r",  # no control id
    b"MSH|^~\\&|EHR|CLINIC|CC|P|20260301||ORU^R01|C2|P|2.5.1\rOBX|1\r",  # unknown type
    b"MSH|^~\\&|EHR|CLINIC|CC|P|20260301||ADT^A99|C3|P|2.5.1\rPID|1\r",  # unknown event
    b"MSH|^~\\&|EHR|CLINIC|CC|P|20260301||ADT^A04|C4|X|2.5.1\rPID|1\r",  # bad processing id
    b"MSH|AAAA|EHR|CLINIC|CC|P|20260301||ADT^A04|C5|P|2.5.1\r",  # delimiters that are letters
    b"MSH|^~\\&|EHR|CLINIC|CC|P|20260301||ADT|C6|P|2.5.1\r",  # MSH-9 without an event
    b"MSH|^~\\&|EHR|CLINIC|CC|P|20260301||ADT^A04|C7|P|2.5.1\rPID|1|\xff\xfe|\x00\rP1D|1\r",  # bad segment name
]
# Read, but not applicable: AE naming the field.
UNAPPLICABLE = [
    "MSH|^~\\&|EHR|CLINIC|CC|P|20260301||ADT^A04|U1|P|2.5.1\rPID|1||\u00e9\u00e8\rZZZ|\u2603\r".encode(),
    b"MSH|^~\\&|EHR|CLINIC|CC|P|20260301||ADT^A04|U2|P|2.5.1\rEVN|A04\r",  # no PID at all
    b"MSH|^~\\&|EHR|CLINIC|CC|P|20260301||SIU^S12|U3|P|2.5.1\rSCH|A1\rPID|1||M1^^^X^MR||A^B||1980\r",
    b"MSH|^~\\&|EHR|CLINIC|CC|P|20260301||DFT^P03|U4|P|2.5.1\rPID|1||M1^^^X^MR\rPV1|1|O\r",
]


def mutations(seed: int, count: int) -> list[bytes]:
    rng = random.Random(seed)
    bases = [
        s.adt("A04", "Z1", PATIENT, [s.SampleInsurance("SBXBM", "W1")], when=WHEN),
        s.siu("S12", "Z2", "A-1", PATIENT, "1234567893", datetime(2026, 3, 2, 9, tzinfo=UTC), when=WHEN),
        s.dft("Z3", "A-1", PATIENT, "1234567893", date(2026, 3, 2), ["I10"], [s.SampleCharge("99213")], when=WHEN),
    ]
    alphabet = "|^~\\&\r\n0123456789ABCZ \x0b\x1c"
    out: list[bytes] = []
    for number in range(count):
        text = list(
            rng.choice(bases).replace("Z1", f"F{number}").replace("Z2", f"G{number}").replace("Z3", f"H{number}")
        )
        for _ in range(rng.randint(1, 6)):
            action, at = rng.random(), rng.randrange(len(text))
            if action < 0.4:
                text[at] = rng.choice(alphabet)
            elif action < 0.7:
                del text[at : at + rng.randint(1, 12)]
            else:
                text.insert(at, rng.choice(alphabet) * rng.randint(1, 4))
        out.append("".join(text).replace("\x0b", "").replace("\x1c", "").encode())
    return out


async def test_garbage_and_bad_headers_are_refused_with_ar_and_nothing_is_stored(
    listener: Listener, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    before = listener.counts()
    client = await MllpClient.connect("127.0.0.1", listener.port)
    try:
        for payload in REFUSED:
            (ack,) = await client.exchange(payload)
            answer = msa(ack)
            assert answer[1] == "AR" and answer[-1] == "ERR", (payload[:40], answer)
        for payload in UNAPPLICABLE:
            (ack,) = await client.exchange(payload)
            answer = msa(ack)
            assert answer[1] == "AE" and answer[-1] == "ERR", (payload[:40], answer)
        huge = s.adt("A04", "BIG-1", PATIENT, when=WHEN).encode() + b"NTE|1||" + b"x" * (3 * LIMIT) + b"\r"
        (ack,) = await client.exchange(huge)
        answer = msa(ack)
        assert answer[1:3] == ["AR", "BIG-1"] and "larger than" in ack.decode()
        (still,) = await client.exchange(s.adt("A04", "OK-1", PATIENT, when=WHEN).encode())  # and it goes on
        assert msa(still)[1] == "AA"
    finally:
        await client.close()
    after = listener.counts()
    assert after[0] == before[0] + 1 and after[-1] == before[-1] + 1  # only the good message
    assert listener.stored_documents() == 1
    _no_tracebacks(caplog)


async def test_truncated_frames_and_noise_leave_the_listener_serving(
    listener: Listener, caplog: pytest.LogCaptureFixture
) -> None:
    before = listener.counts()
    for partial in (START_BLOCK, START_BLOCK + b"MSH|^~\\&|EHR", b"noise" + START_BLOCK + b"MSH|^~\\&" + b"x" * 100):
        reader, writer = await asyncio.open_connection("127.0.0.1", listener.port)
        writer.write(partial)
        await writer.drain()
        writer.close()
        await writer.wait_closed()
        assert await reader.read() == b""  # no ACK for half a message
    reader, writer = await asyncio.open_connection("127.0.0.1", listener.port)
    writer.write(
        b"noise before the frame" + START_BLOCK + s.adt("A08", "TR-1", PATIENT, when=WHEN).encode() + END_BLOCK
    )
    await writer.drain()
    data = await reader.readuntil(END_BLOCK)
    assert msa(data[1 : -len(END_BLOCK)])[1] == "AA"
    writer.close()
    await writer.wait_closed()
    await asyncio.sleep(0.1)
    assert listener.counts()[0] == before[0] + 1
    _no_tracebacks(caplog)


async def test_random_mutations_get_an_ack_and_a_refusal_writes_no_record(
    listener: Listener, caplog: pytest.LogCaptureFixture
) -> None:
    client = await MllpClient.connect("127.0.0.1", listener.port)
    codes: dict[str, int] = {}
    try:
        for payload in mutations(seed=20260301, count=150):
            before = listener.counts()
            (ack,) = await client.exchange(payload)
            answer = msa(ack)
            codes[answer[1]] = codes.get(answer[1], 0) + 1
            assert answer[1] in ("AA", "AE", "AR")
            if answer[1] != "AA":
                assert answer[-1] == "ERR"
                assert listener.counts()[:4] == before[:4]  # no patient, appointment, encounter or coverage
            if answer[1] == "AR":
                assert listener.counts() == before
    finally:
        await client.close()
    assert codes.get("AR", 0) > 0 and codes.get("AE", 0) > 0  # the mutations reached both kinds of refusal
    _no_tracebacks(caplog)


def _no_tracebacks(caplog: pytest.LogCaptureFixture) -> None:
    for record in caplog.records:
        assert record.exc_info is None and record.levelno < logging.ERROR, record.getMessage()
        assert "Traceback" not in record.getMessage()
