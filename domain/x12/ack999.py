"""999 Implementation Acknowledgment (005010X231A1): did the receiver accept each transaction set of a group?

A 999 answers one functional group (AK1 names its GS06) with one AK2/IK5 per transaction set and AK9 for the
group. Codes: IK5/AK9 A accepted, E accepted with errors, R rejected (P partially accepted for AK9).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from domain.x12.envelope import (
    ControlNumbers,
    Delimiters,
    Party,
    Segment,
    TransactionBody,
    TransactionSet,
    X12Error,
    get,
    read_envelope,
    write_interchange,
)

IMPLEMENTATION = "005010X231A1"
ACK_CODES = frozenset({"A", "E", "M", "P", "R", "W", "X"})


@dataclass(frozen=True)
class ElementError:
    position: int  # IK401-1: element position in the segment
    code: str  # IK403: 1 mandatory missing, 7 invalid code value, 8 invalid date, ...
    data_element: str = ""  # IK402: data element reference number
    component: int | None = None  # IK401-2
    bad_value: str = ""  # IK404


@dataclass(frozen=True)
class SegmentError:
    segment_id: str  # IK301
    position: int  # IK302: position in the transaction set, ST = 1
    code: str  # IK304: 1 unrecognized segment, 3 mandatory missing, 8 has data element errors, ...
    loop_id: str = ""  # IK303
    elements: tuple[ElementError, ...] = ()


@dataclass(frozen=True)
class TransactionAck:
    set_id: str  # AK201
    control_number: str  # AK202: the ST02 acknowledged
    status: str  # IK501: A, E, R
    implementation: str = ""  # AK203
    errors: tuple[SegmentError, ...] = ()
    codes: tuple[str, ...] = ()  # IK502-IK506: 5 segment count wrong, I5 implementation one or more segments, ...

    @property
    def accepted(self) -> bool:
        return self.status in ("A", "E")


@dataclass(frozen=True)
class Acknowledgment999:
    functional_id: str  # AK101: HC for 837
    group_control_number: str  # AK102: the GS06 acknowledged
    version: str  # AK103
    transactions: tuple[TransactionAck, ...]
    group_status: str  # AK901: A, E, P, R
    sets_included: int  # AK902
    sets_received: int  # AK903
    sets_accepted: int  # AK904
    control_number: str = ""  # ST02 of the 999 itself, when parsed
    group_codes: tuple[str, ...] = ()  # AK905-AK909

    @staticmethod
    def for_transactions(
        functional_id: str, group_control_number: str, version: str, transactions: Sequence[TransactionAck]
    ) -> Acknowledgment999:
        """Build the AK9 counts and status from the sets' own statuses."""
        accepted = sum(1 for t in transactions if t.accepted)
        if accepted == len(transactions):
            status = "E" if any(t.status == "E" for t in transactions) else "A"
        else:
            status = "P" if accepted else "R"
        return Acknowledgment999(
            functional_id,
            group_control_number,
            version,
            tuple(transactions),
            status,
            len(transactions),
            len(transactions),
            accepted,
        )


def ack_body(ack: Acknowledgment999) -> TransactionBody:
    segments: list[Segment] = [("AK1", ack.functional_id, ack.group_control_number, ack.version)]
    for transaction in ack.transactions:
        segments.append(("AK2", transaction.set_id, transaction.control_number, transaction.implementation))
        for error in transaction.errors:
            segments.append(("IK3", error.segment_id, str(error.position), error.loop_id, error.code))
            for element in error.elements:
                where: str | tuple[str, ...] = (
                    (str(element.position), str(element.component))
                    if element.component is not None
                    else str(element.position)
                )
                segments.append(("IK4", where, element.data_element, element.code, element.bad_value))
        segments.append(("IK5", transaction.status, *transaction.codes[:5]))
    segments.append(
        (
            "AK9",
            ack.group_status,
            str(ack.sets_included),
            str(ack.sets_received),
            str(ack.sets_accepted),
            *ack.group_codes[:5],
        )
    )
    return TransactionBody("999", IMPLEMENTATION, segments)


def write_999(
    acks: Sequence[Acknowledgment999],
    *,
    sender: Party,
    receiver: Party,
    control: ControlNumbers,
    when: datetime | None = None,
    usage: str = "P",
    delimiters: Delimiters = Delimiters(),
    line_breaks: bool = False,
) -> str:
    return write_interchange(
        [ack_body(a) for a in acks],
        sender=sender,
        receiver=receiver,
        control=control,
        when=when,
        usage=usage,
        delimiters=delimiters,
        line_breaks=line_breaks,
    )


