"""The demo's scripted biller waits for a remittance the payer has on its way instead of writing the claim off
(a write-off first would leave the payment as an exceeds_claim_balance exception for a person to clear)."""

from __future__ import annotations

from typing import Any

from domain import models as m
from domain.claim_status import ClaimStatus
from domain.enums import PayerRouting
from workers.demo_biller import biller_decision


class _Session:
    def __init__(self, routing: PayerRouting) -> None:
        self.claim = m.Claim(id="cl-1", patient_id="pt-1", payer_id="py-1")
        self.payer = m.Payer(id="py-1", routing=routing)

    def get(self, model: type[Any], key: str) -> Any:
        return {(m.Claim, "cl-1"): self.claim, (m.Payer, "py-1"): self.payer}.get((model, key))


def _follow_up(category: str) -> m.WorkItem:
    context = {"category": category, "status": "1"}
    return m.WorkItem(
        reason_code="no_payer_response", entity_type="claim", entity_id="cl-1", context=context, summary=""
    )


def _action(category: str, routing: PayerRouting, portal_payers_answer: bool = True) -> str:
    decision = biller_decision(_follow_up(category), _Session(routing), portal_payers_answer)
    assert decision is not None
    return decision.action


def test_a_finalized_claim_waits_for_its_remittance_whoever_the_payer() -> None:
    for category in ("F1", "F2"):
        assert _action(category, PayerRouting.CLEARINGHOUSE) == "retry_now"
        assert _action(category, PayerRouting.PORTAL, portal_payers_answer=False) == "retry_now"


def test_a_portal_payer_that_answers_is_waited_for_while_it_has_or_will_have_the_claim() -> None:
    assert _action("P1", PayerRouting.PORTAL) == "retry_now"
    assert _action("A4", PayerRouting.PORTAL) == "retry_now"
    assert _action("A4", PayerRouting.PORTAL, portal_payers_answer=False) == "write_off"


def test_a_batch_not_acknowledged_yet_is_polled_on() -> None:
    item = m.WorkItem(
        reason_code="no_payer_response", entity_type="claim", entity_id="cl-1", context={"batch": "b-1"}, summary=""
    )
    decision = biller_decision(item, _Session(PayerRouting.CLEARINGHOUSE), True)
    assert decision is not None and decision.action == "retry_now"


def test_a_payer_that_does_not_have_the_claim_is_written_off() -> None:
    assert _action("A4", PayerRouting.CLEARINGHOUSE) == "write_off"
    assert _action("P1", PayerRouting.CLEARINGHOUSE) == "write_off"


def test_an_appealed_claim_the_payer_still_reports_denied_is_written_off() -> None:
    """The payer's 277 after the appeal says finalized, denied (F2): the denial stands, so the biller stops
    waiting for a remittance that will not come (the journey would wait for ever)."""
    session = _Session(PayerRouting.CLEARINGHOUSE)
    session.claim.status = ClaimStatus.APPEALED
    decision = biller_decision(_follow_up("F2"), session, True)
    assert decision is not None and decision.action == "write_off"
    assert decision.fields == {"reason_code": "administrative"}
    assert biller_decision(_follow_up("F1"), session, True) == biller_decision(
        _follow_up("F1"), _Session(PayerRouting.CLEARINGHOUSE), True
    )  # paid after the appeal: its remittance is on the way
    session.claim.status = ClaimStatus.DENIED
    decision = biller_decision(_follow_up("F2"), session, True)
    assert decision is not None and decision.action == "retry_now"  # not appealed: as before
