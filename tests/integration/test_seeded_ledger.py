"""A freshly seeded practice's claims are on the ledger, on SQLite and PostgreSQL: charged (and adjudicated
when the payer paid) through the ledger's own functions, so every check passes and AR aging covers them."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import func, select

from domain import models as m
from domain.aging import ar_aging
from domain.claim_status import ClaimStatus
from domain.ledger import accounts as acc
from domain.ledger.service import charge_key, post_charges
from domain.ledger.store import balances_by_account, claim_insurance_balances
from domain.store.integrity import check_store
from domain.store.uow import UnitOfWork
from workers.cli import run
from workers.synthetic import seed_practice

AS_OF = date(2026, 3, 2)
ADJUDICATED = {ClaimStatus.PAID, ClaimStatus.PARTIALLY_PAID, ClaimStatus.CLOSED}


def test_a_seeded_practice_is_on_the_ledger_and_in_ar_aging(uow: UnitOfWork) -> None:
    with uow:
        summary = seed_practice(uow.session, patients=40, seed=11, as_of=AS_OF)
        uow.commit()
    with uow:
        session = uow.session
        claims = list(session.execute(select(m.Claim)).scalars())
        assert claims and summary.counts["journal_entries"] > len(claims)
        charged = set(session.execute(select(m.JournalEntry.claim_id).where(m.JournalEntry.kind == "charge")).scalars())
        assert charged == {c.id for c in claims}  # every seeded claim, whatever its status
        report = check_store(session)
        assert report.ok, report.as_dict()
        assert sum(balances_by_account(session).values()) == 0
        assert balances_by_account(session)[acc.REVENUE.code] == -sum(c.total_charge_cents for c in claims)
        # What the payers still owe: the claims they never paid; an adjudicated claim's balance left the payer.
        owed = claim_insurance_balances(session, [c.id for c in claims])
        for claim in claims:
            paid = ClaimStatus(claim.status) in ADJUDICATED
            assert owed[claim.id] == (0 if paid else claim.total_charge_cents), claim.status
        by_payer = ar_aging(session, by="payer", as_of=AS_OF)
        assert by_payer.total_cents == sum(owed.values()) > 0
        assert sum(by_payer.totals[b] for b in ("61-90", "91-120", "120+")) > 0  # history, not just this week
        by_patient = ar_aging(session, by="patient", as_of=AS_OF)
        assert by_patient.total_cents == sum(c.patient_responsibility_cents for c in claims) > 0
        assert by_patient.days_in_ar is not None
        # Charged through the same key the workflows use: charging the claims again writes nothing.
        again = post_charges(session, [c.id for c in claims])
        assert again.entries_written == 0 and again.already_posted
        keys = session.execute(
            select(func.count())
            .select_from(m.JournalEntry)
            .where(m.JournalEntry.idempotency_key == charge_key(claims[0].id))
        ).scalar_one()
        assert keys == 1


def test_ledger_check_and_ar_aging_on_a_freshly_seeded_store(
    store_url: str, carecycle_home: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("CARECYCLE_DATABASE_URL", store_url)
    assert run(["db", "seed", "--patients", "25", "--seed", "5", "--as-of", AS_OF.isoformat()]) == 0
    capsys.readouterr()
    assert run(["ledger", "check", "--json"]) == 0
    checks = json.loads(capsys.readouterr().out)
    assert checks["ok"] is True
    assert run(["db", "check", "--json"]) == 0
    capsys.readouterr()
    assert run(["ar", "aging", "--by", "payer", "--json"]) == 0
    aging = json.loads(capsys.readouterr().out)
    assert aging["total_cents"] > 0 and aging["rows"]


def test_a_caller_that_rewrites_the_claims_can_seed_them_off_the_ledger(uow: UnitOfWork) -> None:
    with uow:
        summary = seed_practice(uow.session, patients=5, seed=2, as_of=AS_OF, ledger_history=False)
        uow.commit()
    with uow:
        assert "journal_entries" not in summary.counts
        assert uow.session.execute(select(func.count()).select_from(m.JournalEntry)).scalar_one() == 0
