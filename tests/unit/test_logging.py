"""The JSON logs keep every field the call sites pass and the line's own level; PHI is kept out by a deny rule
(and the line says what was withheld); messages are plain sentences, not the SDK's context pasted in."""

from __future__ import annotations

import ast
import io
import json
import logging
from pathlib import Path

import pytest
from temporalio import activity
from temporalio.testing import ActivityEnvironment

from workers.logs import PHI_KEYS, JsonFormatter, configure_logging

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("activities", "flows", "workers", "console", "sandbox", "domain")


def _line(**extra: object) -> dict[str, object]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter("test"))
    logger = logging.getLogger("carecycle.test.logging")
    logger.handlers = [handler]
    logger.propagate = False
    logger.setLevel(logging.INFO)
    logger.info("a plain sentence", extra=extra)
    text = stream.getvalue()
    for value in extra.values():
        if isinstance(value, str) and value.startswith("PHI-"):
            assert value not in text
    return dict(json.loads(text))


def call_site_keys() -> dict[str, list[str]]:
    """Every literal key of ``extra={...}`` in a logging call of the code base, with where it is passed."""
    found: dict[str, list[str]] = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            tree = ast.parse(path.read_text())
            for node in ast.walk(tree):
                if not isinstance(node, ast.Call):
                    continue
                for keyword in node.keywords:
                    if keyword.arg == "extra" and isinstance(keyword.value, ast.Dict):
                        for key in keyword.value.keys:
                            if isinstance(key, ast.Constant) and isinstance(key.value, str):
                                where = f"{path.relative_to(ROOT)}:{node.lineno}"
                                found.setdefault(key.value, []).append(where)
    return found


def test_every_field_a_call_site_passes_is_kept() -> None:
    keys = call_site_keys()
    assert {"payer_id", "code", "attempt", "error", "credential_id", "work_item_id"} <= set(keys)
    dropped = {}
    for key, sites in keys.items():
        entry = _line(**{key: "v-1"})
        if entry.get(key) != "v-1":
            dropped[key] = sites
    assert dropped == {}, "fields passed by call sites but not logged"


def test_no_call_site_passes_a_field_the_deny_rule_withholds() -> None:
    """A call site passing a PHI field name would lose it: it should not pass one at all."""
    assert {key: sites for key, sites in call_site_keys().items() if key.lower() in PHI_KEYS} == {}


def test_the_line_keeps_its_level() -> None:
    entry = _line(escalation_level=3, work_item_id="w1")
    assert entry["level"] == "info" and entry["escalation_level"] == 3
    clash = _line(level=2, component="x", ts="y")  # (logging itself refuses an extra named msg)
    assert clash["level"] == "info" and clash["component"] == "test" and clash["msg"] == "a plain sentence"
    assert clash["extra_level"] == 2 and clash["extra_component"] == "x" and clash["extra_ts"] == "y"


class _Patient:
    def __repr__(self) -> str:
        return "PHI-Patient(name='Zed Q')"


@pytest.mark.parametrize(
    "extra",
    [
        {"member_id": "PHI-M123"},
        {"birth_date": "PHI-1970-01-01"},
        {"patient_name": "PHI-Zed"},
        {"subscriber_last_name": "PHI-Q"},
        {"patient": _Patient()},
        {"rows": [_Patient()]},
    ],
)
def test_phi_is_withheld_and_the_line_says_so(extra: dict[str, object]) -> None:
    entry = _line(work_item_id="w1", **extra)
    assert entry["work_item_id"] == "w1" and entry["withheld"] == sorted(extra)
    assert "PHI-" not in json.dumps(entry)


def test_temporal_context_keeps_ids_only() -> None:
    entry = _line(temporal_activity={"activity_type": "claims.submit", "heartbeat_details": "PHI-x"})
    assert entry["temporal_activity"] == {"activity_type": "claims.submit"}


async def test_activity_messages_are_plain_sentences() -> None:
    stream = io.StringIO()
    configure_logging("test", "INFO", stream=stream)
    try:

        @activity.defn(name="test.log")
        async def logs() -> None:
            activity.logger.info("work item opened", extra={"work_item_id": "w1"})

        await ActivityEnvironment().run(logs)
    finally:
        logging.getLogger().handlers.clear()
    (entry,) = [json.loads(line) for line in stream.getvalue().splitlines() if "work item opened" in line]
    assert entry["msg"] == "work item opened" and entry["work_item_id"] == "w1"
    assert set(entry["temporal_activity"]) >= {"activity_id", "activity_type", "workflow_id"}  # the context, as ids
