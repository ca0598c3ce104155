"""Concurrent postings of the same or overlapping remittances, on SQLite and PostgreSQL (domain.posting.retry):
both transactions read before either writes (a barrier holds them there), the one that meets the other's writes
runs again and says already_posted, or posts against the balances as they are now. Never twice, never an error.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from domain import models as m
from domain.ledger import accounts as acc
from domain.ledger.checks import run_ledger_checks
from domain.ledger.service import post_charge
from domain.ledger.store import account_balance, balances_by_account, claim_insurance_balances
from domain.posting import service
from domain.posting.results import PostingResult
from domain.posting.retry import post_remittance_retrying
from domain.remittance import Remittance
from domain.store.uow import UnitOfWork
from tests.unit.posting.factory import ClaimIds, make_claim, make_patient, make_practice, paid_claim, remittance


def _hold_first_reads(monkeypatch: pytest.MonkeyPatch, parties: int) -> None:
    """Each thread's first posting waits, after it found the payment not stored, until all have read so far."""
    barrier = threading.Barrier(parties, timeout=20)
    arrived: set[int] = set()
    real: Callable[..., Any] = service.load_candidates

    def load_candidates(*args: Any) -> Any:
        if threading.get_ident() not in arrived:
            arrived.add(threading.get_ident())
            barrier.wait()
        return real(*args)

    monkeypatch.setattr(service, "load_candidates", load_candidates)


def _race(factory: sessionmaker[Session], *remittances: Remittance) -> list[PostingResult]:
    with ThreadPoolExecutor(len(remittances)) as pool:
        futures = [pool.submit(post_remittance_retrying, factory, r) for r in remittances]
        return [f.result(timeout=120) for f in futures]


def _setup(uow: UnitOfWork) -> ClaimIds:
    with uow:
        practice = make_practice(uow.session)
        patient = make_patient(uow.session, practice)
        claim = make_claim(uow.session, practice, patient)
        post_charge(uow.session, claim.claim_id)
        uow.commit()
    return claim


def _count(uow: UnitOfWork, model: type[m.Base]) -> int:
    with uow:
        return int(uow.session.execute(select(func.count()).select_from(model)).scalar_one())


def _ledger_ok(uow: UnitOfWork, claim: ClaimIds) -> None:
    with uow:
        assert run_ledger_checks(uow.session).ok
        assert sum(balances_by_account(uow.session).values()) == 0
        assert claim_insurance_balances(uow.session, [claim.claim_id]) == {claim.claim_id: 0}
        stored = uow.session.get(m.Claim, claim.claim_id)
        assert stored is not None and stored.paid_cents == 9000


def test_the_same_remittance_posted_twice_at_once(
    uow: UnitOfWork, session_factory: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch
) -> None:
    claim = _setup(uow)
    era = remittance("PAYA", "RACE1", [paid_claim(claim, pr_cents=(1000, 0))])
    _hold_first_reads(monkeypatch, 2)
    results = _race(session_factory, era, era)
    assert sorted(r.already_posted for r in results) == [False, True]
    posted, again = sorted(results, key=lambda r: r.already_posted)
    assert posted.claims[0].outcome == "paid" and again.arrival == "already_posted"
    assert again.remittance_id == posted.remittance_id and again.entries_written == 0
    assert _count(uow, m.Remittance) == 1
    _ledger_ok(uow, claim)


def test_overlapping_remittances_at_once_post_a_claim_once(
    uow: UnitOfWork, session_factory: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two checks paying the same claim, posted at the same moment: the optimistic lock on the claim makes one run
    again, and it finds the claim settled (exceeds_claim_balance: parked, not posted twice)."""
    claim = _setup(uow)
    payment = paid_claim(claim, pr_cents=(1000, 0))
    _hold_first_reads(monkeypatch, 2)
    results = _race(session_factory, remittance("PAYA", "RACE2", [payment]), remittance("PAYA", "RACE3", [payment]))
    outcomes = sorted((r.claims[0].outcome, r.claims[0].problems) for r in results)
    assert outcomes == [("exception", ("exceeds_claim_balance",)), ("paid", ())]
    assert _count(uow, m.Remittance) == 2
    _ledger_ok(uow, claim)
    with uow:
        assert account_balance(uow.session, acc.UNAPPLIED_CASH.code) == -payment.paid_cents


def test_one_payment_printed_two_ways_by_two_channels_at_once_posts_once(
    uow: UnitOfWork, session_factory: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The 835's TRN02 000424242 and the portal EOB's 424242 of the same check, posted at the same moment: the
    remittance row's unique payer + trace key refuses the second, which runs again and finds the same payment."""
    claim = _setup(uow)
    era = remittance("PAYA", "000424242", [paid_claim(claim, pr_cents=(1000, 0))])
    eob = replace(era, trace_number="424242", source="eob_pdf")
    _hold_first_reads(monkeypatch, 2)
    results = _race(session_factory, era, eob)
    posted, again = sorted(results, key=lambda r: r.already_posted)
    assert not posted.already_posted and posted.claims[0].outcome == "paid"
    assert again.already_posted and again.arrival == "same_payment" and again.entries_written == 0
    assert again.remittance_id == posted.remittance_id and again.work_items_opened == ()
    assert _count(uow, m.Remittance) == 1 and _count(uow, m.WorkItem) == 0
    _ledger_ok(uow, claim)
