"""Workflows reach activities only through the typed layer (flows/calls.py) and typed references.

Read from the source (AST), so a new workflow that calls ``workflow.execute_activity("area.verb", arg)`` itself, or
passes a name string where a reference belongs, fails here even before mypy would have a chance to miss it."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

FLOWS = Path(__file__).resolve().parents[2] / "flows"
TYPED_LAYER = FLOWS / "calls.py"

# Temporal's own ways of scheduling an activity: only the typed layer may use them.
SCHEDULING = {
    "execute_activity",
    "start_activity",
    "execute_local_activity",
    "start_local_activity",
    "execute_activity_method",
    "start_activity_method",
    "execute_activity_class",
    "start_activity_class",
    "execute_local_activity_method",
    "start_local_activity_method",
    "execute_local_activity_class",
    "start_local_activity_class",
}
# The typed layer's entry points and the revenue workflows' wrappers around it: the first argument is the reference.
TYPED_ENTRY_POINTS = {"execute", "run_activity", "run_or_ask"}


def _modules() -> list[Path]:
    return sorted(path for path in FLOWS.rglob("*.py") if path != TYPED_LAYER)


def _workflow_modules() -> list[Path]:
    """The Temporal side of flows (the Prefect batch flows in flows/batch schedule no Temporal activity)."""
    return [path for path in _modules() if "from temporalio import workflow" in path.read_text()]


def _name(path: Path) -> str:
    return str(path.relative_to(FLOWS))


def _called_name(call: ast.Call) -> str | None:
    if isinstance(call.func, ast.Attribute):
        return call.func.attr
    if isinstance(call.func, ast.Name):
        return call.func.id
    return None


def _calls(path: Path) -> list[ast.Call]:
    return [node for node in ast.walk(ast.parse(path.read_text(), str(path))) if isinstance(node, ast.Call)]


def _is_name_constant(node: ast.expr) -> bool:
    """A string literal, or a constant such as ``c.CLAIMS_SUBMIT`` (activity names are upper-case constants)."""
    if isinstance(node, ast.Constant):
        return isinstance(node.value, str)
    name = node.attr if isinstance(node, ast.Attribute) else node.id if isinstance(node, ast.Name) else ""
    return name.isupper()


def _mentions_any(annotation: ast.expr | None) -> bool:
    return annotation is not None and any(
        (isinstance(node, ast.Name) and node.id == "Any") or (isinstance(node, ast.Attribute) and node.attr == "Any")
        for node in ast.walk(annotation)
    )


@pytest.mark.parametrize("path", _modules(), ids=_name)
def test_no_workflow_schedules_an_activity_outside_the_typed_layer(path: Path) -> None:
    direct = [f"line {call.lineno}: {_called_name(call)}" for call in _calls(path) if _called_name(call) in SCHEDULING]
    assert direct == [], f"{path.name} schedules activities itself; use flows.calls.execute with a typed reference"


@pytest.mark.parametrize("path", _modules(), ids=_name)
def test_activities_are_named_by_typed_references_not_strings(path: Path) -> None:
    by_name = [
        f"line {call.lineno}: {_called_name(call)}({ast.unparse(call.args[0])}, ...)"
        for call in _calls(path)
        if _called_name(call) in TYPED_ENTRY_POINTS and call.args and _is_name_constant(call.args[0])
    ]
    assert by_name == []


def test_the_typed_layer_is_the_only_scheduler_and_takes_no_any() -> None:
    tree = ast.parse(TYPED_LAYER.read_text())
    scheduled = [call for call in _calls(TYPED_LAYER) if _called_name(call) in SCHEDULING]
    # One place for an activity, one for a local activity (a short store read: ``execute(..., local=True)``).
    assert sorted(_called_name(call) or "" for call in scheduled) == ["execute_activity", "execute_local_activity"], (
        "flows/calls.py schedules in exactly one place per kind"
    )
    assert not any(isinstance(call.args[0], ast.Constant) for call in scheduled)
    functions = [node for node in ast.walk(tree) if isinstance(node, ast.AsyncFunctionDef | ast.FunctionDef)]
    assert functions
    for function in functions:
        arguments = [*function.args.posonlyargs, *function.args.args, *function.args.kwonlyargs]
        assert not any(_mentions_any(argument.annotation) for argument in arguments), function.name
        assert not _mentions_any(function.returns), function.name


@pytest.mark.parametrize("path", _workflow_modules(), ids=_name)
def test_no_workflow_helper_takes_an_untyped_activity_argument(path: Path) -> None:
    """A helper that forwards an activity's argument (``run_activity(name, arg: Any, ...)``) would hide it from mypy:
    no function in flows takes a parameter annotated plainly ``Any``."""
    untyped = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.AsyncFunctionDef | ast.FunctionDef):
            arguments = [*node.args.posonlyargs, *node.args.args, *node.args.kwonlyargs]
            untyped += [
                f"{node.name}({argument.arg})"
                for argument in arguments
                if isinstance(argument.annotation, ast.Name) and argument.annotation.id == "Any"
            ]
    assert untyped == []
