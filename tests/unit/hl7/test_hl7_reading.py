"""HL7 v2 reading without a socket or a store: MSH, escapes, times, events, ACKs, MLLP framing."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest

from hl7 import samples as s
from hl7.ack import build_ack
from hl7.events import ChargesEvent, PatientEvent, read_event
from hl7.listener import _wanted
from hl7.message import Hl7Problem, Location, escape_text, hl7_datetime, parse, read_header, unescape
from hl7.mllp import END_BLOCK, START_BLOCK, MllpConnection, OversizedFrame

WHEN = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
PATIENT = s.SamplePatient("M|1", "Ann^e", "O&Neil\\", date(1970, 1, 31))


def test_values_survive_escaping_both_ways() -> None:
    for text in ("a|b", "x^y~z&w", "back\\slash", "plain"):
        assert unescape(escape_text(text)) == text
    assert unescape("\\X41\\BC\\H\\D\\N\\") == "ABCD"
    event = read_event(parse(message := s.adt("A04", "C1", PATIENT, when=WHEN), read_header(message)))
    assert isinstance(event, PatientEvent)
    assert (event.mrn.value, event.person.first_name, event.person.last_name) == ("M|1", "Ann^e", "O&Neil\\")


def test_times_carry_their_offset_or_take_the_listeners_zone() -> None:
    where = Location("AIS", 1, 4)
    assert hl7_datetime("202603020900+0200", where, "start") == datetime(2026, 3, 2, 7, 0, tzinfo=UTC)
    chicago = hl7_datetime("20260302090000", where, "start", ZoneInfo("America/Chicago"))
    assert chicago == datetime(2026, 3, 2, 15, 0, tzinfo=UTC)
    assert hl7_datetime("20260302", where, "start") == datetime(2026, 3, 2, tzinfo=UTC)
    for bad in ("2026-03-02", "202613010000", "20260302093", "20260302+99"):
        with pytest.raises(Hl7Problem) as problem:
            hl7_datetime(bad, where, "start")
        assert problem.value.text == "AIS-4 (start) is not a date and time" and bad not in problem.value.text


@pytest.mark.parametrize(
    ("msh", "code"),
    [
        ("MSH|^~\\&|A|B|C|D|2026||ADT^A04|1|P|2.9.9", "203"),
        ("MSH|^~\\&|A|B|C|D|2026||ADT^A04|1|Q|2.5.1", "202"),
        ("MSH|^~\\&|A|B|C|D|2026||ADT^A04||P|2.5.1", "101"),
        ("MSH|^~\\&|A|B|C|D|2026||^A04|1|P|2.5.1", "101"),
        ("MSX|^~\\&|A", "101"),
        ("MSH|^^^^|A", "102"),
    ],
)
def test_a_bad_msh_is_a_rejection(msh: str, code: str) -> None:
    with pytest.raises(Hl7Problem) as problem:
        read_header(msh + "\r")
    assert problem.value.reject and problem.value.code == code


def test_dft_charges_diagnoses_and_prices() -> None:
    charges = [s.SampleCharge("99214", 1, ("25",), "150.00", ("E119",)), s.SampleCharge("36415", 2, (), "")]
    text = s.dft("D1", "V9", PATIENT, "1234567893", date(2026, 3, 2), ["E11.9", "I10"], charges, when=WHEN)
    event = read_event(parse(text, read_header(text)))
    assert isinstance(event, ChargesEvent)
    assert event.diagnosis_codes == ("E119", "I10") and event.date_of_service == date(2026, 3, 2)
    first, second = event.charges
    assert (first.code, first.modifiers, first.price_cents, first.diagnosis_codes) == (
        "99214",
        ("25",),
        15000,
        ("E119",),
    )
    assert (second.quantity, second.price_cents, second.transaction_id) == (2, None, "V9-2")
    assert event.encounter.value == event.appointment.value == "V9"
    assert event.encounter.system.endswith(":visit") and event.appointment.system.endswith(":appointment")


def test_acks_follow_the_version_of_the_message() -> None:
    problem = Hl7Problem("101", "PID-3 (patient identifier list) has no identifier", Location("PID", 1, 3))
    new = build_ack(read_header(s.adt("A04", "X1", PATIENT, when=WHEN)), "AE", problem, control_id="ACK1", now=WHEN)
    lines = new.text.split("\r")
    assert lines[0] == "MSH|^~\\&|CARECYCLE|PRACTICE|EHR|CLINIC|20260301120000+0000||ACK^A04^ACK|ACK1|P|2.5.1"
    assert lines[1] == "MSA|AE|X1|PID-3 (patient identifier list) has no identifier"
    assert lines[2].startswith("ERR||PID^1^3^1|101^Required field missing^HL70357|E|")
    old = build_ack(read_header("MSH|^~\\&|A|B|C|D|2026||ADT^A04|X2|T|2.3\r"), "AR", problem, control_id="A2")
    assert old.text.split("\r")[2] == "ERR|PID^1^3^101&Required field missing&HL70357"
    unknown = build_ack(None, "AR", Hl7Problem("101", "no MSH", Location("MSH")), control_id="A3")
    assert unknown.text.split("\r")[1] == "MSA|AR||no MSH"


def test_msh_15_and_16_choose_which_acks_are_sent() -> None:
    assert _wanted("", "CA") and _wanted("AL", "AE") and not _wanted("NE", "AA")
    assert _wanted("ER", "CE") and not _wanted("ER", "CA") and _wanted("SU", "AA") and not _wanted("SU", "AE")


class _Writer:
    def __init__(self) -> None:
        self.sent = b""

    def get_extra_info(self, name: str) -> object:
        return ("127.0.0.1", 1)

    def write(self, data: bytes) -> None:
        self.sent += data

    async def drain(self) -> None:
        return None


async def _frames(chunks: list[bytes], limit: int) -> tuple[list[bytes | OversizedFrame], bool]:
    reader = asyncio.StreamReader()
    for chunk in chunks:
        reader.feed_data(chunk)
    reader.feed_eof()
    connection = MllpConnection(reader, _Writer(), limit)  # type: ignore[arg-type]
    return [f async for f in connection.frames()], connection.truncated


async def test_mllp_frames_noise_split_ends_oversize_and_truncation() -> None:
    one, two = b"MSH|1", b"MSH|2"
    frames, truncated = await _frames(
        [b"junk", START_BLOCK + one + b"\x1c", b"\r" + START_BLOCK + two + END_BLOCK], 100
    )
    assert frames == [one, two] and not truncated
    big = START_BLOCK + b"MSH|^~\\&|big" + b"x" * 500
    frames, _ = await _frames([big[:100], big[100:], END_BLOCK + START_BLOCK + one + END_BLOCK], 64)
    assert isinstance(frames[0], OversizedFrame) and frames[0].head.startswith(b"MSH|^~\\&|big")
    assert frames[0].size == len(big) - 1 and frames[1] == one
    frames, truncated = await _frames([START_BLOCK + one + END_BLOCK + START_BLOCK + b"MSH|half"], 100)
    assert frames == [one] and truncated


def test_identifier_systems_follow_the_assigning_authority() -> None:
    oid = "2.16.840.1.113883.3.9999.1"
    text = s.adt("A04", "C9", PATIENT, when=WHEN).replace("M\\F\\1^^^CLINIC^MR", f"M9^^^EHR&{oid}&ISO^MR")
    event = read_event(parse(text, read_header(text)))
    assert isinstance(event, PatientEvent) and event.mrn.system == f"urn:oid:{oid}" and event.mrn.value == "M9"
    uri = s.adt("A04", "C8", PATIENT, when=WHEN).replace("M\\F\\1^^^CLINIC^MR", "M8^^^&https://ehr.example/mrn&URI^MR")
    assert read_event(parse(uri, read_header(uri))).mrn.system == "https://ehr.example/mrn"  # type: ignore[union-attr]
    plain = s.adt("A04", "C7", PATIENT, when=WHEN)
    assert read_event(parse(plain, read_header(plain))).mrn.system == "urn:carecycle:hl7:CLINIC:mrn"  # type: ignore[union-attr]
    dft = s.dft("D9", "V1", PATIENT, "1234567893", date(2026, 3, 2), ["I10"], [s.SampleCharge("99213")], when=WHEN)
    dft = dft.replace("V1^^^CLINIC", f"V1^^^EHR&{oid}&ISO")
    charges = read_event(parse(dft, read_header(dft)))
    assert isinstance(charges, ChargesEvent)
    assert charges.encounter.system == charges.appointment.system == charges.charge_system == f"urn:oid:{oid}"
