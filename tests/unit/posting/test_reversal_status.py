"""A reversal (CLP02=22) with no correction leaves the claim open, awaiting the payer's corrected adjudication."""

from __future__ import annotations

import pytest

from domain.claim_status import OPEN_STATUSES, ClaimStatus, can_transition, check_transition
from domain.errors import IllegalTransition


@pytest.mark.parametrize("adjudicated", [ClaimStatus.PAID, ClaimStatus.PARTIALLY_PAID])
def test_a_reversed_adjudication_goes_back_to_accepted(adjudicated: ClaimStatus) -> None:
    assert check_transition(adjudicated, ClaimStatus.ACCEPTED) is ClaimStatus.ACCEPTED
    assert ClaimStatus.ACCEPTED in OPEN_STATUSES  # open: follow-up and the Claim workflow wait for the payer


@pytest.mark.parametrize("corrected", [ClaimStatus.PAID, ClaimStatus.PARTIALLY_PAID, ClaimStatus.DENIED])
def test_the_corrected_adjudication_follows_from_accepted(corrected: ClaimStatus) -> None:
    assert can_transition(ClaimStatus.ACCEPTED, corrected)


@pytest.mark.parametrize("settled", [ClaimStatus.DENIED, ClaimStatus.CLOSED, ClaimStatus.WRITTEN_OFF])
def test_only_a_paid_claim_can_be_taken_back_into_adjudication(settled: ClaimStatus) -> None:
    with pytest.raises(IllegalTransition):
        check_transition(settled, ClaimStatus.ACCEPTED)
