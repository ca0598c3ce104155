"""What a store check is and what it reports: shared by the store's checks (``domain.store.integrity``) and each
area's own (``domain.ledger.checks``), so neither has to import the other to speak of results.

A check returns the number of problems and a few example ids (never PHI).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

EXAMPLES = 5

CheckFunction = Callable[[Session], tuple[int, list[str]]]
Check = tuple[str, str, CheckFunction]  # name, description, the check


@dataclass
class CheckResult:
    name: str
    description: str
    problems: int = 0
    examples: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.problems == 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "ok": self.ok,
            "description": self.description,
            "problems": self.problems,
            "examples": self.examples,
        }


@dataclass
class IntegrityReport:
    checks: list[CheckResult]

    @property
    def ok(self) -> bool:
        return all(c.ok for c in self.checks)

    def as_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "checks": [c.as_dict() for c in self.checks]}


def count_and_examples(session: Session, stmt: Any) -> tuple[int, list[str]]:
    """How many rows ``stmt`` selects and the first column of the first :data:`EXAMPLES` of them."""
    count = session.execute(select(func.count()).select_from(stmt.subquery())).scalar_one()
    examples = [str(row[0]) for row in session.execute(stmt.limit(EXAMPLES))] if count else []
    return count, examples


def run_checks(session: Session, checks: Iterable[Check]) -> IntegrityReport:
    results = []
    for name, description, check in checks:
        problems, examples = check(session)
        results.append(CheckResult(name, description, problems, examples))
    return IntegrityReport(results)
