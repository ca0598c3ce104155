"""One workflow class per module of ``flows``: a process has one file to read (issue 15, item 4)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

FLOWS = Path(__file__).resolve().parents[2] / "flows"


def _is_workflow_defn(decorator: ast.expr) -> bool:
    target = decorator.func if isinstance(decorator, ast.Call) else decorator
    return isinstance(target, ast.Attribute) and target.attr == "defn" and ast.unparse(target.value) == "workflow"


@pytest.mark.parametrize("path", sorted(FLOWS.rglob("*.py")), ids=lambda path: str(path.relative_to(FLOWS)))
def test_a_module_defines_at_most_one_workflow(path: Path) -> None:
    tree = ast.parse(path.read_text(), str(path))
    workflows = [
        node.name
        for node in ast.walk(tree)
        if isinstance(node, ast.ClassDef) and any(_is_workflow_defn(d) for d in node.decorator_list)
    ]
    assert len(workflows) <= 1, f"{path.name} defines {workflows}: one workflow per module"


def test_the_check_sees_the_workflows() -> None:
    found = [path for path in FLOWS.rglob("*.py") if "@workflow.defn" in path.read_text()]
    assert len(found) >= 10
