"""What the supported messages say, as typed values (no HL7 left in them): the listener maps these onto the
intake module's commands (``hl7.commands``).

| message | event |
|---|---|
| ADT^A04 (register), ADT^A08 (update) | :class:`PatientEvent` (PID, IN1...) |
| ADT^A40 (merge) | :class:`MergeEvent` (PID = the surviving patient, MRG = the one merged into it) |
| SIU^S12/S13/S14/S15 (book, reschedule, modify, cancel) | :class:`AppointmentEvent` (SCH, PID, AIS, AIP/AIG, PV1) |
| DFT^P03 (charges) | :class:`ChargesEvent` (PID, PV1, DG1..., FT1...): closes the encounter |

Values carry PHI (names, birth dates, member ids) on their way to the store; nothing here is logged.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, tzinfo
from decimal import Decimal, InvalidOperation

from domain.errors import DomainError
from domain.money import parse_amount
from hl7.message import (
    DATA_TYPE_ERROR,
    REQUIRED_FIELD_MISSING,
    TABLE_VALUE_NOT_FOUND,
    UNSUPPORTED_EVENT_CODE,
    UNSUPPORTED_MESSAGE_TYPE,
    Header,
    Hl7Problem,
    Location,
    Message,
    Segment,
    hl7_date,
    hl7_datetime,
    rejected,
)

SYSTEM_PREFIX = "urn:carecycle:hl7"


@dataclass(frozen=True)
class Identifier:
    """A sender's identifier as intake keys records: ``system`` says whose and of what kind, ``value`` is it."""

    system: str
    value: str


@dataclass(frozen=True)
class Person:
    first_name: str
    last_name: str
    birth_date: date
    sex: str  # F, M, U
    address_line: str = ""
    city: str = ""
    state: str = ""
    postal_code: str = ""
    phone: str = ""
    email: str | None = None


@dataclass(frozen=True)
class Insurance:
    """One IN1: the payer by its X12 payer id (IN1-3), the member id (IN1-36, else IN1-49), the plan's rank."""

    payer_code: str
    member_id: str
    rank: str  # primary, secondary, tertiary (IN1-1 order, or IN1-22 coordination of benefits priority)
    relationship: str  # self, spouse, child, other (IN1-17)
    group_number: str | None = None
    effective_from: date | None = None
    effective_to: date | None = None
    subscriber_first_name: str | None = None
    subscriber_last_name: str | None = None
    subscriber_birth_date: date | None = None


@dataclass(frozen=True)
class PatientEvent:
    trigger: str  # A04 register, A08 update
    mrn: Identifier
    person: Person
    insurances: tuple[Insurance, ...] = ()


@dataclass(frozen=True)
class MergeEvent:
    survivor: Identifier  # PID-3: the record that stays
    merged: Identifier  # MRG-1: the record merged into it


@dataclass(frozen=True)
class AppointmentEvent:
    trigger: str  # S12 book, S13 reschedule, S14 modify, S15 cancel
    appointment: Identifier  # SCH-1 (placer appointment id), else SCH-2 (filler)
    patient: Identifier
    provider_npi: str
    starts_at: datetime
    duration_minutes: int
    cancelled: bool
    telehealth: bool = False


@dataclass(frozen=True)
class Charge:
    code: str  # CPT/HCPCS (FT1-25, else FT1-7)
    quantity: int
    modifiers: tuple[str, ...] = ()
    price_cents: int | None = None  # FT1-11 extended amount / quantity (None: the fee schedule)
    diagnosis_codes: tuple[str, ...] = ()  # FT1-19
    transaction_id: str = ""  # FT1-2: the sender's id of this charge (keys it)
    set_id: str = ""  # FT1-1


