"""FHIR JSON out: compact, money as JSON numbers (from exact ``Decimal`` amounts)."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any


def _default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return float(value)  # two decimal places: the shortest float repr is the same decimal text
    raise TypeError(f"not JSON: {type(value).__name__}")


def dumps(body: Any) -> bytes:
    return json.dumps(body, default=_default, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
