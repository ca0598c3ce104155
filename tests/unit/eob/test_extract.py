"""EOB PDFs rendered by the sandbox read back into the very remittance they print; bad files are typed errors."""

from __future__ import annotations

import dataclasses
from datetime import date
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from reportlab.pdfgen.canvas import Canvas

from activities.eob import (
    CorruptPdf,
    EncryptedPdf,
    EobLowConfidence,
    EobTotalsMismatch,
    NotAPdf,
    UnknownEobLayout,
    extract_eob,
    extract_eob_details,
    page_png,
)
from activities.eob.image import _pdftoppm
from domain.remittance import Adjustment, ClaimPayment, Remittance, ServiceLinePayment
from sandbox.eob import render_eob
from sandbox.eob.samples import sample_remittance

PAYERS = {"cascade": ("SBXCC", "Cascade Care Plans"), "harbor": ("SBXHH", "Harbor Health Alliance")}


def _write(tmp_path: Path, remittance: Remittance, layout: str, name: str = "eob.pdf", **kwargs: object) -> Path:
    path = tmp_path / name
    path.write_bytes(render_eob(remittance, layout, **kwargs))  # type: ignore[arg-type]
    return path


def _expected(remittance: Remittance) -> Remittance:
    return dataclasses.replace(remittance, control_number=remittance.trace_number, source="eob_pdf")


@pytest.mark.parametrize("layout", ["cascade", "harbor"])
def test_many_claims_spanning_pages_read_back_exactly(tmp_path: Path, layout: str) -> None:
    payer_id, name = PAYERS[layout]
    remittance = sample_remittance(payer_id, name, claims=40, seed=7)
    path = _write(tmp_path, remittance, layout)
    details = extract_eob_details(path, payer_id)
    assert details.pages >= 3 and details.layout == layout and details.confidence == 1.0
    assert details.remittance == _expected(remittance)
    assert details.remittance.payment_amount_cents == details.remittance.expected_payment_cents()
    assert extract_eob(path) == details.remittance  # the payer is recognised without being told


def _one_claim(payer_id: str, name: str, **changes: object) -> Remittance:
    line = ServiceLinePayment(
        "99214",
        ("25", "95"),
        22000,
        -500,  # a takeback on a line: negative amounts print and read back
        1,
        None,
        date(2026, 10, 2),
        (Adjustment("CO", "45", 20000), Adjustment("PR", "1", 2500)),
        (),
        None,
    )
    claim = ClaimPayment("PCN-1", "22", 22000, -500, 2500, None, None, (), (line,), (), None, date(2026, 10, 2))
    remittance = Remittance(
        payer_id, name, "Sandbox Family Medicine", "1999999984", "NON", -500, "T0001", None, (claim,), (), "", "eob_pdf"
    )
    return dataclasses.replace(remittance, **changes)  # type: ignore[arg-type]


@pytest.mark.parametrize("layout", ["cascade", "harbor"])
def test_edge_values_read_back(tmp_path: Path, layout: str) -> None:
    remittance = _one_claim(*PAYERS[layout])
    assert extract_eob(_write(tmp_path, remittance, layout)) == _expected(remittance)


amounts = st.integers(min_value=0, max_value=500_000)


@st.composite
def remittances(draw: st.DrawFn, payer: tuple[str, str]) -> Remittance:
    claims = []
    for index in range(draw(st.integers(1, 6))):
        lines = []
        for _ in range(draw(st.integers(1, 3))):
            charge = draw(amounts)
            write_off = draw(st.integers(0, charge))
            patient = draw(st.integers(0, charge - write_off))
            adjustments = tuple(
                a
                for a in (Adjustment("CO", "45", write_off), Adjustment("PR", draw(st.sampled_from("123")), patient))
                if a.amount_cents
            )
            lines.append(
                ServiceLinePayment(
                    draw(st.sampled_from(["99213", "99214", "G0439", "36415"])),
                    tuple(draw(st.lists(st.sampled_from(["25", "59", "95", "GT"]), max_size=2))),
                    charge,
                    charge - write_off - patient,
                    draw(st.integers(1, 9)),
                    None,
                    draw(st.dates(date(2020, 1, 1), date(2030, 1, 1))),
                    adjustments,
                    (),
                    draw(st.none() | st.just(charge - write_off)),
                )
            )
        claims.append(
            ClaimPayment(
                f"P{index}X{draw(st.integers(0, 10**6))}",
                draw(st.sampled_from(["1", "2", "4", "22"])),
                sum(line.charge_cents for line in lines),
                sum(line.paid_cents for line in lines),
                sum(a.amount_cents for line in lines for a in line.adjustments if a.group == "PR"),
                draw(st.none() | st.just(f"ICN{index}")),
                None,
                (),
                tuple(lines),
                (),
                draw(st.none() | st.just(f"M{index}")),
                min(line.service_date for line in lines if line.service_date),
            )
        )
    paid = sum(c.paid_cents for c in claims)
    return Remittance(
        payer[0],
        payer[1],
        "Sandbox Family Medicine",
        "1999999984",
        draw(st.sampled_from(["CHK", "ACH"])),
        paid,
        f"TR{draw(st.integers(0, 10**9))}",
        draw(st.dates(date(2020, 1, 1), date(2030, 1, 1))),
        tuple(claims),
        (),
        "",
        "eob_pdf",
    )


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_round_trip_property(tmp_path: Path, data: st.DataObject) -> None:
    layout = data.draw(st.sampled_from(["cascade", "harbor"]))
    remittance = data.draw(remittances(PAYERS[layout]))
    assert extract_eob(_write(tmp_path, remittance, layout)) == _expected(remittance)