@dataclass(frozen=True)
class ChargesEvent:
    """A DFT^P03: the visit's charges with codes; the encounter closes for billing."""

    patient: Identifier
    encounter: Identifier  # PV1-19 visit number
    appointment: Identifier  # the appointment the visit number names, when it was booked (SIU's SCH-1)
    charge_system: str  # the system of the charges' identifiers (FT1-2)
    provider_npi: str
    date_of_service: date
    diagnosis_codes: tuple[str, ...]  # DG1-3 by DG1-15 priority (else DG1-1 order)
    charges: tuple[Charge, ...]
    telehealth: bool = False


Event = PatientEvent | MergeEvent | AppointmentEvent | ChargesEvent

SUPPORTED = {
    "ADT": ("A04", "A08", "A40"),
    "SIU": ("S12", "S13", "S14", "S15"),
    "DFT": ("P03",),
}


def check_supported(header: Header) -> None:
    """Refuse (AR) a message type or trigger event this listener does not take."""
    triggers = SUPPORTED.get(header.message_code)
    if triggers is None:
        raise rejected(
            UNSUPPORTED_MESSAGE_TYPE,
            "MSH-9: only ADT, SIU and DFT messages are taken",
            Location("MSH", field=9, component=1),
        )
    if header.trigger_event not in triggers:
        raise rejected(
            UNSUPPORTED_EVENT_CODE,
            f"MSH-9: {header.message_code} events taken: {', '.join(triggers)}",
            Location("MSH", field=9, component=2),
        )


def read_event(message: Message, zone: tzinfo = UTC) -> Event:
    header = message.header
    check_supported(header)
    if header.message_code == "ADT":
        return read_merge(message) if header.trigger_event == "A40" else read_patient(message)
    if header.message_code == "SIU":
        return read_appointment(message, zone)
    return read_charges(message, zone)


# --- identifiers ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Authority:
    """An assigning authority (HD: namespace id, universal id, universal id type)."""

    namespace: str = ""
    universal: str = ""
    universal_type: str = ""


def system_of(header: Header, authority: Authority, kind: str) -> str:
    """Whose identifier, as intake keys it (as the v2-to-FHIR mapping does): an ISO universal id is
    ``urn:oid:<oid>``, a URI one is itself; else ``urn:carecycle:hl7:<namespace>:<kind>``, the namespace being the
    one stated, else the sending facility (else application)."""
    kind_of_id = authority.universal_type.upper()
    if authority.universal and kind_of_id == "ISO":
        return f"urn:oid:{authority.universal}"
    if authority.universal and kind_of_id in ("URI", "URL"):
        return authority.universal
    name = authority.namespace or header.sending_facility or header.sending_application or "unknown"
    return f"{SYSTEM_PREFIX}:{''.join(ch if ch.isalnum() or ch in '-._' else '-' for ch in name)[:60]}:{kind}"


def _cx_authority(segment: Segment, field: int, repetition: int = 0) -> Authority:
    """CX-4 (HD as subcomponents)."""
    return Authority(*(segment.value(field, 4, sub, repetition) for sub in (1, 2, 3)))


def patient_identifier(header: Header, pid: Segment) -> Identifier:
    """The MRN: the first PID-3 repetition typed MR (else the first one), else PID-2 (older senders)."""
    chosen: tuple[str, Authority] | None = None
    for rep in range(pid.repetitions(3)):
        value = pid.value(3, 1, repetition=rep)
        if value and (chosen is None or pid.value(3, 5, repetition=rep).upper() == "MR"):
            chosen = (value, _cx_authority(pid, 3, rep))
            if pid.value(3, 5, repetition=rep).upper() == "MR":
                break
    if chosen is None and pid.value(2):
        chosen = (pid.value(2), _cx_authority(pid, 2))
    if chosen is None:
        raise Hl7Problem(REQUIRED_FIELD_MISSING, "PID-3 (patient identifier list) has no identifier", pid.location(3))
    return Identifier(system_of(header, chosen[1], "mrn"), chosen[0])


def appointment_identifier(header: Header, sch: Segment, field: int) -> Identifier:
    """SCH-1/SCH-2 (EI: id, namespace, universal id, universal id type)."""
    authority = Authority(sch.value(field, 2), sch.value(field, 3), sch.value(field, 4))
    return Identifier(system_of(header, authority, "appointment"), sch.value(field))


