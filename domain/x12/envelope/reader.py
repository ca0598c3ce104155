"""Reading the X12 envelope: ISA/IEA interchanges, GS/GE functional groups and ST/SE transaction sets.

The ISA segment is fixed-width (106 characters), and it alone tells the delimiters: the element separator is its
4th character, the repetition separator ISA11, the component separator ISA16 and the segment terminator the
character right after ISA16. Line breaks after terminators are tolerated; several interchanges, groups and
transaction sets may share one file. Every problem names the 1-based segment position in the file.

Parsing is one pass of ``str.split`` (no regular expression per element) because payers send 835s with tens of
thousands of claims; a transaction set keeps its raw segment strings and splits them into elements lazily.
"""

from __future__ import annotations

from collections.abc import Callable

from domain.x12.envelope.model import (
    ISA_LENGTH,
    Delimiters,
    EnvelopeReport,
    FunctionalGroup,
    Interchange,
    TransactionSet,
    X12Error,
    X12Problem,
)


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
