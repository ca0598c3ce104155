"""Any X12 file we know: detect each transaction set's kind, parse it, turn it into JSON, validate it.

Kinds: 835, 837P, 270, 271, 276, 277 (claim status, X212), 277CA (X214), 999. Used by `carecycle edi parse`
and `carecycle edi validate`; the codecs themselves live in their own modules.

Both read a file as it arrives in chunks (:func:`stream_document`, :func:`validate_stream`): an 835's claims are
read, written out or checked one at a time, so a payer's 50 MB 835 is never held whole; :func:`parse_document`
and :func:`validate_document` are the same over a text held whole.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from domain.money import format_cents
from domain.remittance import Remittance
from domain.x12.ack277ca import ClaimAcknowledgment, parse_277ca_set
from domain.x12.ack999 import Acknowledgment999, parse_999_set
from domain.x12.claim837 import ProfessionalClaim, parse_837p_set, units_text
from domain.x12.eligibility import parse_270_set, parse_271_set
from domain.x12.envelope import (
    SetSegments,
    TransactionSet,
    X12Error,
    X12Problem,
    envelope_events,
    read_envelope,
    stream_transactions,
)
from domain.x12.remit835 import RemittanceReader, parse_835_set
from domain.x12.status276 import parse_276_set, parse_277_set
from domain.x12.to_json import remittance_set_to_json, streamed_remittance_set_to_json


def kind_of(transaction: TransactionSet) -> str:
    set_id, guide = transaction.set_id, transaction.guide
    if set_id == "837":
        if "X222" in guide or not guide:
            return "837P"
        raise X12Error(
            f"837 {guide} is not supported (only 837P 005010X222A1)",
            position=transaction.first_position,
            segment_id="ST",
        )
    if set_id == "277":
        return "277CA" if "X214" in guide else "277"
    if set_id in ("835", "270", "271", "276", "999"):
        return set_id
    raise X12Error(f"transaction set {set_id[:6]!r} is not supported", position=transaction.first_position)


@dataclass(frozen=True)
class ParsedSet:
    kind: str
    control_number: str
    values: tuple[Any, ...]  # Remittance, ProfessionalClaim, EligibilityInquiry, ... (one or more per set)


def _one(value: Any) -> list[Any]:
    return [value]


PARSERS: dict[str, Callable[[TransactionSet], Sequence[Any]]] = {
    "835": lambda t: _one(parse_835_set(t)),
    "837P": parse_837p_set,
    "270": parse_270_set,
    "271": parse_271_set,
    "276": parse_276_set,
    "277": parse_277_set,
    "277CA": lambda t: _one(parse_277ca_set(t)),
    "999": lambda t: _one(parse_999_set(t)),
}


def parse_document(text: str) -> list[ParsedSet]:
    """Every transaction set in the file, parsed by its own codec (strict: the first problem raises X12Error)."""
    parsed: list[ParsedSet] = []
    for transaction in read_envelope(text).transactions():
        kind = kind_of(transaction)
        parsed.append(ParsedSet(kind, transaction.control_number, tuple(PARSERS[kind](transaction))))
    return parsed


def stream_document(open_chunks: Callable[[], Iterable[str]]) -> Iterator[dict[str, Any]]:
    """The entries of ``parsed_to_json(...)["transaction_sets"]`` for X12 text that ``open_chunks()`` hands out in
    chunks, made set by set as they are asked for: an 835's claims are read as its entry is written
    (``StreamedList``), its PLBs and balancing warnings once they are. Other sets are read whole, one at a time.

    The envelope is read through first (keeping nothing), so a file cut short or with wrong counts raises X12Error
    before any entry, as :func:`parse_document` does; a set its codec refuses raises part-way (what was written
    before it stands)."""
    for _ in envelope_events(open_chunks()):
        pass
    for transaction, segments in stream_transactions(open_chunks()):
        kind = kind_of(transaction)
        if kind == "835":
            reader = RemittanceReader(transaction, segments)
            claims = reader.claims()
            first = next(claims, None)  # the header is read once the first claim is (or the set, without claims)
            read = claims if first is None else _chain_first(first, claims)
            yield streamed_remittance_set_to_json(reader.header(), read, reader.remittance)
        else:
            whole = dataclasses.replace(transaction, raw=[s for run in segments for s in run])
            yield from parsed_to_json([ParsedSet(kind, transaction.control_number, tuple(PARSERS[kind](whole)))])[
                "transaction_sets"
            ]


def _chain_first(first: Any, rest: Iterator[Any]) -> Iterator[Any]:
    yield first
    yield from rest


MAX_PROBLEMS = 500  # a file worse than this is reported in part (the list says so)
_STAND_INS = ("0", "20000101", "1", "20000101-20000101", "X")  # neutral values tried in place of a bad element
KEPT_SEGMENTS = 100_000  # a set this long or shorter is kept as it is read, for the retries should it have problems


def validate_document(text: str) -> list[X12Problem]:
    """:func:`validate_stream` of a text held whole."""
    return validate_stream(lambda: (text,), kept_segments=None)


def validate_stream(
    open_chunks: Callable[[], Iterable[str]], *, kept_segments: int | None = KEPT_SEGMENTS
) -> list[X12Problem]:
    """Every problem found in one pass, in file order: envelope counts and control numbers, segments that are not
    X12, and within each transaction set every element its codec refuses, 835 balancing.

    A codec stops at its first problem; to go on, the bad element is replaced by a neutral stand-in (a segment
    that is not X12 at all is left out) and the set is read again, so one run lists them all. When a check of an
    earlier segment then fails (a claim total against a line amount that was stood in for), the set is not read
    further and a warning says so: that failure would be the stand-in's, not the file's.

    The file is read as ``open_chunks()`` hands it out. An 835 is checked as it is read, keeping only running
    totals; only a set with a problem is read again whole (from the segments kept while reading it, up to
    ``kept_segments``, else by reading the file again up to it)."""
    envelope: list[X12Problem] = []
    per_set: list[list[X12Problem]] = []
    found = 0  # set problems so far: once there are MAX_PROBLEMS, later sets would not be reported
    try:
        for transaction, segments in stream_transactions(open_chunks(), lambda e: envelope.append(X12Problem.of(e))):
            if found < MAX_PROBLEMS:
                kept = _KeptSegments(segments, kept_segments)
                per_set.append(_set_problems_as_read(transaction, kept, envelope, open_chunks))
                found += len(per_set[-1])
    except _EnvelopeFailed as failed:
        return [X12Problem.of(failed.error)]
    except X12Error as exc:
        return [X12Problem.of(exc)]
    problems = envelope
    for set_problems in per_set:
        problems += set_problems
        if len(problems) >= MAX_PROBLEMS:
            problems = problems[:MAX_PROBLEMS]
            problems.append(X12Problem(f"stopped after {MAX_PROBLEMS} problems", severity="warning"))
            break
    return sorted(problems, key=lambda p: p.position if p.position is not None else 1 << 62)


class _EnvelopeFailed(Exception):
    """The envelope failed while a codec was reading a set's segments: the file's error, not the codec's."""

    def __init__(self, error: X12Error) -> None:
        super().__init__(str(error))
        self.error = error


