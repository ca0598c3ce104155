"""Pure rules of work items: every reason has a queue and actions, resolutions are validated per action,
structured logs keep only allowed keys, per-queue concurrency parses."""

from __future__ import annotations

import io
import json
import logging

import pytest

from domain.errors import InvalidResolution
from domain.workitems import (
    ACTIONS,
    REASONS,
    Action,
    Reason,
    Resolution,
    WorkQueue,
    allowed_actions,
    parse_assignments,
    queue_of,
    validate_resolution,
)
from workers.logs import JsonFormatter
from workers.registry import concurrency_for
from workers.settings import Settings


def test_every_reason_has_a_queue_and_assign_and_cancel() -> None:
    assert set(REASONS) == set(Reason)
    assert set(ACTIONS) == set(Action)
    for reason, spec in REASONS.items():
        assert isinstance(spec.queue, WorkQueue)
        assert {"assign", "cancel"} <= set(allowed_actions(reason))
    assert queue_of("claim_denied") == "denials"


@pytest.mark.parametrize(
    ("reason", "resolution", "message"),
    [
        ("claim_denied", Resolution("appeal", "ann"), "appeal needs a note"),
        ("claim_denied", Resolution("confirm_eligibility", "ann", note="x"), "not allowed for claim_denied"),
        ("claim_denied", Resolution("fly", "ann"), "unknown action 'fly'"),
        ("claim_rejected", Resolution("correct_and_resubmit", "ann"), "at least one changed field"),
        (
            "claim_rejected",
            Resolution("correct_and_resubmit", "ann", {"colour": "red"}),
            "does not take the field(s) colour",
        ),
        ("claim_rejected", Resolution("correct_and_resubmit", "ann", {"units": "0"}), "units must be a positive"),
        ("claim_rejected", Resolution("correct_and_resubmit", "ann", {"modifiers": " "}), "without a value: modifiers"),
        ("claim_denied", Resolution("write_off", "ann"), "needs the field(s): reason_code"),
        ("claim_denied", Resolution("write_off", "ann", {"reason_code": "whim"}), "reason_code must be one of"),
        ("claim_denied", Resolution("appeal", " ", note="n"), "who resolved it"),
        ("missing_codes", Resolution("add_codes", "ann", {"procedure_code": "99213"}), "diagnosis_codes"),
        ("nonsense", Resolution("complete", "ann"), "unknown work item reason"),
    ],
)
def test_invalid_resolutions_are_explained(reason: str, resolution: Resolution, message: str) -> None:
    with pytest.raises(InvalidResolution) as raised:
        validate_resolution(reason, resolution)
    assert message in str(raised.value)


def test_valid_resolutions_pass_unchanged() -> None:
    ok = Resolution("correct_and_resubmit", "ann", {"modifiers": "25", "units": "2"})
    assert validate_resolution("claim_rejected", ok) is ok
    assert not Resolution("assign", "lead", {"assignee": "bob"}).terminal
    assert Resolution("write_off", "ann", {"reason_code": "small_balance"}).terminal


def test_assignments_parse() -> None:
    assert parse_assignments(["a=1", "b = x=y "]) == {"a": "1", "b": "x=y"}
    with pytest.raises(InvalidResolution, match="expected name=value"):
        parse_assignments(["novalue"])


def test_json_logs_keep_only_allowed_keys() -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter("test"))
    logger = logging.getLogger("carecycle.test.json")
    logger.addHandler(handler)
    logger.propagate = False
    logger.warning(
        "work item opened",
        extra={
            "work_item_id": "w1",
            "patient_name": "Zed Q",
            "temporal_activity": {"activity_type": "x", "heartbeat_details": "Zed"},
        },
    )
    entry = json.loads(stream.getvalue())
    assert entry["msg"] == "work item opened" and entry["work_item_id"] == "w1" and entry["level"] == "warning"
    assert "patient_name" not in entry and "Zed" not in stream.getvalue()
    assert entry["temporal_activity"] == {"activity_type": "x"}


def test_per_queue_concurrency() -> None:
    settings = Settings(
        home=__import__("pathlib").Path("."), database_url="sqlite://", worker_concurrency="revenue=50, edi=4"
    )
    assert concurrency_for(settings, "revenue") == 50 and concurrency_for(settings, "edi") == 4
    assert concurrency_for(settings, "portal") == settings.worker_default_concurrency
    with pytest.raises(ValueError, match="queue=positive_number"):
        concurrency_for(
            Settings(home=settings.home, database_url="sqlite://", worker_concurrency="revenue=0"), "revenue"
        )
