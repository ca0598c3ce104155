"""`carecycle remit extract FILE.pdf` prints the EOB in the 835 JSON shape; bad files fail in one line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sandbox.eob import render_eob
from sandbox.eob.samples import sample_remittance
from workers.cli import run


def test_extract_prints_the_835_json_shape(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    remittance = sample_remittance("SBXHH", "Harbor Health Alliance", 6, seed=4)
    path = tmp_path / "eob.pdf"
    path.write_bytes(render_eob(remittance, "harbor"))
    assert run(["remit", "extract", str(path), "--payer", "SBXHH", "--json"]) == 0
    printed = json.dumps(json.loads(capsys.readouterr().out))
    assert remittance.trace_number in printed and "eob_pdf" in printed
    assert all(c.patient_control_number in printed for c in remittance.claims)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"ISA*00*", "not a PDF"),
        (b"%PDF-1.4\n1 0 obj <<", "damaged"),
    ],
)
def test_bad_files_fail_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: bytes, message: str
) -> None:
    path = tmp_path / "bad.pdf"
    path.write_bytes(content)
    assert run(["remit", "extract", str(path)]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0] and "Traceback" not in err[0]


def test_wrong_payer_fails_in_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "eob.pdf"
    path.write_bytes(render_eob(sample_remittance("SBXCC", "Cascade Care Plans", 2), "cascade"))
    assert run(["remit", "extract", str(path), "--payer", "SBXHH"]) == 1
    assert "layout" in capsys.readouterr().err