class _KeptSegments:
    """A set's segments as they are read, kept (up to ``limit``, when there is one) in case the set must be read
    again; an error of the envelope met on the way becomes :class:`_EnvelopeFailed`."""

    def __init__(self, segments: SetSegments, limit: int | None) -> None:
        self.runs = self._read(segments)
        self.limit = limit
        self.kept: list[str] | None = []

    def _read(self, segments: SetSegments) -> Iterator[list[str]]:
        try:
            for run in segments:
                kept = self.kept
                if kept is not None:
                    if self.limit is not None and len(kept) + len(run) > self.limit:
                        self.kept = None
                    else:
                        kept += run
                yield run
        except X12Error as exc:
            raise _EnvelopeFailed(exc) from None


def _set_problems_as_read(
    transaction: TransactionSet,
    segments: _KeptSegments,
    envelope: list[X12Problem],
    open_chunks: Callable[[], Iterable[str]],
) -> list[X12Problem]:
    """The problems of one set. An 835 is checked as it is read; if its codec stops at a problem, or the set is of
    another kind, the set (read to its SE, so the envelope's problems in it are known) is checked whole."""
    try:
        kind = kind_of(transaction)
    except X12Error as exc:
        return [X12Problem.of(exc)]
    if kind == "835":
        reader = RemittanceReader(transaction, segments.runs)
        try:
            for _ in reader.claims():
                pass
            return [X12Problem(f"balancing: {w}") for w in reader.remittance().warnings]
        except X12Error:
            pass  # the retries below find this problem again, and every other one in the set
    for _ in segments.runs:
        pass
    raw = segments.kept if segments.kept is not None else _read_again(open_chunks, transaction.first_position)
    lexical = {p.position for p in envelope if p.position is not None}
    return _set_problems(dataclasses.replace(transaction, raw=raw), lexical)


