"""Ledger invariants on the store (SQLite and PostgreSQL), property-based, and the ledger services around
posting: patient payments, write-offs, refunds, claim adjustments, statements, the agency hand-off."""

from __future__ import annotations

from datetime import date
from itertools import count
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from activities.patient_collections import AgencyHandoff, OutboxMessenger, StatementSender
from domain import models as m
from domain.errors import InvalidAmount, ValidationError
from domain.ledger import accounts as acc
from domain.ledger.adjustments import adjust_claim_balance, refund_credit_balance, write_off_patient_balance
from domain.ledger.checks import run_ledger_checks
from domain.ledger.payments import record_patient_payment
from domain.ledger.service import post_charge, post_patient_charge
from domain.ledger.store import account_balance, balances_by_account, guarantor_balance, patient_ar_balance
from domain.posting import post_remittance
from domain.remittance import ProviderAdjustment
from domain.store.integrity import check_store
from domain.store.uow import UnitOfWork
from tests.unit.posting.factory import make_claim, make_patient, make_practice, negate, paid_claim, remittance

_codes = count(1)

claim_spec = st.tuples(
    st.lists(st.integers(100, 50_000), min_size=1, max_size=3),  # line charges
    st.integers(0, 100),  # paid percent
    st.integers(0, 100),  # patient share of the rest, percent
    st.booleans(),  # reverse it afterwards
)


