"""A reversal (CLP02=22) that no corrected claim payment follows, on SQLite and PostgreSQL: the claim is open
again (accepted: awaiting the payer's corrected adjudication), the ledger nets the original to zero and still
balances; the correction arriving in a later remittance pays it."""

from __future__ import annotations

from domain import models as m
from domain.claim_status import ClaimStatus
from domain.ledger import accounts as acc
from domain.ledger.checks import run_ledger_checks
from domain.ledger.store import account_balance, balances_by_account, claim_insurance_balances, patient_ar_balance
from domain.posting import post_remittance
from domain.store.integrity import check_store
from domain.store.uow import UnitOfWork
from tests.unit.posting.factory import make_claim, make_patient, make_practice, negate, paid_claim, remittance


def _ledger_ok(uow: UnitOfWork) -> None:
    report = run_ledger_checks(uow.session)
    assert report.ok, report.as_dict()
    assert sum(balances_by_account(uow.session).values()) == 0


def test_a_reversal_alone_reopens_the_claim_until_the_correction(uow: UnitOfWork) -> None:
    with uow:
        practice = make_practice(uow.session)
        alice = make_patient(uow.session, practice)
        claim = make_claim(uow.session, practice, alice)
        original = paid_claim(claim, pr_cents=(1000, 500))
        post_remittance(uow.session, remittance("PAYA", "ORIG", [original]))
        uow.commit()
    with uow:
        cash_before = account_balance(uow.session, acc.CASH.code)
        insurance_before = claim_insurance_balances(uow.session, [claim.claim_id])[claim.claim_id]
        result = post_remittance(uow.session, remittance("PAYA", "REV", [negate(original)]))
        uow.commit()
    assert [c.outcome for c in result.claims] == ["reversed"]
    with uow:
        stored = uow.session.get(m.Claim, claim.claim_id)
        assert stored is not None and stored.status == ClaimStatus.ACCEPTED  # not denied: the payer owes an answer
        assert stored.paid_cents == 0 and stored.patient_responsibility_cents == 0
        assert account_balance(uow.session, acc.CASH.code) == cash_before - original.paid_cents
        assert patient_ar_balance(uow.session, alice.patient_id) == 0
        # The whole charge is back in insurance AR, owed by the payer again.
        owed = claim_insurance_balances(uow.session, [claim.claim_id])[claim.claim_id]
        assert owed == insurance_before + sum(claim.charges)
        _ledger_ok(uow)
        assert check_store(uow.session).ok
    with uow:
        corrected = paid_claim(claim, paid_ratio=(70, 100), pr_cents=(500, 0))
        later = post_remittance(uow.session, remittance("PAYA", "CORR", [corrected]))
        uow.commit()
    assert [c.outcome for c in later.claims] == ["paid"]
    with uow:
        stored = uow.session.get(m.Claim, claim.claim_id)
        assert stored is not None and stored.status == ClaimStatus.PAID
        assert stored.paid_cents == corrected.paid_cents and stored.patient_responsibility_cents == 500
        assert claim_insurance_balances(uow.session, [claim.claim_id])[claim.claim_id] == 0
        _ledger_ok(uow)