def parse_999(text: str) -> list[Acknowledgment999]:
    transactions = list(read_envelope(text).transactions())
    found = [t for t in transactions if t.set_id == "999"]
    if not found:
        kinds = ", ".join(sorted({t.set_id for t in transactions})) or "none"
        raise X12Error(f"no 999 transaction set in the file (found: {kinds})")
    return [parse_999_set(t) for t in found]


def parse_999_set(transaction: TransactionSet) -> Acknowledgment999:
    reader = _Reader(transaction.delimiters.component, transaction.control_number)
    for position, el in transaction.elements():
        handler = _HANDLERS.get(el[0])
        if handler is not None:
            handler(reader, position, el)
        elif el[0] not in ("ST", "SE", "CTX"):
            raise X12Error(f"segment {el[0]} does not belong in a 999", position=position, segment_id=el[0])
    if reader.result is None:
        raise X12Error("999 without AK9", position=transaction.first_position, segment_id="ST")
    return reader.result


@dataclass
class _Reader:
    """The parser state of one 999: the group's AK1, the sets acknowledged so far, the open AK2 loop and
    its segment errors, and the group's answer once AK9 is read."""

    component: str
    control_number: str
    group: list[str] | None = None  # AK1
    acks: list[TransactionAck] = field(default_factory=list)
    open_set: list[str] | None = None  # the open AK2 loop's AK2, None outside a loop
    errors: list[SegmentError] = field(default_factory=list)
    result: Acknowledgment999 | None = None

    def ak1(self, position: int, el: list[str]) -> None:
        self.group = el

    def ak2(self, position: int, el: list[str]) -> None:
        self.open_set = el
        self.errors = []

    def ik3(self, position: int, el: list[str]) -> None:
        if self.open_set is None:
            raise X12Error("IK3 outside an AK2 loop", position=position, segment_id="IK3")
        if not get(el, 2).isdigit():
            raise X12Error("IK302 is not a position", position=position, segment_id="IK3", element=2)
        self.errors.append(SegmentError(get(el, 1), int(get(el, 2)), get(el, 4), get(el, 3)))

    def ik4(self, position: int, el: list[str]) -> None:
        if not self.errors:
            raise X12Error("IK4 without an IK3", position=position, segment_id="IK4")
        where = get(el, 1).split(self.component)
        if not where[0].isdigit():
            raise X12Error("IK401 is not a position", position=position, segment_id="IK4", element=1)
        element = ElementError(
            int(where[0]),
            get(el, 3),
            get(el, 2),
            int(where[1]) if len(where) > 1 and where[1].isdigit() else None,
            get(el, 4),
        )
        last = self.errors[-1]
        self.errors[-1] = SegmentError(
            last.segment_id, last.position, last.code, last.loop_id, (*last.elements, element)
        )

    def ik5(self, position: int, el: list[str]) -> None:
        ak2 = self.open_set
        if ak2 is None:
            raise X12Error("IK5 outside an AK2 loop", position=position, segment_id="IK5")
        if get(el, 1) not in ACK_CODES:
            raise X12Error(f"unknown IK501 {get(el, 1)[:3]!r}", position=position, segment_id="IK5", element=1)
        self.acks.append(
            TransactionAck(
                get(ak2, 1), get(ak2, 2), get(el, 1), get(ak2, 3), tuple(self.errors), tuple(c for c in el[2:] if c)
            )
        )
        self.open_set = None

    def ak9(self, position: int, el: list[str]) -> None:
        ak1 = self.group
        if ak1 is None:
            raise X12Error("AK9 without AK1", position=position, segment_id="AK9")
        counts = [get(el, i) for i in (2, 3, 4)]
        if not all(c.isdigit() for c in counts):
            raise X12Error("AK902-AK904 must be counts", position=position, segment_id="AK9")
        self.result = Acknowledgment999(
            get(ak1, 1),
            get(ak1, 2),
            get(ak1, 3),
            tuple(self.acks),
            get(el, 1),
            int(counts[0]),
            int(counts[1]),
            int(counts[2]),
            self.control_number,
            tuple(c for c in el[5:] if c),
        )


_HANDLERS: dict[str, Callable[[_Reader, int, list[str]], None]] = {
    "AK1": _Reader.ak1,
    "AK2": _Reader.ak2,
    "IK3": _Reader.ik3,
    "IK4": _Reader.ik4,
    "IK5": _Reader.ik5,
    "AK9": _Reader.ak9,
}
