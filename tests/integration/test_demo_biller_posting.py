"""The demo's scripted biller at the posting desk, on both stores: a payment that reached the store before the
claim's submit was recorded (the worker that sent it was lost first: ``illegal_status_ready``) is left until the
claim shows as sent, then posted to it by hand; it is not cancelled, which left that claim waiting for ever for a
payment already received (a CI run of the worker-killed demo found it)."""

from __future__ import annotations

from sqlalchemy import select

from domain import models as m
from domain.claim_status import ClaimStatus
from domain.posting import post_remittance
from domain.services.submissions import move_claim
from domain.store.uow import UnitOfWork
from tests.unit.posting.factory import make_claim, make_patient, make_practice, paid_claim, remittance
from workers.demo_biller import biller_decision


def test_a_payment_for_a_claim_not_yet_recorded_as_sent_waits_then_is_posted_to_it(uow: UnitOfWork) -> None:
    with uow:
        practice = make_practice(uow.session)
        alice = make_patient(uow.session, practice)
        claim = make_claim(uow.session, practice, alice, status=ClaimStatus.READY)
        result = post_remittance(uow.session, remittance("PAYA", "EARLY", [paid_claim(claim, pr_cents=(500, 0))]))
        uow.commit()
    assert [(c.outcome, c.problems) for c in result.claims] == [("exception", ("illegal_status_ready",))]
    with uow:
        [item] = uow.session.execute(select(m.WorkItem).where(m.WorkItem.state == "open")).scalars()
        assert biller_decision(item, uow.session) is None  # not cancelled: the claim's submit is on its way
    with uow:
        stored = uow.session.get(m.Claim, claim.claim_id)
        assert stored is not None
        move_claim(uow.session, stored, ClaimStatus.SUBMITTED, "worker")  # the retried submit records the send
        uow.commit()
    with uow:
        [item] = uow.session.execute(select(m.WorkItem).where(m.WorkItem.state == "open")).scalars()
        decision = biller_decision(item, uow.session)
        assert decision is not None
        assert (decision.action, decision.fields) == ("post_manually", {"claim_id": claim.claim_id})
