"""What the workflow sandbox runs afresh for each workflow it starts: workflow code only.

The sandbox re-runs a workflow's module, and what that module imports outside ``imports_passed_through``, for every
workflow it starts (a journey starts four). Data, names and the typed activity layer are meant to be passed through
(imported once): ``flows.calls``, ``flows.search_attributes``, ``flows.revenue.names``, ``flows.revenue.options``,
``flows.workitem_values``, ``domain`` and ``activities.contracts``. A ``from flows import calls`` inside
``imports_passed_through`` silently re-ran ``flows.calls`` in every sandbox (the parent package is the sandbox's, and
Python imports the submodule of a ``from`` list past the sandbox's import hook); this keeps such a slip out.
"""

from __future__ import annotations

import importlib._bootstrap_external as bootstrap_external
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from temporalio import workflow

from workers.registry import workflow_runner, workflows_by_queue

WORKFLOWS = [cls for classes in workflows_by_queue().values() for cls in classes]  # every one a worker runs

PASSED_THROUGH = (
    "flows.calls",
    "flows.search_attributes",
    "flows.revenue.names",
    "flows.revenue.options",
    "flows.workitem_values",
    "domain",
    "activities",
)  # (the SDK re-runs its own in-sandbox module by design: not ours to pass)


@contextmanager
def _modules_run() -> Iterator[list[str]]:
    """The names of the modules whose bodies run while the block runs."""
    loader: Any = bootstrap_external._LoaderBasics  # type: ignore[attr-defined]  # the loaders' exec_module
    original = loader.exec_module
    ran: list[str] = []

    def exec_module(self: Any, module: Any) -> None:
        ran.append(module.__name__)
        original(self, module)

    loader.exec_module = exec_module
    try:
        yield ran
    finally:
        loader.exec_module = original


@pytest.mark.parametrize("workflow_class", WORKFLOWS, ids=lambda cls: cls.__name__)
async def test_a_workflow_sandbox_reruns_workflow_code_only(workflow_class: type) -> None:
    definition = workflow._Definition.must_from_class(workflow_class)
    runner = workflow_runner()
    with _modules_run() as ran:
        runner.prepare_workflow(definition)  # builds one sandboxed instance, as for each workflow started
    assert definition.cls.__module__ in ran  # the measurement sees the workflow's own module run afresh
    rerun = sorted({name for name in ran if name.startswith(PASSED_THROUGH)})
    assert rerun == [], f"{workflow_class.__name__}'s sandbox re-ran modules meant to be passed through: {rerun}"
