"""The HL7 v2 listener over a real MLLP socket, on SQLite and PostgreSQL: ADT, SIU, DFT and A40 through the
intake module, ACKs with MSA/ERR, MSH-10 idempotency, enhanced mode, the raw message sealed in the document store.
(Processes are not started here: intake without a Temporal starter queues them; tests/e2e/test_hl7_e2e.py runs
the real stack.)"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
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
from hl7.mllp import MllpClient, MllpServer
from intake import Intake

WHEN = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
KEYS = {"k1": bytes(range(32))}


@dataclass
class Feed:
    client: MllpClient
    application: Hl7Application
    session_factory: object
    documents_root: Path
    payer: str
    npi: str

    async def send(self, text: str, acks: int = 1) -> list[dict[str, list[str]]]:
        return [segments(a) for a in await self.client.exchange(text.encode(), acks)]

    def count(self, model: type[m.Base]) -> int:
        with self.session_factory() as session:  # type: ignore[operator]
            return int(session.execute(select(func.count()).select_from(model)).scalar_one())


def segments(ack: bytes) -> dict[str, list[str]]:
    return {line.split("|")[0]: line.split("|") for line in ack.decode().split("\r") if line}


@pytest.fixture
async def feed(store_url: str, tmp_path: Path) -> AsyncIterator[Feed]:
    from workers.synthetic import seed_practice

    engine = make_engine(store_url)
    factory = make_session_factory(engine)
    with factory() as session:
        seed_practice(session, patients=2, seed=3, ledger_history=False)
        session.commit()
        payer = session.execute(select(m.Payer.payer_id).where(m.Payer.routing == "clearinghouse")).scalars().first()
        npi = session.execute(select(m.Provider.npi).order_by(m.Provider.npi)).scalars().first()
    root = tmp_path / "documents"
    journal = Journal(factory, SealedDocuments(LocalDocumentStore(root), KEYS, "k1"))
    application = Hl7Application(Intake(factory), journal, ListenerOptions())
    async with MllpServer(application.serve, "127.0.0.1", 0) as server:
        client = await MllpClient.connect("127.0.0.1", server.port)
        try:
            assert payer and npi
            yield Feed(client, application, factory, root, payer, npi)
        finally:
            await client.close()
    engine.dispose()


PATIENT = s.SamplePatient("MRN-7001", "Ada", "Quill", date(1979, 4, 5))


async def test_adt_registers_once_and_a_repeated_control_id_gets_the_first_ack(feed: Feed) -> None:
    before = feed.count(m.Patient)
    message = s.adt("A04", "CTL-1", PATIENT, [s.SampleInsurance(feed.payer, "W7001")], when=WHEN)
    (ack,) = await feed.send(message)
    assert ack["MSA"][1:3] == ["AA", "CTL-1"] and "ERR" not in ack
    assert ack["MSH"][8].startswith("ACK^A04") and ack["MSH"][4:6] == ["EHR", "CLINIC"]
    assert feed.count(m.Patient) == before + 1
    (again,) = await feed.send(message)
    assert again == ack  # the very same ACK (same control id of ours), nothing done again
    assert feed.count(m.Patient) == before + 1 and feed.count(m.Hl7Message) == 1
    # A new control id with the same content changes nothing either (intake sees the same patient).
    (third,) = await feed.send(message.replace("CTL-1", "CTL-2"))
    assert third["MSA"][1] == "AA" and feed.count(m.Patient) == before + 1
    with feed.session_factory() as session:  # type: ignore[operator]
        row = session.execute(select(m.Hl7Message).where(m.Hl7Message.control_id == "CTL-1")).scalar_one()
        assert (row.status, row.message_type, row.ack_code) == ("processed", "ADT^A04", "AA")
    stored = feed.documents_root / row.document_key
    assert b"Quill" not in stored.read_bytes() and b"MRN-7001" not in stored.read_bytes()  # sealed
    assert "Quill" in feed.application.journal.raw(row.document_key)
    assert "Quill" not in (row.ack_text or "")


async def test_siu_books_reschedules_and_cancels_then_dft_closes_a_visit(feed: Feed) -> None:
    await feed.send(s.adt("A04", "P-1", PATIENT, [s.SampleInsurance(feed.payer, "W7001")], when=WHEN))
    start = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)
    (booked,) = await feed.send(s.siu("S12", "S-1", "APT-1", PATIENT, feed.npi, start, when=WHEN))
    assert booked["MSA"][1] == "AA", booked
    (moved,) = await feed.send(s.siu("S13", "S-2", "APT-1", PATIENT, feed.npi, start + timedelta(hours=1), when=WHEN))
    assert moved["MSA"][1] == "AA"
    with feed.session_factory() as session:  # type: ignore[operator]
        appointments = session.execute(select(m.Appointment).order_by(m.Appointment.starts_at)).scalars().all()
        ours = [a for a in appointments if a.starts_at.replace(tzinfo=UTC) == start + timedelta(hours=1)]
        assert len(ours) == 1 and ours[0].status == "booked"
    (cancelled,) = await feed.send(s.siu("S15", "S-3", "APT-1", PATIENT, feed.npi, start, when=WHEN))
    assert cancelled["MSA"][1] == "AA"
    with feed.session_factory() as session:  # type: ignore[operator]
        assert session.get(m.Appointment, ours[0].id).status == "cancelled"  # type: ignore[union-attr]

    await feed.send(s.siu("S12", "S-4", "APT-2", PATIENT, feed.npi, start, when=WHEN))
    charges = [s.SampleCharge("99213", amount="125.00", diagnoses=("I10",)), s.SampleCharge("36415")]
    dft = s.dft("D-1", "APT-2", PATIENT, feed.npi, start.date(), ["I10"], charges, when=WHEN)
    (billed,) = await feed.send(dft)
    assert billed["MSA"][1] == "AA", billed
    with feed.session_factory() as session:  # type: ignore[operator]
        encounter_id = session.execute(
            select(m.ExternalIdentifier.entity_id).where(
                m.ExternalIdentifier.kind == "encounter", m.ExternalIdentifier.value == "APT-2"
            )
        ).scalar_one()
        encounter = session.get(m.Encounter, encounter_id)
        assert encounter is not None and encounter.diagnosis_codes == ["I10"]
        lines = sorted((line.procedure_code, line.charge_cents) for line in encounter.service_lines)
        assert lines[1] == ("99213", 12500) and lines[0][0] == "36415"
        appointment = session.get(m.Appointment, encounter.appointment_id)
        assert appointment is not None and appointment.status == "fulfilled"
        starts = session.execute(select(m.ProcessStart.workflow_id)).scalars().all()
        assert f"encounter-{appointment.id}" in starts
    (resent,) = await feed.send(dft.replace("D-1", "D-2"))  # the same charges again: nothing changes
    assert resent["MSA"][1] == "AA", resent
    with feed.session_factory() as session:  # type: ignore[operator]
        assert len(session.get(m.Encounter, encounter.id).service_lines) == 2  # type: ignore[union-attr]


async def test_application_errors_are_ae_with_an_err_segment_and_store_no_record(feed: Feed) -> None:
    stranger = s.SamplePatient("MRN-404", "No", "Body", date(1990, 1, 1))
    patients, encounters = feed.count(m.Patient), feed.count(m.Encounter)
    dft = s.dft("E-1", "APT-9", stranger, feed.npi, date(2026, 3, 2), ["I10"], [s.SampleCharge("99213")], when=WHEN)
    (ack,) = await feed.send(dft)
    assert ack["MSA"][1] == "AE" and ack["ERR"][3].startswith("204^Unknown key identifier")
    assert "Body" not in "|".join(ack["ERR"] + ack["MSA"]) and "MRN-404" not in "|".join(ack["ERR"])
    (bad_code,) = await feed.send(
        s.dft("E-2", "APT-9", PATIENT, feed.npi, date(2026, 3, 2), ["I10"], [s.SampleCharge("9921X")], when=WHEN)
    )
    assert bad_code["MSA"][1] == "AE"
    no_pid3 = s.adt("A04", "E-3", PATIENT, when=WHEN).replace("MRN-7001^^^CLINIC^MR", "")
    (missing,) = await feed.send(no_pid3)
    assert missing["MSA"][1] == "AE" and missing["ERR"][2] == "PID^1^3^1" and missing["ERR"][3].startswith("101^")
    assert feed.count(m.Patient) == patients and feed.count(m.Encounter) == encounters
    unknown_payer = s.adt("A04", "E-4", PATIENT, [s.SampleInsurance("NOPAYER", "X1")], when=WHEN)
    (payer_ack,) = await feed.send(unknown_payer)
    assert payer_ack["MSA"][1] == "AE" and payer_ack["ERR"][3].startswith("204^")
    assert feed.count(m.Patient) == patients


async def test_a40_merges_an_unused_duplicate_into_the_survivor(feed: Feed) -> None:
    await feed.send(s.adt("A04", "M-1", PATIENT, when=WHEN))
    twin = s.SamplePatient("MRN-7002", "Adah", "Quil", date(1979, 4, 5))
    await feed.send(s.adt("A04", "M-2", twin, when=WHEN))
    start = datetime(2026, 3, 3, 15, 0, tzinfo=UTC)
    await feed.send(s.siu("S12", "M-3", "APT-M", twin, feed.npi, start, when=WHEN))
    (merged,) = await feed.send(s.merge("M-4", PATIENT, "MRN-7002", when=WHEN))
    assert merged["MSA"][1] == "AA", merged
    with feed.session_factory() as session:  # type: ignore[operator]
        owners = session.execute(
            select(m.ExternalIdentifier.value, m.ExternalIdentifier.entity_id).where(
                m.ExternalIdentifier.kind == "patient", m.ExternalIdentifier.value.in_(["MRN-7001", "MRN-7002"])
            )
        ).all()
        assert len({entity for _, entity in owners}) == 1  # both MRNs name the survivor now
        appointment = session.execute(select(m.Appointment).where(m.Appointment.starts_at == start)).scalar_one()
        assert appointment.patient_id == owners[0][1]
    # A DFT under the old MRN now lands on the survivor.
    dft = s.dft("M-5", "APT-M", twin, feed.npi, start.date(), ["I10"], [s.SampleCharge("99213")], when=WHEN)
    (billed,) = await feed.send(dft)
    assert billed["MSA"][1] == "AA", billed


async def test_enhanced_mode_sends_the_commit_ack_first(feed: Feed) -> None:
    message = s.adt("A04", "EN-1", PATIENT, when=WHEN, enhanced=True)
    commit, application = await feed.send(message, acks=2)
    assert commit["MSA"][1:3] == ["CA", "EN-1"] and application["MSA"][1:3] == ["AA", "EN-1"]
    garbage = await feed.send("MSH|^~\\&|EHR|CLINIC|||20260301||ADT^A04|EN-2|P|2.5.1||||AL|AL\rPID|1\r")
    assert garbage[0]["MSA"][1] == "CE"  # read but wrong (no PID-3): a commit error, nothing stored
    assert feed.count(m.Hl7Message) == 1


async def test_a_message_stored_but_never_applied_is_applied_by_recovery(feed: Feed) -> None:
    from hl7.message import read_header

    text = s.adt("A04", "R-1", PATIENT, when=WHEN)
    journal = feed.application.journal
    row_id = journal.receive(read_header(text), text, None)  # the listener stopped right after storing it
    assert await feed.application.recover(older_than=timedelta(0)) == 1
    with feed.session_factory() as session:  # type: ignore[operator]
        row = session.get(m.Hl7Message, row_id)
        assert row is not None and (row.status, row.ack_code) == ("processed", "AA")
    (again,) = await feed.send(text)
    assert again["MSA"][1] == "AA"


async def test_a40_refuses_to_merge_away_a_patient_with_visits(feed: Feed) -> None:
    await feed.send(s.adt("A04", "N-1", PATIENT, when=WHEN))
    billed = s.SamplePatient("MRN-7003", "Bo", "Vale", date(1960, 2, 2))
    await feed.send(s.adt("A04", "N-2", billed, when=WHEN))
    dft = s.dft("N-3", "V-N", billed, feed.npi, date(2026, 3, 2), ["I10"], [s.SampleCharge("99213")], when=WHEN)
    assert (await feed.send(dft))[0]["MSA"][1] == "AA"
    (refused,) = await feed.send(s.merge("N-4", PATIENT, "MRN-7003", when=WHEN))
    assert refused["MSA"][1] == "AE" and "merge_needs_review" in refused["ERR"][8]
    assert "Vale" not in refused["ERR"][8]
    with feed.session_factory() as session:  # type: ignore[operator]
        owners = session.execute(
            select(m.ExternalIdentifier.entity_id).where(
                m.ExternalIdentifier.kind == "patient", m.ExternalIdentifier.value.in_(["MRN-7001", "MRN-7003"])
            )
        ).scalars()
        assert len(set(owners)) == 2  # nothing moved
