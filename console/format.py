"""How the console writes values for people: dollars (never cents), UTC times, JSON values shortened."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, date, datetime
from typing import Any
from urllib.parse import urlencode

from jinja2 import Environment

from domain.money import format_cents


def dollars(cents: int | None) -> str:
    """1234567 -> '$12,345.67'; -500 -> '-$5.00'; None -> ''."""
    if cents is None:
        return ""
    text = format_cents(int(cents))
    sign, digits = ("-", text[1:]) if text.startswith("-") else ("", text)
    whole, _, frac = digits.partition(".")
    return f"{sign}${int(whole):,}.{frac}"


def when(value: datetime | date | None, seconds: bool = False) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        aware = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
        return aware.strftime("%Y-%m-%d %H:%M:%S" if seconds else "%Y-%m-%d %H:%M") + " UTC"
    return value.isoformat()


def format_value(value: Any, limit: int = 300) -> str:
    text = json.dumps(value, default=str, sort_keys=True) if not isinstance(value, str) else value
    return text if len(text) <= limit else text[: limit - 3] + "..."


def full_json(value: Any) -> str:
    return json.dumps(value, default=str, sort_keys=True, indent=2)


def replace_page(params: Mapping[str, str], page: int) -> str:
    """The current query string with another ``page``."""
    return urlencode({**{k: v for k, v in params.items() if k != "page"}, "page": str(page)})


def register_filters(env: Environment) -> None:
    env.filters["replace_page"] = replace_page
    env.filters["value"] = format_value
    env.filters["dollars"] = dollars
    env.filters["when"] = when
    env.filters["json"] = full_json
