"""The shared argument checks of every `carecycle` command: ranges, dates, amounts, files, pipes, ``--json``.

A value that cannot be right is refused by argparse (one line, exit 2) before any work starts; a file that
cannot be used (missing, a directory, not text, not writable) is a failure of the run (one line, exit 1).

Each argparse type here carries ``bad_examples`` (values it must refuse) and ``good_example`` (one it accepts):
the generated-arguments test (tests/unit/test_cli_arguments.py) drives every command of the parser with them.
A command module uses these instead of ``type=int`` / ``float`` / ``date.fromisoformat``, which accept values
that later overflow a column, a timer or a date calculation.
"""

from __future__ import annotations

import argparse
import math
import os
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")

INT_MAX = 2**31 - 1  # the widest integer column of the store (PostgreSQL integer) and a sane count
MAX_AMOUNT_CENTS = 1_000_000_000  # $10,000,000.00: more than any one payment, less than an integer column
EARLIEST_DAY = date(1900, 1, 1)  # no practice's records start earlier; date arithmetic stays in range
LATEST_DAY = date(2199, 12, 31)


def _typed(function: Callable[[str], T], name: str, bad: tuple[str, ...], good: str) -> Callable[[str], T]:
    function.__name__ = name  # argparse names the type in its own messages
    setattr(function, "bad_examples", bad)  # noqa: B010 - attributes of a function object
    setattr(function, "good_example", good)  # noqa: B010
    return function


def _whole(text: str) -> int:
    cleaned = text.strip()
    if not cleaned or not cleaned.lstrip("+-").isascii() or not cleaned.lstrip("+-").isdigit() or len(cleaned) > 20:
        raise argparse.ArgumentTypeError(f"not a whole number: {text[:30]!r}")
    return int(cleaned)


def int_range(minimum: int, maximum: int = INT_MAX) -> Callable[[str], int]:
    """A whole number from ``minimum`` to ``maximum`` (both included)."""

    def parse(text: str) -> int:
        value = _whole(text)
        if not minimum <= value <= maximum:
            raise argparse.ArgumentTypeError(f"must be a whole number from {minimum} to {maximum}, got {text[:30]}")
        return value

    bad = ("x", "", "1.5", "1e3", str(minimum - 1), str(maximum + 1), "9" * 30, "\u0661\u0662")
    return _typed(parse, f"whole number {minimum}..{maximum}", bad, str(minimum))


positive_int = int_range(1)
non_negative_int = int_range(0)


def float_range(minimum: float, maximum: float, unit: str = "") -> Callable[[str], float]:
    """A finite decimal number from ``minimum`` to ``maximum``."""

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a number{unit and ' of ' + unit}: {text[:30]!r}") from None
        if not math.isfinite(value) or not minimum <= value <= maximum:
            raise argparse.ArgumentTypeError(f"must be from {minimum:g} to {maximum:g}{unit and ' ' + unit}")
        return value

    bad = ("x", "", "nan", "inf", "-inf", repr(minimum - 1), repr(maximum * 10 + 1), "1e309")
    return _typed(parse, f"number {minimum:g}..{maximum:g}", bad, repr(float(maximum)))


seconds_per_day = float_range(0.05, 86400.0, "seconds per business day")


