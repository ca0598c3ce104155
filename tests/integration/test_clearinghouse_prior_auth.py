"""Prior authorization end to end: the store's authorization goes out as REF*G1 and the sandbox payer pays; without
one the claim edit stops the claim before submission, the payer would deny it CO-197, and the biller's correction
(prior_auth=...) records the authorization so the resubmitted claim is paid."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import select

from activities.contracts import revenue as c
from activities.documents.local import LocalDocumentStore
from activities.revenue import ClaimActivities, Envelope
from activities.revenue.claims import load_professional_claim
from domain import models as m
from domain.remittance import Remittance
from domain.services.encounters import EncounterInput, ServiceLineInput, create_claim, record_encounter
from domain.x12.claim837 import Submitter, write_837p
from domain.x12.envelope import ControlNumbers, Party
from domain.x12.remit835 import parse_835
from sandbox.clearinghouse.service import ClearinghouseService
from tests.integration.test_revenue_activities import InProcessClearinghouse
from tests.support.practice import roster_entries
from workers.composition import Container
from workers.settings import Settings
from workers.synthetic import seed_practice


def _codes(remittances: list[Remittance], claim_id: str) -> list[str]:
    (claim,) = [x for r in remittances for x in r.claims if x.patient_control_number == claim_id]
    return [f"{a.group}-{a.reason}" for line in claim.service_lines for a in line.adjustments]


def test_authorization_on_file_is_paid_missing_is_caught_then_corrected(sqlite_url: str, tmp_path: Path) -> None:
    container = Container(Settings(home=tmp_path, database_url=sqlite_url))
    day = datetime.now(UTC).date() - timedelta(days=1)
    with container.uow() as uow:
        session = uow.session
        seed_practice(session, patients=40, seed=5)
        session.flush()
        summit = session.execute(select(m.Payer).where(m.Payer.payer_id == "SBXSM")).scalar_one()
        coverages = [
            cov
            for cov in session.execute(
                select(m.Coverage)
                .where(m.Coverage.payer_id == summit.id, m.Coverage.rank == "primary")
                .order_by(m.Coverage.member_id)
            ).scalars()
            if cov.is_active_on(day)
        ]
        assert len(coverages) >= 2, "the seed gives at least two Summit Mutual members"
        provider = session.execute(select(m.Provider).order_by(m.Provider.npi)).scalars().first()
        location = session.execute(select(m.Location).order_by(m.Location.name)).scalars().first()
        assert provider is not None and location is not None
        claim_ids = []
        for coverage in coverages[:2]:
            encounter_id = record_encounter(
                session,
                EncounterInput(
                    coverage.patient_id,
                    provider.id,
                    location.id,
                    day,
                    "11",
                    ("F411",),
                    (ServiceLineInput("90791", 22000),),
                ),
                actor="test",
            )
            claim_ids.append(create_claim(session, encounter_id, actor="test"))
        authorized, missing = claim_ids
        session.add(
            m.PriorAuthorization(
                patient_id=coverages[0].patient_id,
                payer_id=summit.id,
                number="SM-PA-1001",
                procedure_codes=["90791"],
                valid_from=day - timedelta(days=30),
                valid_to=day + timedelta(days=60),
                units_authorized=4,
            )
        )
        uow.commit()
    service = ClearinghouseService(tmp_path / "sandbox", seed=5, time_scale=0.0, random_mix=False)
    service.load_roster(roster_entries(container))
    clearinghouse = InProcessClearinghouse(service)
    claims = ClaimActivities(
        container.session_factory, clearinghouse, Envelope(), LocalDocumentStore(tmp_path / "documents")
    )

    # On file: the scrubber passes, the 837P carries REF*G1, the payer adjudicates without CO-197.
    assert claims.scrub(c.ClaimRef(authorized)).passed
    claims.submit(c.ClaimCorrection(authorized, {}, "1", "test"))
    # Missing: the claim edit catches it before submission, naming the fix.
    result = claims.scrub(c.ClaimRef(missing))
    assert not result.passed and [e.code for e in result.edits] == ["PRIOR_AUTH_MISSING"]
    # Sent anyway (as another claim id, bypassing the edit), the payer denies it CO-197.
    with container.uow() as uow:
        claim = uow.session.get(m.Claim, missing)
        assert claim is not None
        unchecked = replace(load_professional_claim(uow.session, claim), claim_id="NO-EDIT-1")
        assert unchecked.prior_authorization is None
    service.submit_837(
        write_837p(
            [unchecked],
            sender=Party("ZZ", "RIVERBEND01"),
            receiver=Party("ZZ", "SBXCLEARING"),
            control=ControlNumbers(900, 900),
            submitter=Submitter("RIVERBEND FAMILY MEDICINE", "RIVERBEND01"),
            receiver_name="SANDBOX CLEARINGHOUSE",
        )
    )
    # The biller's correction records the authorization; the resubmitted claim is adjudicated.
    claims.correct(c.ClaimCorrection(missing, {"prior_auth": "SM-PA-2002"}, "1", "biller"))
    assert claims.scrub(c.ClaimRef(missing)).passed
    claims.submit(c.ClaimCorrection(missing, {}, "1", "test"))
    with container.uow() as uow:
        recorded = uow.session.execute(
            select(m.PriorAuthorization).where(m.PriorAuthorization.number == "SM-PA-2002")
        ).scalar_one()
        assert recorded.procedure_codes == ["90791"] and recorded.valid_from == recorded.valid_to == day

    service.release_due()
    remittances = [r for d in service.mailbox(("835",)) for r in parse_835(d.x12)]
    assert "CO-197" not in _codes(remittances, authorized)
    assert "CO-197" not in _codes(remittances, missing)
    assert _codes(remittances, "NO-EDIT-1") == ["CO-197"]
    with container.uow() as uow:
        sent = [uow.session.get(m.Claim, claim_id) for claim_id in (authorized, missing)]
        assert all(claim is not None and claim.status == "acknowledged" for claim in sent)
    # The payers' 277CAs are applied where every acknowledgment is (claims.acknowledgments): both accepted.
    answers = [claims.acknowledgments(c.AckQuery(claim_id, "1")) for claim_id in (authorized, missing)]
    assert [a.state for a in answers] == ["accepted", "accepted"]
    service.close()
