"""Splitting X12 text into segments as it arrives, a chunk at a time (a payer's 50 MB 835 is never one string).

Each interchange's ISA names its segment terminator; the text after the ISA is split on it. Line breaks are not
part of a segment: with a printable terminator every CR and LF is dropped (also inside a segment), with LF as the
terminator CRLF and CR count as LF, with CR as the terminator the text is taken as it is. A chunk may end
anywhere, even between the CR and LF of one line break.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator

from domain.x12.envelope.model import ISA_LENGTH, Delimiters, X12Error


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


def _as_is(text: str) -> str:
    return text


def _without_line_breaks(text: str) -> str:
    return text.replace("\r", "").replace("\n", "") if "\n" in text or "\r" in text else text


def _line_breaks_as_lf(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n") if "\r" in text else text


def _line_breaks_for(terminator: str) -> Callable[[str], str]:
    if terminator == "\n":
        return _line_breaks_as_lf
    if terminator == "\r":
        return _as_is
    return _without_line_breaks


class SegmentSplitter:
    """The segments of one file whose text comes in chunks; interchange by interchange, a batch at a time.

    ``open_interchange`` finds the next ISA and reads its delimiters; ``batches`` then yields lists of segments
    from that ISA on (the file's last batch is what follows its last terminator alone, maybe ``""``: a segment
    only if the file does not end with a terminator); ``give_back`` returns the segments a reader did not take
    (those after its IEA) before the next interchange."""

    def __init__(self, chunks: Iterable[str]) -> None:
        self._chunks = iter(chunks)
        self._text = ""  # read, line breaks handled, not yet split
        self._carriage_return = ""  # a CR that ended a chunk: its LF may start the next one
        self._ended = False
        self.exhausted = False  # the last batch (the text after the file's last terminator) has been handed out
        self._line_breaks: Callable[[str], str] = _as_is  # the file's first ISA is read as it is
        self.delimiters = Delimiters()

    def _pull(self) -> bool:
        """Read one more chunk into the text; False at the end of the file."""
        if self._ended:
            return False
        chunk = next(self._chunks, None)
        if chunk is None:
            self._ended = True
            self._text += self._line_breaks(self._carriage_return)
            self._carriage_return = ""
            return False
        if not isinstance(chunk, str):
            raise X12Error("file is not text")
        chunk = self._carriage_return + chunk
        self._carriage_return = ""
        if self._line_breaks is _line_breaks_as_lf and chunk.endswith("\r"):
            chunk, self._carriage_return = chunk[:-1], "\r"
        self._text += self._line_breaks(chunk)
        return True

    def _fill(self, length: int) -> None:
        while len(self._text) < length and self._pull():
            pass

    def open_interchange(self, position: int) -> Delimiters | None:
        """The delimiters of the next ISA (``position`` segments come before it); None when only white space (and,
        after an interchange, stray terminators) is left. Raises X12Error when what comes next is not an ISA."""
        first = position == 0
        start = self._skip_blank(first)
        if start is None:
            if first:
                raise X12Error("file is empty")
            return None
        self._text = self._text[start:]
        self._fill(ISA_LENGTH)
        if not first and not self._text.startswith("ISA"):
            sid = self._text[:3].split(self.delimiters.element)[0]
            raise X12Error("data after IEA that is not another interchange", position=position + 1, segment_id=sid)
        delimiters = self.delimiters = read_delimiters(self._text, 0, position + 1)
        self._line_breaks = _line_breaks_for(delimiters.segment)
        text, self._text = self._text + self._carriage_return, ""
        self._carriage_return = ""
        if self._line_breaks is _line_breaks_as_lf and text.endswith("\r") and not self._ended:
            text, self._carriage_return = text[:-1], "\r"
        self._text = self._line_breaks(text)
        return delimiters

    def _skip_blank(self, first: bool) -> int | None:
        """Where the next interchange starts in the text: past white space (a BOM at the start of the file; after
        an IEA, terminators too, so that stray ones at the end are not data). None at the end of the file."""
        terminator = "" if first else self.delimiters.segment
        start = 0
        while True:
            text = self._text
            length = len(text)
            while start < length and (text[start].isspace() or text[start] in ("\ufeff" if first else terminator)):
                start += 1
            if start < length:
                break
            if not self._pull():
                return None
        if not first:
            # Only white space is skipped before the next ISA: a stray terminator followed by data is an error.
            start = 0
            while text[start].isspace():
                start += 1
        return start

    def batches(self) -> Iterator[list[str]]:
        """The current interchange's segments from its ISA on, a batch per chunk read (a chunk without a terminator
        makes none); after the file's last chunk, the text after the last terminator as a batch of its own."""
        terminator = self.delimiters.segment
        while True:
            if terminator in self._text:
                segments = self._text.split(terminator)
                self._text = segments.pop()
                yield segments
            if not self._pull():
                if terminator in self._text:
                    continue
                tail, self._text = self._text, ""
                self.exhausted = True
                yield [tail]
                return

    def give_back(self, segments: list[str]) -> None:
        """The segments after an IEA, text again so the next interchange's ISA is read from it (those of the last
        batch end with the end of the file: no terminator follows the final one)."""
        if not segments:
            return
        terminator = self.delimiters.segment
        if self.exhausted:
            self.exhausted = False
            self._text = terminator.join(segments)
        else:
            self._text = terminator.join([*segments, self._text])