def _read_again(open_chunks: Callable[[], Iterable[str]], first_position: int) -> list[str]:
    """The segments of the set whose ST is at ``first_position``, read from the file again."""
    for transaction, segments in stream_transactions(open_chunks(), lambda _: None):
        if transaction.first_position == first_position:
            return [s for run in segments for s in run]
    raise AssertionError(f"no transaction set at segment {first_position} when read again")


def _set_problems(transaction: TransactionSet, lexical: set[int]) -> list[X12Problem]:
    try:
        kind = kind_of(transaction)
    except X12Error as exc:
        return [X12Problem.of(exc)]
    parse = PARSERS[kind]
    raw = list(transaction.raw)
    kept = list(range(len(raw)))  # the original index of each segment still in the set
    problems: list[X12Problem] = []
    last_stand_in = -1  # the original position of the latest stand-in
    for _ in range(MAX_PROBLEMS):
        error = _first_error(parse, transaction, raw, kept)
        if error is None:
            break
        if isinstance(error, list):  # read to the end: the values' own warnings
            problems += [X12Problem(f"balancing: {w}") for v in error if isinstance(v, Remittance) for w in v.warnings]
            break
        index = None if error.position is None else error.position - transaction.first_position
        if index is None or not 0 <= index < len(kept):
            problems.append(X12Problem.of(error))
            break
        position = transaction.first_position + kept[index]
        if position < last_stand_in:
            problems.append(
                X12Problem(
                    "not checked: a check of this segment depends on values in error further on "
                    f"(transaction set {transaction.control_number} was not read past them)",
                    position,
                    error.segment_id,
                    severity="warning",
                )
            )
            break
        if position not in lexical:
            problems.append(X12Problem(error.reason, position, error.segment_id, error.element))
        if not _stand_in(parse, transaction, raw, kept, index, error, lexical):
            break
        last_stand_in = max(last_stand_in, position)
    return problems


def _attempt(transaction: TransactionSet, raw: list[str], kept: list[int]) -> TransactionSet:
    return dataclasses.replace(transaction, raw=[raw[i] for i in kept])


def _first_error(
    parse: Callable[[TransactionSet], Sequence[Any]], transaction: TransactionSet, raw: list[str], kept: list[int]
) -> X12Error | list[Any] | None:
    try:
        return list(parse(_attempt(transaction, raw, kept)))
    except X12Error as exc:
        return exc


