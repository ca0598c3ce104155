"""Posting's work items resolved in the store, on SQLite and PostgreSQL: the rule of domain.posting.parked agrees
with what ``domain.posting.post_manually`` does, for generated choices of claim; each resolution is carried out by
the one domain function, once (a retried activity writes nothing twice), and the ledger stays balanced."""

from __future__ import annotations

import uuid
from dataclasses import replace

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from domain import models as m
from domain.claim_status import ClaimStatus
from domain.errors import DomainError, ValidationError
from domain.ledger import accounts as acc
from domain.ledger.checks import run_ledger_checks
from domain.ledger.store import account_balance, balances_by_account
from domain.posting import post_manually, post_remittance
from domain.posting.parked import check_resolution, needs_claim_facts
from domain.services.posting_exceptions import load_facts, resolve_posting_item
from domain.store.uow import UnitOfWork
from domain.workitems import Resolution, validate_resolution
from tests.unit.posting.factory import make_claim, make_patient, make_practice, paid_claim, remittance

AGREE = settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
)


def _ledger_ok(uow: UnitOfWork) -> None:
    report = run_ledger_checks(uow.session)
    assert report.ok, report.as_dict()
    assert sum(balances_by_account(uow.session).values()) == 0


def _item(uow: UnitOfWork, reason: str) -> m.WorkItem:
    return uow.session.execute(select(m.WorkItem).where(m.WorkItem.reason_code == reason)).scalars().one()


def _validator(item: m.WorkItem, uow: UnitOfWork, action: str, fields: dict[str, str]) -> str | None:
    """What the workflow's Update answers: None (accepted) or the message; a claim it holds no facts of is read
    from the store first, as its handler does."""
    try:
        validate_resolution(item.reason_code, Resolution(action, "biller.ann", dict(fields), "why"))
        facts = load_facts(uow.session, item)
        check_resolution(action, fields, facts)
        claim_id = needs_claim_facts(action, fields, facts)
        if claim_id:
            check_resolution(action, fields, load_facts(uow.session, item, [claim_id]))
    except DomainError as exc:
        return exc.message
    return None


def test_the_rule_and_post_manually_agree_for_every_claim_a_person_may_name(uow: UnitOfWork) -> None:
    with uow:
        practice = make_practice(uow.session)
        alice = make_patient(uow.session, practice)
        right = make_claim(uow.session, practice, alice)
        era = remittance("PAYA", "AGR1", [paid_claim(right, pcn="TYPO-1", with_line_ids=False, pr_cents=(500, 0))])
        post_remittance(uow.session, era)
        claims = {
            "right": right.claim_id,
            "other_payer": make_claim(uow.session, practice, alice, payer="PAYB").claim_id,
            "written_off": make_claim(uow.session, practice, alice, status=ClaimStatus.WRITTEN_OFF).claim_id,
            "other_lines": make_claim(uow.session, practice, alice, charges=(7000,), procedures=("99214",)).claim_id,
            "draft": make_claim(uow.session, practice, alice, status=ClaimStatus.DRAFT).claim_id,
            "unknown": str(uuid.uuid4()),
            "not_an_id": "Jane Q Public",
        }
        uow.commit()
    with uow:
        item = _item(uow, "unmatched_remittance")
        row_id = str(item.context["remittance_claim_id"])

    @AGREE
    @given(st.sampled_from(sorted(claims)))
    def agree(which: str) -> None:
        claim_id = claims[which]
        with uow:  # rolled back: each example sees the parked payment as posting left it
            verdict = _validator(_item(uow, "unmatched_remittance"), uow, "post_manually", {"claim_id": claim_id})
            try:
                post_manually(uow.session, row_id, claim_id, actor="biller.ann")
                applied = None
            except DomainError as exc:
                applied = exc.message
        assert (verdict is None) == (applied is None), (which, verdict, applied)
        assert (verdict is None) == (which == "right"), (which, verdict)
        if verdict is not None:
            assert "Jane" not in verdict

    agree()


