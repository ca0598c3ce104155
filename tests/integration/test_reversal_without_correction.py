"""A reversal (CLP02=22) that no corrected claim payment follows, on SQLite and PostgreSQL: the claim is open
again (accepted: awaiting the payer's corrected adjudication), the ledger nets the original to zero and still
balances; the correction arriving in a later remittance pays it. A denial the payer reprocesses (its reversal and
the corrected payment in one remittance) pays the claim with no person asked; a denial reversed alone asks one."""

from __future__ import annotations

from typing import Any

import pytest

from domain import models as m
from domain.claim_status import ClaimStatus
from domain.ledger import accounts as acc
from domain.ledger.checks import run_ledger_checks
from domain.ledger.store import account_balance, balances_by_account, claim_insurance_balances, patient_ar_balance
from domain.posting import post_remittance
from domain.services.submissions import move_claim
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


def _denied(uow: UnitOfWork) -> tuple[Any, Any]:
    with uow:
        practice = make_practice(uow.session)
        alice = make_patient(uow.session, practice)
        claim = make_claim(uow.session, practice, alice)
        denial = paid_claim(claim, paid_ratio=(0, 100), status_code="4")
        first = post_remittance(uow.session, remittance("PAYA", "DENY", [denial]))
        uow.commit()
    assert [c.outcome for c in first.claims] == ["denied"]
    return claim, denial


@pytest.mark.parametrize("appealed", [False, True], ids=["denied", "appealed"])
def test_a_denial_reprocessed_in_one_remittance_pays_the_claim_and_asks_no_one(uow: UnitOfWork, appealed: bool) -> None:
    claim, denial = _denied(uow)
    if appealed:  # the practice appealed; the payer's answer is the reprocessing
        with uow:
            stored = uow.session.get(m.Claim, claim.claim_id)
            assert stored is not None
            move_claim(uow.session, stored, ClaimStatus.APPEALED, "biller.ann", note="records attached")
            uow.commit()
    with uow:
        cash_before = account_balance(uow.session, acc.CASH.code)
        corrected = paid_claim(claim, paid_ratio=(70, 100), pr_cents=(500, 0))
        result = post_remittance(uow.session, remittance("PAYA", "REPROC", [negate(denial), corrected]))
        uow.commit()
    assert [(c.outcome, c.problems) for c in result.claims] == [("reversed", ()), ("paid", ())]
    assert result.work_items_opened == ()  # nothing for a person: there was no money to take back
    assert result.claims[0].claim_id == claim.claim_id and result.claims[0].paid_cents == 0
    with uow:
        stored = uow.session.get(m.Claim, claim.claim_id)
        assert stored is not None and stored.status == ClaimStatus.PAID
        assert stored.paid_cents == corrected.paid_cents and stored.patient_responsibility_cents == 500
        assert account_balance(uow.session, acc.CASH.code) == cash_before + corrected.paid_cents
        assert claim_insurance_balances(uow.session, [claim.claim_id])[claim.claim_id] == 0
        assert patient_ar_balance(uow.session, stored.patient_id) == 500
        _ledger_ok(uow)
        assert check_store(uow.session).ok
    with uow:  # the same file again: nothing moves
        again = post_remittance(uow.session, remittance("PAYA", "REPROC", [negate(denial), corrected]))
        uow.commit()
    assert again.already_posted and again.entries_written == 0


def test_a_denial_reversed_alone_is_a_persons_question(uow: UnitOfWork) -> None:
    claim, denial = _denied(uow)
    with uow:
        result = post_remittance(uow.session, remittance("PAYA", "REVONLY", [negate(denial)]))
        uow.commit()
    assert [(c.outcome, c.problems) for c in result.claims] == [("exception", ("reversal_without_original",))]
    assert len(result.work_items_opened) == 1
    with uow:
        stored = uow.session.get(m.Claim, claim.claim_id)
        assert stored is not None and stored.status == ClaimStatus.DENIED
        _ledger_ok(uow)
