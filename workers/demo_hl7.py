"""Some of the demo's visits through the HL7 v2 door: the scheduling system books them with SIU^S12 and the EHR
sends their charges with DFT^P03, over MLLP to the listener the demo runs, as a practice's interface engine would.

Which visits: every fourth coded one (``HL7_EVERY``); their patients are still registered by the FHIR Bundle
(without the visit: ``workers.demo_fhir.bundle(with_visit=False)``). The EHR names its patients and appointments
with the same OIDs in both doors (PID-3 and SCH-1/PV1-19 carry ``EHR&<oid>&ISO``), so the HL7 visit finds the
patient the Bundle registered. Intake starts each visit's Encounter -> Claim when its DFT closes it.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from datetime import UTC, date, datetime

from sqlalchemy import select

from domain import models as m
from hl7 import samples as s
from hl7.mllp import MllpClient
from workers.composition import Container
from workers.demo_fhir import APPOINTMENT_SYSTEM, MRN_SYSTEM, DemoPatient, DemoPractice

log = logging.getLogger("carecycle.demo")

HL7_EVERY = 4  # one coded visit in four comes by HL7 (SIU^S12 + DFT^P03)
CONNECTIONS = 2  # the interface engine's connections (each keeps its messages in order)


def _oid(system: str) -> str:
    return system.removeprefix("urn:oid:")


def hl7_share(practice: DemoPractice) -> frozenset[int]:
    """The patients whose visit is sent as HL7: every fourth coded visit (an uncoded one stays FHIR's: a DFT
    always carries charges)."""
    return frozenset(d.index for d in practice.patients if d.visit.lines and d.index % HL7_EVERY == 1)


def visit_key(demo: DemoPatient, day: date) -> str:
    """The EHR's appointment id (= its visit number), as the FHIR Bundle names a visit."""
    return f"{demo.mrn}-{day.isoformat()}"


def visit_messages(demo: DemoPatient, day: date, when: datetime) -> tuple[bytes, bytes]:
    """The visit's SIU^S12 (booked) and DFT^P03 (its charges and diagnoses)."""
    row, visit, key = demo.patient, demo.visit, visit_key(demo, day)
    patient = s.SamplePatient(
        demo.mrn,
        row["first_name"],
        row["last_name"],
        row["birth_date"],
        sex=row["sex"],
        authority=f"EHR&{_oid(MRN_SYSTEM)}&ISO",
    )
    authority = f"EHR&{_oid(APPOINTMENT_SYSTEM)}&ISO"
    booking = s.siu(
        "S12",
        f"SIU{demo.index:06d}",
        key,
        patient,
        visit.provider_npi,
        visit.starts_at,
        when=when,
        telehealth=visit.telehealth,
        authority=authority,
    )
    charges = [s.SampleCharge(code, 1, modifiers, "", reasons) for code, modifiers, reasons in visit.lines]
    billing = s.dft(
        f"DFT{demo.index:06d}",
        key,
        patient,
        visit.provider_npi,
        day,
        visit.diagnoses,
        charges,
        when=when,
        telehealth=visit.telehealth,
        authority=authority,
    )
    return booking.encode(), billing.encode()


@dataclass
class Hl7Sent:
    accepted: int = 0
    refused: list[str] = field(default_factory=list)  # MSA-1 and the ERR code of each refusal (no PHI)
    visits: list[str] = field(default_factory=list)  # MRNs whose visit was accepted (SIU and DFT)


async def send_visits(host: str, port: int, practice: DemoPractice, share: frozenset[int]) -> Hl7Sent:
    """Send the shared visits' SIU and DFT over ``CONNECTIONS`` MLLP connections, each visit's two in order."""
    sent = Hl7Sent()
    when = datetime.now(UTC)
    chosen = [d for d in practice.patients if d.index in share]

    async def one(part: list[DemoPatient]) -> None:
        client = await MllpClient.connect(host, port)
        try:
            for demo in part:
                answers = [(await client.exchange(m, timeout=120))[0] for m in visit_messages(demo, practice.day, when)]
                codes = [_answer(a) for a in answers]
                sent.accepted += sum(1 for c in codes if c == "AA")
                sent.refused += [c for c in codes if c != "AA"]
                if all(c == "AA" for c in codes):
                    sent.visits.append(demo.mrn)
        finally:
            await client.close()

    await asyncio.gather(*(one(chosen[i::CONNECTIONS]) for i in range(CONNECTIONS)))
    if sent.refused:
        log.warning("the HL7 listener refused some of the visits' messages", extra={"count": len(sent.refused)})
    return sent


def _answer(ack: bytes) -> str:
    lines = {line.split("|")[0]: line.split("|") for line in ack.decode("utf-8", "replace").split("\r") if line}
    code = lines.get("MSA", ["", "?"])[1]
    error = lines.get("ERR", [])
    return code if code == "AA" or len(error) < 4 else f"{code} {error[3].split('^')[0]}"


def encounter_workflows(container: Container, practice: DemoPractice, mrns: list[str]) -> dict[str, str]:
    """MRN -> the Encounter workflow id intake started for the patient's HL7 visit (``encounter-<appointment>``)."""
    keys = {visit_key(d, practice.day): d.mrn for d in practice.patients if d.mrn in set(mrns)}
    if not keys:
        return {}
    with container.session_factory() as session:
        rows = session.execute(
            select(m.ExternalIdentifier.value, m.ExternalIdentifier.entity_id).where(
                m.ExternalIdentifier.kind == "appointment",
                m.ExternalIdentifier.system == APPOINTMENT_SYSTEM,
                m.ExternalIdentifier.value.in_(list(keys)),
            )
        ).all()
    return {keys[value]: f"encounter-{appointment_id}" for value, appointment_id in rows}
