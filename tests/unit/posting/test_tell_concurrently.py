"""posting.tell tells a page's items concurrently (issue 14: a 10,000-claim ERA waited on one round trip at a time),
yet each claim hears its outcome once, a claim's outcomes in the 835's order, a retried attempt goes on after the
heartbeated prefix, and a failure is raised as it was. The Temporal client is a stand-in that records what it is
told and how many calls were in flight; the activity and the fan-out document are the product's."""

from __future__ import annotations

import asyncio
from collections import Counter
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pytest
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode
from temporalio.testing import ActivityEnvironment

from activities.contracts import revenue as c
from activities.documents.local import LocalDocumentStore
from activities.revenue.posting import PostingActivities, tell_concurrently
from activities.revenue.remittances import FanOut, keep_fan_out

KEY = "era-concurrent"


@dataclass
class RecordingClient:
    """Answers signals and starts after a short wait, as a server does; ``running`` are the Claim workflows."""

    running: set[str]
    fail_on: str = ""
    in_flight: int = 0
    peak: int = 0
    signals: list[tuple[str, c.ClaimOutcome]] = field(default_factory=list)
    starts: list[tuple[str, str]] = field(default_factory=list)

    async def _call(self, workflow_id: str, slower: float = 0.0) -> None:
        self.in_flight += 1
        self.peak = max(self.peak, self.in_flight)
        try:
            # Some items answer sooner than earlier ones: completions come out of order, as from a busy server.
            await asyncio.sleep(0.002 * (sum(map(ord, workflow_id)) % 5) + slower)
            if workflow_id == self.fail_on:
                raise RPCError("unavailable", RPCStatusCode.UNAVAILABLE, b"")
        finally:
            self.in_flight -= 1

    def get_workflow_handle(self, workflow_id: str) -> Any:
        client = self

        class Handle:
            async def signal(self, name: str, outcome: c.ClaimOutcome) -> None:
                await client._call(workflow_id, 0.02 if outcome.status == "reversed" else 0.0)
                if workflow_id not in client.running:
                    raise RPCError("workflow execution already completed", RPCStatusCode.NOT_FOUND, b"")
                client.signals.append((workflow_id, outcome))

        return Handle()

    async def start_workflow(self, workflow: str, arg: Any, *, id: str, task_queue: str, **_: Any) -> None:
        await self._call(id)
        if id in self.running:
            raise WorkflowAlreadyStartedError(id, workflow)
        self.running.add(id)
        self.starts.append((workflow, id))


def _outcome(number: int, status: str = "paid") -> c.ClaimOutcome:
    return c.ClaimOutcome(f"cl-{number}", KEY, status, 1000 + number, 250, ("CO-45",))


def _fan_out(claims: int) -> FanOut:
    outcomes = [_outcome(n) for n in range(claims)]
    # Claim 7 is in the 835 twice: reversed, then paid again; it must hear them in that order.
    outcomes.insert(7, replace(_outcome(7), status="reversed", paid_cents=-1007))
    return FanOut(tuple(outcomes), ("cl-secondary-1", "cl-secondary-2"), ("g-1", "g-2", "g-3"))


async def _tell(
    tmp_path: Path, client: RecordingClient, fan_out: FanOut, page: c.TellPage, concurrency: int, resumed: int = -1
) -> tuple[c.Told, list[int]]:
    documents = LocalDocumentStore(tmp_path / "documents")
    keep_fan_out(documents, KEY, fan_out)
    posting = PostingActivities(None, None, documents, client, tell_concurrency=concurrency)  # type: ignore[arg-type]
    env = ActivityEnvironment()
    env.info = replace(env.info, task_queue="revenue", heartbeat_details=[resumed] if resumed >= 0 else [])
    beats: list[int] = []
    env.on_heartbeat = lambda *details: beats.append(int(details[0]))
    told = await env.run(posting.tell, page)
    return told, beats


