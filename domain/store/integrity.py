"""Integrity checks over the whole store: what `carecycle db check` reports (the store's own checks and each
area's: the ledger's come from ``domain.ledger.checks``).

Each check returns the number of problems and a few example ids (never PHI).
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, aliased

from domain import models as m
from domain.claim_status import ClaimStatus
from domain.enums import AppointmentStatus, CoverageRank, PaymentPlanStatus, WorkItemState
from domain.ledger.checks import CORE_LEDGER_CHECKS, LEDGER_CHECKS
from domain.store.check_report import (
    EXAMPLES,
    Check,
    CheckFunction,
    CheckResult,
    IntegrityReport,
    count_and_examples,
    run_checks,
)

__all__ = ["CHECKS", "CheckResult", "IntegrityReport", "check_store"]


def _claims_without_lines(session: Session) -> tuple[int, list[str]]:
    has_line = select(m.ClaimLine.id).where(m.ClaimLine.claim_id == m.Claim.id).exists()
    return count_and_examples(session, select(m.Claim.id).where(~has_line))


def _claim_totals(session: Session) -> tuple[int, list[str]]:
    total = (
        select(func.coalesce(func.sum(m.ClaimLine.charge_cents), 0))
        .where(m.ClaimLine.claim_id == m.Claim.id)
        .scalar_subquery()
    )
    return count_and_examples(session, select(m.Claim.id).where(m.Claim.total_charge_cents != total))


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
        c, e = count_and_examples(session, select(m.WorkItem.id).where(m.WorkItem.entity_type == entity_type, ~exists))
        count, examples = count + c, (examples + e)[:EXAMPLES]
    return count, examples


def _illegal(column: Any, allowed: type[StrEnum], key: Any) -> CheckFunction:
    def check(session: Session) -> tuple[int, list[str]]:
        return count_and_examples(session, select(key).where(column.not_in([v.value for v in allowed])))

    return check


def _coverages_without_payer(session: Session) -> tuple[int, list[str]]:
    exists = select(m.Payer.id).where(m.Payer.id == m.Coverage.payer_id).exists()
    return count_and_examples(session, select(m.Coverage.id).where(~exists))


CHECKS: tuple[Check, ...] = (
    *CORE_LEDGER_CHECKS,
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


def check_store(session: Session) -> IntegrityReport:
    return run_checks(session, (*CHECKS, *LEDGER_CHECKS))
