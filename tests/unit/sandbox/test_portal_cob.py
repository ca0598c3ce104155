"""Coordination of benefits at the sandbox portal: the secondary's math in cents, and its EOB read back."""

from __future__ import annotations

import itertools
from datetime import date
from pathlib import Path

import pytest

from activities.eob import EobTotalsMismatch, extract_eob_details
from activities.eob.extract import MIN_CONFIDENCE
from domain.cob import PriorLine, prior_paid_share, settle_secondary_line
from domain.posting import rules
from domain.remittance import Adjustment, ClaimPayment, Remittance, ServiceLinePayment
from sandbox.eob import PriorPayment, render_eob
from sandbox.portal.state import ClaimLineIn, Member, PortalClaim, PortalState, PriorPayer

DOS = date(2026, 10, 5)


@pytest.mark.parametrize(
    ("allowed", "prior_paid", "prior_patient", "expected"),
    [
        (8000, 6000, 2000, (2000, 6000, 0)),  # covers the whole balance the primary left
        (7000, 6000, 2500, (1000, 4500, 1500)),  # allowed less primary paid: 1000; the rest stays the patient's
        (5000, 6000, 2000, (0, 3000, 2000)),  # the primary paid more than it allows: nothing more
        (1000, 0, 3000, (1000, 0, 0)),  # the patient's share never exceeds what the secondary allows
        (8000, 6000, None, (2000, 6000, 0)),  # told only AMT*D (the clearinghouse's 837s)
        (0, 0, 500, (0, 0, 0)),
    ],
)
def test_secondary_line_math(
    allowed: int, prior_paid: int, prior_patient: int | None, expected: tuple[int, int, int]
) -> None:
    settled = settle_secondary_line(allowed, prior_paid, prior_patient)
    assert (settled.paid_cents, settled.prior_payer_cents, settled.patient_responsibility_cents) == expected


def test_secondary_line_invariants() -> None:
    grid = (0, 1, 999, 2500, 7001, 10000)
    for allowed, paid, patient in itertools.product(grid, grid, (*grid, None)):
        settled = settle_secondary_line(allowed, paid, patient)
        amounts = (settled.paid_cents, settled.prior_payer_cents, settled.patient_responsibility_cents)
        assert all(isinstance(a, int) and a >= 0 for a in amounts)
        assert sum(amounts) == allowed
        assert settled.paid_cents <= max(0, allowed - paid)
        if patient is not None:
            # Never more than the crossover balance: posting's secondary_exceeds_crossover cannot trigger.
            assert settled.paid_cents + settled.patient_responsibility_cents <= patient


def test_cob_adjustments_and_pro_rata_share() -> None:
    settled = settle_secondary_line(7000, 6000, 2500)
    assert settled.adjustments("OA") == (Adjustment("OA", "23", 4500), Adjustment("PR", "2", 1500))
    with pytest.raises(ValueError, match="CO or OA"):
        settled.adjustments("PR")
    assert prior_paid_share(9000, 10000, 15000) == 6000
    assert prior_paid_share(100, 5000, 0) == 500_000  # a claim without charges divides by one, not zero


def _portal_with_secondary() -> tuple[PortalState, PriorPayer]:
    state = PortalState(seed=11)
    prior = PriorPayer(
        "SBX01",
        paid_cents=9000,
        patient_responsibility_cents=3000,
        lines=(PriorLine(6000, 2000, 8000), None),  # the second line: claim-level amounts spread by charge
    )
    for payer_id in ("SBXCC", "SBXHH"):
        state.load_members(payer_id, [Member("M1", date(1980, 1, 1), "PPO", date(2026, 1, 1))])
        state.load_claims(
            payer_id,
            [
                PortalClaim(
                    "c-secondary",
                    "M1",
                    DOS,
                    (ClaimLineIn("99213", 10000), ClaimLineIn("85025", 5000)),
                    DOS,
                    prior_payer=prior,
                ),
                PortalClaim("c-primary", "M1", DOS, (ClaimLineIn("99214", 22000),), DOS),
            ],
        )
    return state, prior