def test_each_resolution_is_carried_out_once_and_the_ledger_balances(uow: UnitOfWork) -> None:
    with uow:
        practice = make_practice(uow.session)
        alice = make_patient(uow.session, practice)
        bob = make_patient(uow.session, practice)
        first = make_claim(uow.session, practice, alice)
        second = make_claim(uow.session, practice, bob, charges=(8000,), procedures=("99214",))
        lost = paid_claim(second, pcn="NOBODY", with_line_ids=False)
        era = remittance(
            "PAYA", "EXC1", [paid_claim(first, pcn="TYPO-2", with_line_ids=False, pr_cents=(500, 0)), lost]
        )
        era = replace(era, payment_amount_cents=era.payment_amount_cents + 300)  # BPR02 says 3.00 more
        post_remittance(uow.session, era)
        uow.commit()
    with uow:
        items = list(uow.session.execute(select(m.WorkItem).order_by(m.WorkItem.summary)).scalars())
        assert sorted(i.reason_code for i in items) == [
            "posting_exception",
            "unmatched_remittance",
            "unmatched_remittance",
        ]
        parked = {str(i.context["remittance_claim_id"]): i.id for i in items if i.reason_code == "unmatched_remittance"}
        total = next(i.id for i in items if i.reason_code == "posting_exception")
        rows = dict(uow.session.execute(select(m.RemittanceClaim.paid_cents, m.RemittanceClaim.id)).all())
        to_post, to_write_off = parked[rows[9000]], parked[rows[4800]]
        assert account_balance(uow.session, acc.UNAPPLIED_CASH.code) == -(9000 + 4800)

    for attempt in range(2):  # the second time: a retried activity after its commit writes nothing more
        with uow:
            applied = resolve_posting_item(
                uow.session, to_post, "post_manually", {"claim_id": first.claim_id}, actor="biller.ann"
            )
            off = resolve_posting_item(
                uow.session, to_write_off, "write_off", {"reason_code": "administrative"}, actor="biller.ann"
            )
            diff = resolve_posting_item(uow.session, total, "write_off", {"reason_code": "administrative"}, actor="b")
            uow.commit()
        assert applied.posted is not None and applied.posted.claim_id == first.claim_id
        assert applied.posted.outcome == ("paid" if attempt == 0 else "already_posted")
        assert applied.target_status == "paid" and applied.guarantor_id
        assert (off.written_off_cents, diff.written_off_cents) == ((4800, 300) if attempt == 0 else (0, 0))

    with uow:
        assert account_balance(uow.session, acc.UNAPPLIED_CASH.code) == 0
        assert account_balance(uow.session, acc.CASH.code) == era.payment_amount_cents  # cash matches BPR02
        assert account_balance(uow.session, acc.write_off("administrative").code) == -(4800 + 300)
        stored = uow.session.get(m.Claim, first.claim_id)
        assert stored is not None and stored.status == ClaimStatus.PAID
        # each item says what carrying it out did (what `tasks resolve` / `tasks show` / the console tell)
        told = {i: (uow.session.get(m.WorkItem, i).resolution or {})["applied"] for i in (to_post, to_write_off, total)}
        assert told[to_post]["state"] == "applied" and told[to_post]["claim_id"] == first.claim_id
        assert told[to_post]["outcome"].startswith(f"posted 90.00 to claim {first.claim_id}")
        assert told[to_write_off]["state"] == "applied"
        assert told[total]["outcome"] == "wrote off 3.00"  # the first run's account (the retry wrote nothing)
        _ledger_ok(uow)
        # The payment written off cannot be posted afterwards, nor the posted one written off.
        with pytest.raises(ValidationError, match="was written off"):
            resolve_posting_item(uow.session, to_write_off, "post_manually", {"claim_id": second.claim_id}, actor="b")
        with pytest.raises(ValidationError, match="nothing is left in unapplied cash"):
            resolve_posting_item(uow.session, to_post, "write_off", {"reason_code": "small_balance"}, actor="b")
        with pytest.raises(ValidationError, match="changes nothing"):
            resolve_posting_item(uow.session, total, "retry_now", {}, actor="b")