def visit_identifiers(header: Header, pv1: Segment) -> tuple[Identifier, Identifier, str]:
    """PV1-19 (CX): the visit, the appointment it names (an EHR's visit number is its appointment id) and the
    system of the visit's charges."""
    value = pv1.required(19, what="visit number")
    authority = _cx_authority(pv1, 19)
    return (
        Identifier(system_of(header, authority, "visit"), value),
        Identifier(system_of(header, authority, "appointment"), value),
        system_of(header, authority, "charge"),
    )


# --- ADT --------------------------------------------------------------------------------------------------

_SEX = {"F": "F", "M": "M", "U": "U", "O": "U", "A": "U", "N": "U", "": "U"}
_RELATIONSHIP = {"01": "spouse", "SPO": "spouse", "18": "self", "SEL": "self", "19": "child", "CHD": "child"}
_RANKS = ("primary", "secondary", "tertiary")


def read_patient(message: Message) -> PatientEvent:
    header, pid = message.header, message.one("PID")
    person = Person(
        first_name=pid.required(5, 2, "given name"),
        last_name=pid.required(5, 1, "family name"),
        birth_date=hl7_date(pid.required(7, what="date of birth"), pid.location(7), "date of birth"),
        sex=_sex(pid),
        address_line=pid.value(11, 1),
        city=pid.value(11, 3),
        state=pid.value(11, 4),
        postal_code=pid.value(11, 5),
        phone=_phone(pid),
        email=pid.value(13, 4) or None,
    )
    insurances = tuple(_insurance(segment, number) for number, segment in enumerate(message.all("IN1")))
    return PatientEvent(header.trigger_event, patient_identifier(header, pid), person, insurances)


def _sex(pid: Segment) -> str:
    value = pid.value(8).upper()
    if value not in _SEX:
        raise Hl7Problem(TABLE_VALUE_NOT_FOUND, "PID-8 (administrative sex) is not a table 0001 value", pid.location(8))
    return _SEX[value]


def _phone(pid: Segment) -> str:
    """PID-13: XTN-1 as sent, else area code + number (XTN-6, XTN-7)."""
    text = pid.value(13, 1) or (pid.value(13, 6) + pid.value(13, 7))
    return "".join(ch for ch in text if ch.isdigit())[:15]


def _insurance(in1: Segment, number: int) -> Insurance:
    payer = in1.required(3, what="insurance company id: the payer's X12 payer id")
    member = in1.value(36) or in1.value(49)
    if not member:
        raise Hl7Problem(REQUIRED_FIELD_MISSING, "IN1-36 (policy number: the member id) is required", in1.location(36))
    priority = in1.value(22)
    rank_index = int(priority) - 1 if priority.isdigit() and 0 < int(priority) <= 3 else min(number, 2)
    relationship = _RELATIONSHIP.get(in1.value(17).upper(), "other" if in1.value(17) else "self")
    subscriber_birth = in1.value(18)
    return Insurance(
        payer_code=payer.upper(),
        member_id=member,
        rank=_RANKS[rank_index],
        relationship=relationship,
        group_number=in1.value(8) or None,
        effective_from=hl7_date(in1.value(12), in1.location(12), "plan effective date") if in1.value(12) else None,
        effective_to=hl7_date(in1.value(13), in1.location(13), "plan expiration date") if in1.value(13) else None,
        subscriber_first_name=in1.value(16, 2) or None,
        subscriber_last_name=in1.value(16, 1) or None,
        subscriber_birth_date=hl7_date(subscriber_birth, in1.location(18), "insured's date of birth")
        if subscriber_birth
        else None,
    )


def read_merge(message: Message) -> MergeEvent:
    header, pid, mrg = message.header, message.one("PID"), message.one("MRG")
    prior = mrg.required(1, what="prior patient identifier list")
    merged = Identifier(system_of(header, _cx_authority(mrg, 1), "mrn"), prior)
    survivor = patient_identifier(header, pid)
    if merged == survivor:
        raise Hl7Problem(DATA_TYPE_ERROR, "MRG-1 names the surviving patient itself", mrg.location(1))
    return MergeEvent(survivor, merged)


