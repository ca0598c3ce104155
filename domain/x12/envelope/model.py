"""The X12 envelope's values: the error every codec raises, delimiters, the parsed envelope, element values.

Element values: amounts (``cents``/``amount``), dates (``x12_date``/``d8``) and ``get``, an element that may be
absent. Every problem names the 1-based segment position in the file.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date

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