def _patient_control_invariant(uow: UnitOfWork) -> None:
    balances = balances_by_account(uow.session)
    control = sum(v for k, v in balances.items() if acc.is_patient_ar(k))
    patients = uow.session.execute(select(m.Patient.id)).scalars().all()
    assert control == sum(patient_ar_balance(uow.session, p) for p in patients)
    assert sum(balances.values()) == 0  # the trial balance
    report = run_ledger_checks(uow.session)
    assert report.ok, report.as_dict()


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(claim_spec, min_size=1, max_size=4), st.lists(st.integers(-5000, 5000), max_size=2))
@example(specs=[([100], 0, 0, True)], plb_amounts=[])  # a denial reversed (found by a longer run)
def test_posting_invariants(uow: UnitOfWork, specs: list[Any], plb_amounts: list[int]) -> None:
    payer = f"H{next(_codes):05d}"
    with uow:
        practice = make_practice(uow.session, (payer,))
        payments = []
        for charges, paid_percent, share, _ in specs:
            patient = make_patient(uow.session, practice, primary=payer)
            claim = make_claim(
                uow.session, practice, patient, payer=payer, charges=charges, procedures=("99213",) * len(charges)
            )
            pr = [(c - c * paid_percent // 100) * share // 100 for c in charges]
            payments.append(paid_claim(claim, paid_ratio=(paid_percent, 100), pr_cents=pr))
        plb = [ProviderAdjustment("L6" if a < 0 else "WO", f"R{i}", a) for i, a in enumerate(plb_amounts) if a]
        era = remittance(payer, f"T{payer}", payments, plb)
        cash_before = account_balance(uow.session, acc.CASH.code)
        result = post_remittance(uow.session, era)
        uow.commit()
    # An 835's posted total equals BPR02 plus its PLB amounts, and the cash it brings is BPR02.
    assert result.posted_total_cents == era.payment_amount_cents + sum(p.amount_cents for p in plb)
    with uow:
        assert account_balance(uow.session, acc.CASH.code) - cash_before == era.payment_amount_cents
        _patient_control_invariant(uow)
        before = balances_by_account(uow.session)
        entries = uow.session.execute(select(func.count()).select_from(m.JournalEntry)).scalar_one()
    # Posting twice equals posting once.
    with uow:
        again = post_remittance(uow.session, era)
        uow.commit()
    assert again.already_posted and again.entries_written == 0
    with uow:
        assert balances_by_account(uow.session) == before
        assert uow.session.execute(select(func.count()).select_from(m.JournalEntry)).scalar_one() == entries
    # Reversals net the original to zero (the ledger check `reversals_mirror` proves it entry by entry). A denial
    # (nothing paid, nothing to the patient) posted no entry to mirror and stays denied: its reversal is a person's
    # posting exception (domain.posting.reversals.reversal_problems; only a paid claim goes back to ACCEPTED).
    denied = {c.claim_id for c in result.claims if c.outcome == "denied"}
    reversed_payments = [negate(p) for p, spec in zip(payments, specs, strict=True) if spec[3]]
    if reversed_payments:
        with uow:
            undo = post_remittance(uow.session, remittance(payer, f"R{payer}", reversed_payments))
            uow.commit()
        outcomes = {c.claim_id: (c.outcome, c.problems) for c in undo.claims}
        assert outcomes == {
            p.patient_control_number: (("exception", ("reversal_without_original",)))
            if p.patient_control_number in denied
            else ("reversed", ())
            for p in reversed_payments
        }
        with uow:
            _patient_control_invariant(uow)
            for payment in reversed_payments:
                claim = uow.session.get(m.Claim, payment.patient_control_number)
                assert claim is not None and claim.paid_cents == 0 and claim.patient_responsibility_cents == 0
                assert (claim.status == "denied") == (claim.id in denied)


class MemoryDocuments:
    def __init__(self) -> None:
        self.stored: dict[str, tuple[bytes, str]] = {}

    def put(self, key: str, data: bytes, content_type: str) -> str:
        self.stored[key] = (data, content_type)
        return key


def test_patient_side_of_the_ledger(uow: UnitOfWork, session_factory: Any, tmp_path: Path) -> None:
    with uow:
        practice = make_practice(uow.session)
        alice = make_patient(uow.session, practice)
        bob = make_patient(uow.session, practice, guarantor_id=alice.guarantor_id)  # one guarantor, two patients
        claim = make_claim(uow.session, practice, alice)
        denied = make_claim(uow.session, practice, bob, charges=(4000,), procedures=("99212",))
        post_charge(uow.session, denied.claim_id)
        post_remittance(uow.session, remittance("PAYA", "PAT1", [paid_claim(claim, pr_cents=(3000, 2000))]))
        uow.commit()
    with uow:
        assert guarantor_balance(uow.session, alice.guarantor_id) == 5000
        # The biller rebills the unpaid claim to the patient: its insurance balance moves to patient AR.
        moved = adjust_claim_balance(
            uow.session, denied.claim_id, "bill_patient", "non_covered", key="wi-1", actor="amy"
        )
        again = adjust_claim_balance(
            uow.session, denied.claim_id, "bill_patient", "non_covered", key="wi-1", actor="amy"
        )
        assert moved.amount_cents == 4000 and again.amount_cents == 0
        paid = record_patient_payment(uow.session, alice.patient_id, 2500, "card", recorded_by="desk", key="tx-1")
        repeat = record_patient_payment(uow.session, alice.patient_id, 2500, "card", recorded_by="desk", key="tx-1")
        assert not paid.already_posted and repeat.already_posted and paid.balance_after_cents == 6500
        with pytest.raises(InvalidAmount):
            record_patient_payment(uow.session, alice.patient_id, 0, "card", recorded_by="desk")
        with pytest.raises(ValidationError):
            record_patient_payment(uow.session, alice.patient_id, 100, "bitcoin", recorded_by="desk")
        uow.commit()
    documents = MemoryDocuments()
    outbox = OutboxMessenger(tmp_path / "outbox")
    sender = StatementSender(session_factory, documents, outbox, today=lambda: date(2026, 4, 1))
    first = sender.send(alice.guarantor_id, "first", "collections-x/1")
    repeat_send = sender.send(alice.guarantor_id, "first", "collections-x/1")
    assert first.balance_cents == 6500 and repeat_send.already_sent and repeat_send.statement_id == first.statement_id
    assert first.document_key == f"statements/{first.statement_id}.pdf"
    pdf, content_type = documents.stored[first.document_key]
    assert pdf.startswith(b"%PDF") and content_type == "application/pdf"
    assert len(outbox.sent()) == 1 and outbox.sent()[0]["recipient_id"] == alice.guarantor_id
    agency = AgencyHandoff(session_factory, documents)
    placed = agency.hand_off(alice.guarantor_id, "collections-x/agency/3")
    assert placed.amount_cents == 6500 and not placed.already_placed
    assert agency.hand_off(alice.guarantor_id, "collections-x/agency/3").already_placed
    csv_text = documents.stored[str(placed.document_key)][0].decode()
    assert csv_text.splitlines()[0].startswith("account_number,") and "65.00" in csv_text
    assert "Guarantor" not in str(placed.document_key)
    with uow:
        assert guarantor_balance(uow.session, alice.guarantor_id) == 0
        assert account_balance(uow.session, acc.write_off("bad_debt").code) == 6500
        # An overpayment leaves a credit; the refund moves it to refunds payable.
        record_patient_payment(uow.session, bob.patient_id, 1200, "check", recorded_by="desk")
        assert guarantor_balance(uow.session, alice.guarantor_id) == -1200
        refund = refund_credit_balance(uow.session, alice.guarantor_id, key="refund-1", actor="amy")
        assert refund.amount_cents == 1200 and guarantor_balance(uow.session, alice.guarantor_id) == 0
        assert account_balance(uow.session, acc.REFUNDS_PAYABLE.code) == -1200
        # A self-pay visit and a small-balance write-off.
        encounter_id = uow.session.execute(
            select(m.Claim.encounter_id).where(m.Claim.id == denied.claim_id)
        ).scalar_one()
        guarantor, charge = post_patient_charge(uow.session, encounter_id, actor="desk")
        assert guarantor == alice.guarantor_id and charge.amount_cents == 4000
        small = write_off_patient_balance(uow.session, alice.guarantor_id, 300, "small_balance", key="s1", actor="wf")
        assert small.amount_cents == 300 and guarantor_balance(uow.session, alice.guarantor_id) == 3700
        uow.commit()
    with uow:
        _patient_control_invariant(uow)
        assert check_store(uow.session).ok