# --- SIU --------------------------------------------------------------------------------------------------


def read_appointment(message: Message, zone: tzinfo) -> AppointmentEvent:
    header, sch, pid = message.header, message.one("SCH"), message.one("PID")
    if sch.value(1):
        appointment = appointment_identifier(header, sch, 1)
    elif sch.value(2):
        appointment = appointment_identifier(header, sch, 2)
    else:
        raise Hl7Problem(REQUIRED_FIELD_MISSING, "SCH-1 (placer appointment id) is required", sch.location(1))
    starts_at, duration = _timing(message, sch, zone)
    status = sch.value(25).upper()
    cancelled = header.trigger_event == "S15" or status in ("CANCELLED", "DELETED")
    return AppointmentEvent(
        trigger=header.trigger_event,
        appointment=appointment,
        patient=patient_identifier(header, pid),
        provider_npi=_provider_npi(message),
        starts_at=starts_at,
        duration_minutes=duration,
        cancelled=cancelled,
        telehealth=_telehealth(message),
    )


def _timing(message: Message, sch: Segment, zone: tzinfo) -> tuple[datetime, int]:
    """Start and length: AIS-4/AIS-7 (2.5+), else SCH-11 (TQ: ^^duration^start), with SCH-9/SCH-10."""
    ais = message.first("AIS")
    start_text, where = "", sch.location(11, 4)
    if ais is not None and ais.value(4):
        start_text, where = ais.value(4), ais.location(4)
    elif sch.value(11, 4):
        start_text = sch.value(11, 4)
    if not start_text:
        raise Hl7Problem(
            REQUIRED_FIELD_MISSING, "AIS-4 or SCH-11.4 (appointment start) is required", sch.location(11, 4)
        )
    starts_at = hl7_datetime(start_text, where, "appointment start", zone)
    for text, location in (
        (ais.value(7) if ais is not None else "", ais.location(7) if ais is not None else None),
        (sch.value(9), sch.location(9)),
    ):
        if text:
            minutes = _minutes(text, location)
            if minutes is not None:
                return starts_at, minutes
    return starts_at, 20


def _minutes(text: str, where: Location | None) -> int | None:
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise Hl7Problem(DATA_TYPE_ERROR, "the appointment duration is not a number", where) from None
    if value <= 0 or value > 24 * 60 or value != value.to_integral_value():
        raise Hl7Problem(DATA_TYPE_ERROR, "the appointment duration must be whole minutes up to a day", where)
    return int(value)


def _provider_npi(message: Message) -> str:
    """The rendering provider's NPI: AIP-3.1 (a personnel resource), else PV1-7.1 (attending doctor)."""
    for name, field in (("AIP", 3), ("PV1", 7), ("PV1", 8)):
        segment = message.first(name)
        if segment is not None and segment.value(field):
            return segment.value(field)
    raise Hl7Problem(REQUIRED_FIELD_MISSING, "AIP-3 or PV1-7 (the provider's NPI) is required", Location("AIP", 1, 3))


def _telehealth(message: Message) -> bool:
    """A virtual visit: AIL-3.1 or PV1-3.1 (location) VIRTUAL, or SCH-7 reason TELEHEALTH."""
    for name, field in (("AIL", 3), ("PV1", 3), ("SCH", 7)):
        segment = message.first(name)
        if segment is not None and segment.value(field).upper() in ("VIRTUAL", "TELEHEALTH", "VR"):
            return True
    return False


# --- DFT --------------------------------------------------------------------------------------------------