# --- bad input -------------------------------------------------------------------------------------------------


def test_not_a_pdf(tmp_path: Path) -> None:
    path = tmp_path / "x.pdf"
    path.write_text("ISA*00*          *00*...")
    with pytest.raises(NotAPdf):
        extract_eob(path)
    with pytest.raises(NotAPdf):
        extract_eob(tmp_path / "missing.pdf")


def test_corrupt_pdf(tmp_path: Path) -> None:
    good = render_eob(sample_remittance("SBXCC", "Cascade Care Plans", 3), "cascade")
    path = tmp_path / "cut.pdf"
    path.write_bytes(good[:400])
    with pytest.raises(CorruptPdf):
        extract_eob(path)
    path.write_bytes(b"%PDF-1.4\n" + bytes(range(256)) * 8)
    with pytest.raises(CorruptPdf):
        extract_eob(path)


def test_encrypted_pdf(tmp_path: Path) -> None:
    path = _write(tmp_path, sample_remittance("SBXCC", "Cascade Care Plans", 2), "cascade", encrypt_password="s3cret")
    with pytest.raises(EncryptedPdf):
        extract_eob(path)


def _plain_pdf(path: Path, lines: list[str]) -> Path:
    canvas = Canvas(str(path))
    y = 750
    for line in lines:
        canvas.drawString(60, y, line)
        y -= 14
    canvas.save()
    return path


def test_unknown_layout_and_wrong_payer(tmp_path: Path) -> None:
    with pytest.raises(UnknownEobLayout):
        extract_eob(_plain_pdf(tmp_path / "letter.pdf", ["Dear provider,", "Your appeal was received."]))
    blank = Canvas(str(tmp_path / "scan.pdf"))
    blank.showPage()
    blank.save()
    with pytest.raises(UnknownEobLayout, match="OCR"):
        extract_eob(tmp_path / "scan.pdf")
    cascade = _write(tmp_path, sample_remittance("SBXCC", "Cascade Care Plans", 2), "cascade")
    with pytest.raises(UnknownEobLayout, match="SBXCC"):
        extract_eob(cascade, "SBXHH")
    with pytest.raises(UnknownEobLayout, match="no EOB template"):
        extract_eob(_plain_pdf(tmp_path / "other.pdf", ["hello"]), "SBXBM")


def test_totals_that_do_not_add_up_are_a_mismatch(tmp_path: Path) -> None:
    remittance = sample_remittance("SBXHH", "Harbor Health Alliance", 5, seed=3)
    wrong_payment = dataclasses.replace(remittance, payment_amount_cents=remittance.payment_amount_cents + 1)
    with pytest.raises(EobTotalsMismatch, match="payment amount") as caught:
        extract_eob(_write(tmp_path, wrong_payment, "harbor"))
    assert caught.value.page is not None
    claim = remittance.claims[0]
    wrong_claim = dataclasses.replace(claim, paid_cents=claim.paid_cents + 100)
    unbalanced = dataclasses.replace(
        remittance,
        claims=(wrong_claim, *remittance.claims[1:]),
        payment_amount_cents=remittance.payment_amount_cents + 100,
    )
    with pytest.raises(EobTotalsMismatch, match="claim 1"):
        extract_eob(_write(tmp_path, unbalanced, "harbor", "b.pdf"))


def test_unreadable_lines_lower_the_confidence(tmp_path: Path) -> None:
    lines = [
        "Cascade Care Plans Explanation of Benefits",
        "Payer ID SBXCC Page 1",
        "Check/EFT number: 1 Payment method: CHK Payment date: 2026-11-20",
        "Claim A1 Payer claim no. X Status 1 Member -",
        "2026-11-01 99213 - 1 10.00 - 10.00 -",
        "Claim total billed 10.00 paid 10.00 patient responsibility 0.00",
        *[f"smudged l1ne {i} $$ 12.0O" for i in range(3)],
        "Payment amount 10.00",
    ]
    with pytest.raises(EobLowConfidence) as caught:
        extract_eob(_plain_pdf(tmp_path / "smudged.pdf", lines))
    assert caught.value.page == 1 and caught.value.confidence is not None and caught.value.confidence < 0.98
    clean = [line for line in lines if not line.startswith("smudged")]
    assert extract_eob(_plain_pdf(tmp_path / "clean.pdf", clean)).payment_amount_cents == 1000


def test_page_image_for_review(tmp_path: Path) -> None:
    path = _write(tmp_path, sample_remittance("SBXCC", "Cascade Care Plans", 12), "cascade")
    png = page_png(path, 2)
    assert png.startswith(b"\x89PNG") and len(png) > 5000
    assert _pdftoppm(path, 1, 50).startswith(b"\x89PNG")
    with pytest.raises(CorruptPdf):
        page_png(path, 99)
