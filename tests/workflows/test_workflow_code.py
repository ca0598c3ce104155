"""A worker runs the workflow code it started with (workers.temporal.workflow_code).

The sandbox imports a workflow's module afresh for every workflow it starts. Unpinned, that import reads the file
again, so a file changed under a running worker changes what its next workflows run (the control below shows it);
pinned, the worker keeps running the code it compiled when it started, and the module's body still runs afresh
in each workflow's sandbox.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys
import textwrap
import uuid
from pathlib import Path
from typing import Any

import pytest
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from workers.registry import WORKFLOW_PACKAGES, workflow_runner
from workers.temporal.workflow_code import PinnedWorkflowCode, _PinnedLoader, pin_workflow_code

pytestmark = pytest.mark.temporal

PROBE = """
from temporalio import workflow

ANSWER = {answer!r}
RUNS = []  # module state: a fresh list in each workflow's sandbox


@workflow.defn(name={name!r})
class Probe:
    @workflow.run
    async def run(self) -> str:
        RUNS.append(1)
        return f"{{ANSWER}} {{len(RUNS)}}"
"""


def _package(root: Path, answer: str) -> str:
    name = f"probe_{uuid.uuid4().hex[:10]}"
    (root / name).mkdir()
    (root / name / "__init__.py").write_text("")
    _write(root, name, answer)
    return name


def _write(root: Path, package: str, answer: str) -> None:
    module = root / package / "wf.py"
    module.write_text(textwrap.dedent(PROBE.format(answer=answer, name=package)))
    later = module.stat().st_mtime + 10  # a new file on disk by every measure the import system uses
    os.utime(module, (later, later))


async def _answers(env: WorkflowEnvironment, workflow_class: Any, runs: int) -> list[str]:
    queue = f"pinned-{uuid.uuid4()}"
    async with Worker(env.client, task_queue=queue, workflows=[workflow_class], workflow_runner=workflow_runner()):
        return [
            await env.client.execute_workflow(workflow_class.run, id=f"probe-{uuid.uuid4()}", task_queue=queue)
            for _ in range(runs)
        ]


async def test_a_file_changed_under_a_running_worker_does_not_change_what_it_runs(
    time_skipping_env: WorkflowEnvironment, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.syspath_prepend(str(tmp_path))
    finder = PinnedWorkflowCode()
    monkeypatch.setattr(sys, "meta_path", [finder, *sys.meta_path])
    pinned, unpinned = _package(tmp_path, "as started"), _package(tmp_path, "as started")
    finder.pin([pinned])
    pinned_class = __import__(f"{pinned}.wf", fromlist=["Probe"]).Probe
    unpinned_class = __import__(f"{unpinned}.wf", fromlist=["Probe"]).Probe
    _write(tmp_path, pinned, "changed on disk")
    _write(tmp_path, unpinned, "changed on disk")

    # Each workflow ran its module afresh (its own RUNS), from the code compiled when the worker started...
    assert await _answers(time_skipping_env, pinned_class, 2) == ["as started 1", "as started 1"]
    # ...where an unpinned module's next workflow runs whatever the file says now.
    assert await _answers(time_skipping_env, unpinned_class, 1) == ["changed on disk 1"]


def test_the_workers_pin_the_product_workflow_code_once() -> None:
    workflow_runner()
    finder = pin_workflow_code(WORKFLOW_PACKAGES)
    assert sys.meta_path.count(finder) == 1 and finder is pin_workflow_code(["flows"])
    assert finder.pinned("flows.revenue.claim") and not finder.pinned("domain.money")
    spec = finder.find_spec("flows.revenue.claim", [str(Path(__file__).resolve().parents[2] / "flows" / "revenue")])
    assert spec is not None and spec.loader is not None
    assert spec.loader.get_code("flows.revenue.claim") is spec.loader.get_code("flows.revenue.claim")  # type: ignore[attr-defined]


class _EditableFinder:
    """What an editable install puts on sys.meta_path: its top-level package found by name, not on sys.path."""

    def __init__(self, name: str, directory: Path) -> None:
        self.name, self.directory = name, directory

    def find_spec(self, fullname: str, path: Any = None, target: Any = None) -> Any:
        if fullname != self.name:
            return None
        init = self.directory / "__init__.py"
        return importlib.util.spec_from_file_location(fullname, init, submodule_search_locations=[str(self.directory)])


def test_a_package_found_by_another_finder_is_pinned(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    package = _package(tmp_path, "as installed")  # tmp_path is not on sys.path: only the finder knows it
    finder = PinnedWorkflowCode()
    monkeypatch.setattr(sys, "meta_path", [finder, *sys.meta_path, _EditableFinder(package, tmp_path / package)])
    try:
        finder.pin([package])  # both modules compiled now, found through the other finder
        _write(tmp_path, package, "changed on disk")
        module = importlib.import_module(f"{package}.wf")
        assert module.ANSWER == "as installed" and isinstance(module.__spec__.loader, _PinnedLoader)
    finally:
        for name in (package, f"{package}.wf"):
            sys.modules.pop(name, None)