def _day(text: str) -> date:
    try:
        value = date.fromisoformat(text.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {text[:30]!r}") from None
    if not EARLIEST_DAY <= value <= LATEST_DAY:
        raise argparse.ArgumentTypeError(f"must be a date from {EARLIEST_DAY} to {LATEST_DAY}, got {value}")
    return value


iso_date = _typed(_day, "date", ("x", "", "2024-13-01", "0001-01-01", "9999-12-31", "20240101x"), "2024-01-31")


def _amount(text: str) -> int:
    from domain.errors import InvalidAmount
    from domain.money import format_cents, parse_amount

    if len(text) > 30 or not text.isascii():
        raise argparse.ArgumentTypeError(f"not an amount (digits 0-9 with at most two decimals): {text[:30]!r}")
    try:
        cents = parse_amount(text)
    except InvalidAmount as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    except (ValueError, ArithmeticError):  # a digit Decimal reads and our pattern let through
        raise argparse.ArgumentTypeError(f"not an amount: {text[:30]!r}") from None
    if not 0 < cents <= MAX_AMOUNT_CENTS:
        raise argparse.ArgumentTypeError(
            f"amount must be from 0.01 to {format_cents(MAX_AMOUNT_CENTS)}, got {text.strip()}"
        )
    return cents


_BAD_AMOUNTS = ("x", "", "0", "-1.00", "1.005", "1e3", "99999999999999999999999.00", "\u0661\u0662.00", "\u00b2")
amount = _typed(_amount, "amount", _BAD_AMOUNTS, "25.00")


def _text(text: str) -> str:
    if not text.strip():
        raise argparse.ArgumentTypeError("must not be empty")
    if len(text) > 500:
        raise argparse.ArgumentTypeError(f"is {len(text)} characters; at most 500")
    if any(ord(c) < 32 and c not in "\t" for c in text):
        raise argparse.ArgumentTypeError("must not contain control characters")
    return text


non_empty = _typed(_text, "text", ("", "   ", "x" * 501, "a\x00b", "a\nb"), "x")


def add_json(parser: argparse.ArgumentParser, what: str = "print the result as JSON") -> None:
    """The ``--json`` flag every reporting command has (one JSON object on stdout)."""
    parser.add_argument("--json", action="store_true", help=what)


# --- files: problems with a file named on the command line are failures of the run (exit 1) ---------------


def _failed(message: str) -> Exception:
    from workers.cli import CommandFailed

    return CommandFailed(message)


def read_bytes(path: Path, what: str = "file") -> bytes:
    """The bytes of an existing regular file, or one line saying why not."""
    try:
        if path.is_dir():
            raise _failed(f"{path} is a directory, not a {what}")
        return path.read_bytes()
    except FileNotFoundError:
        raise _failed(f"no such file: {path}") from None
    except OSError as exc:
        raise _failed(f"cannot read {str(path)[:200]}: {exc.strerror or exc}") from None


def existing_file(path: Path, what: str = "file") -> Path:
    """A regular file that can be opened for reading (checked before the work starts), or one line saying why not."""
    try:
        if path.is_dir():
            raise _failed(f"{path} is a directory, not a {what}")
        with path.open("rb"):
            pass
    except FileNotFoundError:
        raise _failed(f"no such file: {path}") from None
    except OSError as exc:  # permission, a name too long for the file system, ...
        raise _failed(f"cannot read {str(path)[:200]}: {exc.strerror or exc}") from None
    return path


def read_text(path: Path, what: str = "file") -> str:
    """An existing text file (UTF-8). A binary file (NUL bytes, invalid UTF-8) is refused with one line."""
    data = read_bytes(path, what)
    if b"\x00" in data:
        raise _failed(f"{path} is a binary file, not a text {what}")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise _failed(f"{path} is not UTF-8 text (byte {exc.start}): not a text {what}") from None


def writable_file(path: Path, *, overwrite: bool = True) -> Path:
    """Check before the work that ``path`` can be written (its folder exists and is writable)."""
    if path.is_dir():
        raise _failed(f"{path} is a directory: name a file to write")
    if path.exists() and not overwrite:
        raise _failed(f"{path} already exists: name a new file")
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.is_dir():
        raise _failed(f"cannot write {path}: the folder {parent} does not exist")
    if not os.access(parent, os.W_OK) or (path.exists() and not os.access(path, os.W_OK)):
        raise _failed(f"cannot write {path}: permission denied")
    return path


def writable_dir(path: Path) -> Path:
    """A folder to write into: created if missing; an existing file or an unwritable place is one line."""
    if path.exists() and not path.is_dir():
        raise _failed(f"{path} is a file, not a folder: name a folder to write into")
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise _failed(f"cannot create the folder {path}: {exc.strerror or exc}") from None
    if not os.access(path, os.W_OK):
        raise _failed(f"cannot write into {path}: permission denied")
    return path


def bad_examples(kind: Any) -> tuple[str, ...]:
    """The values an argparse type of this module must refuse (empty for other types)."""
    return tuple(getattr(kind, "bad_examples", ()))
