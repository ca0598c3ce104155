"""Any X12 file we know: detect each transaction set's kind, parse it, turn it into JSON, validate it.

Kinds: 835, 837P, 270, 271, 276, 277 (claim status, X212), 277CA (X214), 999. Used by `carecycle edi parse`
and `carecycle edi validate`; the codecs themselves live in their own modules.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
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
from domain.x12.envelope import TransactionSet, X12Error, X12Problem, read_envelope
from domain.x12.json import remittance_set_to_json
from domain.x12.remit835 import parse_835_set
from domain.x12.status276 import parse_276_set, parse_277_set


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


def validate_document(text: str) -> list[X12Problem]:
    """Every problem found: envelope counts and control numbers, each set's structure, 835 balancing."""
    try:
        report = read_envelope(text, strict=False)
    except X12Error as exc:
        return [X12Problem.of(exc)]
    problems = list(report.problems)
    for transaction in report.transactions():
        try:
            kind = kind_of(transaction)
            values = PARSERS[kind](transaction)
        except X12Error as exc:
            problems.append(X12Problem.of(exc))
            continue
        for value in values:
            if isinstance(value, Remittance):
                problems += [X12Problem(f"balancing: {warning}") for warning in value.warnings]
    return problems


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


def parsed_to_json(parsed: Sequence[ParsedSet]) -> dict[str, Any]:
    """``{"transaction_sets": [...]}``: one entry per ST..SE with its ``type`` and ``control_number``."""
    sets: list[dict[str, Any]] = []
    for item in parsed:
        if item.kind == "835":
            sets += [remittance_set_to_json(v) for v in item.values]
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
