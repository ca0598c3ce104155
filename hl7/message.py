"""Reading an HL7 v2 message: the MSH by hand (so that even a message the parser refuses gets a proper ACK),
the rest with hl7apy (a maintained HL7 v2 library), and typed, unescaped access to fields and components.

Errors are :class:`Hl7Problem`s: an HL7 error code (table 0357), where (segment, sequence, field), and a text that
names fields and codes only (it goes into the ACK's ERR segment: never a value of the message, never PHI).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, tzinfo

# HL7 table 0357 (message error condition codes) as the ACK's ERR segment uses them.
SEGMENT_SEQUENCE_ERROR = "100"
REQUIRED_FIELD_MISSING = "101"
DATA_TYPE_ERROR = "102"
TABLE_VALUE_NOT_FOUND = "103"
UNSUPPORTED_MESSAGE_TYPE = "200"
UNSUPPORTED_EVENT_CODE = "201"
UNSUPPORTED_PROCESSING_ID = "202"
UNSUPPORTED_VERSION_ID = "203"
UNKNOWN_KEY_IDENTIFIER = "204"
DUPLICATE_KEY_IDENTIFIER = "205"
APPLICATION_RECORD_LOCKED = "206"
APPLICATION_INTERNAL_ERROR = "207"

ERROR_NAMES = {
    SEGMENT_SEQUENCE_ERROR: "Segment sequence error",
    REQUIRED_FIELD_MISSING: "Required field missing",
    DATA_TYPE_ERROR: "Data type error",
    TABLE_VALUE_NOT_FOUND: "Table value not found",
    UNSUPPORTED_MESSAGE_TYPE: "Unsupported message type",
    UNSUPPORTED_EVENT_CODE: "Unsupported event code",
    UNSUPPORTED_PROCESSING_ID: "Unsupported processing id",
    UNSUPPORTED_VERSION_ID: "Unsupported version id",
    UNKNOWN_KEY_IDENTIFIER: "Unknown key identifier",
    DUPLICATE_KEY_IDENTIFIER: "Duplicate key identifier",
    APPLICATION_RECORD_LOCKED: "Application record locked",
    APPLICATION_INTERNAL_ERROR: "Application internal error",
}

SUPPORTED_VERSIONS = ("2.3", "2.3.1", "2.4", "2.5", "2.5.1", "2.6", "2.7", "2.7.1", "2.8", "2.8.1", "2.8.2")


@dataclass(frozen=True)
class Location:
    segment: str
    sequence: int = 1  # which repetition of the segment (1-based)
    field: int | None = None
    component: int | None = None


class Hl7Problem(Exception):
    """What is wrong with a message, for the ACK: ``reject`` (AR: the message itself cannot be taken) or an error
    (AE: it was read but cannot be applied). ``text`` names fields and codes only."""

    def __init__(self, code: str, text: str, location: Location | None = None, *, reject: bool = False) -> None:
        super().__init__(text)
        self.code = code
        self.text = text
        self.location = location
        self.reject = reject


def rejected(code: str, text: str, location: Location | None = None) -> Hl7Problem:
    return Hl7Problem(code, text, location, reject=True)


@dataclass(frozen=True)
class Header:
    """The MSH fields an ACK and the routing need (values as sent, unescaped; no PHI in any of them)."""

    field_separator: str
    encoding: str  # MSH-2: component, repetition, escape, subcomponent
    sending_application: str
    sending_facility: str
    receiving_application: str
    receiving_facility: str
    message_code: str  # MSH-9.1, e.g. ADT
    trigger_event: str  # MSH-9.2, e.g. A04
    structure: str  # MSH-9.3, e.g. ADT_A01 (may be empty)
    control_id: str  # MSH-10
    processing_id: str  # MSH-11: P, T, D
    version: str  # MSH-12
    accept_ack_type: str = ""  # MSH-15: AL, NE, ER, SU (enhanced mode when present)
    application_ack_type: str = ""  # MSH-16

    @property
    def sender(self) -> str:
        """The sender as control ids are unique within it: sending application and facility."""
        return f"{self.sending_application}|{self.sending_facility}"

    @property
    def message_type(self) -> str:
        return f"{self.message_code}^{self.trigger_event}"

    @property
    def enhanced(self) -> bool:
        return bool(self.accept_ack_type or self.application_ack_type)


def split_segments(text: str) -> list[str]:
    """Segments split on CR (LF and CRLF tolerated, as many senders use them)."""
    normalised = text.replace("\r\n", "\r").replace("\n", "\r")
    return [s for s in normalised.split("\r") if s.strip()]


def read_header(text: str) -> Header:
    """The MSH, read by hand; a message without a readable MSH is rejected (AR)."""
    segments = split_segments(text)
    if not segments or not segments[0].startswith("MSH") or len(segments[0]) < 8:
        raise rejected(REQUIRED_FIELD_MISSING, "the message does not start with an MSH segment", Location("MSH"))
    msh = segments[0]
    separator, encoding = msh[3], msh[4:8]
    if separator.isalnum() or len(set(encoding)) != 4 or separator in encoding or encoding.isalnum():
        raise rejected(DATA_TYPE_ERROR, "MSH-1/MSH-2 do not name usable delimiters", Location("MSH", field=2))
    fields = msh.split(separator)  # fields[n - 1] is MSH-n for n >= 2 (MSH-1 is the separator itself)
    component = encoding[0]

    def field(n: int) -> str:
        return fields[n - 1] if n - 1 < len(fields) else ""

    def part(n: int, c: int) -> str:
        components = field(n).split(component)
        return unescape(components[c - 1], separator, encoding) if c <= len(components) else ""

    message_type = field(9).split(component)
    header = Header(
        field_separator=separator,
        encoding=encoding,
        sending_application=part(3, 1),
        sending_facility=part(4, 1),
        receiving_application=part(5, 1),
        receiving_facility=part(6, 1),
        message_code=message_type[0].strip().upper() if message_type else "",
        trigger_event=message_type[1].strip().upper() if len(message_type) > 1 else "",
        structure=message_type[2].strip().upper() if len(message_type) > 2 else "",
        control_id=unescape(field(10), separator, encoding).strip(),
        processing_id=part(11, 1).strip().upper(),
        version=part(12, 1).strip(),
        accept_ack_type=part(15, 1).strip().upper(),
        application_ack_type=part(16, 1).strip().upper(),
    )
    if not header.control_id:
        raise rejected(REQUIRED_FIELD_MISSING, "MSH-10 (message control id) is empty", Location("MSH", field=10))
    if len(header.control_id) > 199:
        raise rejected(DATA_TYPE_ERROR, "MSH-10 (message control id) is too long", Location("MSH", field=10))
    if not header.message_code or not header.trigger_event:
        raise rejected(REQUIRED_FIELD_MISSING, "MSH-9 (message type) is incomplete", Location("MSH", field=9))
    if header.version not in SUPPORTED_VERSIONS:
        raise rejected(
            UNSUPPORTED_VERSION_ID, "MSH-12 names an HL7 version this listener does not read", Location("MSH", field=12)
        )
    if header.processing_id not in ("P", "T", "D"):
        raise rejected(UNSUPPORTED_PROCESSING_ID, "MSH-11 (processing id) must be P, T or D", Location("MSH", field=11))
    return header


_ESCAPES = {"F": "field", "S": "component", "T": "subcomponent", "R": "repetition", "E": "escape"}


def unescape(value: str, separator: str = "|", encoding: str = "^~\\&") -> str:
    """HL7 escape sequences (\\F\\ \\S\\ \\T\\ \\R\\ \\E\\ \\Xhh\\) to text; formatting sequences are dropped."""
    escape = encoding[2]
    if escape not in value:
        return value
    delimiters = {
        "field": separator,
        "component": encoding[0],
        "repetition": encoding[1],
        "escape": escape,
        "subcomponent": encoding[3],
    }
    out: list[str] = []
    i = 0
    while i < len(value):
        ch = value[i]
        end = value.find(escape, i + 1) if ch == escape else -1
        if end < 0:
            out.append(ch)
            i += 1
            continue
        token = value[i + 1 : end]
        if token in _ESCAPES:
            out.append(delimiters[_ESCAPES[token]])
        elif token.startswith("X") and len(token) > 1:
            try:
                out.append(bytes.fromhex(token[1:]).decode("latin-1"))
            except ValueError:
                pass
        i = end + 1
    return "".join(out)


def escape_text(value: str, separator: str = "|", encoding: str = "^~\\&") -> str:
    """Text made safe for one HL7 field (our ACK texts)."""
    esc = encoding[2]
    replacements = [
        (esc, f"{esc}E{esc}"),
        (separator, f"{esc}F{esc}"),
        (encoding[0], f"{esc}S{esc}"),
        (encoding[1], f"{esc}R{esc}"),
        (encoding[3], f"{esc}T{esc}"),
    ]
    for plain, escaped in replacements:
        value = value.replace(plain, escaped)
    return value.replace("\r", " ").replace("\n", " ")


# --- the parsed message ---------------------------------------------------------------------------------


class Segment:
    """One segment of a parsed message: unescaped field/component access by position (1-based, as the spec).

    Values are read from the segment's ER7 text (the line hl7apy accepted), split once: reading a field costs
    string operations, not a walk of hl7apy's element tree."""

    def __init__(self, name: str, er7: str, header: Header, sequence: int) -> None:
        self._header = header
        self.name = name
        self.sequence = sequence
        repetition = header.encoding[1]
        self._fields: dict[int, list[str]] = {}
        for number, text in enumerate(er7.split(header.field_separator)[1:], start=1):
            if text:
                self._fields[number] = text.split(repetition)

    def location(self, field: int | None = None, component: int | None = None) -> Location:
        return Location(self.name, self.sequence, field, component)

    def repetitions(self, field: int) -> int:
        return len(self._fields.get(field, []))

    def value(self, field: int, component: int = 1, subcomponent: int | None = None, repetition: int = 0) -> str:
        """The unescaped text at field.component[.subcomponent] (``""`` when absent)."""
        reps = self._fields.get(field, [])
        if repetition >= len(reps):
            return ""
        enc = self._header.encoding
        parts = reps[repetition].split(enc[0])
        if component > len(parts):
            return ""
        piece = parts[component - 1]
        if subcomponent is not None:
            subs = piece.split(enc[3])
            piece = subs[subcomponent - 1] if subcomponent <= len(subs) else ""
        elif enc[3] in piece:
            piece = piece.split(enc[3])[0]
        return unescape(piece, self._header.field_separator, enc).strip()

    def required(self, field: int, component: int = 1, what: str = "") -> str:
        value = self.value(field, component)
        if not value:
            name = f"{self.name}-{field}" + (f".{component}" if component > 1 else "")
            raise Hl7Problem(
                REQUIRED_FIELD_MISSING,
                f"{name} ({what}) is required".replace(" ()", ""),
                self.location(field, component if component > 1 else None),
            )
        return value


