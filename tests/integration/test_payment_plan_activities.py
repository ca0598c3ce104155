"""The payment-plan activities on the real store (SQLite and PostgreSQL): the plan row once per key, installments
from the collections rules, what the ledger says was paid, misses and a broken plan."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from temporalio.exceptions import ApplicationError

from activities.contracts import revenue as c
from activities.documents.local import LocalDocumentStore
from activities.revenue import CollectionsActivities
from domain import models as m
from domain.enums import PaymentPlanStatus
from domain.ledger.payments import record_patient_payment
from domain.posting import post_remittance
from domain.store.uow import UnitOfWork
from tests.unit.posting.factory import make_claim, make_patient, make_practice, paid_claim, remittance


def _request(guarantor_id: str, installments: int, key: str) -> c.PaymentPlanRequest:
    policy = c.RevenuePolicy()
    return c.PaymentPlanRequest(
        guarantor_id,
        installments,
        None,
        policy.min_installment_cents,
        policy.max_installments,
        policy.installment_interval_days,
        key,
    )


def test_a_payment_plan_is_created_once_and_followed_on_the_ledger(
    uow: UnitOfWork, session_factory: Any, tmp_path: Path
) -> None:
    with uow:
        practice = make_practice(uow.session)
        patient = make_patient(uow.session, practice)
        claim = make_claim(uow.session, practice, patient)
        post_remittance(uow.session, remittance("PAYA", "PLAN1", [paid_claim(claim, pr_cents=(3001, 2000))]))
        uow.commit()
    collections = CollectionsActivities(session_factory, LocalDocumentStore(tmp_path / "documents"))
    guarantor = patient.guarantor_id

    with pytest.raises(ApplicationError) as refused:  # 13 installments: more than the policy allows
        collections.create_payment_plan(_request(guarantor, 13, "collections-g/too-many"))
    assert refused.value.non_retryable
    plan = collections.create_payment_plan(_request(guarantor, 2, "collections-g/payment_plan/3"))
    again = collections.create_payment_plan(_request(guarantor, 2, "collections-g/payment_plan/3"))
    assert again == plan
    assert plan.total_cents == 5001 and plan.amounts_cents == (2501, 2500)
    assert plan.first_due_in_days == plan.interval_days == 30
    with uow:
        rows = uow.session.execute(select(func.count()).select_from(m.PaymentPlan)).scalar_one()
        row = uow.session.get(m.PaymentPlan, plan.plan_id)
        assert rows == 1 and row is not None
        assert (row.guarantor_id, row.total_cents, row.installment_cents) == (guarantor, 5001, 2501)
        assert row.status == PaymentPlanStatus.ACTIVE

    first = collections.check_payment_plan(c.PaymentPlanCheck(plan.plan_id, 2501))
    assert (first.paid_cents, first.behind_cents, first.completed) == (0, 2501, False)
    collections.update_payment_plan(c.PaymentPlanUpdate(plan.plan_id, "active", 1))
    collections.update_payment_plan(c.PaymentPlanUpdate(plan.plan_id, "active", 1))  # a retry changes nothing
    with uow:
        record_patient_payment(uow.session, patient.patient_id, 2501, "card", recorded_by="portal", key="pp-1")
        uow.commit()
    caught_up = collections.check_payment_plan(c.PaymentPlanCheck(plan.plan_id, 2501))
    assert (caught_up.paid_cents, caught_up.behind_cents, caught_up.completed) == (2501, 0, False)
    collections.update_payment_plan(c.PaymentPlanUpdate(plan.plan_id, "broken", 2))
    with uow:
        row = uow.session.get(m.PaymentPlan, plan.plan_id)
        assert row is not None
        assert (row.status, row.missed_installments, row.paid_cents) == (PaymentPlanStatus.BROKEN, 2, 2501)
        record_patient_payment(uow.session, patient.patient_id, 2500, "card", recorded_by="portal", key="pp-2")
        uow.commit()
    done = collections.check_payment_plan(c.PaymentPlanCheck(plan.plan_id, 5001))
    assert (done.paid_cents, done.behind_cents, done.completed) == (5001, 0, True)
    with uow:
        row = uow.session.get(m.PaymentPlan, plan.plan_id)
        assert row is not None and row.status == PaymentPlanStatus.COMPLETED and row.paid_cents == 5001

    with pytest.raises(ApplicationError):  # nothing owed any more: no plan
        collections.create_payment_plan(_request(guarantor, 1, "collections-g/payment_plan/9"))
    with pytest.raises(ApplicationError):
        collections.check_payment_plan(c.PaymentPlanCheck("no-such-plan", 1))
