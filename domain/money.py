"""Money is integer cents. These helpers are the only way text becomes money and back."""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

from domain.errors import InvalidAmount

Cents = int

_AMOUNT = re.compile(r"^-?\d+(\.\d{1,2})?$")


def parse_amount(text: str, *, allow_negative: bool = False) -> Cents:
    """Parse a decimal amount such as ``"25.00"`` or ``"7.5"`` into cents.

    Rejects more than two decimal places, thousands separators, exponents and blanks.
    """
    cleaned = text.strip()
    if not _AMOUNT.match(cleaned):
        raise InvalidAmount(f"not an amount: {text!r} (expected digits with at most two decimals, e.g. 25.00)")
    cents = to_cents(Decimal(cleaned))
    if cents < 0 and not allow_negative:
        raise InvalidAmount(f"amount must not be negative: {text}")
    return cents


def to_cents(value: Decimal | str | int) -> Cents:
    """Convert an exact decimal amount in dollars to cents; refuses fractions of a cent."""
    try:
        amount = Decimal(value)
    except InvalidOperation as exc:
        raise InvalidAmount(f"not an amount: {value!r}") from exc
    cents = amount * 100
    if cents != cents.to_integral_value():
        raise InvalidAmount(f"amount has fractions of a cent: {value}")
    return int(cents)


def format_cents(cents: Cents) -> str:
    """Cents as a decimal string with two places: 1234 -> '12.34', -5 -> '-0.05'."""
    sign = "-" if cents < 0 else ""
    whole, frac = divmod(abs(cents), 100)
    return f"{sign}{whole}.{frac:02d}"


def to_decimal(cents: Cents) -> Decimal:
    return (Decimal(cents) / 100).quantize(Decimal("0.01"))
