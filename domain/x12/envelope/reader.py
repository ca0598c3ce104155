"""Reading the X12 envelope: ISA/IEA interchanges, GS/GE functional groups and ST/SE transaction sets.

The ISA segment is fixed-width (106 characters), and it alone tells the delimiters: the element separator is its
4th character, the repetition separator ISA11, the component separator ISA16 and the segment terminator the
character right after ISA16. Line breaks after terminators are tolerated; several interchanges, groups and
transaction sets may share one file. Every problem names the 1-based segment position in the file.

Parsing is one pass of ``str.split`` (no regular expression per element) because payers send 835s with tens of
thousands of claims; a transaction set keeps its raw segment strings and splits them into elements lazily.

One reader, two ways to use it. :func:`stream_transactions` reads text that arrives in chunks (a payer's 50 MB
835 read from its file a megabyte at a time) and hands out each transaction set's segments as they are read, so
a codec can turn them into values as they come and nothing holds the whole file. :func:`read_envelope` is the
same reader over a text held whole, keeping every set's segments in the :class:`EnvelopeReport`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

from domain.x12.envelope.model import (
    Delimiters,
    EnvelopeReport,
    FunctionalGroup,
    Interchange,
    TransactionSet,
    X12Error,
    X12Problem,
)
from domain.x12.envelope.segments import SegmentSplitter

Problem = Callable[[X12Error], None]


def _raise(error: X12Error) -> None:
    raise error


def _is_segment_id(sid: str) -> bool:
    return 2 <= len(sid) <= 3 and sid.isascii() and sid.isalnum() and sid[0].isalpha() and sid.upper() == sid


@dataclass(frozen=True, slots=True)
class SetClosed:
    """The SE of the transaction set last opened has been read (its counts checked)."""


_CLOSED = SetClosed()

# What the reader tells as it reads: a transaction set opened (its ST: a TransactionSet without segments), a run
# of that set's raw segments (ST first, SE last), the set closed, a group closed (GE), an interchange closed (IEA).
# A closed group or interchange comes without its sets or groups: whoever keeps them puts them together.
EnvelopeEvent = TransactionSet | list[str] | SetClosed | FunctionalGroup | Interchange


def envelope_events(chunks: Iterable[str], problem: Problem = _raise) -> Iterator[EnvelopeEvent]:
    """Read X12 text arriving in ``chunks``, interchange after interchange, telling what is read as it is read.

    ``problem`` is told what a lenient reader may go on after (counts, control numbers, stray segments); it raises
    by default. Structural errors raise X12Error at once."""
    splitter = SegmentSplitter(chunks)
    position = 0  # segments before the current interchange
    while (delimiters := splitter.open_interchange(position)) is not None:
        reader = _InterchangeReader(delimiters, position, problem)
        yield from reader.read(splitter)
        position += reader.consumed
        splitter.give_back(reader.rest)


class SetSegments:
    """One transaction set's raw segments (ST..SE) as the reader hands them out, a run at a time; iterating it
    reads on through the file. Whatever the consumer leaves is skipped when the next set is asked for."""

    def __init__(self, events: Iterator[EnvelopeEvent]) -> None:
        self._events = events
        self.closed = False

    def __iter__(self) -> Iterator[list[str]]:
        for event in self._events:
            if isinstance(event, list):
                yield event
            else:  # SetClosed: the reader only tells of a group or an interchange between sets
                self.closed = True
                return

    def skip(self) -> None:
        for _ in self:
            pass


def stream_transactions(
    chunks: Iterable[str], problem: Problem = _raise
) -> Iterator[tuple[TransactionSet, SetSegments]]:
    """Every transaction set of X12 text arriving in ``chunks``: its header (a TransactionSet without segments) and
    its segments, read as they are iterated. Envelope problems are told to ``problem`` (raised by default)."""
    events = envelope_events(chunks, problem)
    for event in events:
        if isinstance(event, TransactionSet):
            segments = SetSegments(events)
            yield event, segments
            if not segments.closed:
                segments.skip()


def read_envelope(text: str, *, strict: bool = True) -> EnvelopeReport:
    """Split a file held whole into interchanges, groups and transaction sets (each with its raw segments).

    ``strict`` raises X12Error at the first problem; otherwise problems that leave the structure readable (counts,
    control numbers that do not match) are collected in the report and reading goes on.
    """
    if not isinstance(text, str):
        raise X12Error("file is not text")
    report = EnvelopeReport()
    problem = _raise if strict else lambda error: report.problems.append(X12Problem.of(error))
    header: TransactionSet | None = None
    raw: list[str] = []
    sets: list[TransactionSet] = []
    groups: list[FunctionalGroup] = []
    for event in envelope_events((text,), problem):
        if isinstance(event, list):
            raw = event if not raw else raw + event
        elif isinstance(event, TransactionSet):
            header, raw = event, []
        elif isinstance(event, SetClosed):
            assert header is not None
            sets.append(dataclasses.replace(header, raw=raw))
        elif isinstance(event, FunctionalGroup):
            groups.append(dataclasses.replace(event, transactions=tuple(sets)))
            sets = []
        else:
            report.interchanges.append(dataclasses.replace(event, groups=tuple(groups)))
            groups = []
    return report


class _InterchangeReader:
    """Reading one ISA..IEA as its segments arrive in batches: the open group and transaction set, what has been
    closed so far, and (once IEA is read) how many segments the interchange took and what came after it.

    ``problem`` is told what a lenient reader may go on after (counts, control numbers, stray segments);
    structural errors raise X12Error at once. Positions are 1-based in the file: ``base`` segments come before.
    An index is a segment's place in the interchange (0 is the ISA).
    """

    def __init__(self, delimiters: Delimiters, base: int, problem: Problem) -> None:
        self.delimiters = delimiters
        self.e = delimiters.element
        self.base = base
        self.problem = problem
        self.isa: list[str] = []
        self.valid_ids: set[str] = {"ISA", "IEA", "GS", "GE", "ST", "SE"}
        self.envelope_ids = frozenset(self.valid_ids)
        self.body_ids: set[str] = set()  # ids already seen inside a set that are not envelope segments
        self.groups = 0
        self.group_header: list[str] | None = None
        self.group_position = 0
        self.group_sets = 0
        self.st_header: list[str] | None = None
        self.st_index = 0
        self.empty_in_set = 0
        self.consumed = 0  # segments from ISA to IEA, once IEA is read
        self.rest: list[str] = []  # what followed IEA in its batch

    def read(self, splitter: SegmentSplitter) -> Iterator[EnvelopeEvent]:
        offset = 0  # segments of this interchange in earlier batches
        for batch in splitter.batches():
            last = splitter.exhausted
            # The file ended inside a set (its last batch is what follows the last terminator, so GE and IEA cannot
            # both follow): nothing more of the set is handed out, so that the truncation is what a reader is told.
            truncated = last and self.st_header is not None
            count = len(batch)
            index = 0
            if not offset:
                self._take_isa(batch[0])
                index = 1
            body_start = 0  # where the open set's segments start in this batch
            while index < count:
                if self.st_header is not None:
                    index = self._skip_body(batch, index)
                    if index >= count:
                        break
                raw = batch[index]
                here = self.base + offset + index + 1
                if not raw:
                    if last and index == count - 1:
                        break
                    # Not strict (validation): note it and read on; the set's parser then meets it at the same position.
                    self.problem(X12Error("empty segment", position=here))
                    self.empty_in_set += self.st_header is not None
                    index += 1
                    continue
                sid = self._segment_id(raw, here)
                if sid is None:
                    index += 1
                    continue
                st_header = self.st_header
                if st_header is not None:
                    if sid == "SE":
                        if not truncated:
                            yield batch[body_start : index + 1]
                        self._close_set(st_header, raw, offset + index, here)
                        if not truncated:
                            yield _CLOSED
                    elif sid in ("ST", "GE", "IEA", "GS", "ISA"):
                        reason = f"{sid} before the SE closing transaction set {st_header[2]!r}"
                        raise X12Error(reason, position=here, segment_id=sid)
                elif sid == "IEA":
                    yield self._close_interchange(raw, here)
                    self.consumed = offset + index + 1
                    self.rest = batch[index + 1 :]
                    return
                elif sid == "GE":
                    yield self._close_group(raw, here)
                else:
                    self._between_sets(sid, raw, offset + index, here)
                    if sid == "ST":
                        body_start = index
                        yield self._set_header(here)
                index += 1
            if self.st_header is not None and body_start < count and not truncated:
                yield batch[body_start:]
            offset += count
        raise self._truncated(offset)

    def _take_isa(self, raw: str) -> None:
        isa = raw.split(self.e)
        isa += [""] * (17 - len(isa))  # a terminator inside the ISA (reported as the next segment) shortens it
        self.isa = isa

    def _skip_body(self, batch: list[str], index: int) -> int:
        """The hot path: the index of the open set's next segment from ``index`` that needs a look (an envelope
        segment or an id not seen yet), or the batch's length."""
        e, body_ids, count = self.e, self.body_ids, len(batch)
        while index < count:
            raw = batch[index]
            cut = raw.find(e)
            if (raw[:cut] if cut > 0 else raw) not in body_ids:
                return index
            index += 1
        return index

    def _segment_id(self, raw: str, here: int) -> str | None:
        """The id of segment ``raw``; None (reported) when it is not a segment identifier at all."""
        cut = raw.find(self.e)
        sid = raw if cut == -1 else raw[:cut]
        if sid not in self.valid_ids:
            if not _is_segment_id(sid):
                shown = sid[:10].encode("ascii", "backslashreplace").decode()
                self.problem(X12Error(f"not a segment identifier: {shown!r}", position=here))
                return None
            self.valid_ids.add(sid)
        if sid not in self.envelope_ids:
            self.body_ids.add(sid)
        return sid

    def _set_header(self, here: int) -> TransactionSet:
        """The set whose ST was just read, without its segments (they follow)."""
        st_header, group_header = self.st_header, self.group_header
        assert st_header is not None
        return TransactionSet(
            set_id=st_header[1],
            control_number=st_header[2],
            implementation=st_header[3] if len(st_header) > 3 else "",
            raw=(),
            first_position=here,
            delimiters=self.delimiters,
            version=group_header[8] if group_header and len(group_header) > 8 else "",
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
        self.group_sets += 1
        self.st_header = None
        self.empty_in_set = 0

    def _between_sets(self, sid: str, raw: str, index: int, here: int) -> None:
        """A segment outside any ST..SE (IEA and GE are the caller's): ST or GS, else an error."""
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
            self.group_sets = 0
        elif sid == "ISA":
            raise X12Error("ISA before the IEA closing the previous interchange", position=here, segment_id="ISA")
        else:
            where = "outside a transaction set (no ST before it)"
            raise X12Error(f"{sid} segment {where}", position=here, segment_id=sid)

    def _close_group(self, raw: str, here: int) -> FunctionalGroup:
        """The group GE closes, without its sets."""
        group_header = self.group_header
        if group_header is None:
            raise X12Error("GE without a GS", position=here, segment_id="GE")
        ge = raw.split(self.e)
        group_sets = self.group_sets
        if len(ge) < 3 or ge[1] != str(group_sets):
            self.problem(
                X12Error(
                    f"GE01 says {ge[1] if len(ge) > 1 else 'nothing'}, the group has {group_sets} sets",
                    position=here,
                    segment_id="GE",
                    element=1,
                )
            )
        if len(ge) < 3 or ge[2] != group_header[6]:
            self.problem(
                X12Error(f"GE02 does not match GS06 {group_header[6]!r}", position=here, segment_id="GE", element=2)
            )
        self.groups += 1
        self.group_header = None
        return FunctionalGroup(
            functional_id=group_header[1],
            sender_code=group_header[2],
            receiver_code=group_header[3],
            date=group_header[4],
            time=group_header[5],
            control_number=group_header[6],
            version=group_header[8],
            transactions=(),
            position=self.group_position,
        )

    def _close_interchange(self, raw: str, here: int) -> Interchange:
        """The interchange IEA closes, without its groups."""
        if self.group_header is not None:
            raise X12Error("IEA before the GE closing the group", position=here, segment_id="IEA")
        iea = raw.split(self.e)
        isa, groups = self.isa, self.groups
        if len(iea) < 3 or iea[1] != str(groups):
            self.problem(
                X12Error(
                    f"IEA01 says {iea[1] if len(iea) > 1 else 'nothing'}, the interchange has {groups} groups",
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
            groups=(),
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
