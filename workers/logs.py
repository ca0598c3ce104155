"""Structured logs: one JSON object per line, a plain sentence plus the ids and codes its call site passed.

Every ``extra`` key a call site passes is kept (``payer_id``, ``code``, ``attempt``, ``error``, ...): nothing is
dropped silently. PHI stays out by a deny rule instead: a key that names personal data (:data:`PHI_KEYS`, e.g.
``member_id``, ``birth_date``, ``first_name``) or a value that is not a plain scalar (an object whose repr could
hold a record) is withheld, and the line says which keys were (``withheld``). The keys of the line itself (``ts``,
``level``, ``logger``, ``component``, ``msg``) are never overwritten: an extra of the same name is kept as
``extra_<name>``. The Temporal SDK's activity and workflow context goes into the ``temporal_activity`` /
``temporal_workflow`` keys (ids and names only), not pasted into the message. A line written inside an
OpenTelemetry span (an activity, a workflow start: the tracing interceptor makes them) carries the span's
``trace_id`` and ``span_id``.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import Any, TextIO

# Field names that hold a person's data anywhere in carecycle: never logged, whatever the call site passes.
PHI_KEYS = frozenset(
    {
        "patient",
        "patient_name",
        "name",
        "first_name",
        "last_name",
        "middle_name",
        "full_name",
        "birth_date",
        "date_of_birth",
        "dob",
        "member_id",
        "subscriber_id",
        "ssn",
        "address",
        "address_line",
        "street",
        "city",
        "postal_code",
        "zip",
        "phone",
        "email",
        "note",
        "notes",
        "password",
        "token",
        "secret",
        "totp_secret",
    }
)
_RESERVED = frozenset({"ts", "level", "logger", "component", "msg", "error_type", "withheld"})

# The Temporal context dicts hold ids, names and counters; keep exactly these keys from them.
_TEMPORAL_CONTEXT_KEYS = frozenset(
    {"workflow_id", "run_id", "workflow_type", "task_queue", "activity_id", "activity_type", "attempt", "namespace"}
)
_TEMPORAL_CONTEXT = frozenset({"temporal_workflow", "temporal_activity"})

# Attributes every LogRecord has: not extras.
_RECORD_ATTRIBUTES = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}

_Scalar = str | int | float | bool


def _denied(key: str) -> bool:
    lowered = key.lower()
    return lowered in PHI_KEYS or lowered.endswith(("_name", "_birth_date", "_member_id", "_address", "_phone"))


def log_fields(record: logging.LogRecord) -> tuple[dict[str, Any], list[str]]:
    """The extras of ``record`` that may be logged, and the names of those withheld by the PHI deny rule."""
    kept: dict[str, Any] = {}
    withheld: list[str] = []
    for key, value in record.__dict__.items():
        if key in _RECORD_ATTRIBUTES or key.startswith("_") or value is None:
            continue
        if key in _TEMPORAL_CONTEXT and isinstance(value, dict):
            kept[key] = {k: v for k, v in value.items() if k in _TEMPORAL_CONTEXT_KEYS}
            continue
        if _denied(key) or not isinstance(value, _Scalar | list | tuple):
            withheld.append(key)
            continue
        if isinstance(value, list | tuple):
            if not all(isinstance(item, _Scalar) for item in value):
                withheld.append(key)
                continue
            value = list(value)
        kept[f"extra_{key}" if key in _RESERVED else key] = value
    return kept, sorted(withheld)


class JsonFormatter(logging.Formatter):
    def __init__(self, component: str) -> None:
        super().__init__()
        self.component = component

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "component": self.component,
            "msg": record.getMessage(),
        }
        fields, withheld = log_fields(record)
        entry.update(fields)
        if withheld:
            entry["withheld"] = withheld
        entry.update(_trace_ids())
        if record.exc_info and record.exc_info[0] is not None:
            # The type only: exception texts from third parties may quote input values.
            entry["error_type"] = record.exc_info[0].__name__
        return json.dumps(entry, default=str)


def plain_temporal_messages() -> None:
    """Keep the SDK's activity/workflow details out of the message text (they stay in the extras)."""
    from temporalio import activity, workflow

    activity.logger.activity_info_on_message = False
    workflow.logger.workflow_info_on_message = False


def _trace_ids() -> dict[str, str]:
    """The current OpenTelemetry span's ids (hex), so a line can be found from its trace and back; none outside a
    span or without a tracer provider (workers.observability installs one in the service processes)."""
    from opentelemetry import trace

    context = trace.get_current_span().get_span_context()
    if not context.is_valid:
        return {}
    return {"trace_id": format(context.trace_id, "032x"), "span_id": format(context.span_id, "016x")}


def configure_logging(component: str, level: str = "INFO", stream: TextIO | None = None) -> None:
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter(component))
    root = logging.getLogger()
    for existing in list(root.handlers):
        root.removeHandler(existing)
    root.addHandler(handler)
    root.setLevel(level.upper())
    for noisy in ("uvicorn.access", "httpx", "alembic"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    plain_temporal_messages()