class Message:
    """A message hl7apy has read: its header and its segments in order."""

    def __init__(self, header: Header, segments: list[Segment]) -> None:
        self.header = header
        self.segments = segments

    def all(self, name: str) -> list[Segment]:
        return [s for s in self.segments if s.name == name]

    def first(self, name: str) -> Segment | None:
        found = self.all(name)
        return found[0] if found else None

    def one(self, name: str) -> Segment:
        segment = self.first(name)
        if segment is None:
            raise Hl7Problem(
                SEGMENT_SEQUENCE_ERROR, f"the {self.header.message_type} message has no {name} segment", Location(name)
            )
        return segment


def parse(text: str, header: Header) -> Message:
    """The whole message through hl7apy (tolerant validation: what a real EHR sends is rarely strict)."""
    from hl7apy.consts import VALIDATION_LEVEL
    from hl7apy.exceptions import HL7apyException
    from hl7apy.parser import parse_message

    normalised = "\r".join(split_segments(text)) + "\r"
    try:
        parsed = parse_message(normalised, validation_level=VALIDATION_LEVEL.TOLERANT, find_groups=False)
    except HL7apyException as exc:
        raise rejected(DATA_TYPE_ERROR, f"the message cannot be parsed ({type(exc).__name__})") from None
    except (ValueError, IndexError, KeyError, AttributeError, TypeError) as exc:
        raise rejected(DATA_TYPE_ERROR, f"the message cannot be parsed ({type(exc).__name__})") from None
    lines = normalised.split("\r")
    elements = list(parsed.children)
    # The lines hl7apy read, in order (its ER7 of a segment when it did not keep them one to one).
    same = len(elements) == len(lines) - 1 and all(
        line.startswith(str(e.name)) for e, line in zip(elements, lines, strict=False)
    )
    counts: dict[str, int] = {}
    segments: list[Segment] = []
    for index, element in enumerate(elements):
        name = str(element.name)
        counts[name] = counts.get(name, 0) + 1
        er7 = lines[index] if same else str(element.to_er7())
        segments.append(Segment(name, er7, header, counts[name]))
    return Message(header, segments)


