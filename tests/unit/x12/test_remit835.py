"""835: implementation-guide examples with their totals, round trips, balancing warnings, pyx12 validity, JSON."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import replace
from datetime import date

import pytest

from domain.remittance import Adjustment, ClaimPayment, ProviderAdjustment, Remittance, ServiceLinePayment
from domain.x12.documents import validate_document, validate_stream
from domain.x12.envelope import X12Error
from domain.x12.remit835 import parse_835, stream_835, write_835
from domain.x12.to_json import remittance_to_json
from tests.unit.x12.helpers import CONTROL, RECEIVER, SENDER, WHEN, chunks, fixture, remittance, remittance_texts
from tests.unit.x12.pyx12_check import pyx12_errors


def _write(remittances: list[Remittance], **kwargs: object) -> str:
    return write_835(remittances, sender=SENDER, receiver=RECEIVER, control=CONTROL, when=WHEN, **kwargs)  # type: ignore[arg-type]


def test_guide_example_1_institutional_totals() -> None:
    (remit,) = parse_835(fixture("835_x221a1_example1_institutional.x12"))
    assert remit.payment_method == "ACH" and remit.payment_amount_cents == 15_000_000
    assert remit.trace_number == "12345" and remit.payer_id == "999"
    assert remit.payee_id == "6543210903" and remit.payment_date == date(2002, 9, 13)
    assert [c.patient_control_number for c in remit.claims] == ["666123", "777777"]
    first, second = remit.claims
    assert (first.charge_cents, first.paid_cents, first.adjustments) == (
        21_136_697,
        13_801_840,
        (Adjustment("CO", "45", 7_334_857),),
    )
    assert first.remark_source == "MIA" and second.remarks == ("MA02",)
    assert first.service_date == date(2002, 8, 16) and first.statement_to == date(2002, 8, 24)
    assert remit.provider_adjustments == (ProviderAdjustment("CV", "CP", -127),)
    assert remit.expected_payment_cents() == remit.payment_amount_cents
    assert remit.warnings == ()


def test_guide_examples_3_and_5_professional_with_other_component_separator() -> None:
    example3, example5 = parse_835(fixture("835_x221a1_examples3_5_professional.x12"))
    assert example3.payment_method == "CHK" and example3.payment_amount_cents == 122_200
    line1, line2 = example3.claims[1].service_lines
    assert (line1.procedure, line1.modifiers, line1.charge_cents, line1.paid_cents) == ("12345", ("26",), 16650, 3000)
    assert line2.adjustments == (
        Adjustment("PR", "1", 15000),
        Adjustment("PR", "2", 7000),
        Adjustment("CO", "42", 8500),
    )
    assert example3.claims[0].coverage_amount_cents == 91200
    assert example3.warnings == ()
    assert example5.claims[0].service_lines[0].adjustments[1] == Adjustment("OA", "94", -900)
    assert example5.warnings == ()


def test_round_trip_every_status_and_payment_method() -> None:
    for method in ("ACH", "CHK", "NON"):
        original = remittance(f"TR-{method}", method=method)
        statuses = ("1", "2", "3", "4", "19", "20", "21", "22", "23", "25")
        claims = tuple(replace(original.claims[0], patient_control_number=f"c{s}", status_code=s) for s in statuses)
        original = replace(original, claims=claims, provider_adjustments=(), payment_amount_cents=10000 * len(claims))
        text = _write([original])
        (parsed,) = parse_835(text)
        assert parsed.warnings == ()
        assert replace(parsed, control_number="") == original
        assert pyx12_errors(text) == []


def test_round_trip_reversal_denial_plb_and_many_cas_triplets() -> None:
    original = remittance()
    many = tuple(Adjustment("CO", str(reason), 100) for reason in (45, 59, 97, 16, 18, 50, 197, 29))
    line = ServiceLinePayment("99213", ("25", "59", "GT", "95"), 13500, 12700, 2, "l-x", date(2026, 1, 6), many)
    extra = ClaimPayment("c9", "1", 13500, 12700, 0, "PCN9", "12", (), (line,), (), service_date=date(2026, 1, 6))
    original = replace(
        original,
        claims=(*original.claims, extra),
        payment_amount_cents=original.payment_amount_cents + 12700,
        provider_adjustments=tuple(ProviderAdjustment("WO", f"R{n}", 100) for n in range(7)),
    )
    original = replace(original, payment_amount_cents=original.expected_payment_cents())
    text = _write([original, remittance("TR2")], line_breaks=True)
    assert text.count("PLB*") == 3  # seven adjustments: six per PLB, then one more PLB (plus the second set's)
    assert text.count("CAS*CO*45*1*") == 1 and "CAS*CO*197*1**29*1~" in text
    parsed = parse_835(text)
    assert [replace(p, control_number="") for p in parsed] == [original, remittance("TR2")]
    assert parsed[0].claims[1].is_denial and parsed[0].claims[2].is_reversal
    # The guide allows PLB to repeat (max use >1); pyx12's map wraps PLB in a FOOTER loop that it counts once per
    # PLB, so a second PLB is its only complaint. Everything else in the file validates.
    errors = pyx12_errors(text)
    assert errors and all("FOOTER exceeded max count" in str(e) for e in errors)
    single_plb = replace(original, provider_adjustments=original.provider_adjustments[:2])
    single_plb = replace(single_plb, payment_amount_cents=single_plb.expected_payment_cents())
    assert pyx12_errors(_write([single_plb])) == []


def test_balancing_warnings_name_the_amounts() -> None:
    text = _write([remittance()])
    broken = text.replace("BPR*I*50*", "BPR*I*60*").replace("SVC*HC:99213:25*135*100", "SVC*HC:99213:25*135*101")
    (parsed,) = parse_835(broken)
    assert parsed.warnings[0].startswith("segment 4 BPR02: 60.00 != claims paid 60.00 - provider adjustments 10.00")
    assert any("SVC03" in w and "!= paid 101.00" in w for w in parsed.warnings)
    claim_broken = text.replace("CLP*c1*1*150*100*", "CLP*c1*1*150*90*")
    (parsed,) = parse_835(claim_broken)
    expected = "CLP04: claim c1: charge 150.00 - adjustments 50.00 = 100.00 != paid 90.00"
    assert any(expected in w for w in parsed.warnings)


@pytest.mark.parametrize(
    ("old", "new", "reason"),
    [
        ("CLP*c1*1*", "CLP*c1*99*", "unknown claim status"),
        ("CAS*CO*45*25", "CAS*XX*45*25", "unknown adjustment group"),
        ("CAS*CO*45*25", "CAS*CO*45*25**97", "without an amount"),
        ("SVC*HC:99213:25*135*100", "SVC*HC:99213:25*1x5*100", "not an amount"),
        ("*C*ACH*CCP", "*C*XYZ*CCP", "unknown payment method"),
        ("DTM*472*20260106", "DTM*472*20261306", "not a date"),
        ("LQ*HE*M80", "ZZZ*HE*M80", "does not belong in an 835"),
    ],
)
def test_bad_835_content_is_a_typed_error(old: str, new: str, reason: str) -> None:
    text = _write([remittance()])
    assert old in text
    with pytest.raises(X12Error, match=reason) as caught:
        parse_835(text.replace(old, new, 1))
    assert caught.value.position is not None


def test_other_transactions_are_not_an_835() -> None:
    with pytest.raises(X12Error, match="no 835 transaction set"):
        parse_835(fixture("999_x231a1_partial.x12"))


def test_json_shape_has_the_documented_keys() -> None:
    document = remittance_to_json(parse_835(_write([remittance()])))
    (entry,) = document["transaction_sets"]
    assert entry["type"] == "835" and entry["control_number"] == "0001"
    assert entry["payment"] == {
        "method": "ACH",
        "amount": "50.00",
        "credit_debit": "C",
        "trace_number": "TR1",
        "date": "2026-01-20",
    }
    assert entry["payer"] == {"name": "ACME HEALTH", "id": "60054"}
    assert entry["payee"] == {"name": "GOOD PRACTICE", "id": "1234567893"}
    claim = entry["claims"][0]
    for key in (
        "patient_control_number",
        "status_code",
        "charge",
        "paid",
        "patient_responsibility",
        "payer_claim_control_number",
        "adjustments",
        "service_lines",
    ):
        assert key in claim
    assert claim["charge"] == "150.00" and claim["patient_responsibility"] == "10.00"
    line = claim["service_lines"][0]
    assert {k: line[k] for k in ("procedure", "modifiers", "charge", "paid", "remarks")} == {
        "procedure": "99213",
        "modifiers": ["25"],
        "charge": "135.00",
        "paid": "100.00",
        "remarks": ["M80"],
    }
    assert line["adjustments"][0] == {"group": "CO", "reason": "45", "amount": "25.00", "quantity": None}
    assert entry["provider_adjustments"] == [
        {"reason": "L6", "reference": "INTEREST", "amount": "-2.50"},
        {"reason": "WO", "reference": "PCN9", "amount": "12.50"},
    ]
    assert entry["balancing_warnings"] == []


# --- streaming (issue 14 item 5): the file read in chunks gives what the text held whole gives ------------------


def _streamed(chunks: Iterable[str]) -> list[Remittance]:
    remittances = []
    for reader in stream_835(chunks):
        claims = tuple(reader.claims())
        remittances.append(reader.remittance(claims))
    return remittances


@pytest.mark.parametrize("size", [1, 2, 7, 105, 106, 4096, 1 << 30])
@pytest.mark.parametrize("name", sorted(remittance_texts()))
def test_streamed_835_is_what_the_whole_text_gives(name: str, size: int) -> None:
    text = remittance_texts()[name]
    whole = parse_835(text)
    assert _streamed(chunks(text, size)) == whole
    assert sum(len(r.claims) for r in whole) >= 2


def test_a_terminator_followed_by_line_breaks_reads_as_without_them() -> None:
    text = remittance_texts()["terminator_then_crlf"]
    assert "~\r\n" in text and _streamed(chunks(text, 3)) == parse_835(text.replace("\r\n", ""))
    lf = remittance_texts()["lf_terminator_crlf_line_ends"]
    assert lf[105] == "\n" and "\r\n" in lf  # a chunk of 1 splits every CRLF between two chunks
    assert _streamed(chunks(lf, 1)) == parse_835(text.replace("\r\n", ""))


def test_claims_are_handed_out_before_the_file_is_read() -> None:
    text = remittance_texts()["terminator_then_lf"]
    pieces = chunks(text, 100)
    pulled = 0

    def reading() -> Iterator[str]:
        nonlocal pulled
        for chunk in pieces:
            pulled += 1
            yield chunk

    readers = stream_835(reading())
    claims = next(readers).claims()
    first = next(claims)
    assert first.patient_control_number == "c1" and pulled < len(pieces) // 10
    rest = list(claims)
    assert len(rest) == 59 and len(pieces) // 2 < pulled < len(pieces)  # the second set is not read yet
    assert [len(list(reader.claims())) for reader in readers] == [3] and pulled == len(pieces)


@pytest.mark.parametrize("cut", [0.3, 0.6, "after a terminator", "inside SE", "after SE", 0.99])
@pytest.mark.parametrize("size", [5, 1 << 30])
def test_a_truncated_file_is_the_same_error_streamed(cut: float | str, size: int) -> None:
    """Not the codec's complaint about the half segment at the end: the file is cut short, wherever it is cut."""
    text = remittance_texts()["terminator_then_lf"]
    ends = {"after a terminator": text.index("CLP*c2"), "inside SE": text.index("SE*") + 4}
    ends["after SE"] = text.index("~", ends["inside SE"]) + 1
    truncated = text[: ends[cut] if isinstance(cut, str) else int(len(text) * cut)]
    with pytest.raises(X12Error) as whole:
        parse_835(truncated)
    with pytest.raises(X12Error) as streamed:
        _streamed(chunks(truncated, size))
    assert str(streamed.value) == str(whole.value)
    if cut not in (0.99, "inside SE"):  # there the cut leaves an envelope segment that is wrong in itself
        assert "file ends inside" in str(whole.value)


