"""Printing results: one JSON object with --json, readable text otherwise."""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any


def _default(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, set | frozenset | tuple):
        return list(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def print_json(payload: Any) -> None:
    sys.stdout.write(json.dumps(payload, default=_default, indent=2, sort_keys=False) + "\n")


def write_json(payload: Any) -> None:
    """What ``print_json`` prints, written out as it is encoded (a megabyte at a time): a payload holding
    ``domain.x12.to_json.StreamedList`` arrays is never one string, nor one list of dicts, in memory."""
    pending: list[str] = []
    size = 0
    for chunk in json.JSONEncoder(default=_default, indent=2, sort_keys=False).iterencode(payload):
        pending.append(chunk)
        size += len(chunk)
        if size >= 1 << 20:
            sys.stdout.write("".join(pending))
            pending, size = [], 0
    sys.stdout.write("".join(pending) + "\n")


def print_table(rows: Sequence[Sequence[Any]], headers: Sequence[str]) -> None:
    cells = [[str(c) for c in headers]] + [["" if c is None else str(c) for c in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    for index, row in enumerate(cells):
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())
        if index == 0:
            print("  ".join("-" * width for width in widths))
