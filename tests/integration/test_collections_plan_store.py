"""A payment plan's pause, hardship re-plan and hardship write-off through the collections activities, on SQLite
and PostgreSQL, over a seeded practice whose guarantors owe their historical patient shares."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from activities.contracts import revenue as c
from activities.documents.local import LocalDocumentStore
from activities.revenue import CollectionsActivities
from domain import models as m
from domain.enums import PaymentPlanStatus
from domain.ledger.checks import run_ledger_checks
from domain.ledger.store import account_balance, guarantor_balance
from domain.store.uow import UnitOfWork
from workers.synthetic import seed_practice

POLICY = c.RevenuePolicy()


def test_a_paused_plan_is_replanned_on_hardship_terms_then_written_off(
    uow: UnitOfWork, session_factory: sessionmaker[Session], tmp_path: Path
) -> None:
    with uow:
        seed_practice(uow.session, patients=30, seed=11, as_of=date(2026, 3, 2))
        uow.commit()
    with uow:
        guarantors = uow.session.execute(select(m.Guarantor.id)).scalars().all()
        owed = {g: guarantor_balance(uow.session, g) for g in guarantors}
    guarantor, balance = max(owed.items(), key=lambda item: item[1])
    assert balance > 0  # a seeded guarantor owes the patient shares of the practice's paid claims
    collections = CollectionsActivities(session_factory, LocalDocumentStore(tmp_path / "documents"))

    def request(key: str, installments: int, minimum: int, most: int) -> c.PaymentPlanRequest:
        return c.PaymentPlanRequest(guarantor, installments, None, minimum, most, 30, key)

    plan = collections.create_payment_plan(request("wf/plan", 1, POLICY.min_installment_cents, 12))
    assert plan.total_cents == balance
    collections.update_payment_plan(c.PaymentPlanUpdate(plan.plan_id, "paused", 0))
    with uow:
        row = uow.session.get(m.PaymentPlan, plan.plan_id)
        assert row is not None and row.status == PaymentPlanStatus.PAUSED
    # Granted: a new plan on the hardship terms replaces it; the old one is cancelled.
    most = balance // POLICY.hardship_min_installment_cents
    assert most >= 1
    hardship = collections.create_payment_plan(
        request("wf/plan/hardship/1/replan", most, POLICY.hardship_min_installment_cents, most)
    )
    again = collections.create_payment_plan(
        request("wf/plan/hardship/1/replan", most, POLICY.hardship_min_installment_cents, most)
    )
    assert again.plan_id == hardship.plan_id != plan.plan_id  # once per key
    assert len(hardship.amounts_cents) == most and min(hardship.amounts_cents) >= POLICY.hardship_min_installment_cents
    collections.update_payment_plan(c.PaymentPlanUpdate(plan.plan_id, "cancelled", 0))
    # Later the practice forgives the rest: a hardship write-off, and the plan finds itself complete.
    collections.write_off(c.CollectionsWriteOff(guarantor, balance, "hardship", "wf/plan/hardship/2"))
    collections.write_off(c.CollectionsWriteOff(guarantor, balance, "hardship", "wf/plan/hardship/2"))  # retried
    standing = collections.check_payment_plan(c.PaymentPlanCheck(hardship.plan_id, 0))
    assert standing.completed and standing.paid_cents == balance
    with uow:
        session = uow.session
        assert guarantor_balance(session, guarantor) == 0
        assert account_balance(session, "write_off:hardship") == balance
        statuses = {p.id: p.status for p in session.execute(select(m.PaymentPlan)).scalars()}
        assert statuses == {plan.plan_id: PaymentPlanStatus.CANCELLED, hardship.plan_id: PaymentPlanStatus.COMPLETED}
        assert run_ledger_checks(session).ok
