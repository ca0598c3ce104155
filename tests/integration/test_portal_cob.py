"""A portal payer's secondary claim end to end, on SQLite and PostgreSQL: the primary's 835 posts and creates the
secondary claim; the loader hands it to the sandbox portal with the primary's adjudication (COB); the portal
adjudicates it as secondary and prints an EOB; the EOB is read (activities.eob) and posts to the secondary
claim; the ledger balances and posting the EOB again writes nothing."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from activities.eob import extract_eob_details
from activities.eob.extract import MIN_CONFIDENCE
from activities.portals.sandbox_loader import issue_eob, load_sandbox_portal, portal_rosters
from domain import models as m
from domain.claim_status import ClaimStatus
from domain.cob import PriorLine
from domain.enums import PayerRouting
from domain.ledger.checks import run_ledger_checks
from domain.ledger.store import balances_by_account, claim_insurance_balances, patient_ar_balance
from domain.posting import post_remittance
from domain.remittance import Adjustment, ClaimPayment, ServiceLinePayment
from domain.store.uow import UnitOfWork
from sandbox.portal.app import create_app
from sandbox.portal.serve import PortalServer
from sandbox.portal.state import PortalState, PriorPayer
from tests.unit.posting.factory import make_claim, make_patient, make_practice, paid_claim, remittance


def _ledger_ok(uow: UnitOfWork) -> None:
    report = run_ledger_checks(uow.session)
    assert report.ok, report.as_dict()
    assert sum(balances_by_account(uow.session).values()) == 0


def test_portal_secondary_eob_posts_to_the_secondary_claim(
    uow: UnitOfWork, session_factory: sessionmaker[Session], tmp_path: Path
) -> None:
    with uow:
        practice = make_practice(uow.session, ("PAYA", "SBXCC"))
        portal_payer = uow.session.get(m.Payer, practice.payers["SBXCC"])
        assert portal_payer is not None
        portal_payer.routing = PayerRouting.PORTAL
        alice = make_patient(uow.session, practice, secondary="SBXCC")
        primary = make_claim(uow.session, practice, alice)  # 99213 100.00, 85025 50.00
        first = post_remittance(uow.session, remittance("PAYA", "PRIM", [paid_claim(primary, pr_cents=(2000, 1000))]))
        uow.commit()
    secondary_id = first.claims[0].secondary_claim_id
    assert secondary_id is not None
    with uow:
        # Until the secondary reaches its payer, the portal has nothing to answer.
        assert portal_rosters(uow.session)["SBXCC"][1] == []
        secondary = uow.session.get(m.Claim, secondary_id)
        assert secondary is not None
        secondary.status = ClaimStatus.ACCEPTED
        secondary.submitted_at = datetime(2026, 3, 20, tzinfo=UTC)
        uow.commit()

    state = PortalState(seed=7)
    with PortalServer(create_app(state, admin_token="tok")) as server:
        loaded = load_sandbox_portal(session_factory, server.base_url, admin_token="tok")
        assert [(p.payer_id, p.claims) for p in loaded] == [("SBXCC", 1)]
        held = state.payer("SBXCC").claims[secondary_id]
        # What the primary's 835 said, line by line (allowed: paid plus the patient's share, no AMT*B6 in it).
        assert held.prior_payer == PriorPayer(
            "PAYA", 9000, 3000, (PriorLine(6000, 2000, 8000), PriorLine(3000, 1000, 4000))
        )
        eob_id = issue_eob(server.base_url, "SBXCC", [secondary_id], admin_token="tok")
    assert eob_id is not None
    pdf = tmp_path / "eob.pdf"
    pdf.write_bytes(state.payer("SBXCC").eobs[eob_id].pdf)

    read = extract_eob_details(pdf, "SBXCC")
    assert read.confidence >= MIN_CONFIDENCE and read.prior_payers == ((secondary_id, "PAYA", 9000),)
    (payment,) = read.remittance.claims
    assert payment.patient_control_number == secondary_id and payment.status_code == "2"
    assert any(a.group == "CO" and a.reason == "23" for a in payment.all_adjustments())
    assert 0 < payment.paid_cents + payment.patient_responsibility_cents <= 3000

    with uow:
        result = post_remittance(uow.session, read.remittance)
        uow.commit()
    (outcome,) = result.claims
    assert outcome.claim_id == secondary_id and outcome.outcome == "paid" and outcome.secondary_claim_id is None
    assert result.paid_cents == payment.paid_cents == read.remittance.payment_amount_cents
    with uow:
        claim = uow.session.get(m.Claim, secondary_id)
        assert claim is not None and claim.status == ClaimStatus.PAID and claim.paid_cents == payment.paid_cents
        # The crossover balance is closed: the secondary paid, the patient owes its PR, the rest is contractual.
        assert claim_insurance_balances(uow.session, [secondary_id, primary.claim_id]) == {
            secondary_id: 0,
            primary.claim_id: 0,
        }
        assert patient_ar_balance(uow.session, alice.patient_id) == payment.patient_responsibility_cents
        entries = uow.session.execute(select(func.count()).select_from(m.JournalEntry)).scalar_one()
        _ledger_ok(uow)
    with uow:
        again = post_remittance(uow.session, read.remittance)
        uow.commit()
    assert again.already_posted and again.entries_written == 0
    with uow:
        assert uow.session.execute(select(func.count()).select_from(m.JournalEntry)).scalar_one() == entries
        assert portal_rosters(uow.session)["SBXCC"][1] == []  # paid: no longer in process at the payer
        _ledger_ok(uow)


def test_a_secondary_line_the_primary_settled_is_not_a_denial(uow: UnitOfWork) -> None:
    with uow:
        practice = make_practice(uow.session, ("PAYA", "SBXCC"))
        alice = make_patient(uow.session, practice, secondary="SBXCC")
        primary = make_claim(uow.session, practice, alice)
        # The primary leaves the patient 20.00 on the first line and nothing on the second.
        first = post_remittance(uow.session, remittance("PAYA", "PRIM", [paid_claim(primary, pr_cents=(2000, 0))]))
        uow.commit()
    secondary_id = first.claims[0].secondary_claim_id
    assert secondary_id is not None
    with uow:
        secondary = uow.session.get(m.Claim, secondary_id)
        assert secondary is not None
        secondary.status = ClaimStatus.ACCEPTED
        uow.commit()
    # The secondary pays the 20.00 on the first line; the second line owes nothing after the primary (OA-23).
    lines = (
        ServiceLinePayment(
            "99213", (), 10000, 2000, adjustments=(Adjustment("CO", "45", 2000), Adjustment("OA", "23", 6000))
        ),
        ServiceLinePayment(
            "85025", (), 5000, 0, adjustments=(Adjustment("CO", "45", 1000), Adjustment("OA", "23", 4000))
        ),
    )
    payment = ClaimPayment(secondary_id, "2", 15000, 2000, 0, "SEC-ICN", service_lines=lines)
    with uow:
        result = post_remittance(uow.session, remittance("SBXCC", "SEC1", [payment]))
        uow.commit()
    assert result.claims[0].outcome == "paid"  # not partially_paid: the second line was settled, not denied
    with uow:
        claim = uow.session.get(m.Claim, secondary_id)
        assert claim is not None and claim.status == ClaimStatus.PAID
        assert claim_insurance_balances(uow.session, [secondary_id]) == {secondary_id: 0}
        assert patient_ar_balance(uow.session, alice.patient_id) == 0
        _ledger_ok(uow)
