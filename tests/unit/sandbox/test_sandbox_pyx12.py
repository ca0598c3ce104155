"""The sandbox's batch documents validate under pyx12: 999 (accepted, rejected), 277CA, 835 variants.

pyx12 4.0 ships no maps for 271 (005010X279A1) or 277 (005010X212); those are read back by domain.x12's
parsers in test_sandbox_clearinghouse.py instead.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from sandbox.clearinghouse.service import ClearinghouseService
from tests.unit.sandbox.claims_factory import batch, claim, member
from tests.unit.x12.pyx12_check import pyx12_errors


@pytest.fixture(scope="module")
def documents(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    service = ClearinghouseService(tmp_path_factory.mktemp("pyx12"), seed=2, time_scale=0, random_mix=False)
    service.load_roster(
        [
            member(deductible_met_cents=0),
            member("SBXMD", "MD100000004"),
            member("SBXMC", "MC100000003", deductible_met_cents=25700),
        ]
    )
    found: dict[str, str] = {}
    receipt = service.submit_837(
        batch(
            claim("PX1", lines=(("99214", 19500), ("80053", 4500), ("36415", 1500))),
            claim("PX2", member_id="BM0"),
            claim("PX3", payer="SBXMD", member_id="MD100000004"),
            claim("PX4", payer="SBXMC", member_id="MC100000003", diagnoses=("Z0000",)),
        )
    )
    found["999 accepted"] = receipt.ack_999
    assert receipt.ack_277ca is not None
    found["277CA"] = receipt.ack_277ca
    found["999 rejected"] = service.submit_837(
        batch(claim("PX9"), control=2).replace("CLM*PX9*135*", "CLM*PX9*ABC*")
    ).ack_999
    service.release_due()
    for document in service.mailbox(("835",)):
        found[f"835 {document.payer_id}"] = document.x12
        service.confirm([document.id])
    service.schedule_follow_up("PX1", "reversal", 9000)
    service.release_due()
    [reversal] = service.mailbox(("835",))
    found["835 reversal"] = reversal.x12
    service.confirm([reversal.id])
    service.schedule_follow_up("PX3", "recoupment", 10000)
    service.release_due()
    [recoupment] = service.mailbox(("835",))
    found["835 zero payment with forward balance"] = recoupment.x12

    yield found
    service.close()


KINDS = [
    "999 accepted",
    "999 rejected",
    "277CA",
    "835 SBXBM",
    "835 SBXMD",
    "835 SBXMC",
    "835 reversal",
    "835 zero payment with forward balance",
]


@pytest.mark.parametrize("kind", KINDS)
def test_sandbox_documents_validate_under_pyx12(documents: dict[str, str], kind: str) -> None:
    assert pyx12_errors(documents[kind]) == []
