"""Each typed reference in ``activities.contracts`` names a registered activity and states its types truly.

The workflow side is checked by mypy (``flows.calls.execute`` takes the reference's input and returns its output);
this test binds the other side: the activity implemented under the reference's name takes exactly that input and
returns exactly that output, so a workflow cannot be type-correct against a contract its activity does not keep."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import re
import typing
from pathlib import Path
from types import ModuleType

import pytest

import activities
import activities.contracts
from activities.contracts.reference import ActivityRef

STABLE_NAME = re.compile(r"^[a-z]+\.[a-z_]+$")


def _contract_modules() -> list[ModuleType]:
    return [
        importlib.import_module(f"activities.contracts.{info.name}")
        for info in pkgutil.iter_modules(activities.contracts.__path__)
    ]


def _references() -> dict[str, tuple[str, ActivityRef[object, object]]]:
    """Reference by activity name: (where it is declared, the reference)."""
    found: dict[str, tuple[str, ActivityRef[object, object]]] = {}
    for module in _contract_modules():
        for attribute, value in vars(module).items():
            if isinstance(value, ActivityRef):
                assert value.name not in found, f"{value.name} has two references"
                found[value.name] = (f"{module.__name__}.{attribute}", value)
    return found


def _implementations() -> dict[str, typing.Any]:
    """Activity name -> the method registered under it, from every activity class of the ``activities`` package."""
    found: dict[str, typing.Any] = {}
    root = Path(activities.__file__).parent
    for path in sorted(root.rglob("*.py")):  # files, not pkgutil: some subpackages are namespace packages
        parts = path.relative_to(root.parent).with_suffix("").parts
        module = importlib.import_module(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
        for cls in vars(module).values():
            if not inspect.isclass(cls) or cls.__module__ != module.__name__:
                continue
            for _, method in inspect.getmembers(cls, inspect.isfunction):
                definition = getattr(method, "__temporal_activity_definition", None)
                if definition is not None:
                    found[definition.name] = method
    return found


REFERENCES = _references()
IMPLEMENTATIONS = _implementations()


def test_every_activity_has_a_typed_reference() -> None:
    assert sorted(set(IMPLEMENTATIONS) - set(REFERENCES)) == []


@pytest.mark.parametrize("name", sorted(REFERENCES))
def test_a_reference_keeps_the_stable_name_and_the_implementations_types(name: str) -> None:
    declared_at, reference = REFERENCES[name]
    assert STABLE_NAME.match(name), name
    assert declared_at.rsplit(".", 1)[1] == name.replace(".", "_"), "a reference is named after its activity"
    assert name in IMPLEMENTATIONS, f"{declared_at}: no activity is registered as {name}"
    method = IMPLEMENTATIONS[name]
    hints = typing.get_type_hints(method)
    (parameter,) = [p for p in inspect.signature(method).parameters if p != "self"]
    assert hints[parameter] is reference.input, f"{name} takes {hints[parameter]}, the reference says {reference.input}"
    assert hints["return"] is reference.output, f"{name} returns {hints['return']}, not {reference.output}"
