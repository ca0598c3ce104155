"""Matching rules and posting checks, without a database."""

from __future__ import annotations

from datetime import date

from domain.posting import rules
from domain.posting.matching import ClaimCandidate, LineCandidate, MatchIndex, match_claim
from domain.remittance import Adjustment, ClaimPayment, ServiceLinePayment

DOS = date(2026, 3, 2)


def _claim(claim_id: str, payer: str = "P", account: str = "A1", charge: int = 10000, pcn: str | None = None,
           codes: tuple[str, ...] = ("99213",), member: str = "M1") -> ClaimCandidate:  # fmt: skip
    per = charge // len(codes)
    return ClaimCandidate(
        id=claim_id,
        payer_row_id=payer,
        patient_id="pat-" + account,
        patient_account=account,
        total_charge_cents=charge,
        date_of_service=DOS,
        payer_claim_control_number=pcn,
        lines=tuple(LineCandidate(f"{claim_id}-L{i}", i + 1, c, (), per, DOS) for i, c in enumerate(codes)),
        member_ids=(member,),
    )


def _payment(pcn: str, charge: int = 10000, paid: int = 6000, codes: tuple[str, ...] = ("99213",),
             line_ids: tuple[str | None, ...] | None = None, **kw: object) -> ClaimPayment:  # fmt: skip
    per = charge // len(codes)
    ids = line_ids or (None,) * len(codes)
    lines = tuple(
        ServiceLinePayment(
            c,
            (),
            per,
            paid // len(codes),
            line_control_number=ids[i],
            adjustments=(Adjustment("CO", "45", per - paid // len(codes)),),
        )
        for i, c in enumerate(codes)
    )
    return ClaimPayment(pcn, "1", charge, paid, 0, service_lines=lines, service_date=DOS, **kw)  # type: ignore[arg-type]


def test_rules_in_order_with_confidence() -> None:
    index = MatchIndex.build("P", [_claim("c1", pcn="X9"), _claim("c2", account="A2", charge=7000)])
    assert (match_claim(_payment("c1"), index).rule, match_claim(_payment("c1"), index).confidence) == ("claim_id", 100)
    by_number = match_claim(_payment("zzz", payer_claim_control_number="X9"), index)
    assert by_number.claim_id == "c1" and by_number.confidence == 95
    by_line = match_claim(_payment("zzz", line_ids=("c1-L0",)), index)
    assert by_line.claim_id == "c1" and by_line.rule == "line_control" and by_line.line_ids == ("c1-L0",)
    fallback = match_claim(_payment("A2", charge=7000, paid=3500), index)
    assert fallback.claim_id == "c2" and fallback.confidence == 80 and fallback.postable
    member = match_claim(_payment("nobody", patient_member_id="M1"), index)
    assert member.claim_id == "c1" and member.rule == "patient_dos_charge"


def test_ambiguous_unmatched_and_other_payer() -> None:
    index = MatchIndex.build("P", [_claim("c1"), _claim("c2"), _claim("c3", payer="Q", account="A9")])
    twins = match_claim(_payment("A1"), index)
    assert twins.problem == "ambiguous_claim" and set(twins.candidates) == {"c1", "c2"} and not twins.postable
    none = match_claim(_payment("A7"), index)
    assert none.problem == "unmatched" and none.claim_id is None
    other = match_claim(_payment("c3"), index)
    assert other.problem == "payer_mismatch" and not other.postable


def test_lines_must_all_match() -> None:
    index = MatchIndex.build("P", [_claim("c1", codes=("99213", "85025"))])
    good = match_claim(_payment("c1", codes=("85025", "99213")), index)
    assert good.postable and good.line_ids == ("c1-L1", "c1-L0")
    bad = match_claim(_payment("c1", codes=("99213", "99999")), index)
    assert bad.problem == "ambiguous_line" and not bad.postable


def test_problems() -> None:
    ok = _payment("c1")
    assert rules.problems(ok) == []
    assert "claim_not_balanced" in rules.problems(
        ClaimPayment("c", "1", 100, 50, 0, adjustments=(Adjustment("CO", "45", 10),))
    )
    assert "overpayment" in rules.problems(
        ClaimPayment("c", "1", 100, 150, 0, adjustments=(Adjustment("CO", "45", -50),))
    )
    assert "negative_payment" in rules.problems(
        ClaimPayment("c", "1", 100, -5, 0, adjustments=(Adjustment("CO", "45", 105),))
    )
    assert "patient_responsibility_mismatch" in rules.problems(
        ClaimPayment("c", "1", 100, 50, 10, adjustments=(Adjustment("CO", "45", 50),))
    )
    reversal = ClaimPayment("c", "22", -100, -50, 0, adjustments=(Adjustment("CO", "45", -50),))
    assert rules.problems(reversal) == []
    amounts = rules.classify(
        ClaimPayment("c", "2", 100, 20, 10, adjustments=(Adjustment("OA", "23", 70), Adjustment("PR", "2", 10)))
    )
    assert (amounts.paid_cents, amounts.contractual_cents, amounts.patient_responsibility_cents) == (20, 0, 10)
    assert amounts.prior_payer_cents == 70 and amounts.codes == ("OA-23", "PR-2")
