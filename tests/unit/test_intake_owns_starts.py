"""Only the intake module starts a patient's processes (PatientRegistration, Encounter, the visit workflows).

Every module of the installable packages is parsed; a call that starts a workflow (``start_workflow``,
``execute_workflow``, a child start) of one of those types, or under one of their business ids, anywhere but in
``intake/`` fails this test. Tests and benchmarks drive workflows directly on purpose and are not scanned.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SKIPPED = {"tests", "bench", "var", "infra", "docs", "scripts"}
START_CALLS = {"start_workflow", "execute_workflow", "start_child_workflow", "execute_child_workflow"}
PROTECTED_TYPES = {"PatientRegistration", "Encounter", "Visit", "VirtualVisit"}
PROTECTED_CLASSES = {"PatientRegistrationWorkflow", "EncounterWorkflow", "VisitWorkflow", "VirtualVisitWorkflow"}
PROTECTED_IDS = {"registration_workflow_id", "encounter_workflow_id", "visit_workflow_id", "virtual_visit_workflow_id"}
PROTECTED_PREFIXES = ("registration-", "encounter-", "visit-", "virtual-visit-")

# Starts allowed outside intake/, each with its reason.
ALLOWED = {
    # PatientRegistration's own child Encounter workflows, reached only when bill_encounters is True: runs started
    # before the front door existed. Intake starts registrations with bill_encounters=False.
    ("flows/revenue/registration.py", "EncounterWorkflow"),
    ("flows/revenue/registration.py", "encounter_workflow_id"),
    # A Visit or VirtualVisit (started by intake) hands its fulfilled visit to its Encounter child under the same
    # business id intake uses: a virtual visit ends on the video vendor's webhook, with no event at the front door.
    # An Encounter intake started first is left as it is (the child start finds it running).
    ("flows/visits/_previsit.py", "EncounterWorkflow"),
}


def packages() -> list[Path]:
    return sorted(
        path.parent
        for path in ROOT.glob("*/__init__.py")
        if path.parent.name not in SKIPPED and not path.parent.name.startswith(".")
    )


def _names(node: ast.AST) -> set[str]:
    return {n.id for n in ast.walk(node) if isinstance(n, ast.Name)} | {
        n.attr for n in ast.walk(node) if isinstance(n, ast.Attribute)
    }


def _strings(node: ast.AST) -> list[str]:
    return [n.value for n in ast.walk(node) if isinstance(n, ast.Constant) and isinstance(n.value, str)]


def protected_starts(source: str) -> list[tuple[int, str]]:
    """(line, what) for every call in ``source`` that starts one of the protected workflows."""
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Attribute):
            continue
        if node.func.attr not in START_CALLS:
            continue
        target = node.args[0] if node.args else next((k.value for k in node.keywords if k.arg == "workflow"), None)
        what: set[str] = set()
        if target is not None:
            what |= (_names(target) & PROTECTED_CLASSES) | (set(_strings(target)) & PROTECTED_TYPES)
        for keyword in node.keywords:
            if keyword.arg == "id":
                what |= _names(keyword.value) & PROTECTED_IDS
                what |= {s for s in _strings(keyword.value) if s.startswith(PROTECTED_PREFIXES)}
        for name in sorted(what):
            found.append((node.lineno, name))
    return found


def test_the_scanner_sees_every_way_of_starting_a_protected_workflow() -> None:
    starts = protected_starts(
        "async def f(client, pid, wf):\n"
        "    await client.start_workflow('PatientRegistration', x, id=y, task_queue='revenue')\n"
        "    await client.execute_workflow(EncounterWorkflow.run, x, id=z)\n"
        "    await workflow.execute_child_workflow(wf, x, id=registration_workflow_id(pid))\n"
        "    await client.start_workflow('Claim', x, id=f'encounter-{pid}')\n"
        "    await client.start_workflow('Claim', x, id=f'claim-{pid}')\n"
    )
    assert [what for _, what in starts] == [
        "PatientRegistration",
        "EncounterWorkflow",
        "registration_workflow_id",
        "encounter-",
    ]


def test_only_intake_starts_a_patients_processes() -> None:
    scanned = 0
    offenders: list[str] = []
    for package in packages():
        for path in sorted(package.rglob("*.py")):
            relative = path.relative_to(ROOT).as_posix()
            scanned += 1
            if relative.startswith("intake/"):
                continue
            for line, what in protected_starts(path.read_text(encoding="utf-8")):
                if (relative, what) not in ALLOWED:
                    offenders.append(f"{relative}:{line} starts {what}")
    assert scanned > 100  # the scan did walk the source tree
    assert {p.name for p in packages()} >= {"domain", "flows", "workers", "intake"}
    assert offenders == [], "only intake/ may start these workflows:\n" + "\n".join(offenders)


def test_intake_does_start_them() -> None:
    source = "\n".join(p.read_text(encoding="utf-8") for p in sorted((ROOT / "intake").rglob("*.py")))
    assert {what for _, what in protected_starts(source)} >= {"PatientRegistrationWorkflow", "EncounterWorkflow"}
