"""The X12 envelope: ISA/IEA interchanges, GS/GE functional groups and ST/SE transaction sets.

Reading: the ISA segment is fixed-width (106 characters), and it alone tells the delimiters: the element
separator is its 4th character, the repetition separator ISA11, the component separator ISA16 and the segment
terminator the character right after ISA16. Line breaks after terminators are tolerated; several interchanges,
groups and transaction sets may share one file. Every problem names the 1-based segment position in the file.

Parsing is one pass of ``str.split`` (no regular expression per element) because payers send 835s with tens of
thousands of claims; a transaction set keeps its raw segment strings and splits them into elements lazily.

Writing: a codec builds the body of a transaction set as tuples of elements (a composite element is a tuple
of components) and :func:`write_interchange` wraps them with ST/SE, GS/GE and ISA/IEA and the right counts.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time

from domain.errors import DomainError, InvalidAmount
from domain.money import parse_amount

ISA_LENGTH = 106


class X12Error(DomainError):
    """A file is not valid X12 (or not the transaction expected): names the segment position and the reason."""

    code = "x12_invalid"

    def __init__(
        self,
        reason: str,
        *,
        position: int | None = None,
        segment_id: str | None = None,
        element: int | None = None,
    ) -> None:
        self.reason = reason
        self.position = position
        self.segment_id = segment_id
        self.element = element
        super().__init__(_describe(reason, position, segment_id, element))


def _describe(reason: str, position: int | None, segment_id: str | None, element: int | None) -> str:
    where = []
    if position is not None:
        where.append(f"segment {position}")
    if segment_id:
        where.append(f"{segment_id}{element:02d}" if element is not None else segment_id)
    return f"{' '.join(where)}: {reason}" if where else reason


@dataclass(frozen=True)
class X12Problem:
    """One thing wrong with a file, as `edi validate` prints it."""

    reason: str
    position: int | None = None
    segment_id: str | None = None
    element: int | None = None
    severity: str = "error"  # error or warning

    def __str__(self) -> str:
        return _describe(self.reason, self.position, self.segment_id, self.element)

    @staticmethod
    def of(error: X12Error) -> X12Problem:
        return X12Problem(error.reason, error.position, error.segment_id, error.element)


@dataclass(frozen=True, slots=True)
class Delimiters:
    element: str = "*"
    repetition: str = "^"
    component: str = ":"
    segment: str = "~"


@dataclass(frozen=True, slots=True)
class TransactionSet:
    """ST..SE inclusive, as raw segment strings; ``first_position`` is the file position of ST."""

    set_id: str  # ST01: 835, 837, 270, 271, 276, 277, 999
    control_number: str  # ST02
    implementation: str  # ST03, e.g. 005010X221A1 (may be empty)
    raw: Sequence[str]
    first_position: int
    delimiters: Delimiters
    version: str = ""  # GS08 of the enclosing group

    def elements(self) -> Iterator[tuple[int, list[str]]]:
        """(file position, elements) for every segment, ST and SE included; element 0 is the segment id."""
        separator = self.delimiters.element
        position = self.first_position
        for text in self.raw:
            yield position, text.split(separator)
            position += 1

    @property
    def guide(self) -> str:
        """The implementation guide this set claims to follow (ST03, else the group's GS08)."""
        return self.implementation or self.version


@dataclass(frozen=True)
class FunctionalGroup:
    functional_id: str  # GS01: HP 835, HC 837, HS 270, HB 271, HR 276, HN 277, FA 999
    sender_code: str
    receiver_code: str
    date: str
    time: str
    control_number: str  # GS06
    version: str  # GS08
    transactions: tuple[TransactionSet, ...]
    position: int


@dataclass(frozen=True)
class Interchange:
    sender_qualifier: str
    sender_id: str
    receiver_qualifier: str
    receiver_id: str
    date: str  # YYMMDD
    time: str  # HHMM
    control_number: str  # ISA13
    usage: str  # ISA15: P production, T test
    acknowledgment_requested: str  # ISA14
    delimiters: Delimiters
    groups: tuple[FunctionalGroup, ...]
    position: int

    def transactions(self) -> Iterator[TransactionSet]:
        for group in self.groups:
            yield from group.transactions


@dataclass
class EnvelopeReport:
    interchanges: list[Interchange] = field(default_factory=list)
    problems: list[X12Problem] = field(default_factory=list)

    def transactions(self) -> Iterator[TransactionSet]:
        for interchange in self.interchanges:
            yield from interchange.transactions()


def read_delimiters(text: str, offset: int = 0, position: int = 1) -> Delimiters:
    """The delimiters of the ISA segment starting at ``offset`` (raises X12Error when the ISA is malformed)."""
    if text[offset : offset + 3] != "ISA":
        raise X12Error("file does not start with an ISA segment", position=position)
    if len(text) - offset < ISA_LENGTH:
        raise X12Error(f"ISA segment is truncated: {len(text) - offset} characters, 106 expected", position=position)
    element = text[offset + 3]
    if element.isalnum() or element.isspace():
        raise X12Error(f"ISA element separator {element!r} is not a delimiter", position=position, segment_id="ISA")
    isa = text[offset : offset + ISA_LENGTH]
    # ISA is fixed width: exactly 16 element separators, the 16th at index 103 (ISA16 is one character).
    separators = [i for i, c in enumerate(isa) if c == element]
    if len(separators) < 16 or separators[15] != 103:
        found = separators[15] + 2 if len(separators) >= 16 else len(isa)
        raise X12Error(
            f"ISA segment is not fixed width: ISA16 ends at character {found}, 106 expected",
            position=position,
            segment_id="ISA",
        )
    expected_widths = (2, 10, 2, 10, 2, 15, 2, 15, 6, 4, 1, 5, 9, 1, 1)
    for number, width in enumerate(expected_widths, start=1):
        start = separators[number - 1] + 1
        if separators[number] - start != width:
            raise X12Error(
                f"element is {separators[number] - start} characters, ISA requires {width}",
                position=position,
                segment_id="ISA",
                element=number,
            )
    component = isa[104]
    segment = isa[105]
    repetition = isa[82]
    if len({element, component, segment}) < 3 or component.isalnum() or segment.isalnum():
        raise X12Error("ISA delimiters are not distinct punctuation", position=position, segment_id="ISA", element=16)
    if repetition.isalnum() or repetition in (element, component, segment):
        repetition = ""  # 4010-style "U": no repetition separator in this file
    return Delimiters(element=element, repetition=repetition, component=component, segment=segment)


def _is_segment_id(sid: str) -> bool:
    return 2 <= len(sid) <= 3 and sid.isascii() and sid.isalnum() and sid[0].isalpha() and sid.upper() == sid


def read_envelope(text: str, *, strict: bool = True) -> EnvelopeReport:
    """Split a file into interchanges, groups and transaction sets.

    ``strict`` raises X12Error at the first problem; otherwise problems that leave the structure readable (counts,
    control numbers that do not match) are collected in the report and reading goes on.
    """
    report = EnvelopeReport()

    def problem(error: X12Error) -> None:
        if strict:
            raise error
        report.problems.append(X12Problem.of(error))

    if not isinstance(text, str):
        raise X12Error("file is not text")
    start = 0
    length = len(text)
    # A BOM or leading blank lines are common from Windows tools.
    while start < length and (text[start].isspace() or text[start] == "\ufeff"):
        start += 1
    if start >= length:
        raise X12Error("file is empty")
    position = 0  # segments before the current interchange
    while start < length:
        delimiters = read_delimiters(text, start, position + 1)
        terminator = delimiters.segment
        body = text[start:] if start else text
        if "\n" in body or "\r" in body:
            if terminator in "\r\n":
                body = body.replace("\r\n", "\n").replace("\r", "\n") if terminator == "\n" else body
            else:
                body = body.replace("\r", "").replace("\n", "")
        segments = body.split(terminator)
        interchange, consumed = _read_interchange(segments, delimiters, position, problem)
        report.interchanges.append(interchange)
        position += consumed
        rest = segments[consumed:]
        if not any(s.strip() for s in rest):
            break
        # Another interchange follows; its delimiters may differ, so read it again from its own ISA.
        text = terminator.join(rest)
        length = len(text)
        start = 0
        while start < length and text[start].isspace():
            start += 1
        if not text.startswith("ISA", start):
            sid = text[start:].split(delimiters.element)[0][:3]
            raise X12Error("data after IEA that is not another interchange", position=position + 1, segment_id=sid)
    return report


def _read_interchange(
    segments: list[str],
    delimiters: Delimiters,
    base: int,
    problem: Callable[[X12Error], None],
) -> tuple[Interchange, int]:
    """The interchange whose ISA is ``segments[0]``, and how many segments it takes (ISA to IEA)."""
    return _InterchangeReader(segments, delimiters, base, problem).read()


class _InterchangeReader:
    """Reading one ISA..IEA: the open group and transaction set, and what has been closed so far.

    ``problem`` is told what a lenient reader may go on after (counts, control numbers, stray segments);
    structural errors raise X12Error at once. Positions are 1-based in the file: ``base`` segments come before.
    """

    def __init__(
        self, segments: list[str], delimiters: Delimiters, base: int, problem: Callable[[X12Error], None]
    ) -> None:
        self.segments = segments
        self.delimiters = delimiters
        self.e = delimiters.element
        self.base = base
        self.problem = problem
        isa = segments[0].split(self.e)
        isa += [""] * (17 - len(isa))  # a terminator inside the ISA (reported as the next segment) shortens it
        self.isa = isa
        self.valid_ids: set[str] = {"ISA", "IEA", "GS", "GE", "ST", "SE"}
        self.envelope_ids = frozenset(self.valid_ids)
        self.body_ids: set[str] = set()  # ids already seen inside a set that are not envelope segments
        self.groups: list[FunctionalGroup] = []
        self.group_header: list[str] | None = None
        self.group_position = 0
        self.group_sets: list[TransactionSet] = []
        self.st_header: list[str] | None = None
        self.st_index = 0
        self.empty_in_set = 0

    def read(self) -> tuple[Interchange, int]:
        segments, e, body_ids = self.segments, self.e, self.body_ids
        index = 1
        count = len(segments)
        while index < count:
            if self.st_header is not None:
                # The hot path: skip through the body of a transaction set until something needs a look.
                while index < count:
                    raw = segments[index]
                    cut = raw.find(e)
                    if (raw[:cut] if cut > 0 else raw) not in body_ids:
                        break
                    index += 1
                if index >= count:
                    break
            raw = segments[index]
            if not raw:
                if index == count - 1:
                    break
                # Not strict (validation): note it and read on; the set's parser then meets it at the same position.
                self.problem(X12Error("empty segment", position=self.base + index + 1))
                self.empty_in_set += self.st_header is not None
                index += 1
                continue
            sid = self._segment_id(raw, index)
            if sid is None:
                index += 1
                continue
            here = self.base + index + 1
            if self.st_header is not None:
                self._in_set(self.st_header, sid, raw, index, here)
            elif sid == "IEA":
                return self._close_interchange(raw, here), index + 1
            else:
                self._between_sets(sid, raw, index, here)
            index += 1
        raise self._truncated(count)

    def _segment_id(self, raw: str, index: int) -> str | None:
        """The id of segment ``raw``; None (reported) when it is not a segment identifier at all."""
        cut = raw.find(self.e)
        sid = raw if cut == -1 else raw[:cut]
        if sid not in self.valid_ids:
            if not _is_segment_id(sid):
                shown = sid[:10].encode("ascii", "backslashreplace").decode()
                self.problem(X12Error(f"not a segment identifier: {shown!r}", position=self.base + index + 1))
                return None
            self.valid_ids.add(sid)
        if sid not in self.envelope_ids:
            self.body_ids.add(sid)
        return sid

    def _in_set(self, st_header: list[str], sid: str, raw: str, index: int, here: int) -> None:
        """An envelope segment met inside ST..SE: the SE closing it, or an error."""
        if sid == "SE":
            self._close_set(st_header, raw, index, here)
        elif sid in ("ST", "GE", "IEA", "GS", "ISA"):
            raise X12Error(
                f"{sid} before the SE closing transaction set {st_header[2]!r}", position=here, segment_id=sid
            )

    def _close_set(self, st_header: list[str], raw: str, index: int, here: int) -> None:
        se = raw.split(self.e)
        segment_count = index - self.st_index + 1 - self.empty_in_set  # an empty one was reported on its own
        if len(se) < 3 or se[1] != str(segment_count):
            self.problem(
                X12Error(
                    f"SE01 says {se[1] if len(se) > 1 else 'nothing'}, the set has {segment_count} segments",
                    position=here,
                    segment_id="SE",
                    element=1,
                )
            )
        if len(se) < 3 or se[2] != st_header[2]:
            self.problem(
                X12Error(f"SE02 does not match ST02 {st_header[2]!r}", position=here, segment_id="SE", element=2)
            )
        group_header = self.group_header
        self.group_sets.append(
            TransactionSet(
                set_id=st_header[1],
                control_number=st_header[2],
                implementation=st_header[3] if len(st_header) > 3 else "",
                raw=self.segments[self.st_index : index + 1],
                first_position=self.base + self.st_index + 1,
                delimiters=self.delimiters,
                version=group_header[8] if group_header and len(group_header) > 8 else "",
            )
        )
        self.st_header = None
        self.empty_in_set = 0

    def _between_sets(self, sid: str, raw: str, index: int, here: int) -> None:
        """A segment outside any ST..SE (IEA is the caller's): ST, GS or GE, else an error."""
        if sid == "ST":
            if self.group_header is None:
                raise X12Error("ST outside a functional group (no GS before it)", position=here, segment_id="ST")
            st_header = self.st_header = raw.split(self.e)
            if len(st_header) < 3 or not st_header[1] or not st_header[2]:
                raise X12Error("ST needs ST01 and ST02", position=here, segment_id="ST")
            self.st_index = index
        elif sid == "GS":
            if self.group_header is not None:
                raise X12Error("GS before the GE of the previous group", position=here, segment_id="GS")
            group_header = raw.split(self.e)
            self.group_header = group_header
            if len(group_header) < 9:
                raise X12Error("GS has fewer than 8 elements", position=here, segment_id="GS")
            self.group_position = here
            self.group_sets = []
        elif sid == "GE":
            self._close_group(raw, here)
        elif sid == "ISA":
            raise X12Error("ISA before the IEA closing the previous interchange", position=here, segment_id="ISA")
        else:
            where = "outside a transaction set (no ST before it)"
            raise X12Error(f"{sid} segment {where}", position=here, segment_id=sid)

    def _close_group(self, raw: str, here: int) -> None:
        group_header = self.group_header
        if group_header is None:
            raise X12Error("GE without a GS", position=here, segment_id="GE")
        ge = raw.split(self.e)
        group_sets = self.group_sets
        if len(ge) < 3 or ge[1] != str(len(group_sets)):
            self.problem(
                X12Error(
                    f"GE01 says {ge[1] if len(ge) > 1 else 'nothing'}, the group has {len(group_sets)} sets",
                    position=here,
                    segment_id="GE",
                    element=1,
                )
            )
        if len(ge) < 3 or ge[2] != group_header[6]:
            self.problem(
                X12Error(f"GE02 does not match GS06 {group_header[6]!r}", position=here, segment_id="GE", element=2)
            )
        self.groups.append(
            FunctionalGroup(
                functional_id=group_header[1],
                sender_code=group_header[2],
                receiver_code=group_header[3],
                date=group_header[4],
                time=group_header[5],
                control_number=group_header[6],
                version=group_header[8],
                transactions=tuple(group_sets),
                position=self.group_position,
            )
        )
        self.group_header = None

    def _close_interchange(self, raw: str, here: int) -> Interchange:
        if self.group_header is not None:
            raise X12Error("IEA before the GE closing the group", position=here, segment_id="IEA")
        iea = raw.split(self.e)
        isa, groups = self.isa, self.groups
        if len(iea) < 3 or iea[1] != str(len(groups)):
            self.problem(
                X12Error(
                    f"IEA01 says {iea[1] if len(iea) > 1 else 'nothing'}, the interchange has {len(groups)} groups",
                    position=here,
                    segment_id="IEA",
                    element=1,
                )
            )
        if len(iea) < 3 or iea[2] != isa[13]:
            self.problem(
                X12Error(f"IEA02 does not match ISA13 {isa[13]!r}", position=here, segment_id="IEA", element=2)
            )
        return Interchange(
            sender_qualifier=isa[5],
            sender_id=isa[6].strip(),
            receiver_qualifier=isa[7],
            receiver_id=isa[8].strip(),
            date=isa[9],
            time=isa[10],
            control_number=isa[13],
            usage=isa[15],
            acknowledgment_requested=isa[14],
            delimiters=self.delimiters,
            groups=tuple(groups),
            position=self.base + 1,
        )

    def _truncated(self, count: int) -> X12Error:
        """Why the segments ran out before IEA: inside a set, inside a group, or just before IEA."""
        if self.st_header is not None:
            return X12Error(
                f"file ends inside transaction set {self.st_header[2]!r}: SE missing", position=self.base + count
            )
        if self.group_header is not None:
            return X12Error("file ends inside a functional group: GE missing", position=self.base + count)
        return X12Error("file ends before IEA: the interchange is truncated", position=self.base + count)


# --- writing --------------------------------------------------------------------------------------------

# A composite element is a tuple of components; a repeated element is a list of its repetitions.
Element = str | tuple[str, ...] | list[str]
Segment = tuple[Element, ...]  # element 0 is the segment id

FUNCTIONAL_IDS = {"835": "HP", "837": "HC", "270": "HS", "271": "HB", "276": "HR", "277": "HN", "999": "FA"}


@dataclass(frozen=True)
class TransactionBody:
    """What a codec produces: the segments between ST and SE."""

    set_id: str
    implementation: str  # ST03 and GS08, e.g. 005010X222A1
    segments: Sequence[Segment]


@dataclass(frozen=True)
class Party:
    """An interchange sender or receiver (ISA05/06 or ISA07/08) and its GS02/GS03 application code."""

    qualifier: str  # ZZ mutually defined, 30 federal tax id, 01 DUNS
    id: str
    application_code: str = ""

    @property
    def code(self) -> str:
        return self.application_code or self.id


@dataclass(frozen=True)
class ControlNumbers:
    interchange: int  # ISA13, 1..999999999
    group: int  # GS06
    first_transaction: int = 1  # ST02 of the first set; the next sets count up from it


def _clean(value: str, delimiters: Delimiters) -> str:
    # A delimiter inside data would break the file: replace it rather than emit something unreadable.
    for char in (delimiters.element, delimiters.component, delimiters.segment, delimiters.repetition):
        if char and char in value:
            value = value.replace(char, " ")
    return value


def render_segment(segment: Segment, delimiters: Delimiters = Delimiters()) -> str:
    parts: list[str] = []
    for element in segment:
        if isinstance(element, tuple):
            components = [_clean(c, delimiters) for c in element]
            while components and components[-1] == "":
                components.pop()
            parts.append(delimiters.component.join(components))
        elif isinstance(element, list):
            parts.append(delimiters.repetition.join(_clean(r, delimiters) for r in element if r))
        else:
            parts.append(_clean(element, delimiters))
    while len(parts) > 1 and parts[-1] == "":
        parts.pop()
    return delimiters.element.join(parts) + delimiters.segment


def _isa(
    sender: Party,
    receiver: Party,
    when: datetime,
    control: int,
    usage: str,
    delimiters: Delimiters,
    acknowledgment: str,
) -> str:
    fields = [
        "ISA",
        "00",
        " " * 10,
        "00",
        " " * 10,
        sender.qualifier.ljust(2)[:2],
        sender.id.ljust(15)[:15],
        receiver.qualifier.ljust(2)[:2],
        receiver.id.ljust(15)[:15],
        when.strftime("%y%m%d"),
        when.strftime("%H%M"),
        delimiters.repetition or "U",
        "00501",
        f"{control:09d}",
        acknowledgment,
        usage,
        delimiters.component,
    ]
    return delimiters.element.join(fields) + delimiters.segment


def write_interchange(
    bodies: Sequence[TransactionBody],
    *,
    sender: Party,
    receiver: Party,
    control: ControlNumbers,
    when: datetime | None = None,
    usage: str = "P",
    delimiters: Delimiters = Delimiters(),
    acknowledgment: str = "0",
    line_breaks: bool = False,
) -> str:
    """One interchange with one functional group per (functional id, version), counts and control numbers set."""
    if not bodies:
        raise X12Error("nothing to write: no transaction sets")
    if not 0 < control.interchange <= 999_999_999 or not 0 < control.group <= 999_999_999:
        raise X12Error("control numbers must be between 1 and 999999999")
    when = when or datetime.combine(date.today(), time(0, 0))
    newline = "\n" if line_breaks else ""
    out: list[str] = [_isa(sender, receiver, when, control.interchange, usage, delimiters, acknowledgment)]
    # Group consecutive sets that share a functional id and version.
    batches: list[list[TransactionBody]] = []
    for body in bodies:
        if batches and (batches[-1][0].set_id, batches[-1][0].implementation) == (body.set_id, body.implementation):
            batches[-1].append(body)
        else:
            batches.append([body])
    st_number = control.first_transaction
    for offset, batch in enumerate(batches):
        group_number = control.group + offset
        first = batch[0]
        out.append(
            render_segment(
                (
                    "GS",
                    FUNCTIONAL_IDS.get(first.set_id, "HC"),
                    sender.code,
                    receiver.code,
                    when.strftime("%Y%m%d"),
                    when.strftime("%H%M"),
                    str(group_number),
                    "X",
                    first.implementation,
                ),
                delimiters,
            )
        )
        for body in batch:
            st_control = f"{st_number:04d}"
            # 835 (X221A1) marks ST03 "not used"; every other 5010 guide we write requires it.
            st03 = "" if body.set_id == "835" else body.implementation
            out.append(render_segment(("ST", body.set_id, st_control, st03), delimiters))
            out.extend(render_segment(s, delimiters) for s in body.segments)
            out.append(render_segment(("SE", str(len(body.segments) + 2), st_control), delimiters))
            st_number += 1
        out.append(render_segment(("GE", str(len(batch)), str(group_number)), delimiters))
    out.append(render_segment(("IEA", str(len(batches)), f"{control.interchange:09d}"), delimiters))
    return newline.join(out) + newline


# --- element helpers shared by the codecs ---------------------------------------------------------------


def cents(text: str, position: int, segment_id: str, element: int) -> int:
    """An X12 decimal (R type: ``12``, ``12.5``, ``-0.05``, ``.5``) as integer cents; anything else raises X12Error.

    The rule is :func:`domain.money.parse_amount`'s (ASCII digits, no fractions of a cent, a bounded length)."""
    try:
        return parse_amount(text, allow_negative=True)
    except InvalidAmount as exc:
        raise X12Error(exc.message, position=position, segment_id=segment_id, element=element) from None


def amount(cents_value: int) -> str:
    """Cents as an X12 decimal: whole dollars without a fraction, otherwise the needed places (X12 R type)."""
    sign = "-" if cents_value < 0 else ""
    whole, fraction = divmod(abs(cents_value), 100)
    if fraction == 0:
        return f"{sign}{whole}"
    if fraction % 10 == 0:
        return f"{sign}{whole}.{fraction // 10}"
    return f"{sign}{whole}.{fraction:02d}"


def x12_date(text: str, position: int, segment_id: str, element: int) -> date:
    try:
        if len(text) == 8:
            return date(int(text[:4]), int(text[4:6]), int(text[6:8]))
        if len(text) == 6:
            return date(2000 + int(text[:2]), int(text[2:4]), int(text[4:6]))
    except ValueError:
        pass
    raise X12Error(f"not a date (CCYYMMDD): {text[:12]!r}", position=position, segment_id=segment_id, element=element)


def d8(day: date) -> str:
    return day.strftime("%Y%m%d")


def get(elements: list[str], index: int) -> str:
    return elements[index] if index < len(elements) else ""
