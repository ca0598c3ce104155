"""Property and fuzz tests: any input gives values or a typed X12Error, never another exception or a hang."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from domain.remittance import Adjustment, ClaimPayment, Remittance, ServiceLinePayment
from domain.x12.claim837 import write_837p
from domain.x12.documents import parse_document, validate_document
from domain.x12.eligibility import Benefit, EligibilityResponse, RequestError, write_271
from domain.x12.envelope import X12Error
from domain.x12.remit835 import parse_835, write_835
from tests.unit.x12.helpers import (
    CONTROL,
    RECEIVER,
    SENDER,
    SUBMITTER,
    WHEN,
    dependent_secondary_claim,
    fixture,
    remittance,
    self_claim,
)

FUZZ = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])

VALID_835 = write_835([remittance()], sender=SENDER, receiver=RECEIVER, control=CONTROL, when=WHEN)
VALID_837 = write_837p(
    [self_claim(), dependent_secondary_claim()],
    sender=SENDER,
    receiver=RECEIVER,
    control=CONTROL,
    submitter=SUBMITTER,
    receiver_name="CH",
    when=WHEN,
)
SEEDS = [
    VALID_835,
    VALID_837,
    fixture("999_x231a1_partial.x12"),
    fixture("277ca_x214_mixed.x12"),
    fixture("835_x221a1_example1_institutional.x12"),
    write_271(
        [
            EligibilityResponse(
                "EL-1",
                "ACME",
                "60054",
                "GOOD PRACTICE",
                "1234567893",
                "M1",
                "DOE",
                "JANE",
                benefits=(Benefit("1"), Benefit("C", time_period="29", amount_cents=500)),
                errors=(RequestError("72"),),
            )
        ],
        sender=SENDER,
        receiver=RECEIVER,
        control=CONTROL,
        when=WHEN,
    ),
]


def _parses_or_typed_error(text: str) -> None:
    try:
        parse_document(text)
    except X12Error as exc:
        assert str(exc)  # a reason, with a position when there is one
    problems = validate_document(text)  # never raises
    assert all(str(p) for p in problems)


@FUZZ
@given(st.text(max_size=400))
def test_arbitrary_text(text: str) -> None:
    _parses_or_typed_error(text)


@FUZZ
@given(st.binary(max_size=400))
def test_binary_junk(data: bytes) -> None:
    _parses_or_typed_error(data.decode("utf-8", errors="replace"))


@FUZZ
@given(st.sampled_from(SEEDS), st.integers(min_value=0, max_value=5000))
def test_truncated_files(seed: str, cut: int) -> None:
    _parses_or_typed_error(seed[: cut % (len(seed) + 1)])


@FUZZ
@given(st.sampled_from(SEEDS), st.data())
def test_mutated_files(seed: str, data: st.DataObject) -> None:
    segments = seed.split("~")
    operation = data.draw(st.sampled_from(["drop", "duplicate", "swap", "char", "element"]))
    index = data.draw(st.integers(min_value=0, max_value=len(segments) - 2))
    if operation == "drop":
        del segments[index]
    elif operation == "duplicate":
        segments.insert(index, segments[index])
    elif operation == "swap":
        other = data.draw(st.integers(min_value=0, max_value=len(segments) - 2))
        segments[index], segments[other] = segments[other], segments[index]
    elif operation == "char":
        text = segments[index]
        if text:
            where = data.draw(st.integers(min_value=0, max_value=len(text) - 1))
            char = data.draw(st.characters(max_codepoint=0x2FF))
            segments[index] = text[:where] + char + text[where + 1 :]
    else:
        elements = segments[index].split("*")
        where = data.draw(st.integers(min_value=0, max_value=len(elements) - 1))
        elements[where] = data.draw(st.text(alphabet="0123456789.-:ABCXZ*~^", max_size=8))
        segments[index] = "*".join(elements)
    _parses_or_typed_error("~".join(segments))


amounts = st.integers(min_value=0, max_value=10_000_000)
codes = st.sampled_from(["45", "1", "2", "3", "97", "16", "50", "197", "253"])
groups = st.sampled_from(["CO", "PR", "OA", "PI"])


@st.composite
def service_lines(draw: st.DrawFn) -> ServiceLinePayment:
    adjustments = tuple(
        Adjustment(draw(groups), draw(codes), draw(st.integers(min_value=-50_000, max_value=50_000)))
        for _ in range(draw(st.integers(min_value=0, max_value=8)))
    )
    # X12 carries one CAS per group code, so adjustments come back grouped (in first-seen group order).
    first_seen = {group: index for index, group in enumerate(dict.fromkeys(a.group for a in adjustments))}
    adjustments = tuple(sorted(adjustments, key=lambda a: first_seen[a.group]))
    charge = draw(amounts)
    return ServiceLinePayment(
        procedure=draw(st.sampled_from(["99213", "99214", "G0439", "0001U", "36415"])),
        modifiers=tuple(draw(st.lists(st.sampled_from(["25", "59", "95", "QW", "GT"]), max_size=4, unique=True))),
        charge_cents=charge,
        paid_cents=charge - sum(a.amount_cents for a in adjustments),
        units=draw(st.integers(min_value=1, max_value=99)),
        line_control_number=draw(st.uuids()).hex,
        service_date=date(2026, 1, draw(st.integers(min_value=1, max_value=28))),
        adjustments=adjustments,
        remarks=tuple(draw(st.lists(st.sampled_from(["M80", "N19", "MA130"]), max_size=3))),
    )


@st.composite
def remittances(draw: st.DrawFn) -> Remittance:
    claims = []
    for number in range(draw(st.integers(min_value=1, max_value=4))):
        lines = tuple(draw(st.lists(service_lines(), min_size=1, max_size=4)))
        claims.append(
            ClaimPayment(
                patient_control_number=f"claim-{number}",
                status_code=draw(st.sampled_from(["1", "2", "3", "4", "19", "20", "21", "22", "23", "25"])),
                charge_cents=sum(line.charge_cents for line in lines),
                paid_cents=sum(line.paid_cents for line in lines),
                patient_responsibility_cents=draw(amounts),
                payer_claim_control_number=f"PCN{number}",
                claim_filing_indicator="12",
                service_lines=lines,
                service_date=lines[0].service_date,
            )
        )
    base = remittance()
    value = replace(base, claims=tuple(claims), provider_adjustments=base.provider_adjustments[:1])
    return replace(value, payment_amount_cents=value.expected_payment_cents())


@settings(max_examples=40, deadline=None)
@given(remittances())
def test_835_round_trip_property(value: Remittance) -> None:
    text = write_835([value], sender=SENDER, receiver=RECEIVER, control=CONTROL, when=WHEN)
    (parsed,) = parse_835(text)
    assert parsed.warnings == ()
    assert replace(parsed, control_number="") == value