@pytest.mark.parametrize(("payer_id", "group"), [("SBXCC", "CO"), ("SBXHH", "OA")])
def test_portal_adjudicates_a_secondary_and_its_eob_reads_back(tmp_path: Path, payer_id: str, group: str) -> None:
    state, prior = _portal_with_secondary()
    eob = state.issue_eob(payer_id, payment_date=date(2026, 10, 20))
    assert eob is not None and eob.claim_count == 2
    path = tmp_path / "eob.pdf"
    path.write_bytes(eob.pdf)
    read = extract_eob_details(path, payer_id)
    assert read.confidence >= MIN_CONFIDENCE
    assert read.prior_payers == (("c-secondary", "SBX01", 9000),)
    claims = {c.patient_control_number: c for c in read.remittance.claims}
    secondary, primary = claims["c-secondary"], claims["c-primary"]
    assert primary.status_code == "1" and not any(a.reason == "23" for a in primary.all_adjustments())
    assert secondary.status_code == "2"
    # Per line: CO-45 down to the secondary's allowed amount, then CARC 23 in the payer's group, PR, paid.
    for line, known in zip(secondary.service_lines, (prior.lines[0], PriorLine(3000, 1000)), strict=True):
        assert known is not None and line.allowed_cents is not None
        settled = settle_secondary_line(line.allowed_cents, known.paid_cents, known.patient_responsibility_cents)
        assert line.paid_cents == settled.paid_cents
        assert line.adjustments == (
            *(
                (Adjustment("CO", "45", line.charge_cents - line.allowed_cents),)
                if line.charge_cents > line.allowed_cents
                else ()
            ),
            *settled.adjustments(group),
        )
    assert secondary.paid_cents + secondary.patient_responsibility_cents <= prior.patient_responsibility_cents
    amounts = rules.classify(secondary)
    assert amounts.prior_payer_cents > 0 and rules.problems(secondary) == []
    # The portal's claim status page shows what the EOB says.
    held = state.payer(payer_id).claims["c-secondary"]
    assert (held.status, held.paid_cents) == ("Paid", secondary.paid_cents)
    assert read.remittance.payment_amount_cents == eob.amount_cents == secondary.paid_cents + primary.paid_cents


def test_a_denied_secondary_is_a_denial() -> None:
    state, _ = _portal_with_secondary()
    state.payer("SBXCC").members["M1"].active_to = date(2026, 9, 30)  # coverage ended before the visit
    eob = state.issue_eob("SBXCC", ["c-secondary"])
    assert eob is not None and eob.amount_cents == 0
    assert state.payer("SBXCC").claims["c-secondary"].status == "Denied"


@pytest.mark.parametrize("layout", ["cascade", "harbor"])
def test_a_prior_payer_on_a_primary_claim_is_a_mismatch(tmp_path: Path, layout: str) -> None:
    payer_id = "SBXCC" if layout == "cascade" else "SBXHH"
    line = ServiceLinePayment("99213", (), 10000, 6000, adjustments=(Adjustment("CO", "45", 4000),))
    claim = ClaimPayment("c1", "1", 10000, 6000, 0, "ICN1", service_lines=(line,))
    remittance = Remittance(payer_id, "P", "Payee", "1999999984", "CHK", 6000, "T1", DOS, (claim,), source="eob_pdf")
    path = tmp_path / "bad.pdf"
    path.write_bytes(render_eob(remittance, layout, prior_payers={"c1": PriorPayment("SBX01", 100)}))
    with pytest.raises(EobTotalsMismatch, match="prior payer"):
        extract_eob_details(path, payer_id)
    path.write_bytes(render_eob(remittance, layout))  # the same EOB without the COB line reads as before
    assert extract_eob_details(path, payer_id).remittance.claims[0].paid_cents == 6000
