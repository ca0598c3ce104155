"""The ledger's integrity checks: part of ``carecycle db check`` (``domain.store.integrity`` runs them) and run
on their own by :func:`run_ledger_checks` (``carecycle ledger check``, the demo's summary).

Each returns (problems, example ids); ids only, never PHI.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, aliased

from domain import models as m
from domain.ledger import accounts as acc
from domain.store.check_report import EXAMPLES, Check, IntegrityReport, count_and_examples, run_checks


def _net() -> Any:
    return func.coalesce(func.sum(m.JournalLine.debit_cents - m.JournalLine.credit_cents), 0)


def unbalanced_entries(session: Session) -> tuple[int, list[str]]:
    stmt = (
        select(m.JournalLine.entry_id)
        .group_by(m.JournalLine.entry_id)
        .having(func.sum(m.JournalLine.debit_cents) != func.sum(m.JournalLine.credit_cents))
    )
    return count_and_examples(session, stmt)


def entries_without_lines(session: Session) -> tuple[int, list[str]]:
    line_count = select(func.count()).where(m.JournalLine.entry_id == m.JournalEntry.id).scalar_subquery()
    return count_and_examples(session, select(m.JournalEntry.id).where(line_count < 2))


def patient_ar_control(session: Session) -> tuple[int, list[str]]:
    """Each guarantor's patient AR account equals the sum of its patients' balances, and every line names a
    patient of that guarantor (so the control account equals the sum of patient balances)."""
    stmt = (
        select(m.Account.owner_id, m.JournalEntry.patient_id, m.Patient.guarantor_id, _net())
        .select_from(m.JournalLine)
        .join(m.Account, m.Account.id == m.JournalLine.account_id)
        .join(m.JournalEntry, m.JournalEntry.id == m.JournalLine.entry_id)
        .outerjoin(m.Patient, m.Patient.id == m.JournalEntry.patient_id)
        .where(m.Account.code.like(f"{acc.PATIENT_AR}:%"))
        .group_by(m.Account.owner_id, m.JournalEntry.patient_id, m.Patient.guarantor_id)
    )
    bad: list[str] = []
    for guarantor_id, patient_id, patients_guarantor, _net_cents in session.execute(stmt):
        if patient_id is None or patients_guarantor != guarantor_id:
            bad.append(str(guarantor_id))
    return len(bad), bad[:EXAMPLES]


def insurance_ar_by_claim(session: Session) -> tuple[int, list[str]]:
    """Every insurance AR line names a claim, and a claim's insurance AR sits with the payer it is billed to: on
    any other payer's account it nets to zero (a claim corrected to another payer moved its balance along)."""
    claim = aliased(m.Claim)
    base = (
        select(m.JournalLine.id)
        .join(m.Account, m.Account.id == m.JournalLine.account_id)
        .join(m.JournalEntry, m.JournalEntry.id == m.JournalLine.entry_id)
        .where(m.Account.code.like(f"{acc.INSURANCE_AR}:%"))
    )
    orphans = base.outerjoin(claim, claim.id == m.JournalEntry.claim_id).where(claim.id.is_(None))
    misplaced = (
        select(m.JournalEntry.claim_id)
        .select_from(m.JournalLine)
        .join(m.Account, m.Account.id == m.JournalLine.account_id)
        .join(m.JournalEntry, m.JournalEntry.id == m.JournalLine.entry_id)
        .join(claim, claim.id == m.JournalEntry.claim_id)
        .where(m.Account.code.like(f"{acc.INSURANCE_AR}:%"), claim.payer_id != m.Account.owner_id)
        .group_by(m.JournalEntry.claim_id, m.Account.id)
        .having(_net() != 0)
    )
    count = 0
    examples: list[str] = []
    for stmt in (orphans, misplaced):
        found = session.execute(select(func.count()).select_from(stmt.subquery())).scalar_one()
        count += int(found)
        if found:
            examples += [str(r[0]) for r in session.execute(stmt.limit(EXAMPLES))]
    return count, examples[:EXAMPLES]


def reversals_mirror(session: Session) -> tuple[int, list[str]]:
    """A reversal and the entry it reverses net to zero on every account."""
    original = aliased(m.JournalEntry)
    reversal = aliased(m.JournalEntry)
    line = aliased(m.JournalLine)
    stmt = (
        select(reversal.id, line.account_id, func.sum(line.debit_cents - line.credit_cents))
        .join(original, original.id == reversal.reverses_entry_id)
        .join(line, (line.entry_id == reversal.id) | (line.entry_id == original.id))
        .group_by(reversal.id, line.account_id)
    )
    bad = sorted({str(rid) for rid, _account, net in session.execute(stmt) if int(net) != 0})
    return len(bad), bad[:EXAMPLES]


def reversed_once(session: Session) -> tuple[int, list[str]]:
    """No entry is reversed twice."""
    stmt = (
        select(m.JournalEntry.reverses_entry_id)
        .where(m.JournalEntry.reverses_entry_id.is_not(None))
        .group_by(m.JournalEntry.reverses_entry_id)
        .having(func.count() > 1)
    )
    rows = [str(r[0]) for r in session.execute(stmt)]
    return len(rows), rows[:EXAMPLES]


def cob_crossover_clears(session: Session) -> tuple[int, list[str]]:
    """What crossed over from a primary reached a secondary: the crossover account nets to zero."""
    stmt = (
        select(_net())
        .join(m.Account, m.Account.id == m.JournalLine.account_id)
        .where(m.Account.code == acc.COB_CROSSOVER.code)
    )
    net = int(session.execute(stmt).scalar_one())
    return (0, []) if net == 0 else (1, [acc.COB_CROSSOVER.code])


# The core of double entry: the store's check runs these first.
CORE_LEDGER_CHECKS: tuple[Check, ...] = (
    ("ledger_balanced", "every journal entry's debits equal its credits", unbalanced_entries),
    ("entries_have_two_lines", "every journal entry has at least two lines", entries_without_lines),
)

LEDGER_CHECKS: tuple[Check, ...] = (
    (
        "patient_ar_control",
        "each guarantor's patient AR account equals the sum of its patients' balances",
        patient_ar_control,
    ),
    (
        "insurance_ar_by_claim",
        "every insurance AR line names a claim; a claim's insurance AR sits with its payer",
        insurance_ar_by_claim,
    ),
    ("reversals_mirror", "a reversal and its original net to zero on every account", reversals_mirror),
    ("reversed_once", "no journal entry is reversed twice", reversed_once),
    ("cob_crossover_clears", "every primary-to-secondary crossover reached the secondary claim", cob_crossover_clears),
)


def run_ledger_checks(session: Session) -> IntegrityReport:
    """The core ledger checks (balanced, two lines) and the ledger's own, as one report."""
    return run_checks(session, (*CORE_LEDGER_CHECKS, *LEDGER_CHECKS))
