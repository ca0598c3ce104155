"""The demo's path: the synthetic practice's coverages become the sandbox payers' rosters, its ready claims go
out as one 837P built from the store, and every 835 that comes back balances and names our claims."""

from __future__ import annotations

from collections import Counter
from datetime import date
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from activities.clearinghouse import roster_entry
from domain import models as m
from domain.claim_status import ClaimStatus
from domain.enums import PayerRouting
from domain.services.professional import load_professional_claim
from domain.store.engine import make_engine, make_session_factory
from domain.x12.ack277ca import parse_277ca
from domain.x12.ack999 import parse_999
from domain.x12.claim837 import Submitter, write_837p
from domain.x12.eligibility import EligibilityInquiry, parse_271, write_270
from domain.x12.envelope import ControlNumbers, Party
from domain.x12.remit835 import parse_835
from sandbox.clearinghouse.service import ClearinghouseService
from workers.synthetic import seed_practice


def test_synthetic_practice_through_the_sandbox(sqlite_url: str, tmp_path: Path) -> None:
    engine = make_engine(sqlite_url)
    session_factory = make_session_factory(engine)
    with session_factory() as session:
        seed_practice(session, patients=60, seed=21)
        session.commit()
    service = ClearinghouseService(tmp_path / "sandbox", seed=21, time_scale=0)
    with session_factory() as session:
        rows = session.execute(
            select(m.Coverage, m.Patient, m.Payer)
            .join(m.Patient, m.Coverage.patient_id == m.Patient.id)
            .join(m.Payer, m.Coverage.payer_id == m.Payer.id)
        ).all()
        entries = [e for c, p, y in rows if (e := roster_entry(c, p, y)) is not None]
        assert {e.payer_id for e in entries} <= {"SBXBM", "SBXSM", "SBXMC", "SBXMD"} and entries
        assert service.load_roster([e.to_json() for e in entries]) == len(entries)
        _eligibility_matches_coverage(service, session, rows)
        claims = _ready_clearinghouse_claims(session)
        assert claims
        text = write_837p(
            [load_professional_claim(session, c) for c in claims],
            sender=Party("ZZ", "RIVERBEND01"),
            receiver=Party("ZZ", "SBXCLEARING"),
            control=ControlNumbers(1, 1),
            submitter=Submitter("RIVERBEND FAMILY MEDICINE", "RIVERBEND01"),
            receiver_name="SANDBOX CLEARINGHOUSE",
        )
    receipt = service.submit_837(text)
    assert parse_999(receipt.ack_999)[0].group_status == "A"
    assert receipt.ack_277ca is not None
    [ca] = parse_277ca(receipt.ack_277ca)
    assert {c.claim_id for c in ca.claims} == {c.id for c in claims}
    accepted = {c.claim_id for c in ca.accepted}
    assert accepted, Counter(f"{c.statuses[0].category}:{c.statuses[0].code}" for c in ca.claims)

    service.release_due()
    remittances = [r for d in service.mailbox(("835",)) for r in parse_835(d.x12)]
    paid_ids = {c.patient_control_number for r in remittances for c in r.claims}
    assert paid_ids == accepted
    line_ids = {line.id for c in claims for line in c.lines}
    for remittance in remittances:
        assert remittance.warnings == ()
        assert remittance.payment_amount_cents == remittance.expected_payment_cents() >= 0
        for claim in remittance.claims:
            assert {line.line_control_number for line in claim.service_lines} <= line_ids
    service.close()
    engine.dispose()


def _ready_clearinghouse_claims(session: Session) -> list[m.Claim]:
    claims = session.execute(select(m.Claim).where(m.Claim.status == ClaimStatus.READY).order_by(m.Claim.id)).scalars()
    ready = []
    for claim in claims:
        coverage = session.get(m.Coverage, claim.coverage_id) if claim.coverage_id else None
        payer = session.get(m.Payer, coverage.payer_id) if coverage else None
        if payer is not None and str(payer.routing) == PayerRouting.CLEARINGHOUSE and str(claim.rank) == "primary":
            ready.append(claim)
    return ready


def _eligibility_matches_coverage(service: ClearinghouseService, session: Session, rows: list) -> None:  # type: ignore[type-arg]
    today = date.today()
    checked = 0
    for coverage, patient, payer in rows[:25]:
        entry = roster_entry(coverage, patient, payer)
        if entry is None:
            continue
        inquiry = EligibilityInquiry(
            "T1",
            payer.name,
            payer.payer_id,
            "RIVERBEND",
            "1234567893",
            entry.member_id,
            entry.last_name or "",
            entry.first_name or "",
            entry.birth_date,
            today,
        )
        text = write_270(
            [inquiry], sender=Party("ZZ", "R1"), receiver=Party("ZZ", payer.payer_id), control=ControlNumbers(1, 1)
        )
        [response] = parse_271(service.eligibility(text))
        assert response.active is coverage.is_active_on(today)
        checked += 1
    assert checked
