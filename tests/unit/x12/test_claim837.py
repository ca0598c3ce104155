"""837P: HL counters, COB loops, frequency codes, round trips, pyx12 validity, the guide example, the ORM mapper."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime

import pytest

from domain import models as m
from domain.remittance import Adjustment, ClaimPayment, ServiceLinePayment
from domain.x12.claim837 import ProfessionalClaim, parse_837p, write_837p
from domain.x12.envelope import X12Error, read_envelope
from domain.x12.from_models import PrimaryAdjudication, professional_claim
from tests.unit.x12.helpers import (
    CONTROL,
    RECEIVER,
    SENDER,
    SUBMITTER,
    WHEN,
    dependent_secondary_claim,
    fixture,
    self_claim,
)
from tests.unit.x12.pyx12_check import pyx12_errors


def _write(claims: list[ProfessionalClaim]) -> str:
    return write_837p(
        claims, sender=SENDER, receiver=RECEIVER, control=CONTROL, submitter=SUBMITTER, receiver_name="CH", when=WHEN
    )


def _hl_rows(text: str) -> list[list[str]]:
    transaction = next(read_envelope(text).transactions())
    return [el[1:5] for _, el in transaction.elements() if el[0] == "HL"]


def test_hl_counters_parents_and_child_codes() -> None:
    text = _write([self_claim("a"), dependent_secondary_claim("b"), self_claim("c")])
    assert _hl_rows(text) == [
        ["1", "", "20", "1"],
        ["2", "1", "22", "0"],  # subscriber is the patient: no child
        ["3", "1", "22", "1"],  # dependant follows
        ["4", "3", "23", "0"],
        ["5", "1", "22", "0"],
    ]
    assert pyx12_errors(text) == []


def test_round_trip_self_and_dependent_secondary_with_cob() -> None:
    claims = [self_claim(), dependent_secondary_claim()]
    text = _write(claims)
    parsed = parse_837p(text)
    assert parsed == claims
    assert "SBR*S**G1******CI~" in text and "SBR*P*01*******CI~" in text
    assert "AMT*D*110~" in text and "OI***Y***Y~" in text
    assert "SVD*11111*110*HC:99214:25**1~" in text and "CAS*CO*45*60~" in text and "CAS*PR*2*25~" in text
    assert "REF*F8*PCN-ORIGINAL-1~" in text and "CLM*c-dep*195***11:B:7*Y*A*Y*Y~" in text
    assert "HI*ABK:E119*ABF:I10~" in text and "SV1*HC:99213*135*UN*1***1:2~" in text
    assert "REF*6R*c-self-l1~" in text
    assert pyx12_errors(text) == []


@pytest.mark.parametrize("frequency", ["1", "7", "8"])
def test_frequency_codes(frequency: str) -> None:
    claim = replace(self_claim(), frequency_code=frequency, original_claim_number=None if frequency == "1" else "PCN77")
    text = _write([claim])
    assert f"11:B:{frequency}" in text
    assert ("REF*F8*PCN77" in text) is (frequency != "1")
    assert parse_837p(text) == [claim]
    assert pyx12_errors(text) == []


def test_replacement_without_original_number_is_refused() -> None:
    with pytest.raises(X12Error, match="payer's claim number"):
        _write([replace(self_claim(), frequency_code="7")])


def test_telehealth_claim_validates() -> None:
    claim = self_claim(pos="10", modifiers=("95",))
    text = _write([claim])
    assert "CLM*c-self*150***10:B:1" in text and "SV1*HC:99213:95*135" in text
    assert pyx12_errors(text) == []


def test_guide_example_1_commercial() -> None:
    (claim,) = parse_837p(fixture("837p_x222a1_example1_commercial.x12"))
    assert claim.claim_id == "26463774" and claim.total_charge_cents == 10000
    assert [(line.procedure, line.charge_cents, line.diagnosis_pointers) for line in claim.lines] == [
        ("99213", 4000, (1,)),
        ("87070", 1500, (1,)),
        ("99214", 3500, (2,)),
        ("86663", 1000, (2,)),
    ]
    assert claim.lines[2].service_date == date(2006, 10, 10)
    assert claim.diagnoses == ("0340", "V7389")
    assert claim.subscriber.relationship == "child" and claim.patient is not None
    assert claim.billing_provider.tax_id == "587654321"
    assert claim.pay_to_address is not None and claim.pay_to_address.line == "2345 OCEAN BLVD"


def test_claim_total_must_match_lines() -> None:
    text = _write([self_claim()]).replace("CLM*c-self*150*", "CLM*c-self*151*")
    with pytest.raises(X12Error, match="CLM02 151 is not the sum") as caught:
        parse_837p(text)
    assert caught.value.segment_id == "CLM" and caught.value.position is not None


def test_hl_parent_must_exist() -> None:
    text = _write([self_claim()]).replace("HL*2*1*22*0", "HL*2*9*22*0")
    with pytest.raises(X12Error, match="HL02 9 names no earlier HL"):
        parse_837p(text)


# --- the pure mapper from ORM rows ------------------------------------------------------------------------


def _rows() -> dict[str, object]:
    practice = m.Practice(
        id="pr",
        name="Good Practice",
        npi="1234567893",
        tax_id="123456789",
        taxonomy="207Q00000X",
        address_line="1 Main St",
        city="Harrisburg",
        state="PA",
        postal_code="17101",
        phone="5555550100",
    )
    provider = m.Provider(
        id="dr",
        practice_id="pr",
        first_name="Jane",
        last_name="Smith",
        credential="MD",
        npi="1245319599",
        taxonomy="207Q00000X",
    )
    payer = m.Payer(id="py", payer_id="60054", name="Acme Health", kind="commercial", routing="clearinghouse")
    patient = m.Patient(
        id="pt",
        practice_id="pr",
        account_number="A1",
        first_name="Ted",
        last_name="Doe",
        birth_date=date(2010, 5, 1),
        sex="M",
        address_line="2 Oak St",
        city="Harrisburg",
        state="PA",
        postal_code="17102",
        phone="5555550101",
        guarantor_id="g",
    )
    coverage = m.Coverage(
        id="cv",
        patient_id="pt",
        payer_id="py",
        rank="primary",
        relationship_to_subscriber="child",
        member_id="M1",
        group_number="G7",
        subscriber_first_name="Ann",
        subscriber_last_name="Doe",
        subscriber_birth_date=date(1980, 1, 1),
        effective_from=date(2025, 1, 1),
    )
    encounter = m.Encounter(
        id="en",
        patient_id="pt",
        provider_id="dr",
        location_id="lo",
        date_of_service=date(2026, 1, 5),
        place_of_service="11",
        diagnosis_codes=["J029", "R509"],
    )
    claim = m.Claim(
        id="7f0a5b4e-1c2d-4e5f-8a9b-0c1d2e3f4a5b",
        encounter_id="en",
        patient_id="pt",
        payer_id="py",
        coverage_id="cv",
        billing_provider_id="dr",
        rank="primary",
        frequency_code="1",
        total_charge_cents=16500,
        date_of_service=date(2026, 1, 5),
    )
    claim.lines = [
        m.ClaimLine(
            id="ln-1",
            line_number=1,
            procedure_code="99213",
            modifiers=[],
            units=1,
            charge_cents=13500,
            diagnosis_pointers=[1, 2],
            date_of_service=date(2026, 1, 5),
        ),
        m.ClaimLine(
            id="ln-2",
            line_number=2,
            procedure_code="87880",
            modifiers=["QW"],
            units=1,
            charge_cents=3000,
            diagnosis_pointers=[1],
            date_of_service=date(2026, 1, 5),
        ),
    ]
    return {
        "practice": practice,
        "rendering": provider,
        "payer": payer,
        "patient": patient,
        "coverage": coverage,
        "encounter": encounter,
        "claim": claim,
    }


def test_mapper_builds_a_valid_dependent_claim() -> None:
    rows = _rows()
    claim = rows.pop("claim")
    assert isinstance(claim, m.Claim)
    value = professional_claim(claim, **rows)  # type: ignore[arg-type]
    assert value.claim_id == claim.id and len(value.claim_id) == 36
    assert value.billing_provider.npi == "1234567893" and value.rendering_provider is not None
    assert value.subscriber.relationship == "child" and value.subscriber.person.last_name == "DOE"
    assert value.patient is not None and value.patient.first_name == "TED"
    assert [line.line_control_number for line in value.lines] == ["ln-1", "ln-2"]
    assert value.diagnoses == ("J029", "R509") and value.lines[1].modifiers == ("QW",)
    text = _write([value])
    assert pyx12_errors(text) == []
    assert parse_837p(text)[0].lines == value.lines


def test_mapper_secondary_claim_carries_the_primarys_835() -> None:
    rows = _rows()
    claim = rows.pop("claim")
    assert isinstance(claim, m.Claim)
    claim.rank = "secondary"
    primary_payer = m.Payer(id="p1", payer_id="11111", name="Big Payer", kind="medicare", routing="clearinghouse")
    primary_coverage = m.Coverage(
        id="c1",
        patient_id="pt",
        payer_id="p1",
        rank="primary",
        relationship_to_subscriber="child",
        member_id="MB1",
        subscriber_first_name="Ann",
        subscriber_last_name="Doe",
        effective_from=date(2025, 1, 1),
    )
    payment = ClaimPayment(
        "primary-claim-id",
        "1",
        16500,
        9000,
        2000,
        "PCN1",
        "MB",
        (),
        (
            ServiceLinePayment(
                "99213", (), 13500, 9000, adjustments=(Adjustment("CO", "45", 2500), Adjustment("PR", "2", 2000))
            ),
            ServiceLinePayment("87880", ("QW",), 3000, 0, adjustments=(Adjustment("CO", "97", 3000),)),
        ),
    )
    primary = PrimaryAdjudication(primary_payer, primary_coverage, payment, date(2026, 1, 25))
    value = professional_claim(claim, primary=primary, **rows)  # type: ignore[arg-type]
    assert value.subscriber.responsibility == "S"
    (other,) = value.other_payers
    assert other.paid_cents == 9000 and other.subscriber.claim_filing_indicator == "MB"
    assert [a.adjustments for a in other.lines if a] == [
        payment.service_lines[0].adjustments,
        payment.service_lines[1].adjustments,
    ]
    text = _write([value])
    assert "SVD*11111*0*HC:87880:QW**1~" in text and "CAS*CO*97*30~" in text
    assert pyx12_errors(text) == []
    assert parse_837p(text)[0].other_payers == value.other_payers


def test_mapper_refuses_dependent_without_subscriber_name() -> None:
    from domain.errors import ValidationError

    rows = _rows()
    claim = rows.pop("claim")
    coverage = rows["coverage"]
    assert isinstance(coverage, m.Coverage)
    coverage.subscriber_last_name = None
    with pytest.raises(ValidationError, match="subscriber name is missing"):
        professional_claim(claim, **rows)  # type: ignore[arg-type]


def test_writer_performance_shape_many_claims() -> None:
    claims = [self_claim(f"k{n}") for n in range(200)]
    text = write_837p(
        claims,
        sender=SENDER,
        receiver=RECEIVER,
        control=CONTROL,
        submitter=SUBMITTER,
        receiver_name="CH",
        when=datetime(2026, 1, 1),
    )
    rows = _hl_rows(text)
    assert len(rows) == 201 and rows[-1] == ["201", "1", "22", "0"]
    assert len(parse_837p(text)) == 200
