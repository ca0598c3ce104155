"""Writing the X12 envelope: a codec builds the body of a transaction set as tuples of elements (a composite element
is a tuple of components) and :func:`write_interchange` wraps them with ST/SE, GS/GE and ISA/IEA and the right counts.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time

from domain.x12.envelope.model import Delimiters, X12Error

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
