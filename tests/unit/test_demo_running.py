"""The demo says what an unfinished journey is doing: its workflows' activities in flight and children, followed
down (workers.demo_running), and the CLI prints it on one line each (a fake Temporal client: a unit test)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from temporalio.api.common.v1 import ActivityType
from temporalio.api.enums.v1 import PendingActivityState
from temporalio.api.workflow.v1 import PendingActivityInfo, PendingChildExecutionInfo, PendingWorkflowTaskInfo
from temporalio.api.workflowservice.v1 import DescribeWorkflowExecutionResponse
from temporalio.common import SearchAttributePair, TypedSearchAttributes
from temporalio.service import RPCError, RPCStatusCode

from flows.search_attributes import CLAIM_STATUS, STAGE
from workers.cli.demo import _what_runs
from workers.demo_running import describe_running


@dataclass
class _Description:
    raw_description: DescribeWorkflowExecutionResponse
    typed_search_attributes: TypedSearchAttributes


class _Handle:
    def __init__(self, client: _Client, workflow_id: str) -> None:
        self._client, self._id = client, workflow_id

    async def describe(self) -> _Description:
        if self._id not in self._client.described:
            raise RPCError("not found", RPCStatusCode.NOT_FOUND, b"")
        return self._client.described[self._id]


class _Client:
    def __init__(self, described: dict[str, _Description]) -> None:
        self.described = described

    def get_workflow_handle(self, workflow_id: str) -> _Handle:
        return _Handle(self, workflow_id)


def _described(
    stage: str,
    activities: tuple[tuple[str, int], ...] = (),
    children: tuple[str, ...] = (),
    task: bool = False,
    status: str = "",
) -> _Description:
    raw = DescribeWorkflowExecutionResponse(
        pending_activities=[
            PendingActivityInfo(
                activity_type=ActivityType(name=name),
                attempt=attempt,
                state=PendingActivityState.PENDING_ACTIVITY_STATE_SCHEDULED,
            )
            for name, attempt in activities
        ],
        pending_children=[PendingChildExecutionInfo(workflow_id=child) for child in children],
    )
    if task:
        raw.pending_workflow_task.CopyFrom(PendingWorkflowTaskInfo(attempt=2))
    pairs: list[SearchAttributePair[Any]] = [SearchAttributePair(STAGE, stage)]
    if status:
        pairs.append(SearchAttributePair(CLAIM_STATUS, status))
    return _Description(raw, TypedSearchAttributes(pairs))


def test_a_journey_is_followed_down_to_the_activity_it_waits_on() -> None:
    client = _Client(
        {
            "encounter-1": _described("claim", children=("claim-1",)),
            "claim-1": _described("waiting", (("claims.acknowledgments", 3),), status="submitted"),
            "registration-2": _described("eligibility", task=True),
        }
    )
    running = asyncio.run(describe_running(client, ["encounter-1", "registration-2", "gone-3"]))  # type: ignore[arg-type]
    assert [entry["workflow_id"] for entry in running] == ["encounter-1", "registration-2"]  # the gone one skipped
    [claim] = running[0]["children"]
    assert claim["workflow_id"] == "claim-1" and claim["claim_status"] == "submitted"
    assert claim["activities"] == [{"type": "claims.acknowledgments", "attempt": 3, "state": "SCHEDULED"}]
    assert running[1]["workflow_task_pending"] is True and running[1]["activities"] == []
    assert _what_runs(running[0]) == (
        "encounter-1 [claim]: a timer or a person -> claim-1 [waiting]: claims.acknowledgments (attempt 3, scheduled)"
    )
    assert _what_runs(running[1]) == "registration-2 [eligibility]: a workflow task"


def test_children_are_followed_only_so_deep() -> None:
    client = _Client({f"w{n}": _described("s", children=(f"w{n + 1}",)) for n in range(6)})
    running = asyncio.run(describe_running(client, ["w0"], depth=2))  # type: ignore[arg-type]
    assert running[0]["children"][0]["children"] == ["w2"]  # the last level names its children, no more
