"""The X12 envelope: ISA/IEA interchanges, GS/GE functional groups and ST/SE transaction sets.

Reading: the ISA segment is fixed-width (106 characters), and it alone tells the delimiters: the element
separator is its 4th character, the repetition separator ISA11, the component separator ISA16 and the segment
terminator the character right after ISA16. Line breaks after terminators are tolerated; several interchanges,
groups and transaction sets may share one file. Every problem names the 1-based segment position in the file.

Parsing is one pass of ``str.split`` (no regular expression per element) because payers send 835s with tens of
thousands of claims; a transaction set keeps its raw segment strings and splits them into elements lazily.
Text may also arrive in chunks (:func:`stream_transactions`): each set's segments are then handed out as they are
read, so a payer's 50 MB 835 is never held whole.

Writing: a codec builds the body of a transaction set as tuples of elements (a composite element is a tuple
of components) and :func:`write_interchange` wraps them with ST/SE, GS/GE and ISA/IEA and the right counts.

The rooms: :mod:`.model` (the error, delimiters, the parsed envelope, element values), :mod:`.segments` (the ISA's
delimiters, splitting chunks of text into segments), :mod:`.reader` and :mod:`.writer`. Import from here,
``domain.x12.envelope``: it is the public path.
"""

from domain.x12.envelope.model import (
    ISA_LENGTH,
    Delimiters,
    EnvelopeReport,
    FunctionalGroup,
    Interchange,
    TransactionSet,
    X12Error,
    X12Problem,
    amount,
    cents,
    d8,
    get,
    x12_date,
)
from domain.x12.envelope.reader import (
    EnvelopeEvent,
    SetClosed,
    SetSegments,
    envelope_events,
    read_envelope,
    stream_transactions,
)
from domain.x12.envelope.segments import SegmentSplitter, read_delimiters
from domain.x12.envelope.writer import (
    FUNCTIONAL_IDS,
    ControlNumbers,
    Element,
    Party,
    Segment,
    TransactionBody,
    render_segment,
    write_interchange,
)

__all__ = [
    "FUNCTIONAL_IDS",
    "ISA_LENGTH",
    "ControlNumbers",
    "Delimiters",
    "Element",
    "EnvelopeEvent",
    "EnvelopeReport",
    "FunctionalGroup",
    "Interchange",
    "Party",
    "Segment",
    "SegmentSplitter",
    "SetClosed",
    "SetSegments",
    "TransactionBody",
    "TransactionSet",
    "X12Error",
    "X12Problem",
    "amount",
    "cents",
    "d8",
    "envelope_events",
    "get",
    "read_delimiters",
    "read_envelope",
    "render_segment",
    "stream_transactions",
    "write_interchange",
    "x12_date",
]
