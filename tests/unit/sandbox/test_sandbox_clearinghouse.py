"""The sandbox clearinghouse end to end in-process: 837P -> 999 -> 277CA -> 835 read back by domain.x12."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from domain.errors import NotFound
from domain.remittance import ClaimPayment, Remittance
from domain.x12.ack277ca import parse_277ca
from domain.x12.ack999 import parse_999
from domain.x12.claim837 import Person, ProfessionalClaim
from domain.x12.eligibility import EligibilityInquiry, parse_271, write_270
from domain.x12.envelope import ControlNumbers, Party, X12Error
from domain.x12.remit835 import parse_835
from domain.x12.status276 import ClaimStatusInquiry, parse_277, write_276
from sandbox.clearinghouse.payers import PLANS, fee_schedule_amount
from sandbox.clearinghouse.service import ClearinghouseService
from tests.unit.sandbox.claims_factory import BILLING_NPI, BIRTH, batch, claim, member

TODAY = date.today()


@pytest.fixture
def service(tmp_path: Path) -> ClearinghouseService:
    svc = ClearinghouseService(tmp_path, seed=7, time_scale=0, random_mix=False)
    svc.load_roster(
        [
            member(deductible_met_cents=50000),  # SBXBM, deductible met: co-pay and co-insurance only
            member("SBXSM", "SM100000002", deductible_met_cents=0),
            member("SBXMC", "MC100000003", deductible_met_cents=25700),
            member("SBXMD", "MD100000004"),
            member("SBXBM", "BM100000009", effective_to=(TODAY - timedelta(days=60)).isoformat()),
        ]
    )
    yield svc
    svc.close()


def released(service: ClearinghouseService) -> list[Remittance]:
    service.release_due()
    documents = service.mailbox(("835",))
    service.confirm([d.id for d in documents])
    return [r for d in documents for r in parse_835(d.x12)]


def only_claim(remittances: list[Remittance], claim_id: str) -> ClaimPayment:
    found = [c for r in remittances for c in r.claims if c.patient_control_number == claim_id]
    assert len(found) == 1, found
    return found[0]


def assert_balanced(remittance: Remittance) -> None:
    assert remittance.warnings == ()
    assert remittance.payment_amount_cents == remittance.expected_payment_cents()
    for c in remittance.claims:
        assert c.charge_cents - sum(a.amount_cents for a in c.all_adjustments()) == c.paid_cents
        assert c.patient_responsibility_cents == sum(a.amount_cents for a in c.all_adjustments() if a.group == "PR")


def test_a_claim_goes_from_837p_through_999_and_277ca_to_an_835_the_parser_reads_back(
    service: ClearinghouseService,
) -> None:
    receipt = service.submit_837(batch(claim("CLM0001", lines=(("99214", 19500), ("36415", 1500)))))

    [ack] = parse_999(receipt.ack_999)
    assert (ack.group_status, ack.sets_accepted) == ("A", 1)
    assert receipt.ack_277ca is not None
    [ca] = parse_277ca(receipt.ack_277ca)
    [acknowledged] = ca.claims
    assert acknowledged.accepted and acknowledged.claim_id == "CLM0001"
    assert acknowledged.statuses[0].category == "A2" and acknowledged.payer_claim_number

    [remittance] = released(service)
    assert_balanced(remittance)
    paid = only_claim([remittance], "CLM0001")
    plan = PLANS["SBXBM"]
    allowed = [fee_schedule_amount(plan, "99214"), fee_schedule_amount(plan, "36415")]
    assert [line.allowed_cents for line in paid.service_lines] == allowed
    # Co-pay on the visit, then 20% co-insurance on what remains of each line; the payer pays the rest.
    visit, draw = paid.service_lines
    assert [(a.group, a.reason) for a in visit.adjustments] == [("CO", "45"), ("PR", "3"), ("PR", "2")]
    copay = 2500
    coins_visit = (allowed[0] - copay) * 2000 // 10000
    assert visit.paid_cents == allowed[0] - copay - coins_visit
    assert draw.paid_cents == allowed[1] - allowed[1] * 2000 // 10000
    assert paid.status_code == "1" and paid.payer_claim_control_number == acknowledged.payer_claim_number
    assert remittance.payment_amount_cents == paid.paid_cents > 0
    assert remittance.payer_id == "SBXBM" and remittance.payee_id == BILLING_NPI
    assert visit.line_control_number == "CLM0001-L1"
    # Nothing is released twice.
    assert released(service) == []


def test_adjudication_waits_for_the_payers_delay_in_sandbox_time(tmp_path: Path) -> None:
    service = ClearinghouseService(tmp_path, seed=1, time_scale=86400, random_mix=False)
    service.load_roster([member()])
    service.submit_837(batch(claim()))
    assert service.release_due() == []
    assert [row["status"] for row in service.claims_overview()] == ["accepted"]
    service.advance(PLANS["SBXBM"].adjudication_days)
    assert len(service.mailbox(("835",))) == 1
    service.close()


@pytest.mark.parametrize(
    ("build", "stc"),
    [
        (lambda: claim(member_id="BM999999999"), ("A3", "97", "IL")),
        (lambda: claim(billing_npi="1234567890"), ("A7", "562", "85")),
        (lambda: claim(birth=None), ("A6", "158", "IL")),
        (lambda: claim(patient=Person("TESTPERSON", "SAM")), ("A6", "158", "QC")),
        (lambda: claim(birth=date(1981, 1, 1)), ("A7", "158", "IL")),
        (lambda: claim(member_id="BM100000009"), ("A3", "109", "IL")),
        (lambda: claim(payer="ZZNOPE"), ("A3", "116", "PR")),
        (lambda: claim(service_date=TODAY + timedelta(days=5)), ("A7", "187", "")),
        (lambda: claim(frequency_code="7", original_claim_number="NOSUCHICN"), ("A7", "464", "PR")),
    ],
    ids=[
        "unknown-member",
        "bad-billing-npi",
        "missing-dob",
        "missing-dependant-dob",
        "dob-mismatch",
        "terminated",
        "unknown-payer",
        "future-dos",
        "unknown-original",
    ],
)
def test_277ca_rejects_claims_that_fail_payer_edits(service: ClearinghouseService, build, stc) -> None:  # type: ignore[no-untyped-def]
    receipt = service.submit_837(batch(build(), claim("CLM0002")))
    assert parse_999(receipt.ack_999)[0].group_status == "A"
    assert receipt.ack_277ca is not None
    [ca] = parse_277ca(receipt.ack_277ca)
    rejected, accepted = ca.claims
    assert not rejected.accepted and accepted.accepted
    status = rejected.statuses[0]
    assert (status.category, status.code, status.entity) == stc
    assert rejected.payer_claim_number is None
    assert (receipt.claims_accepted, receipt.claims_rejected) == (1, 1)
    remittances = released(service)
    assert [c.patient_control_number for r in remittances for c in r.claims] == ["CLM0002"]


def test_999_rejects_a_malformed_transaction_set_and_no_277ca_follows(service: ClearinghouseService) -> None:
    text = batch(claim())
    broken = text.replace("CLM*CLM0001*135*", "CLM*CLM0001*ABC*")
    receipt = service.submit_837(broken)
    [ack] = parse_999(receipt.ack_999)
    assert ack.group_status == "R" and ack.sets_accepted == 0
    [transaction] = ack.transactions
    assert transaction.status == "R" and transaction.errors[0].segment_id == "CLM"
    assert receipt.ack_277ca is None and not receipt.accepted
    assert service.claims_overview() == []


@pytest.mark.parametrize("text", ["", "hello", "ISA*00*short~", "\x00\x01\x02" * 50])
def test_an_unreadable_batch_is_a_typed_error(service: ClearinghouseService, text: str) -> None:
    with pytest.raises(X12Error):
        service.submit_837(text)


def line_outcomes(payment: ClaimPayment) -> list[tuple[str, str, tuple[str, ...], int]]:
    return [
        (line.procedure, ",".join(f"{a.group}-{a.reason}" for a in line.adjustments), line.remarks, line.paid_cents)
        for line in payment.service_lines
    ]


def _line_authorized(value: ProfessionalClaim) -> ProfessionalClaim:
    return replace(value, lines=(replace(value.lines[0], prior_authorization="SM-LINE-AUTH"),))


def test_fractional_units_are_priced_exactly(service: ClearinghouseService) -> None:
    value = claim("UNITS1", lines=(("90471", 2800),))
    service.submit_837(batch(replace(value, lines=(replace(value.lines[0], units=Decimal("1.5")),))))
    (line,) = only_claim(released(service), "UNITS1").service_lines
    fee = fee_schedule_amount(PLANS["SBXBM"], "90471")
    assert fee is not None
    # 1.5 units at the fee per unit, to the cent, capped at the charge (the 835 reports two whole units).
    assert line.allowed_cents == min(2800, fee * 3 // 2) and line.units == 2


def test_forced_denials_carry_their_reason_and_remark_codes(service: ClearinghouseService) -> None:
    old = TODAY - timedelta(days=120)
    service.submit_837(
        batch(
            claim("NEC1", diagnoses=("Z0000",), lines=(("99213", 13500),)),
            claim("BUN1", lines=(("80053", 4500), ("36415", 1500))),
            claim("PRE1", payer="SBXSM", member_id="SM100000002", lines=(("90791", 22000),)),
            claim(
                "PRE2",
                payer="SBXSM",
                member_id="SM100000002",
                lines=(("90791", 22000),),
                prior_authorization="SM-AUTH-1",
            ),
            _line_authorized(claim("PRE3", payer="SBXSM", member_id="SM100000002", lines=(("90791", 22000),))),
            claim("TF1", payer="SBXSM", member_id="SM100000002", service_date=old),
            claim("TEL1", place="02"),
            claim("TEL2", place="10", modifiers=("95",)),
            claim("REN1", rendering_npi="1234567890"),
            claim("MCB1", payer="SBXMC", member_id="MC100000003", lines=(("80053", 4500), ("36415", 1500))),
        )
    )
    remittances = released(service)
    for remittance in remittances:
        assert_balanced(remittance)
    nec = only_claim(remittances, "NEC1")
    assert nec.status_code == "4" and line_outcomes(nec) == [("99213", "CO-50", ("N130",), 0)]
    bundled = line_outcomes(only_claim(remittances, "BUN1"))
    assert bundled[1] == ("36415", "CO-97", ("M15",), 0) and bundled[0][3] > 0
    assert line_outcomes(only_claim(remittances, "PRE1")) == [("90791", "CO-197", ("M62",), 0)]
    # The same service with the payer's authorization number (2300 REF*G1) is adjudicated (this member has the
    # whole deductible to meet, so the allowed amount goes to it); so is one whose line carries the number.
    for authorized in ("PRE2", "PRE3"):
        payment = only_claim(remittances, authorized)
        assert payment.status_code == "1" and line_outcomes(payment)[0][1] == "CO-45,PR-3,PR-1"
    timely = only_claim(remittances, "TF1")
    assert timely.status_code == "4" and line_outcomes(timely)[0][1] == "CO-29"
    assert line_outcomes(only_claim(remittances, "TEL1")) == [("99213", "CO-16", ("M77",), 0)]
    assert only_claim(remittances, "TEL2").paid_cents > 0
    rendering = only_claim(remittances, "REN1")
    assert rendering.status_code == "4" and line_outcomes(rendering)[0][1:3] == ("CO-16", ("N290",))
    # Medicare pays the venipuncture separately.
    assert all(line[3] > 0 for line in line_outcomes(only_claim(remittances, "MCB1")))


def test_a_duplicate_claim_is_denied_co18(service: ClearinghouseService) -> None:
    service.submit_837(batch(claim("DUP1")))
    first = only_claim(released(service), "DUP1")
    assert first.paid_cents > 0
    service.submit_837(batch(claim("DUP1"), control=2))
    second = only_claim(released(service), "DUP1")
    assert second.status_code == "4" and line_outcomes(second)[0][1] == "CO-18"


def test_the_same_interchange_sent_again_gets_the_first_receipt(service: ClearinghouseService) -> None:
    """A submitter whose answer was lost sends the same file again: the clearinghouse answers with the first
    receipt and the payer sees the claim once (a CI run's claim was paid, then denied CO-18 by its own copy)."""
    text = batch(claim("RESENT1"))
    first = service.submit_837(text)
    again = service.submit_837(text)
    assert (again.batch_id, again.ack_999, again.ack_277ca) == (first.batch_id, first.ack_999, first.ack_277ca)
    assert (again.accepted, again.claims_accepted, again.claims_rejected) == (True, 1, 0)
    payment = only_claim(released(service), "RESENT1")
    assert payment.status_code == "1" and payment.paid_cents > 0


def test_medicaid_pays_late_with_prompt_pay_interest(service: ClearinghouseService) -> None:
    service.submit_837(batch(claim("MCD1", payer="SBXMD", member_id="MD100000004")))
    [remittance] = released(service)
    assert_balanced(remittance)
    paid = only_claim([remittance], "MCD1")
    assert paid.patient_responsibility_cents == 0 and paid.claim_filing_indicator == "MC"
    [interest] = remittance.provider_adjustments
    assert interest.reason == "L6" and interest.amount_cents < 0
    assert interest.reference == paid.payer_claim_control_number
    assert remittance.payment_amount_cents == paid.paid_cents - interest.amount_cents
    assert remittance.payment_method == "CHK"


def test_a_reversal_takes_the_payment_back_and_a_correction_pays_again(service: ClearinghouseService) -> None:
    service.submit_837(batch(claim("REV1", lines=(("99214", 19500),))))
    original = only_claim(released(service), "REV1")
    service.schedule_follow_up("REV1", "reversal", 11000)
    [remittance] = released(service)
    assert_balanced(remittance)
    reversal, corrected = remittance.claims
    assert reversal.status_code == "22" and reversal.paid_cents == -original.paid_cents
    assert reversal.charge_cents == -original.charge_cents
    assert reversal.payer_claim_control_number == original.payer_claim_control_number
    assert corrected.status_code == "1" and corrected.paid_cents > original.paid_cents
    assert corrected.patient_responsibility_cents == original.patient_responsibility_cents
    assert remittance.payment_amount_cents == corrected.paid_cents - original.paid_cents


def test_a_denied_claim_reprocessed_is_its_denial_reversed_then_a_new_adjudication(
    service: ClearinghouseService,
) -> None:
    """The payer's roster said the member was not covered (CO-27); fixed, the payer reprocesses the denial."""
    service.submit_837(batch(claim("DEN1", lines=(("99214", 19500),))))
    service.load_roster([member(deductible_met_cents=50000, effective_to=(TODAY - timedelta(days=400)).isoformat())])
    denial = only_claim(released(service), "DEN1")
    assert denial.status_code == "4" and denial.paid_cents == 0
    assert [(a.group, a.reason) for a in denial.all_adjustments()] == [("CO", "27")]
    service.load_roster([member(deductible_met_cents=50000)])
    service.schedule_follow_up("DEN1", "reversal")
    [remittance] = released(service)
    assert_balanced(remittance)
    reversal, corrected = remittance.claims
    assert reversal.status_code == "22" and reversal.paid_cents == 0
    assert reversal.charge_cents == -denial.charge_cents
    assert corrected.status_code == "1" and corrected.paid_cents > 0
    assert corrected.patient_responsibility_cents > 0  # the plan's co-pay: a denial had no cost sharing to keep
    assert remittance.payment_amount_cents == corrected.paid_cents
    # Now paid, it can be followed up as any paid claim; a recoupment of a denial cannot.
    service.schedule_follow_up("DEN1", "recoupment", 1000)
    with pytest.raises(NotFound, match="no paid claim"):
        service.schedule_follow_up("NOPE", "recoupment")


def test_a_recoupment_is_a_wo_provider_adjustment_and_shortfalls_carry_forward(service: ClearinghouseService) -> None:
    service.submit_837(batch(claim("REC1")))
    original = only_claim(released(service), "REC1")
    service.schedule_follow_up("REC1", "recoupment", 10000)
    [remittance] = released(service)
    assert_balanced(remittance)
    adjustments = {(a.reason, a.reference): a.amount_cents for a in remittance.provider_adjustments}
    assert adjustments[("WO", original.payer_claim_control_number)] == original.paid_cents
    # Nothing else to pay: the payer sends a zero notice and carries the debt forward (FB).
    assert remittance.payment_amount_cents == 0 and remittance.payment_method == "NON"
    assert adjustments[("FB", "FORWARD")] == -original.paid_cents
    service.submit_837(batch(claim("REC2", lines=(("99215", 26500),)), control=2))
    [later] = released(service)
    assert_balanced(later)
    carried = {(a.reason, a.reference): a.amount_cents for a in later.provider_adjustments}
    assert carried[("FB", "CARRIED")] == original.paid_cents
    assert later.payment_amount_cents == only_claim([later], "REC2").paid_cents - original.paid_cents


def test_a_void_reverses_the_original(service: ClearinghouseService) -> None:
    service.submit_837(batch(claim("VOID1")))
    original = only_claim(released(service), "VOID1")
    void = claim("VOID1", frequency_code="8", original_claim_number=original.payer_claim_control_number)
    service.submit_837(batch(void, control=2))
    [remittance] = released(service)
    assert [c.status_code for c in remittance.claims] == ["22"]
    assert remittance.claims[0].paid_cents == -original.paid_cents


def test_deductible_accumulates_across_claims(service: ClearinghouseService) -> None:
    # SBXSM's member has met none of the $1,000 deductible.
    service.submit_837(batch(claim("DED1", payer="SBXSM", member_id="SM100000002", lines=(("99215", 26500),))))
    first = only_claim(released(service), "DED1")
    deductible_1 = sum(a.amount_cents for a in first.all_adjustments() if (a.group, a.reason) == ("PR", "1"))
    assert deductible_1 > 0 and first.paid_cents == 0
    service.submit_837(batch(claim("DED2", payer="SBXSM", member_id="SM100000002"), control=2))
    second = only_claim(released(service), "DED2")
    deductible_2 = sum(a.amount_cents for a in second.all_adjustments() if (a.group, a.reason) == ("PR", "1"))
    assert 0 < deductible_2 and deductible_1 + deductible_2 <= 100000


def test_same_seed_same_adjudication_other_seed_other_mix(tmp_path: Path) -> None:
    claims = [
        claim(f"MIX{i:03d}", lines=(("99213", 13500), ("85025", 3500), ("83036", 4000)), member_id=f"BM2{i:08d}")
        for i in range(80)
    ]
    roster = [member(member_id=f"BM2{i:08d}") for i in range(80)]

    def run(seed: int, name: str) -> list[ClaimPayment]:
        svc = ClearinghouseService(tmp_path / name, seed=seed, time_scale=0)
        svc.load_roster(roster)
        svc.submit_837(batch(*claims))
        payments = sorted(
            (replace(c, payer_claim_control_number=None, received_date=None) for r in released(svc) for c in r.claims),
            key=lambda c: c.patient_control_number,
        )
        svc.close()
        return payments

    first, again, other = run(11, "a"), run(11, "b"), run(12, "c")
    assert first == again
    assert first != other
    # The seeded mix denies some claims or lines and leaves most paid.
    denied = [c for c in first if any(a.group == "CO" and a.reason != "45" for a in c.all_adjustments())]
    assert 0 < len(denied) < len(first) // 4
    # Reversals come with their corrections.
    reversed_ids = [c.patient_control_number for c in first if c.status_code == "22"]
    assert all(sum(1 for c in first if c.patient_control_number == i) == 3 for i in reversed_ids)


def eligibility(service: ClearinghouseService, member_id: str, birth: date | None, payer: str = "SBXBM"):  # type: ignore[no-untyped-def]
    inquiry = EligibilityInquiry(
        trace="T0001",
        payer_name="PAYER",
        payer_id=payer,
        provider_name="RIVERBEND FAMILY MEDICINE",
        provider_npi=BILLING_NPI,
        member_id=member_id,
        subscriber_last_name="TESTPERSON",
        subscriber_first_name="ALEX",
        subscriber_birth_date=birth,
        service_date=TODAY,
    )
    text = write_270(
        [inquiry], sender=Party("ZZ", "RIVERBEND01"), receiver=Party("ZZ", payer), control=ControlNumbers(5, 5)
    )
    [response] = parse_271(service.eligibility(text))
    return response


def test_271_answers_active_with_copay_and_deductible_remaining(service: ClearinghouseService) -> None:
    response = eligibility(service, "SM100000002", BIRTH, "SBXSM")
    assert response.active is True and response.errors == ()
    assert response.copay_cents == PLANS["SBXSM"].copay_cents
    assert response.deductible_remaining_cents == PLANS["SBXSM"].deductible_cents
    assert response.trace == "T0001"


def test_271_answers_inactive_for_terminated_coverage(service: ClearinghouseService) -> None:
    response = eligibility(service, "BM100000009", BIRTH)
    assert response.active is False


@pytest.mark.parametrize(
    ("member_id", "birth", "payer", "code"),
    [
        ("BM999999999", BIRTH, "SBXBM", "75"),
        ("BM100000001", date(1990, 1, 1), "SBXBM", "71"),
        ("BM100000001", None, "SBXBM", "58"),
        ("BM100000001", BIRTH, "ZZNOPE", "79"),
    ],
)
def test_271_aaa_errors(
    service: ClearinghouseService, member_id: str, birth: date | None, payer: str, code: str
) -> None:
    response = eligibility(service, member_id, birth, payer)
    assert [e.code for e in response.errors] == [code]
    assert response.active is None


def test_the_roster_refuses_unknown_payers_and_bad_rows(service: ClearinghouseService) -> None:
    from domain.errors import ValidationError

    with pytest.raises(ValidationError):
        service.load_roster([member("ZZNOPE")])
    with pytest.raises(ValidationError):
        service.load_roster([{**member(), "birth_date": "not a date"}])
    with pytest.raises(ValidationError):
        service.load_roster([{"payer_id": "SBXBM"}])


def test_a_portal_payers_claim_is_accepted_but_never_adjudicated_into_an_835(
    service: ClearinghouseService,
) -> None:
    service.load_roster([member("SBXCC", "CC100000001")])
    receipt = service.submit_837(batch(claim("CLMCC1", payer="SBXCC", member_id="CC100000001")))
    [ack] = parse_999(receipt.ack_999)
    assert ack.group_status == "A"
    assert receipt.ack_277ca is not None
    [acknowledged] = parse_277ca(receipt.ack_277ca)[0].claims
    assert acknowledged.accepted
    assert (acknowledged.statuses[0].category, acknowledged.statuses[0].code) == ("A2", "20")
    assert acknowledged.payer_claim_number
    # The front-end edits still apply: a member the payer does not know is rejected.
    rejected = service.submit_837(batch(claim("CLMCC2", payer="SBXCC", member_id="CC999999999")))
    assert rejected.ack_277ca is not None
    [refused] = parse_277ca(rejected.ack_277ca)[0].claims
    assert not refused.accepted and refused.statuses[0].category == "A3"
    # The payer answers by portal: no 835 ever comes, however long we wait; a 276 says pending.
    service.advance(400)
    assert released(service) == []
    assert service.claims_overview()[0]["status"] == "accepted"


def test_clock_only_moves_forward(service: ClearinghouseService) -> None:
    from domain.errors import ValidationError

    before = service.clock.now()
    after = service.advance(3)
    assert after - before >= timedelta(days=3)
    with pytest.raises(ValidationError):
        service.advance(-1)
    assert isinstance(after, datetime)


def claim_status(service: ClearinghouseService, claim_id: str, payer: str = "SBXBM"):  # type: ignore[no-untyped-def]
    inquiry = ClaimStatusInquiry(
        trace="S0001",
        payer_name="PAYER",
        payer_id=payer,
        submitter_name="RIVERBEND FAMILY MEDICINE",
        submitter_id="RIVERBEND01",
        provider_name="RIVERBEND FAMILY MEDICINE",
        provider_npi=BILLING_NPI,
        member_id="BM100000001",
        subscriber_last_name="TESTPERSON",
        subscriber_first_name="ALEX",
        claim_id=claim_id,
        charge_cents=13500,
        service_from=TODAY - timedelta(days=3),
    )
    text = write_276(
        [inquiry], sender=Party("ZZ", "RIVERBEND01"), receiver=Party("ZZ", payer), control=ControlNumbers(9, 9)
    )
    [result] = parse_277(service.claim_status(text))
    assert result.trace == "S0001" and result.claim_id == claim_id
    return result


def test_277_answers_pending_finalized_rejected_and_not_found(tmp_path: Path) -> None:
    service = ClearinghouseService(tmp_path, seed=3, time_scale=86400, random_mix=False)
    service.load_roster([member()])
    service.submit_837(batch(claim("ST1"), claim("ST2", diagnoses=("Z0000",)), claim("ST3", member_id="BM0")))

    pending = claim_status(service, "ST1")
    assert (pending.statuses[0].category, pending.statuses[0].code) == ("P1", "20")
    assert pending.payer_claim_number
    rejected = claim_status(service, "ST3")
    assert (rejected.statuses[0].category, rejected.statuses[0].code) == ("A3", "97")
    missing = claim_status(service, "NOPE")
    assert (missing.statuses[0].category, missing.statuses[0].code) == ("D0", "35")

    service.advance(PLANS["SBXBM"].adjudication_days)
    [remittance] = [r for d in service.mailbox(("835",)) for r in parse_835(d.x12)]
    paid = claim_status(service, "ST1")
    assert paid.statuses[0].category == "F1"
    assert paid.paid_cents == only_claim([remittance], "ST1").paid_cents
    assert paid.check_number == remittance.trace_number
    denied = claim_status(service, "ST2")
    assert denied.statuses[0].category == "F2" and denied.paid_cents == 0
    service.close()


def test_999_rejects_a_set_whose_se_count_is_wrong(service: ClearinghouseService) -> None:
    text = batch(claim("SE1"))
    start = text.index("~SE*") + 4
    count = text[start : text.index("*", start)]
    receipt = service.submit_837(text.replace(f"~SE*{count}*", f"~SE*{int(count) + 1}*"))
    [ack] = parse_999(receipt.ack_999)
    assert ack.group_status == "R"
    assert ack.transactions[0].errors[0].segment_id == "SE"
    assert receipt.ack_277ca is None


def test_a_dependants_claim_is_matched_on_the_member_id(service: ClearinghouseService) -> None:
    dependant = claim("DEP1", birth=None, patient=Person("TESTPERSON", "SAM", birth_date=date(2015, 6, 1)))
    receipt = service.submit_837(batch(dependant))
    assert receipt.claims_accepted == 1
    assert only_claim(released(service), "DEP1").paid_cents > 0


def test_a_replacement_reverses_the_original_and_pays_the_corrected_claim(service: ClearinghouseService) -> None:
    service.submit_837(batch(claim("RPL1", lines=(("99213", 13500),))))
    original = only_claim(released(service), "RPL1")
    replacement = claim(
        "RPL1",
        lines=(("99214", 19500),),
        frequency_code="7",
        original_claim_number=original.payer_claim_control_number,
    )
    receipt = service.submit_837(batch(replacement, control=2))
    assert receipt.claims_accepted == 1
    [remittance] = released(service)
    assert_balanced(remittance)
    reversal, corrected = remittance.claims
    assert reversal.status_code == "22" and reversal.paid_cents == -original.paid_cents
    assert corrected.status_code == "1" and corrected.frequency_code == "7"
    assert corrected.service_lines[0].procedure == "99214"
    assert corrected.payer_claim_control_number != original.payer_claim_control_number


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_mutated_batches_get_a_999_or_a_typed_error(service: ClearinghouseService, data: st.DataObject) -> None:
    text = batch(claim("FUZ1"), claim("FUZ2", lines=(("99213", 13500), ("36415", 1500))))
    position = data.draw(st.integers(min_value=0, max_value=len(text) - 1))
    action = data.draw(st.sampled_from(["delete", "insert", "replace", "truncate"]))
    junk = data.draw(st.text(alphabet="*~:^ABC019\n", min_size=1, max_size=4))
    if action == "delete":
        mutated = text[:position] + text[position + len(junk) :]
    elif action == "insert":
        mutated = text[:position] + junk + text[position:]
    elif action == "replace":
        mutated = text[:position] + junk + text[position + len(junk) :]
    else:
        mutated = text[:position]
    try:
        receipt = service.submit_837(mutated)
    except X12Error:
        return
    [ack] = parse_999(receipt.ack_999)
    assert ack.group_status in ("A", "E", "P", "R")


def test_state_survives_a_restart(tmp_path: Path) -> None:
    first = ClearinghouseService(tmp_path, seed=4, time_scale=86400, random_mix=False)
    first.load_roster([member(deductible_met_cents=50000)])
    first.submit_837(batch(claim("RST1")))
    first.close()
    second = ClearinghouseService(tmp_path, seed=4, time_scale=86400, random_mix=False)
    assert second.status()["members"] == {"SBXBM": 1}
    second.advance(PLANS["SBXBM"].adjudication_days)
    assert only_claim(released(second), "RST1").paid_cents > 0
    second.close()


def test_an_authorization_the_payer_issued_must_cover_the_service(service: ClearinghouseService) -> None:
    day = TODAY - timedelta(days=3)
    issued = [
        {"number": "SM-OK", "procedure_codes": ["90791"], "valid_from": "2020-01-01", "valid_to": "2099-12-31"},
        {
            "number": "SM-EXPIRED",
            "procedure_codes": ["90791"],
            "valid_from": "2020-01-01",
            "valid_to": (day - timedelta(days=1)).isoformat(),
        },
        {"number": "SM-OTHER", "procedure_codes": ["90834"], "valid_from": "2020-01-01", "valid_to": "2099-12-31"},
    ]
    service.load_roster([member("SBXSM", "SM100000077", deductible_met_cents=0, authorizations=issued)])
    outcomes = {}
    for number in ("SM-OK", "SM-EXPIRED", "SM-OTHER", "SM-NEVER-HEARD-OF"):
        claim_id = f"PA-{number}"
        service.submit_837(
            batch(
                claim(
                    claim_id,
                    payer="SBXSM",
                    member_id="SM100000077",
                    lines=(("90791", 22000),),
                    service_date=day,
                    prior_authorization=number,
                ),
                control=len(outcomes) + 50,
            )
        )
        outcomes[number] = claim_id
    remittances = released(service)
    assert line_outcomes(only_claim(remittances, outcomes["SM-EXPIRED"])) == [("90791", "CO-197", ("N54",), 0)]
    assert line_outcomes(only_claim(remittances, outcomes["SM-OTHER"])) == [("90791", "CO-197", ("N54",), 0)]
    for number in ("SM-OK", "SM-NEVER-HEARD-OF"):  # a number the payer has no record of is taken as given
        assert "197" not in line_outcomes(only_claim(remittances, outcomes[number]))[0][1]