def read_charges(message: Message, zone: tzinfo) -> ChargesEvent:
    header, pid, pv1 = message.header, message.one("PID"), message.one("PV1")
    encounter, appointment, charge_system = visit_identifiers(header, pv1)
    transactions = message.all("FT1")
    if not transactions:
        raise Hl7Problem(REQUIRED_FIELD_MISSING, "a DFT^P03 needs at least one FT1 (charge)", Location("FT1"))
    charges = tuple(_charge(ft1) for ft1 in transactions)
    first = transactions[0]
    when = first.required(4, what="transaction date")
    date_of_service = (
        hl7_datetime(when, first.location(4), "transaction date", zone).date()
        if len(when) > 8
        else (hl7_date(when, first.location(4), "transaction date"))
    )
    diagnoses = _diagnoses(message.all("DG1"))
    if not diagnoses:
        diagnoses = tuple(dict.fromkeys(code for charge in charges for code in charge.diagnosis_codes))
    npi = first.value(21) or first.value(20) or _provider_npi(message)
    return ChargesEvent(
        patient=patient_identifier(header, pid),
        encounter=encounter,
        appointment=appointment,
        charge_system=charge_system,
        provider_npi=npi,
        date_of_service=date_of_service,
        diagnosis_codes=diagnoses,
        charges=charges,
        telehealth=_telehealth(message),
    )


def _charge(ft1: Segment) -> Charge:
    kind = ft1.value(6).upper()
    if kind and kind not in ("CG", "CH"):
        raise Hl7Problem(TABLE_VALUE_NOT_FOUND, "FT1-6 (transaction type) must be CG (charge)", ft1.location(6))
    code = ft1.value(25) or ft1.value(7)
    if not code:
        raise Hl7Problem(REQUIRED_FIELD_MISSING, "FT1-25 or FT1-7 (procedure code) is required", ft1.location(25))
    quantity_text = ft1.value(10) or "1"
    if not quantity_text.isdigit() or not 0 < int(quantity_text) <= 999:
        raise Hl7Problem(DATA_TYPE_ERROR, "FT1-10 (quantity) must be a whole number from 1 to 999", ft1.location(10))
    quantity = int(quantity_text)
    modifiers = tuple(m.upper() for rep in range(ft1.repetitions(26)) if (m := ft1.value(26, repetition=rep)))
    diagnoses = tuple(
        c.replace(".", "").upper() for rep in range(ft1.repetitions(19)) if (c := ft1.value(19, repetition=rep))
    )
    return Charge(code.upper(), quantity, modifiers, _price(ft1, quantity), diagnoses, ft1.value(2), ft1.value(1))


def _price(ft1: Segment, quantity: int) -> int | None:
    """FT1-11 (extended amount, MO: amount^currency) per unit, else FT1-12 (unit amount); None: fee schedule."""
    for field, per_unit in ((12, True), (11, False)):
        text = ft1.value(field)
        if not text:
            continue
        cents = _cents(text, ft1.location(field))
        if per_unit:
            return cents
        if cents % quantity:
            raise Hl7Problem(
                DATA_TYPE_ERROR, "FT1-11 (extended amount) is not a whole number of cents per unit", ft1.location(11)
            )
        return cents // quantity
    return None


def _cents(text: str, where: Location) -> int:
    try:
        cents = parse_amount(text)
    except DomainError:
        raise Hl7Problem(DATA_TYPE_ERROR, f"{where.segment}-{where.field} is not an amount", where) from None
    if cents <= 0:
        raise Hl7Problem(DATA_TYPE_ERROR, f"{where.segment}-{where.field} must be positive", where)
    return cents


def _diagnoses(segments: list[Segment]) -> tuple[str, ...]:
    ranked: list[tuple[int, int, str]] = []
    for order, dg1 in enumerate(segments):
        code = dg1.value(3)
        if not code:
            raise Hl7Problem(REQUIRED_FIELD_MISSING, "DG1-3 (diagnosis code) is required", dg1.location(3))
        priority = dg1.value(15)
        ranked.append((int(priority) if priority.isdigit() and int(priority) > 0 else 99, order, code))
    return tuple(dict.fromkeys(code.replace(".", "").upper() for _, _, code in sorted(ranked)))
