"""Parsed X12 values as JSON-ready dicts: the schema `carecycle edi parse --json` prints (docs/edi.md).

Amounts are decimal strings with two places ("12.50"), dates ISO strings. ``remittance_to_json`` is shared by
the 835 parser and the EOB PDF extraction so both print the same shape.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence, Sized
from datetime import date
from itertools import chain
from typing import Any, Generic, TypeVar

from domain.money import format_cents
from domain.remittance import Adjustment, ClaimPayment, ProviderAdjustment, Remittance, ServiceLinePayment

T = TypeVar("T")


class StreamedList(list[Any], Generic[T]):
    """A JSON array whose entries are made one at a time as ``json.JSONEncoder.iterencode`` (with ``indent``, the
    pure-Python encoder) walks it, so a 100,000-claim 835 is never a list of dicts in memory all at once.

    ``items`` may be a sequence or an iterator (claims as they are read: the encoder only asks whether the array is
    empty, which takes one item ahead, then iterates it once). Only for writing JSON out
    (``workers.cli.output.write_json``): it holds no items of its own, so indexing or comparing it as a list does
    not see them."""

    def __init__(self, items: Iterable[T], make: Callable[[T], Any]) -> None:
        super().__init__()
        self._items = items
        self._make = make

    def __iter__(self) -> Iterator[Any]:
        return (self._make(item) for item in self._items)

    def __bool__(self) -> bool:
        if isinstance(self._items, Sized):
            return len(self._items) > 0
        items = iter(self._items)
        for first in items:
            self._items = chain((first,), items)
            return True
        self._items = ()
        return False

    def __len__(self) -> int:
        if not isinstance(self._items, Sized):
            raise TypeError("a streamed list of items still to be read has no length")
        return len(self._items)


def _money(cents: int | None) -> str | None:
    return None if cents is None else format_cents(cents)


def _day(value: date | None) -> str | None:
    return value.isoformat() if value else None


def _adjustments(adjustments: Sequence[Adjustment]) -> list[dict[str, Any]]:
    return [
        {"group": a.group, "reason": a.reason, "amount": format_cents(a.amount_cents), "quantity": a.quantity}
        for a in adjustments
    ]


def _service_line(line: ServiceLinePayment) -> dict[str, Any]:
    return {
        "procedure": line.procedure,
        "modifiers": list(line.modifiers),
        "units": line.units,
        "charge": format_cents(line.charge_cents),
        "paid": format_cents(line.paid_cents),
        "allowed": _money(line.allowed_cents),
        "service_date": _day(line.service_date),
        "line_control_number": line.line_control_number,
        "adjustments": _adjustments(line.adjustments),
        "remarks": list(line.remarks),
    }


def _claim(claim: ClaimPayment) -> dict[str, Any]:
    return {
        "patient_control_number": claim.patient_control_number,
        "status_code": claim.status_code,
        "charge": format_cents(claim.charge_cents),
        "paid": format_cents(claim.paid_cents),
        "patient_responsibility": format_cents(claim.patient_responsibility_cents),
        "payer_claim_control_number": claim.payer_claim_control_number,
        "claim_filing_indicator": claim.claim_filing_indicator,
        "frequency_code": claim.frequency_code,
        "service_date": _day(claim.service_date),
        "remarks": list(claim.remarks),
        "adjustments": _adjustments(claim.adjustments),
        "service_lines": [_service_line(line) for line in claim.service_lines],
    }


def _provider_adjustment(adjustment: ProviderAdjustment) -> dict[str, Any]:
    return {
        "reason": adjustment.reason,
        "reference": adjustment.reference,
        "amount": format_cents(adjustment.amount_cents),
    }


def _same(text: str) -> str:
    return text


def remittance_set_to_json(remittance: Remittance, *, streamed: bool = False) -> dict[str, Any]:
    """``streamed``: the claims as a :class:`StreamedList` (to be written out by an encoder, never compared)."""
    r = remittance
    return {
        "type": "835",
        "source": r.source,
        "control_number": r.control_number,
        "payment": {
            "method": r.payment_method,
            "amount": format_cents(r.payment_amount_cents),
            "credit_debit": r.credit_debit,
            "trace_number": r.trace_number,
            "date": _day(r.payment_date),
        },
        "payer": {"name": r.payer_name, "id": r.payer_id},
        "payee": {"name": r.payee_name, "id": r.payee_id},
        "claims": StreamedList(r.claims, _claim) if streamed else [_claim(claim) for claim in r.claims],
        "provider_adjustments": [_provider_adjustment(p) for p in r.provider_adjustments],
        "balancing_warnings": list(r.warnings),
    }


def streamed_remittance_set_to_json(
    header: Remittance, claims: Iterable[ClaimPayment], rest: Callable[[], Remittance]
) -> dict[str, Any]:
    """What :func:`remittance_set_to_json` makes of the whole set, for an 835 still being read: ``header`` has its
    payment, payer and payee, ``claims`` come as they are read, and ``rest()`` (asked once the claims are written)
    has its PLBs and balancing warnings. Only for writing out (``StreamedList``)."""
    done: list[Remittance] = []

    def finished() -> Remittance:
        if not done:
            done.append(rest())
        return done[0]

    def later(items: Callable[[Remittance], Iterable[Any]]) -> Iterator[Any]:
        yield from items(finished())

    entry = remittance_set_to_json(header)
    entry["claims"] = StreamedList(claims, _claim)
    entry["provider_adjustments"] = StreamedList(later(lambda r: r.provider_adjustments), _provider_adjustment)
    entry["balancing_warnings"] = StreamedList(later(lambda r: r.warnings), _same)
    return entry


def remittance_to_json(remittances: Sequence[Remittance]) -> dict[str, Any]:
    """``{"transaction_sets": [...]}``, one entry per remittance (one per 835 ST..SE, or per EOB)."""
    return {"transaction_sets": [remittance_set_to_json(r) for r in remittances]}