# --- value types ----------------------------------------------------------------------------------------


def hl7_date(value: str, where: Location, what: str) -> date:
    """DT/DTM's date part (YYYYMMDD...)."""
    digits = value[:8]
    try:
        if len(digits) != 8 or not digits.isdigit():
            raise ValueError
        return date(int(digits[:4]), int(digits[4:6]), int(digits[6:8]))
    except ValueError:
        raise Hl7Problem(DATA_TYPE_ERROR, f"{_name(where)} ({what}) is not a date (YYYYMMDD)", where) from None


def hl7_datetime(value: str, where: Location, what: str, zone: tzinfo = UTC) -> datetime:
    """DTM (YYYYMMDD[HH[MM[SS[.S]]]][+/-ZZZZ]); without an offset the listener's time zone applies."""
    body, offset = value, None
    for sign in ("+", "-"):
        if sign in value[8:]:
            at = value.index(sign, 8)
            body, offset = value[:at], value[at:]
    digits = body.split(".")[0]
    try:
        if len(digits) < 8 or not digits.isdigit() or len(digits) % 2:
            raise ValueError
        month, day, hour, minute, second = ([int(digits[i : i + 2]) for i in range(4, len(digits), 2)] + [0] * 5)[:5]
        moment = datetime(int(digits[:4]), month, day, hour, minute, second)
        if offset is not None:
            if len(offset) != 5 or not offset[1:].isdigit():
                raise ValueError
            delta = timedelta(hours=int(offset[1:3]), minutes=int(offset[3:5]))
            return (moment - delta if offset[0] == "+" else moment + delta).replace(tzinfo=UTC)
        return moment.replace(tzinfo=zone).astimezone(UTC)
    except (ValueError, TypeError):
        raise Hl7Problem(DATA_TYPE_ERROR, f"{_name(where)} ({what}) is not a date and time", where) from None


def _name(where: Location) -> str:
    name = where.segment
    if where.field is not None:
        name += f"-{where.field}"
        if where.component is not None:
            name += f".{where.component}"
    return name
