"""Deposit reconciliation on the store: ERA traces to deposit lines; differences become work items once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from domain import models as m
from domain.posting import post_remittance
from domain.reconciliation import import_bank_file, reconcile_deposits
from domain.store.uow import UnitOfWork
from tests.unit.posting.factory import make_claim, make_patient, make_practice, paid_claim, remittance


def test_reconcile(uow: UnitOfWork) -> None:
    with uow:
        practice = make_practice(uow.session)
        patient = make_patient(uow.session, practice)
        eras = []
        for trace in ("EFT1", "EFT2", "EFT3"):
            claim = make_claim(uow.session, practice, patient)
            era = remittance("PAYA", trace, [paid_claim(claim)])
            post_remittance(uow.session, era)
            eras.append(era)
        uow.commit()
    bank = (
        "date,amount,trace,description\n"
        f"2026-03-21,{eras[0].payment_amount_cents / 100:.2f},EFT1,ok\n"
        f"2026-03-21,{(eras[1].payment_amount_cents - 100) / 100:.2f},EFT2,short by a dollar\n"
        "2026-03-21,42.00,STRAY,no era\n"
    )
    with uow:
        imported = import_bank_file(uow.session, bank, "march.csv")
        again = import_bank_file(uow.session, bank, "march-copy.csv")
        assert imported.lines == 3 and again.already_imported and again.deposit_id == imported.deposit_id
        result = reconcile_deposits(uow.session, as_of=datetime.now(UTC) + timedelta(days=10))
        uow.commit()
    assert (result.matched, result.amount_mismatches, result.deposits_without_era, result.eras_without_deposit) == (
        1,
        1,
        1,
        1,
    )
    with uow:
        items = uow.session.execute(select(m.WorkItem).where(m.WorkItem.queue == "reconciliation")).scalars().all()
        problems = sorted(i.context["problem"] for i in items)
        assert problems == ["deposit_amount_mismatch", "deposit_without_era", "era_without_deposit"]
        mismatch = next(i for i in items if i.context["problem"] == "deposit_amount_mismatch")
        assert mismatch.context["difference_cents"] == -100
        linked = uow.session.execute(
            select(m.Remittance.trace_number).where(m.Remittance.deposit_line_id.is_not(None))
        ).scalars()
        assert list(linked) == ["EFT1"]
    with uow:
        rerun = reconcile_deposits(uow.session, as_of=datetime.now(UTC) + timedelta(days=10))
        uow.commit()
    assert rerun.work_items_opened == () and rerun.matched == 0


def test_a_deposit_matches_its_era_by_trace_key(uow: UnitOfWork) -> None:
    """The bank prints the ERA's trace 123456 as 000123456: the same payment (domain.remittance.trace_key)."""
    with uow:
        practice = make_practice(uow.session)
        patient = make_patient(uow.session, practice)
        era = remittance("PAYA", "123456", [paid_claim(make_claim(uow.session, practice, patient))])
        post_remittance(uow.session, era)
        uow.commit()
    bank = f"date,amount,trace,description\n2026-03-21,{era.payment_amount_cents / 100:.2f},000123456,ok\n"
    with uow:
        import_bank_file(uow.session, bank, "april.csv")
        result = reconcile_deposits(uow.session, as_of=datetime.now(UTC) + timedelta(days=10))
        uow.commit()
    assert (result.matched, result.amount_mismatches, result.deposits_without_era, result.eras_without_deposit) == (
        1,
        0,
        0,
        0,
    )
