"""Money is integer cents, and this module is the one place anything becomes money, wherever it comes from: a
person (CLI, console, a work item's field), a file (X12 835/837, a bank CSV, an EOB PDF, an HL7 charge), a payer's
web page or a JSON number. :func:`parse_amount` reads dollars written as text; :func:`parse_cents` a whole number
of cents written as text (a BAI2 amount, a resolution's ``amount_cents``), by the same rule without a decimal
point; :func:`to_cents` an exact number already read (a FHIR ``Money.value``), refusing fractions of a cent and
anything not finite (text it hands to :func:`parse_amount`).

:func:`parse_amount`'s rule: ASCII digits ``0-9`` with at most one decimal point; at most two decimal places that
are not zero ("12.345" is refused, never truncated; "12.340" is 12.34); at most :data:`MAX_WHOLE_DIGITS` digits
before the point; a minus sign only where the caller allows negatives; a dollar sign and thousands separators only
where the caller reads formatted text (``formatted=True``: web pages and PDFs). Anything else raises
:class:`InvalidAmount` with a one-line message: never ``None``, never a bare ``ValueError``, whatever the input
(Unicode digits such as "١٢" or "²", thousands of digits, control characters).
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from domain.errors import InvalidAmount

Cents = int

# 15 digits of dollars (just under a quadrillion) is more than any amount a practice sees and far below the
# point where converting the digits to a number costs anything (Python refuses int() beyond 4,300 digits).
MAX_WHOLE_DIGITS = 15
_DIGITS = frozenset("0123456789")
_EXPECTED = "digits 0-9 with at most two decimals, e.g. 25.00"


def _shown(text: str) -> str:
    """The text as an error message may show it: one line, short, non-ASCII escaped."""
    clipped = text if len(text) <= 24 else text[:21] + "..."
    return ascii(clipped)


def _refuse(text: str, why: str) -> InvalidAmount:
    return InvalidAmount(f"not an amount: {_shown(text)} ({why})")


def _is_digits(text: str) -> bool:
    return bool(text) and text.isascii() and text.isdigit()


def parse_amount(text: str, *, allow_negative: bool = False, formatted: bool = False) -> Cents:
    """Parse a decimal amount such as ``"25.00"``, ``"7.5"`` or ``".5"`` into cents (see the module's rule).

    ``allow_negative``: a leading minus is accepted. ``formatted``: a leading dollar sign (after the minus) and
    thousands separators in groups of three ("$1,234.56") are accepted, as a web page or a PDF prints them.
    """
    if not isinstance(text, str):
        raise InvalidAmount(f"not an amount: {type(text).__name__} (expected text)")
    # The fast paths: the plain "123" and "123.45" that files are full of (an 835 has thousands of amounts).
    if text.isascii():
        if text.isdigit() and len(text) <= MAX_WHOLE_DIGITS:
            return int(text) * 100
        dot = text.find(".")
        if 0 < dot <= MAX_WHOLE_DIGITS and len(text) - dot == 3:
            whole, fraction = text[:dot], text[dot + 1 :]
            if whole.isdigit() and fraction.isdigit():
                return int(whole) * 100 + int(fraction)
    cleaned = text.strip()
    if not cleaned:
        raise _refuse(text, f"empty; expected {_EXPECTED}")
    negative = cleaned.startswith("-")
    if negative:
        if not allow_negative:
            raise InvalidAmount(f"amount must not be negative: {_shown(text)}")
        cleaned = cleaned[1:]
    if formatted and cleaned.startswith("$"):
        cleaned = cleaned[1:]
    whole, point, fraction = cleaned.partition(".")
    if formatted and "," in whole:
        whole = _ungrouped(text, whole)
    if (whole and not _is_digits(whole)) or (fraction and not _is_digits(fraction)) or (point and "." in fraction):
        raise _refuse(text, _EXPECTED)
    if not whole and not fraction:
        raise _refuse(text, _EXPECTED)
    if len(whole) > MAX_WHOLE_DIGITS:
        raise _refuse(text, f"more than {MAX_WHOLE_DIGITS} digits of dollars")
    if len(fraction) > 2:
        if fraction[2:].strip("0"):
            raise _refuse(text, "fractions of a cent: at most two decimals")
        fraction = fraction[:2]
    cents = int(whole or "0") * 100 + int((fraction + "00")[:2])
    return -cents if negative else cents


def parse_cents(text: str, *, allow_zero: bool = False) -> Cents:
    """A whole number of cents as text ("12500" is $125.00): a BAI2 amount, a resolution's ``amount_cents``. The
    same rule as :func:`parse_amount` (ASCII digits, bounded length, one typed error), without a decimal point."""
    cleaned = text.strip() if isinstance(text, str) else ""
    if not (cleaned.isascii() and cleaned.isdigit()):
        raise _refuse(str(text), "a whole number of cents in digits 0-9, e.g. 12500 for $125.00")
    if len(cleaned) > MAX_WHOLE_DIGITS + 2:
        raise _refuse(cleaned, f"more than {MAX_WHOLE_DIGITS + 2} digits of cents")
    cents = int(cleaned)
    if cents == 0 and not allow_zero:
        raise InvalidAmount("amount must be more than zero cents")
    return cents


def _ungrouped(text: str, whole: str) -> str:
    """``1,234,567`` -> ``1234567``; a separator anywhere but between groups of three digits is refused."""
    groups = whole.split(",")
    first, rest = groups[0], groups[1:]
    if not (1 <= len(first) <= 3) or any(len(group) != 3 for group in rest):
        raise _refuse(text, "thousands separators belong between groups of three digits")
    return "".join(groups)


def to_cents(value: Decimal | str | int) -> Cents:
    """Convert an exact decimal amount in dollars to cents; refuses fractions of a cent."""
    if isinstance(value, str):
        return parse_amount(value, allow_negative=True)
    try:
        amount = Decimal(value)
    except (InvalidOperation, TypeError, ValueError) as exc:
        raise InvalidAmount(f"not an amount: {_shown(str(value))}") from exc
    if not amount.is_finite():
        raise InvalidAmount(f"not an amount: {_shown(str(value))}")
    cents = amount * 100
    if cents != cents.to_integral_value():
        raise InvalidAmount(f"amount has fractions of a cent: {_shown(str(value))}")
    return int(cents)


def format_cents(cents: Cents) -> str:
    """Cents as a decimal string with two places: 1234 -> '12.34', -5 -> '-0.05'."""
    sign = "-" if cents < 0 else ""
    whole, frac = divmod(abs(cents), 100)
    return f"{sign}{whole}.{frac:02d}"


def format_dollars(cents: Cents) -> str:
    """Cents as people read dollars: 123456 -> '$1,234.56', -5 -> '-$0.05' (parsed back with ``formatted=True``)."""
    sign = "-" if cents < 0 else ""
    whole, frac = divmod(abs(cents), 100)
    return f"{sign}${whole:,}.{frac:02d}"


def to_decimal(cents: Cents) -> Decimal:
    return (Decimal(cents) / 100).quantize(Decimal("0.01"))