async def test_a_page_is_told_concurrently_and_each_claim_hears_its_outcome_once(tmp_path: Path) -> None:
    fan_out = _fan_out(60)  # 61 outcomes, 2 secondary claims, 3 guarantors
    running = {f"claim-cl-{n}" for n in range(60) if n % 10 != 3}  # cl-3, cl-13, ... have ended: reopened
    client = RecordingClient(running=set(running))

    told, beats = await _tell(tmp_path, client, fan_out, c.TellPage(KEY, 0, len(fan_out)), concurrency=16)

    assert 1 < client.peak <= 16  # concurrent, within the bound
    heard = Counter(workflow_id for workflow_id, _ in client.signals)
    reopened = Counter(workflow_id for kind, workflow_id in client.starts if kind == "Claim")
    for n in range(60):
        workflow_id = f"claim-cl-{n}"
        expected = 2 if n == 7 else 1
        assert heard[workflow_id] + reopened[workflow_id] == expected, workflow_id  # once each, none left out
    assert [o.status for w, o in client.signals if w == "claim-cl-7"] == ["reversed", "paid"]  # the 835's order
    assert told == c.Told(signalled=61 - 6, reopened=6, secondary_started=2, guarantors_notified=3)
    collections = [w for kind, w in client.starts if kind == "PatientCollections"]
    assert sorted(collections) == ["collections-g-1", "collections-g-2", "collections-g-3"]
    assert beats == sorted(beats) and beats[-1] == len(fan_out)  # the told prefix only grows, to the page's end


async def test_one_at_a_time_is_still_one_at_a_time(tmp_path: Path) -> None:
    client = RecordingClient(running={f"claim-cl-{n}" for n in range(60)})
    await _tell(tmp_path, client, _fan_out(60), c.TellPage(KEY, 0, 20), concurrency=1)
    assert client.peak == 1 and len(client.signals) == 20


async def test_a_retried_page_goes_on_after_the_heartbeated_prefix(tmp_path: Path) -> None:
    client = RecordingClient(running={f"claim-cl-{n}" for n in range(60)})
    told, beats = await _tell(tmp_path, client, _fan_out(60), c.TellPage(KEY, 20, 20), concurrency=8, resumed=31)
    assert sorted(int(w.removeprefix("claim-cl-")) for w, _ in client.signals) == list(range(30, 39))  # 31..39
    assert told.signalled == 9 and beats[-1] == 40


async def test_a_failure_stops_the_page_as_it_was_raised_and_the_prefix_stays_before_it(tmp_path: Path) -> None:
    client = RecordingClient(running={f"claim-cl-{n}" for n in range(60)}, fail_on="claim-cl-25")
    documents = LocalDocumentStore(tmp_path / "documents")
    keep_fan_out(documents, KEY, _fan_out(60))
    posting = PostingActivities(None, None, documents, client, tell_concurrency=8)  # type: ignore[arg-type]
    env = ActivityEnvironment()
    env.info = replace(env.info, task_queue="revenue")
    beats: list[int] = []
    env.on_heartbeat = lambda *details: beats.append(int(details[0]))
    with pytest.raises(RPCError) as raised:  # the error itself, not an exception group
        await env.run(posting.tell, c.TellPage(KEY, 0, 60))
    assert raised.value.status == RPCStatusCode.UNAVAILABLE
    assert beats and max(beats) <= 26  # item 26 is cl-25 (cl-7 is there twice): never counted as told
    assert client.in_flight == 0  # the rest were cancelled, none left running


async def test_tell_concurrently_reports_only_a_contiguous_prefix() -> None:
    finished: list[int] = []
    progress: list[int] = []
    gates = {index: asyncio.Event() for index in range(10)}

    async def tell_one(index: int) -> None:
        await gates[index].wait()
        finished.append(index)

    telling = asyncio.create_task(tell_concurrently(range(10), tell_one, 10, progress.append))
    for index in (3, 1, 2):  # out of order
        gates[index].set()
        await asyncio.sleep(0)
        await asyncio.sleep(0)
    assert finished == [3, 1, 2] and progress == [0, 0, 0]  # told, but nothing before 0: the prefix stays at 0
    gates[0].set()
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    assert progress[-1] == 4  # 0 done: 0..3 are a prefix at once
    for index in range(4, 10):
        gates[index].set()
    await telling
    assert progress[-1] == 10 and progress == sorted(progress)