def test_streamed_header_may_not_change_after_the_claims_began() -> None:
    """The streamed JSON writes payment, payer and payee before the claims: a header segment after them (not a
    valid 835, which the reader held whole still reads) stops the stream instead of printing something else."""
    text = _write([remittance()])
    late = text.replace("CLP*c3*", "N1*PR*OTHER PAYER~CLP*c3*", 1).replace("SE*36*", "SE*37*", 1)
    assert late != text and parse_835(late)[0].payer_name == "OTHER PAYER"
    readers = stream_835(chunks(late, 50))
    reader = next(readers)
    claims = reader.claims()
    assert next(claims).patient_control_number == "c1"
    assert reader.header().payer_name == "ACME HEALTH"
    with pytest.raises(X12Error, match="N1 after the claims began") as caught:
        list(claims)
    assert caught.value.position == 34


def _broken_835s() -> dict[str, str]:
    text = _write([remittance(), remittance("TR2")], line_breaks=True)
    return {
        "valid": text,
        "bad status and amount": text.replace("CLP*c1*1*", "CLP*c1*99*", 1).replace("*135*100~", "*1x5*100~", 1),
        "counts": text.replace("SE*36*0001", "SE*30*0001").replace("GE*2*", "GE*3*"),
        "empty and stray segments": text.replace("LX*1~", "LX*1~~", 1).replace("CAS*CO*97*15~", "ZZZ*1~", 1),
        "unbalanced": text.replace("BPR*I*50*", "BPR*I*55*", 1),
        "envelope broken after the sets": text.replace("GE*2*", "ST*835*0009~GE*2*"),
        "truncated": text[: text.index("CLP*c3") + 9],
        "not an 835": fixture("999_x231a1_partial.x12"),
        "two interchanges": text + fixture("835_x221a1_example1_institutional.x12"),
    }


@pytest.mark.parametrize("kept", [None, 0, 10])
@pytest.mark.parametrize("name", sorted(_broken_835s()))
def test_validate_streamed_finds_what_the_whole_text_shows(name: str, kept: int | None) -> None:
    """Checked as read, read again only for a set with problems (from the segments kept, else from the file)."""
    text = _broken_835s()[name]
    opened = 0

    def open_chunks() -> list[str]:
        nonlocal opened
        opened += 1
        return chunks(text, 9)

    streamed = validate_stream(open_chunks, kept_segments=kept)
    assert streamed == validate_document(text)
    assert (streamed == []) == (name in ("valid", "two interchanges", "not an 835"))
    if kept is None or name in ("valid", "unbalanced", "two interchanges"):
        assert opened == 1  # the file is read once: an 835 without problems is checked as it is read
    elif name == "bad status and amount":
        assert opened == 2  # the set with problems is read again (its segments were not kept)
