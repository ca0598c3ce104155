"""Every stored history replays against the current workflow code (workers.registry), and every
registered workflow type has at least one stored history. Refresh deliberately with
``scripts/refresh-replay-histories``; never edit or regenerate histories to make this test pass."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from temporalio.client import WorkflowHistory

from workers.registry import all_workflows
from workers.temporal.replay import replay

HISTORIES = sorted((Path(__file__).parent / "histories").glob("*.json"))


def _load(path: Path) -> WorkflowHistory:
    return WorkflowHistory.from_json(path.stem, path.read_text())


def _workflow_type(path: Path) -> str:
    events = json.loads(path.read_text())["events"]
    return str(events[0]["workflowExecutionStartedEventAttributes"]["workflowType"]["name"])


@pytest.mark.parametrize("path", HISTORIES, ids=[p.stem for p in HISTORIES])
async def test_stored_history_replays_against_current_code(path: Path) -> None:
    verdict = await replay(_load(path))
    assert verdict.ok, verdict.failure


def test_every_registered_workflow_type_has_a_stored_history() -> None:
    from temporalio.workflow import _Definition

    registered = set()
    for cls in all_workflows():
        definition = _Definition.must_from_class(cls)
        if definition.name:
            registered.add(definition.name)
    stored = {_workflow_type(path) for path in HISTORIES}
    missing = sorted(registered - stored)
    assert not missing, f"no stored replay history for: {', '.join(missing)} (add a scenario, run the refresh script)"


async def test_a_changed_workflow_is_caught(tmp_path: Path) -> None:
    """The test can fail: a history whose commands differ from the code is reported as non-deterministic."""
    source = next(p for p in HISTORIES if _workflow_type(p) == "StandaloneWorkItem")
    changed = source.read_text().replace('"workitems.open"', '"workitems.renamed"')
    verdict = await replay(WorkflowHistory.from_json("changed", changed))
    assert not verdict.ok and verdict.failure
