"""Posting remittances into the store, on SQLite and PostgreSQL: matching, idempotency, reversals, crossover,
exceptions as work items, and the ledger invariants after each."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from domain import models as m
from domain.claim_status import ClaimStatus
from domain.enums import CoverageRank
from domain.errors import ValidationError
from domain.ledger import accounts as acc
from domain.ledger.checks import run_ledger_checks
from domain.ledger.service import post_charge
from domain.ledger.store import account_balance, balances_by_account, claim_insurance_balances, patient_ar_balance
from domain.posting import post_manually, post_remittance
from domain.remittance import Adjustment, ClaimPayment, ProviderAdjustment
from domain.store.integrity import check_store
from domain.store.uow import UnitOfWork
from tests.unit.posting.factory import make_claim, make_patient, make_practice, negate, paid_claim, remittance


def _ledger_ok(uow: UnitOfWork) -> None:
    report = run_ledger_checks(uow.session)
    assert report.ok, report.as_dict()
    assert sum(balances_by_account(uow.session).values()) == 0


def _work_items(uow: UnitOfWork) -> list[m.WorkItem]:
    return list(uow.session.execute(select(m.WorkItem).order_by(m.WorkItem.created_at)).scalars())


def test_post_once_and_again(uow: UnitOfWork) -> None:
    with uow:
        practice = make_practice(uow.session)
        alice = make_patient(uow.session, practice)
        bob = make_patient(uow.session, practice)
        first = make_claim(uow.session, practice, alice)
        second = make_claim(uow.session, practice, bob, charges=(20000,), procedures=("99214",))
        post_charge(uow.session, first.claim_id)
        era = remittance(
            "PAYA",
            "TRACE1",
            [paid_claim(first, pr_cents=(2000, 0)), paid_claim(second, paid_ratio=(50, 100), pr_cents=(3000,))],
        )
        result = post_remittance(uow.session, era)
        uow.commit()
    assert not result.already_posted and result.payer_known
    assert result.claims_matched == 2 and result.claims_unmatched == 0 and result.claims_in_exception == 0
    assert result.paid_cents == 9000 + 10000 == era.payment_amount_cents
    assert result.patient_responsibility_cents == 5000
    assert result.posted_total_cents == era.payment_amount_cents + sum(p.amount_cents for p in era.provider_adjustments)
    assert set(result.guarantors_with_balance) == {alice.guarantor_id, bob.guarantor_id}
    with uow:
        claim = uow.session.get(m.Claim, first.claim_id)
        assert claim is not None
        assert (
            claim.status == ClaimStatus.PAID and claim.paid_cents == 9000 and claim.patient_responsibility_cents == 2000
        )
        assert [line.paid_cents for line in claim.lines] == [6000, 3000]
        assert account_balance(uow.session, acc.CASH.code) == 19000
        assert patient_ar_balance(uow.session, alice.patient_id) == 2000
        assert patient_ar_balance(uow.session, bob.patient_id) == 3000
        # Both claims fully resolved by the payer: nothing left in insurance AR (the second's charge was posted
        # by posting itself).
        assert claim_insurance_balances(uow.session, [first.claim_id, second.claim_id]) == {
            first.claim_id: 0,
            second.claim_id: 0,
        }
        entries = uow.session.execute(select(func.count()).select_from(m.JournalEntry)).scalar_one()
        _ledger_ok(uow)
    with uow:
        again = post_remittance(uow.session, era)
        uow.commit()
    assert again.already_posted and again.entries_written == 0 and again.claims_matched == 2
    with uow:
        assert uow.session.execute(select(func.count()).select_from(m.JournalEntry)).scalar_one() == entries
        assert uow.session.execute(select(func.count()).select_from(m.Remittance)).scalar_one() == 1


def test_unmatched_and_ambiguous_open_work_items_once(uow: UnitOfWork) -> None:
    with uow:
        practice = make_practice(uow.session)
        alice = make_patient(uow.session, practice)
        a1 = make_claim(uow.session, practice, alice, charges=(10000,), procedures=("99213",))
        a2 = make_claim(uow.session, practice, alice, charges=(10000,), procedures=("99213",))
        ghost = paid_claim(a1, pcn="NOSUCHCLAIM", with_line_ids=False)
        # Same patient, same day, same charge twice: the fallback rule cannot choose.
        twin = paid_claim(a1, pcn=alice.account_number, with_line_ids=False)
        era = remittance("PAYA", "TRACE2", [ghost, twin])
        result = post_remittance(uow.session, era)
        uow.commit()
    assert result.claims_matched == 0 and result.claims_unmatched == 2
    assert result.paid_cents == 0 and result.unapplied_cents == era.payment_amount_cents
    outcomes = {c.outcome for c in result.claims}
    assert outcomes == {"unmatched", "ambiguous"}
    ambiguous = next(c for c in result.claims if c.outcome == "ambiguous")
    assert set(ambiguous.candidates) == {a1.claim_id, a2.claim_id}
    with uow:
        items = _work_items(uow)
        assert len(items) == 2 and {i.queue for i in items} == {"posting"}
        assert {i.reason_code for i in items} == {"unmatched_remittance", "ambiguous_match"}
        assert all("Synthetic" not in i.summary and "Pat" not in i.summary for i in items)
        assert sorted(
            next(i for i in items if i.context["problem"] == "ambiguous_claim").context["candidate_claim_ids"]
        ) == sorted([a1.claim_id, a2.claim_id])
        assert account_balance(uow.session, acc.UNAPPLIED_CASH.code) == -era.payment_amount_cents
        for claim_id in (a1.claim_id, a2.claim_id):
            claim = uow.session.get(m.Claim, claim_id)
            assert claim is not None and claim.status == ClaimStatus.SUBMITTED and claim.paid_cents == 0
        _ledger_ok(uow)
    with uow:
        post_remittance(uow.session, era)
        uow.commit()
    with uow:
        assert len(_work_items(uow)) == 2


def test_fallback_rules_match_with_confidence(uow: UnitOfWork) -> None:
    with uow:
        practice = make_practice(uow.session)
        alice = make_patient(uow.session, practice, member_id="MEMBER1")
        claim = make_claim(uow.session, practice, alice)
        other = make_claim(uow.session, practice, alice, charges=(7000,), procedures=("99212",))
        pcn_claim = uow.session.get(m.Claim, other.claim_id)
        assert pcn_claim is not None
        pcn_claim.payer_claim_control_number = "PAYERNUM9"
        by_account = paid_claim(claim, pcn=alice.account_number, with_line_ids=False)
        by_payer_number = paid_claim(other, pcn="UNKNOWN", payer_claim_number="PAYERNUM9", with_line_ids=False)
        result = post_remittance(uow.session, remittance("PAYA", "TRACE3", [by_account, by_payer_number]))
        uow.commit()
    rules = {c.claim_id: (c.rule, c.confidence, c.outcome) for c in result.claims}
    assert rules[claim.claim_id] == ("patient_dos_charge", 80, "paid")
    assert rules[other.claim_id] == ("payer_claim_number", 95, "paid")
    with uow:
        _ledger_ok(uow)


def test_reversal_then_correction(uow: UnitOfWork) -> None:
    with uow:
        practice = make_practice(uow.session)
        alice = make_patient(uow.session, practice)
        claim = make_claim(uow.session, practice, alice)
        original = paid_claim(claim, pr_cents=(1000, 500))
        post_remittance(uow.session, remittance("PAYA", "ORIG", [original]))
        uow.commit()
    with uow:
        cash_before = account_balance(uow.session, acc.CASH.code)
        corrected = paid_claim(claim, paid_ratio=(70, 100), pr_cents=(500, 0))
        era = remittance("PAYA", "CORR", [negate(original), corrected])
        result = post_remittance(uow.session, era)
        uow.commit()
    assert [c.outcome for c in result.claims] == ["reversed", "paid"]
    assert result.paid_cents == era.payment_amount_cents
    with uow:
        reversals = list(uow.session.execute(select(m.JournalEntry).where(m.JournalEntry.kind == "reversal")).scalars())
        assert len(reversals) == 3 and all(r.reverses_entry_id for r in reversals)  # payment, contractual, PR
        stored = uow.session.get(m.Claim, claim.claim_id)
        assert stored is not None and stored.status == ClaimStatus.PAID
        assert stored.paid_cents == corrected.paid_cents
        assert stored.patient_responsibility_cents == 500
        assert patient_ar_balance(uow.session, alice.patient_id) == 500
        assert account_balance(uow.session, acc.CASH.code) == cash_before - original.paid_cents + corrected.paid_cents
        _ledger_ok(uow)
    # A second reversal of the same adjudication finds nothing left and is an exception, not a double reversal.
    with uow:
        again = post_remittance(uow.session, remittance("PAYA", "REV2", [negate(original)]))
        uow.commit()
    assert again.claims[0].outcome == "exception" and "reversal_amount_mismatch" in again.claims[0].problems


def test_secondary_crossover_creates_the_secondary_claim(uow: UnitOfWork) -> None:
    with uow:
        practice = make_practice(uow.session)
        alice = make_patient(uow.session, practice, secondary="PAYB")
        claim = make_claim(uow.session, practice, alice)
        result = post_remittance(uow.session, remittance("PAYA", "PRIM", [paid_claim(claim, pr_cents=(2000, 1000))]))
        uow.commit()
    outcome = result.claims[0]
    assert outcome.secondary_claim_id is not None and result.secondary_claims_created == (outcome.secondary_claim_id,)
    assert result.guarantors_with_balance == ()
    with uow:
        secondary = uow.session.get(m.Claim, outcome.secondary_claim_id)
        assert secondary is not None
        assert secondary.rank == CoverageRank.SECONDARY and secondary.primary_claim_id == claim.claim_id
        assert secondary.payer_id == practice.payers["PAYB"] and secondary.status == ClaimStatus.DRAFT
        assert len(secondary.lines) == 2 and secondary.total_charge_cents == 15000
        assert claim_insurance_balances(uow.session, [secondary.id]) == {secondary.id: 3000}
        assert patient_ar_balance(uow.session, alice.patient_id) == 0
        _ledger_ok(uow)
        secondary.status = ClaimStatus.SUBMITTED
        uow.commit()
    # The secondary pays 2000 of the 3000, 1000 is left to the patient; CO-23 names what the primary settled
    # and CO-45 the secondary's own fee schedule (as the sandbox payers send it): the contractual amount posted
    # is what closes the crossover balance, not the CAS amounts.
    secondary_payment = ClaimPayment(
        patient_control_number=outcome.secondary_claim_id,
        status_code="2",
        charge_cents=15000,
        paid_cents=1500,
        patient_responsibility_cents=1000,
        adjustments=(Adjustment("CO", "45", 500), Adjustment("CO", "23", 12000), Adjustment("PR", "2", 1000)),
    )
    with uow:
        second = post_remittance(uow.session, remittance("PAYB", "SEC1", [secondary_payment]))
        uow.commit()
    assert second.claims[0].outcome == "paid" and second.claims[0].secondary_claim_id is None
    with uow:
        assert claim_insurance_balances(uow.session, [outcome.secondary_claim_id]) == {outcome.secondary_claim_id: 0}
        assert patient_ar_balance(uow.session, alice.patient_id) == 1000
        _ledger_ok(uow)


def test_a_crossed_over_primary_reversed_and_corrected_keeps_its_secondary(uow: UnitOfWork) -> None:
    """The primary payer reverses an adjudication whose patient share crossed over to the secondary claim and, in
    the same 835, pays the claim again with the same patient share (a repricing): both post, the secondary claim
    keeps its charge (no second crossover charge, no second secondary claim), cob_crossover clears, no item."""
    with uow:
        practice = make_practice(uow.session)
        alice = make_patient(uow.session, practice, secondary="PAYB")
        claim = make_claim(uow.session, practice, alice)
        original = paid_claim(claim, pr_cents=(2000, 1000))
        first = post_remittance(uow.session, remittance("PAYA", "PRIM", [original]))
        uow.commit()
    secondary_id = first.claims[0].secondary_claim_id
    assert secondary_id is not None
    corrected = paid_claim(claim, paid_ratio=(70, 100), pr_cents=(2000, 1000))
    with uow:
        cash_before = account_balance(uow.session, acc.CASH.code)
        result = post_remittance(uow.session, remittance("PAYA", "REPRICE", [negate(original), corrected]))
        uow.commit()
    assert [(c.outcome, c.problems) for c in result.claims] == [("reversed", ()), ("paid", ())]
    assert result.work_items_opened == () and result.secondary_claims_created == ()
    assert result.claims[1].secondary_claim_id is None  # the secondary's process is not started again
    with uow:
        _ledger_ok(uow)
        assert account_balance(uow.session, acc.COB_CROSSOVER.code) == 0
        assert claim_insurance_balances(uow.session, [claim.claim_id, secondary_id]) == {
            claim.claim_id: 0,
            secondary_id: 3000,
        }
        secondaries = uow.session.execute(
            select(func.count()).select_from(m.Claim).where(m.Claim.primary_claim_id == claim.claim_id)
        ).scalar_one()
        assert secondaries == 1
        stored = uow.session.get(m.Claim, claim.claim_id)
        assert stored is not None and stored.status == ClaimStatus.PAID
        assert stored.paid_cents == corrected.paid_cents and stored.patient_responsibility_cents == 3000
        assert account_balance(uow.session, acc.CASH.code) == cash_before - original.paid_cents + corrected.paid_cents
        assert patient_ar_balance(uow.session, alice.patient_id) == 0
        assert _work_items(uow) == []


def test_a_crossed_over_primary_reversed_without_the_same_share_is_left_to_a_person(uow: UnitOfWork) -> None:
    """Reversed alone, or corrected with another patient share, the secondary was billed an amount the primary no
    longer states: nothing of it posts (reversal_after_crossover), as before."""
    with uow:
        practice = make_practice(uow.session)
        alice = make_patient(uow.session, practice, secondary="PAYB")
        claim = make_claim(uow.session, practice, alice)
        original = paid_claim(claim, pr_cents=(2000, 1000))
        post_remittance(uow.session, remittance("PAYA", "PRIM", [original]))
        uow.commit()
    with uow:
        alone = post_remittance(uow.session, remittance("PAYA", "REV", [negate(original)]))
        other_share = paid_claim(claim, paid_ratio=(70, 100), pr_cents=(1000, 0))
        changed = post_remittance(uow.session, remittance("PAYA", "REPRICE", [negate(original), other_share]))
        uow.commit()
    assert alone.claims[0].problems == ("reversal_after_crossover",)
    assert changed.claims[0].problems == ("reversal_after_crossover",)
    assert changed.claims[1].outcome == "exception"  # the correction cannot post over the standing adjudication
    with uow:
        _ledger_ok(uow)
        assert account_balance(uow.session, acc.COB_CROSSOVER.code) == 0


def test_bad_claims_become_work_items_and_post_nothing(uow: UnitOfWork) -> None:
    with uow:
        practice = make_practice(uow.session)
        alice = make_patient(uow.session, practice)
        c1 = make_claim(uow.session, practice, alice, charges=(10000,), procedures=("99213",))
        c2 = make_claim(uow.session, practice, alice, charges=(8000,), procedures=("99212",))
        c3 = make_claim(uow.session, practice, alice, charges=(6000,), procedures=("99211",))
        draft = make_claim(
            uow.session, practice, alice, charges=(4000,), procedures=("99211",), status=ClaimStatus.DRAFT
        )
        unbalanced = ClaimPayment(c1.claim_id, "1", 10000, 6000, 0, adjustments=(Adjustment("CO", "45", 1000),))
        overpaid = ClaimPayment(c2.claim_id, "1", 8000, 9000, 0, adjustments=(Adjustment("CO", "45", -1000),))
        negative = ClaimPayment(c3.claim_id, "1", 6000, -100, 0, adjustments=(Adjustment("CO", "45", 6100),))
        not_submitted = paid_claim(draft)
        era = remittance("PAYA", "BAD1", [unbalanced, overpaid, negative, not_submitted])
        result = post_remittance(uow.session, era)
        unknown = post_remittance(uow.session, remittance("NOPAYER", "BAD2", [paid_claim(c1)]))
        uow.commit()
    problems = {c.claim_id: c.problems for c in result.claims}
    assert "claim_not_balanced" in problems[c1.claim_id]
    assert "overpayment" in problems[c2.claim_id]
    assert "negative_payment" in problems[c3.claim_id]
    assert problems[draft.claim_id] == ("illegal_status_draft",)
    assert result.claims_in_exception == 4 and result.paid_cents == 0
    assert not unknown.payer_known and unknown.entries_written == 0 and len(unknown.work_items_opened) == 1
    with uow:
        items = _work_items(uow)
        assert len(items) == 5 and {i.reason_code for i in items} == {"posting_exception"}
        for claim_id in (c1.claim_id, c2.claim_id, c3.claim_id):
            claim = uow.session.get(m.Claim, claim_id)
            assert claim is not None and claim.status == ClaimStatus.SUBMITTED and claim.paid_cents == 0
        assert check_store(uow.session).ok
        _ledger_ok(uow)


def test_provider_adjustments_and_denial(uow: UnitOfWork) -> None:
    with uow:
        practice = make_practice(uow.session)
        alice = make_patient(uow.session, practice)
        paid = make_claim(uow.session, practice, alice)
        denied = make_claim(uow.session, practice, alice, charges=(5000,), procedures=("99212",))
        denial = ClaimPayment(
            denied.claim_id, "4", 5000, 0, 0, adjustments=(Adjustment("CO", "50", 5000),), remarks=("N115",)
        )
        plb = [ProviderAdjustment("L6", "INT1", -150), ProviderAdjustment("WO", "RECOUP1", 2000)]
        era = remittance("PAYA", "PLB1", [paid_claim(paid), denial], plb)
        result = post_remittance(uow.session, era)
        uow.commit()
    assert era.payment_amount_cents == 9000 + 150 - 2000
    assert result.posted_total_cents == era.payment_amount_cents + result.provider_adjustment_cents
    outcome = {c.claim_id: c.outcome for c in result.claims}
    assert outcome[denied.claim_id] == "denied"
    with uow:
        assert account_balance(uow.session, acc.CASH.code) == era.payment_amount_cents
        assert account_balance(uow.session, acc.INTEREST_INCOME.code) == -150
        assert account_balance(uow.session, acc.PAYER_OFFSETS.code) == 2000
        # The denied claim's balance stays with the payer until a person appeals, corrects or writes it off.
        assert claim_insurance_balances(uow.session, [denied.claim_id]) == {denied.claim_id: 5000}
        claim = uow.session.get(m.Claim, denied.claim_id)
        assert claim is not None and claim.status == ClaimStatus.DENIED
        _ledger_ok(uow)


def test_a_large_remittance_takes_the_bulk_paths(uow: UnitOfWork) -> None:
    """Enough claims for COPY and UPDATE ... FROM on PostgreSQL (executemany on SQLite); same results."""
    with uow:
        practice = make_practice(uow.session)
        payments = []
        claim_ids = []
        for index in range(60):
            patient = make_patient(uow.session, practice, secondary="PAYB" if index % 10 == 0 else None)
            claim = make_claim(uow.session, practice, patient, charges=(10000 + index,), procedures=("99213",))
            claim_ids.append(claim.claim_id)
            payments.append(paid_claim(claim, pr_cents=(1000,)))
        era = remittance("PAYA", "BULK1", payments)
        result = post_remittance(uow.session, era)
        uow.commit()
    assert result.claims_matched == 60 and result.paid_cents == era.payment_amount_cents
    assert len(result.secondary_claims_created) == 6
    with uow:
        claims = uow.session.execute(select(m.Claim).where(m.Claim.id.in_(claim_ids))).scalars().all()
        assert {c.status for c in claims} == {ClaimStatus.PAID} and {c.version_id for c in claims} == {2}
        assert all(c.paid_cents == c.lines[0].paid_cents == c.total_charge_cents * 60 // 100 for c in claims)
        rows = uow.session.execute(select(func.count()).select_from(m.RemittanceServiceLine)).scalar_one()
        assert rows == 60
        _ledger_ok(uow)


def test_a_person_posts_a_parked_payment(uow: UnitOfWork) -> None:
    with uow:
        practice = make_practice(uow.session)
        alice = make_patient(uow.session, practice)
        claim = make_claim(uow.session, practice, alice)
        era = remittance("PAYA", "MAN1", [paid_claim(claim, pcn="TYPO-123", with_line_ids=False, pr_cents=(500, 0))])
        parked = post_remittance(uow.session, era)
        uow.commit()
    assert parked.claims[0].outcome == "unmatched"
    with uow:
        row_id = uow.session.execute(select(m.RemittanceClaim.id)).scalar_one()
        item = uow.session.execute(select(m.WorkItem)).scalar_one()
        assert item.context["remittance_claim_id"] == row_id
        with pytest.raises(ValidationError, match="another payer"):
            other = make_claim(uow.session, practice, alice, payer="PAYB")
            post_manually(uow.session, row_id, other.claim_id, actor="biller")
    with uow:
        outcome = post_manually(uow.session, row_id, claim.claim_id, actor="biller")
        uow.commit()
    assert outcome.outcome == "paid" and outcome.rule == "manual" and outcome.paid_cents == 9000
    with uow:
        assert account_balance(uow.session, acc.UNAPPLIED_CASH.code) == 0
        assert account_balance(uow.session, acc.CASH.code) == era.payment_amount_cents
        assert patient_ar_balance(uow.session, alice.patient_id) == 500
        stored = uow.session.get(m.Claim, claim.claim_id)
        assert stored is not None and stored.status == ClaimStatus.PAID and stored.lines[0].paid_cents == 6000
        again = post_manually(uow.session, row_id, claim.claim_id, actor="biller")
        assert again.outcome == "already_posted"
        _ledger_ok(uow)


def test_the_same_payment_under_another_trace_does_not_post_twice(uow: UnitOfWork) -> None:
    with uow:
        practice = make_practice(uow.session)
        alice = make_patient(uow.session, practice)
        claim = make_claim(uow.session, practice, alice)
        payment = paid_claim(claim, pr_cents=(1000, 0))
        post_remittance(uow.session, remittance("PAYA", "DUP1", [payment]))
        duplicate = post_remittance(uow.session, remittance("PAYA", "DUP2", [payment]))
        uow.commit()
    assert duplicate.claims[0].outcome == "exception" and duplicate.claims[0].problems == ("exceeds_claim_balance",)
    with uow:
        stored = uow.session.get(m.Claim, claim.claim_id)
        assert stored is not None and stored.paid_cents == payment.paid_cents
        assert patient_ar_balance(uow.session, alice.patient_id) == 1000
        assert account_balance(uow.session, acc.UNAPPLIED_CASH.code) == -payment.paid_cents
        _ledger_ok(uow)
