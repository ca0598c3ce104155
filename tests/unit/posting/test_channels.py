"""The one rule for a payment seen on two channels (domain.posting.channels): same payment, or a discrepancy."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import pytest

from domain.posting.channels import Arrival, StatedClaim, judge_arrival
from domain.remittance import ClaimPayment, Remittance


def _payment(pcn: str, paid: int = 9000, pr: int = 2000, charge: int = 15000) -> ClaimPayment:
    return ClaimPayment(pcn, "1", charge, paid, pr, payer_claim_control_number=f"PCC-{pcn}")


def _remittance(source: str, *claims: ClaimPayment, trace: str = "EFT1") -> Remittance:
    return Remittance(
        payer_id="PAYA",
        payer_name="Payer A",
        payee_name="Clinic",
        payee_id="1234567893",
        payment_method="ACH",
        payment_amount_cents=sum(c.paid_cents for c in claims),
        trace_number=trace,
        payment_date=date(2026, 3, 20),
        claims=claims,
        source=source,
    )


def _stored(*claims: ClaimPayment) -> list[StatedClaim]:
    return [replace(StatedClaim.of(c), claim_id=f"claim-{c.patient_control_number}") for c in claims]


def test_the_same_payment_by_another_channel_in_either_order() -> None:
    first = _stored(_payment("A"), _payment("B", paid=5000, pr=0, charge=5000))
    eob = _remittance("eob_pdf", _payment("B", paid=5000, pr=0, charge=5000), _payment("A"))
    verdict = judge_arrival("835", 14000, first, eob)
    assert verdict.outcome is Arrival.SAME_PAYMENT and not verdict.disagreements
    assert [c.first.claim_id for c in verdict.claims if c.first] == ["claim-B", "claim-A"]
    back = judge_arrival("eob_pdf", 14000, first, replace(eob, source="835"))
    assert back.outcome is Arrival.SAME_PAYMENT
    assert judge_arrival("835", 14000, first, replace(eob, source="835")).outcome is Arrival.ALREADY_POSTED


def test_a_channel_showing_part_of_the_payment_is_still_the_same_payment() -> None:
    first = _stored(_payment("A"), _payment("B", paid=5000, pr=0, charge=5000))
    verdict = judge_arrival("835", 14000, first, _remittance("eob_pdf", _payment("A")))
    assert verdict.outcome is Arrival.SAME_PAYMENT and verdict.payment_differences == ()


def test_different_amounts_or_an_unknown_claim_are_a_discrepancy() -> None:
    first = _stored(_payment("A"))
    paid_less = judge_arrival("835", 9000, first, _remittance("eob_pdf", _payment("A", paid=8000, pr=3000)))
    assert paid_less.outcome is Arrival.CHANNEL_MISMATCH
    (claim,) = paid_less.disagreements
    assert claim.differences == ("paid_cents 9000!=8000", "patient_responsibility_cents 2000!=3000")
    assert paid_less.payment_differences == ("payment_amount_cents 9000!=8000",)
    other = judge_arrival("835", 9000, first, _remittance("eob_pdf", _payment("A"), _payment("C")))
    assert other.outcome is Arrival.CHANNEL_MISMATCH and other.disagreements[0].differences == ("not_in_first",)
    # The same channel stating a stored payment differently is a discrepancy too (never "already posted").
    again = judge_arrival("835", 9000, first, _remittance("835", _payment("A", paid=1)))
    assert again.outcome is Arrival.CHANNEL_MISMATCH


def test_a_claim_is_paired_by_payer_claim_number_when_the_account_number_differs() -> None:
    first = _stored(_payment("A"))
    renamed = replace(_payment("A"), patient_control_number="A-PRINTED")
    verdict = judge_arrival("835", 9000, first, _remittance("eob_pdf", renamed))
    assert verdict.outcome is Arrival.SAME_PAYMENT and verdict.claims[0].first is not None


def test_remit_post_says_what_a_later_channel_was(capsys: pytest.CaptureFixture[str]) -> None:
    from workers.cli.remit import _print_results

    base = {"payer_known": True, "already_posted": True, "trace_number": "EFT1", "payer_id": "PAYA"}
    same = base | {"arrival": "same_payment", "first_source": "835", "remittance_id": "r1", "claims_matched": 2}
    differs = base | {
        "arrival": "channel_mismatch",
        "first_source": "eob_pdf",
        "remittance_id": "r1",
        "claims": [{"outcome": "channel_mismatch"}, {"outcome": "same_payment"}],
        "work_items_opened": ["w1"],
    }
    _print_results([same, differs], False)
    out = capsys.readouterr().out.splitlines()
    assert out[0] == (
        "remittance EFT1 (PAYA): same_payment, posted earlier from the 835 (remittance r1): "
        "nothing posted again (2 claims matched earlier)"
    )
    assert out[1].startswith("remittance EFT1 (PAYA): channel_mismatch, posted earlier from the EOB PDF")
    assert "1 claim(s): nothing posted again; work item w1" in out[1]
