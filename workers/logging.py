"""Structured logs: one JSON object per line, ids and codes only.

PHI never reaches a log because nothing logs it (messages and ``extra`` carry opaque ids and codes); as a
second line of defence the formatter emits only the ``extra`` keys listed in :data:`LOGGED_EXTRA_KEYS`,
so a stray ``extra={"patient": obj}`` cannot spill a record into the logs.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import Any, TextIO

LOGGED_EXTRA_KEYS = frozenset(
    {
        "component",
        "task_queue",
        "queue",
        "work_item_id",
        "workflow_id",
        "run_id",
        "action",
        "level",
        "reason",
        "count",
        "url",
        "pid",
        "temporal_workflow",
        "temporal_activity",
        # the HL7 listener: MSH-10, MSH-9, the ACK code and the HL7 error code (never a value of the message)
        "control_id",
        "message_type",
        "ack",
        "error_code",
        "started",
        "failed",
    }
)

# The Temporal context dicts hold ids, names and counters; keep exactly these keys from them.
_TEMPORAL_CONTEXT_KEYS = frozenset(
    {"workflow_id", "run_id", "workflow_type", "task_queue", "activity_id", "activity_type", "attempt", "namespace"}
)


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
        for key in LOGGED_EXTRA_KEYS:
            value = record.__dict__.get(key)
            if value is None:
                continue
            if isinstance(value, dict):
                value = {k: v for k, v in value.items() if k in _TEMPORAL_CONTEXT_KEYS}
            entry[key] = value
        if record.exc_info and record.exc_info[0] is not None:
            # The type only: exception texts from third parties may quote input values.
            entry["error_type"] = record.exc_info[0].__name__
        return json.dumps(entry, default=str)


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