def _stand_in(
    parse: Callable[[TransactionSet], Sequence[Any]],
    transaction: TransactionSet,
    raw: list[str],
    kept: list[int],
    index: int,
    error: X12Error,
    lexical: set[int],
) -> bool:
    """Put a neutral value in place of the bad element, or leave out a segment that is not X12 at all; False when
    neither gets past the problem."""
    original = kept[index]
    separator = transaction.delimiters.element
    elements = raw[original].split(separator)
    if error.element is not None and 0 < error.element < len(elements):
        for value in _STAND_INS:
            trial = separator.join([*elements[: error.element], value, *elements[error.element + 1 :]])
            saved, raw[original] = raw[original], trial
            after = _first_error(parse, transaction, raw, kept)
            if not _same_place(after, transaction, kept, index, error.element):
                return True
            raw[original] = saved
    if transaction.first_position + original not in lexical:
        return False
    del kept[index]
    return True


def _same_place(
    after: X12Error | list[Any] | None, transaction: TransactionSet, kept: list[int], index: int, element: int
) -> bool:
    """Whether the stand-in left a problem in the same segment that is not about another element."""
    return (
        isinstance(after, X12Error)
        and after.position == transaction.first_position + index
        and (after.element is None or after.element == element)
    )


# --- JSON -----------------------------------------------------------------------------------------------


def _plain(value: Any) -> Any:
    """Dataclasses to dicts: ``*_cents`` fields become two-place decimal strings without the suffix, dates ISO."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        out: dict[str, Any] = {}
        for f in dataclasses.fields(value):
            item = getattr(value, f.name)
            if f.name.endswith("_cents"):
                out[f.name[: -len("_cents")]] = None if item is None else format_cents(item)
            else:
                out[f.name] = _plain(item)
        return out
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return units_text(value)  # a quantity (837P units) as an exact decimal string: "1", "1.5"
    return value


def claim_to_json(claim: ProfessionalClaim) -> dict[str, Any]:
    body = _plain(claim)
    body.pop("claim_id")
    body.pop("total_charge")
    lines = body.pop("lines")
    return {
        "patient_control_number": claim.claim_id,
        "charge": format_cents(claim.total_charge_cents),
        "service_lines": lines,
        **body,
    }


def parsed_to_json(parsed: Sequence[ParsedSet], *, streamed: bool = False) -> dict[str, Any]:
    """``{"transaction_sets": [...]}``: one entry per ST..SE with its ``type`` and ``control_number``.

    ``streamed``: an 835's claims are made as the JSON is written (``to_json.StreamedList``), not held as dicts."""
    sets: list[dict[str, Any]] = []
    for item in parsed:
        if item.kind == "835":
            sets += [remittance_set_to_json(v, streamed=streamed) for v in item.values]
        elif item.kind == "837P":
            sets.append(
                {
                    "type": "837P",
                    "control_number": item.control_number,
                    "claims": [claim_to_json(c) for c in item.values],
                }
            )
        elif item.kind in ("999", "277CA"):
            for value in item.values:
                assert isinstance(value, Acknowledgment999 | ClaimAcknowledgment)
                body = _plain(value)
                body.pop("control_number", None)
                if isinstance(value, ClaimAcknowledgment):
                    for claim, ack in zip(body["claims"], value.claims, strict=True):
                        claim["accepted"] = ack.accepted
                sets.append({"type": item.kind, "control_number": item.control_number, **body})
        else:
            key = {"270": "inquiries", "271": "responses", "276": "inquiries", "277": "results"}[item.kind]
            entries = [_plain(v) for v in item.values]
            for entry, value in zip(entries, item.values, strict=True):
                entry.pop("control_number", None)
                for extra in ("active", "copay_cents", "deductible_remaining_cents", "finalized"):
                    if hasattr(value, extra):
                        result = getattr(value, extra)
                        if extra.endswith("_cents"):
                            entry[extra[: -len("_cents")]] = None if result is None else format_cents(result)
                        else:
                            entry[extra] = result
            sets.append({"type": item.kind, "control_number": item.control_number, key: entries})
    return {"transaction_sets": sets}
