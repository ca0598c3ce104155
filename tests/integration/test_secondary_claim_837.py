"""A secondary claim's 837P carries what its primary payer decided (COB loops 2320/2330/2430), whoever writes it:
the Claim workflow's activities and `carecycle claims export` share one loader (domain.services.professional)."""

from __future__ import annotations

import pytest

from domain import models as m
from domain.errors import ValidationError
from domain.posting import post_remittance
from domain.services.professional import load_professional_claim
from domain.store.uow import UnitOfWork
from domain.x12.claim837 import Submitter, parse_837p, write_837p
from domain.x12.envelope import ControlNumbers, Party
from tests.unit.posting.factory import make_claim, make_patient, make_practice, paid_claim, remittance


def test_a_secondary_claim_carries_its_primarys_adjudication(uow: UnitOfWork) -> None:
    with uow:
        practice = make_practice(uow.session, ("PAYA", "PAYB"))
        patient = make_patient(uow.session, practice, secondary="PAYB")
        primary = make_claim(uow.session, practice, patient)  # 99213 100.00, 85025 50.00
        primary_row = uow.session.get(m.Claim, primary.claim_id)
        assert primary_row is not None
        assert load_professional_claim(uow.session, primary_row).other_payers == ()  # a primary claim: no COB
        posted = post_remittance(uow.session, remittance("PAYA", "PRIM", [paid_claim(primary, pr_cents=(2000, 1000))]))
        uow.commit()
    secondary_id = posted.claims[0].secondary_claim_id
    assert secondary_id is not None
    with uow:
        secondary = uow.session.get(m.Claim, secondary_id)
        assert secondary is not None
        claim = load_professional_claim(uow.session, secondary)
        (other,) = claim.other_payers
        assert other.paid_cents == 9000  # AMT*D: what the primary paid
        assert [line.paid_cents for line in other.lines if line is not None] == [6000, 3000]
        assert claim.payer.payer_id == "PAYB" and other.payer.payer_id == "PAYA"
        text = write_837p(
            [claim],
            sender=Party("ZZ", "SENDER"),
            receiver=Party("ZZ", "RECEIVER"),
            control=ControlNumbers(1, 1),
            submitter=Submitter("SYNTHETIC CLINIC", "SENDER"),
            receiver_name="SANDBOX CLEARINGHOUSE",
        )
    assert "AMT*D*90" in text and "SVD*PAYA*60" in text
    (parsed,) = parse_837p(text)
    assert parsed.other_payers[0].paid_cents == 9000


def test_a_secondary_claim_without_its_primarys_remittance_is_refused(uow: UnitOfWork) -> None:
    with uow:
        practice = make_practice(uow.session, ("PAYA", "PAYB"))
        patient = make_patient(uow.session, practice, secondary="PAYB")
        primary = make_claim(uow.session, practice, patient)
        secondary = make_claim(uow.session, practice, patient, payer="PAYB")
        row = uow.session.get(m.Claim, secondary.claim_id)
        assert row is not None
        row.primary_claim_id = primary.claim_id
        with pytest.raises(ValidationError, match="without the primary's remittance"):
            load_professional_claim(uow.session, row)
