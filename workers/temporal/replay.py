"""Replaying histories against the current code, and exporting histories as JSON files."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from temporalio.client import Client, WorkflowHistory
from temporalio.converter import DataConverter
from temporalio.worker import Replayer

from workers.registry import all_workflows, workflow_runner
from workers.temporal.client import install_runtime


@dataclass(frozen=True)
class ReplayVerdict:
    workflow_id: str
    ok: bool
    failure: str | None = None

    @property
    def text(self) -> str:
        if self.ok:
            return f"OK: {self.workflow_id} replays deterministically against the current code"
        return f"NON-DETERMINISTIC: {self.workflow_id} does not replay against the current code: {self.failure}"


async def replay(history: WorkflowHistory, converter: DataConverter | None = None) -> ReplayVerdict:
    install_runtime()
    replayer = Replayer(
        workflows=all_workflows(),
        data_converter=converter or DataConverter.default,
        workflow_runner=workflow_runner(),
    )
    result = await replayer.replay_workflow(history, raise_on_replay_failure=False)
    if result.replay_failure is None:
        return ReplayVerdict(history.workflow_id, ok=True)
    return ReplayVerdict(history.workflow_id, ok=False, failure=str(result.replay_failure))


def history_file_name(workflow_id: str, run_id: str) -> str:
    return f"{re.sub(r'[^A-Za-z0-9._-]', '_', workflow_id)}__{run_id}.json"


def read_history_file(path: Path, text: str | None = None) -> WorkflowHistory:
    """A file written by ``audit export`` (``<workflow id>__<run id>.json``) or downloaded from the Web UI."""
    workflow_id = path.stem.split("__")[0]
    return WorkflowHistory.from_json(workflow_id, path.read_text() if text is None else text)


async def export_histories(client: Client, to_dir: Path, closed_since: date | None = None) -> list[Path]:
    """Write every closed workflow's history (payloads still encrypted) as one JSON file each."""
    query = 'ExecutionStatus != "Running"'
    if closed_since is not None:
        query += f' AND CloseTime >= "{closed_since.isoformat()}T00:00:00Z"'
    to_dir.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    async for execution in client.list_workflows(query):
        handle = client.get_workflow_handle(execution.id, run_id=execution.run_id)
        history = await handle.fetch_history()
        path = to_dir / history_file_name(execution.id, execution.run_id)
        path.write_text(history.to_json())
        written.append(path)
    return written
