"""Integrity checks over the whole store: what `carecycle db check` reports.

Each check returns the number of problems and a few example ids (never PHI).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, aliased

from domain import models as m
from domain.claim_status import ClaimStatus
from domain.enums import AppointmentStatus, CoverageRank, PaymentPlanStatus, WorkItemState

EXAMPLES = 5


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


def _ids(session: Session, stmt: Any) -> tuple[int, list[str]]:
    count = session.execute(select(func.count()).select_from(stmt.subquery())).scalar_one()
    examples = [str(row[0]) for row in session.execute(stmt.limit(EXAMPLES))] if count else []
    return count, examples


def _unbalanced_entries(session: Session) -> tuple[int, list[str]]:
    stmt = (
        select(m.JournalLine.entry_id)
        .group_by(m.JournalLine.entry_id)
        .having(func.sum(m.JournalLine.debit_cents) != func.sum(m.JournalLine.credit_cents))
    )
    return _ids(session, stmt)


def _entries_without_lines(session: Session) -> tuple[int, list[str]]:
    line_count = select(func.count()).where(m.JournalLine.entry_id == m.JournalEntry.id).scalar_subquery()
    return _ids(session, select(m.JournalEntry.id).where(line_count < 2))


def _claims_without_lines(session: Session) -> tuple[int, list[str]]:
    has_line = select(m.ClaimLine.id).where(m.ClaimLine.claim_id == m.Claim.id).exists()
    return _ids(session, select(m.Claim.id).where(~has_line))


def _claim_totals(session: Session) -> tuple[int, list[str]]:
    total = (
        select(func.coalesce(func.sum(m.ClaimLine.charge_cents), 0))
        .where(m.ClaimLine.claim_id == m.Claim.id)
        .scalar_subquery()
    )
    return _ids(session, select(m.Claim.id).where(m.Claim.total_charge_cents != total))


def _orphan_work_items(session: Session) -> tuple[int, list[str]]:
    targets: dict[str, type[m.Claim | m.Patient | m.Encounter | m.Coverage | m.Remittance | m.Staff | m.Appointment]]
    targets = {
        "claim": m.Claim,
        "patient": m.Patient,
        "encounter": m.Encounter,
        "coverage": m.Coverage,
        "remittance": m.Remittance,
        "staff": m.Staff,
        "appointment": m.Appointment,
    }
    count, examples = 0, list[str]()
    for entity_type, model in targets.items():
        target: Any = aliased(model)
        exists = select(target.id).where(target.id == m.WorkItem.entity_id).exists()
        c, e = _ids(session, select(m.WorkItem.id).where(m.WorkItem.entity_type == entity_type, ~exists))
        count, examples = count + c, (examples + e)[:EXAMPLES]
    return count, examples


def _illegal(column: Any, allowed: type[StrEnum], key: Any) -> Callable[[Session], tuple[int, list[str]]]:
    def check(session: Session) -> tuple[int, list[str]]:
        return _ids(session, select(key).where(column.not_in([v.value for v in allowed])))

    return check


def _coverages_without_payer(session: Session) -> tuple[int, list[str]]:
    exists = select(m.Payer.id).where(m.Payer.id == m.Coverage.payer_id).exists()
    return _ids(session, select(m.Coverage.id).where(~exists))


CHECKS: tuple[tuple[str, str, Callable[[Session], tuple[int, list[str]]]], ...] = (
    ("ledger_balanced", "every journal entry's debits equal its credits", _unbalanced_entries),
    ("entries_have_two_lines", "every journal entry has at least two lines", _entries_without_lines),
    ("claims_have_lines", "every claim has at least one line", _claims_without_lines),
    ("claim_totals", "a claim's total charge equals the sum of its lines", _claim_totals),
    ("coverage_payers_exist", "every coverage names a payer that exists", _coverages_without_payer),
    ("work_item_targets_exist", "every work item points at a record that exists", _orphan_work_items),
    ("claim_statuses_legal", "every claim status is a known status", _illegal(m.Claim.status, ClaimStatus, m.Claim.id)),
    (
        "work_item_states_legal",
        "every work item state is a known state",
        _illegal(m.WorkItem.state, WorkItemState, m.WorkItem.id),
    ),
    (
        "appointment_statuses_legal",
        "every appointment status is a known status",
        _illegal(m.Appointment.status, AppointmentStatus, m.Appointment.id),
    ),
    (
        "coverage_ranks_legal",
        "every coverage rank is primary, secondary or tertiary",
        _illegal(m.Coverage.rank, CoverageRank, m.Coverage.id),
    ),
    (
        "payment_plan_statuses_legal",
        "every payment plan status is known",
        _illegal(m.PaymentPlan.status, PaymentPlanStatus, m.PaymentPlan.id),
    ),
)

# Further checks registered by other areas (the ledger adds its control-account checks).
EXTRA_CHECKS: list[tuple[str, str, Callable[[Session], tuple[int, list[str]]]]] = []


def check_store(session: Session) -> IntegrityReport:
    import domain.ledger.checks  # noqa: F401  (registers the ledger's control-account checks)

    results = []
    for name, description, check in (*CHECKS, *EXTRA_CHECKS):
        problems, examples = check(session)
        results.append(CheckResult(name, description, problems, examples))
    return IntegrityReport(results)
