"""`carecycle edi parse|validate`: exit codes, one line per problem, JSON, never a traceback."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.unit.x12.helpers import CONTROL, FIXTURES, RECEIVER, SENDER, WHEN, remittance
from workers.cli import run


def _write_835(tmp_path: Path, text: str | None = None) -> Path:
    from domain.x12.remit835 import write_835

    path = tmp_path / "era.835"
    path.write_text(text or write_835([remittance()], sender=SENDER, receiver=RECEIVER, control=CONTROL, when=WHEN))
    return path


def test_parse_json_of_an_835(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["edi", "parse", str(_write_835(tmp_path)), "--json"]) == 0
    document = json.loads(capsys.readouterr().out)
    (entry,) = document["transaction_sets"]
    assert entry["type"] == "835" and entry["payment"]["amount"] == "50.00"
    assert [c["status_code"] for c in entry["claims"]] == ["1", "4", "22"]


@pytest.mark.parametrize("name", sorted(p.name for p in FIXTURES.glob("*.x12")))
def test_every_fixture_parses_and_validates(name: str, capsys: pytest.CaptureFixture[str]) -> None:
    path = FIXTURES / name
    assert run(["edi", "validate", str(path)]) == 0
    assert capsys.readouterr().out.strip() == f"{path}: valid"
    assert run(["edi", "parse", str(path), "--json"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["transaction_sets"] and all("type" in s for s in document["transaction_sets"])
    assert run(["edi", "parse", str(path)]) == 0
    assert capsys.readouterr().out.strip()


def test_837p_json_has_claims_with_charge_and_lines(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["edi", "parse", str(FIXTURES / "837p_x222a1_example1_commercial.x12"), "--json"]) == 0
    (entry,) = json.loads(capsys.readouterr().out)["transaction_sets"]
    (claim,) = entry["claims"]
    assert entry["type"] == "837P"
    assert claim["patient_control_number"] == "26463774" and claim["charge"] == "100.00"
    assert [line["charge"] for line in claim["service_lines"]] == ["40.00", "15.00", "35.00", "10.00"]


def test_validate_reports_one_line_per_problem(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    good = _write_835(tmp_path).read_text()
    bad = good.replace("SE*36*0001", "SE*30*0001").replace("BPR*I*50*", "BPR*I*55*")
    path = _write_835(tmp_path, bad)
    assert run(["edi", "validate", str(path)]) == 1
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines == [
        f"{path}: segment 38 SE01: SE01 says 30, the set has 36 segments",
        f"{path}: balancing: segment 4 BPR02: 55.00 != claims paid 60.00 - provider adjustments 10.00 = 50.00"
        " (set 0001)",
        f"{path}: invalid (2 problems)",
    ]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "file is empty"),
        (b"\x00\xff\xfe binary junk \x01", "does not start with an ISA"),
        (b"ISA*00*short~", "truncated"),
    ],
)
def test_bad_files_fail_with_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: bytes, message: str
) -> None:
    path = tmp_path / "bad.x12"
    path.write_bytes(content)
    assert run(["edi", "parse", str(path)]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err and "Traceback" not in err
    assert run(["edi", "validate", str(path)]) == 1
    out = capsys.readouterr().out
    assert out.count("\n") == 2 and message in out and out.endswith("invalid (1 problem)\n")


def test_missing_file_and_usage(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["edi", "parse", str(tmp_path / "nope.835")]) == 1
    assert capsys.readouterr().err.strip() == f"error: no such file: {tmp_path / 'nope.835'}"
    assert run(["edi", "parse"]) == 2
    assert run(["edi", "frobnicate", "x"]) == 2


def test_parse_json_of_a_271(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from domain.x12.eligibility import Benefit, EligibilityResponse, write_271

    response = EligibilityResponse(
        "EL-1",
        "ACME",
        "60054",
        "GOOD PRACTICE",
        "1234567893",
        "M123",
        "DOE",
        "JANE",
        benefits=(Benefit("1"), Benefit("B", amount_cents=2500), Benefit("C", time_period="29", amount_cents=50000)),
    )
    path = tmp_path / "elig.271"
    path.write_text(write_271([response], sender=SENDER, receiver=RECEIVER, control=CONTROL, when=WHEN))
    assert run(["edi", "parse", str(path), "--json"]) == 0
    (entry,) = json.loads(capsys.readouterr().out)["transaction_sets"]
    (parsed,) = entry["responses"]
    assert entry["type"] == "271"
    assert (parsed["active"], parsed["copay"], parsed["deductible_remaining"]) == (True, "25.00", "500.00")


def _835_files(tmp_path: Path) -> list[Path]:
    """The fixtures' 835s and a synthetic one whose terminator is followed by CRLF, several claims long."""
    from dataclasses import replace

    from domain.x12.remit835 import write_835

    long = replace(remittance(), claims=remittance().claims * 30)
    long = replace(long, payment_amount_cents=long.expected_payment_cents())
    text = write_835([long, remittance("TR2")], sender=SENDER, receiver=RECEIVER, control=CONTROL, when=WHEN)
    path = tmp_path / "crlf.835"
    path.write_bytes(text.replace("~", "~\r\n").encode())
    return [*sorted(FIXTURES.glob("835_*.x12")), path]


@pytest.mark.parametrize("chunk", [7, 1 << 20])
def test_parse_json_streamed_prints_what_the_whole_file_gave(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, chunk: int
) -> None:
    """The same bytes as the document made whole from the text held whole (what `edi parse --json` printed before
    it read the file in chunks), and the same one-line summaries."""
    from domain.x12.documents import parse_document, parsed_to_json
    from workers.cli import edi
    from workers.cli.output import print_json

    monkeypatch.setattr(edi, "CHUNK", chunk)
    for path in _835_files(tmp_path):
        text = path.read_bytes().decode()
        whole = parsed_to_json(parse_document(text))
        print_json(whole)
        expected = capsys.readouterr().out
        assert run(["edi", "parse", str(path), "--json"]) == 0
        assert capsys.readouterr().out == expected
        assert run(["edi", "parse", str(path)]) == 0
        summaries = capsys.readouterr().out.splitlines()
        assert summaries == [edi._summary(entry) for entry in whole["transaction_sets"]]  # the lists held whole
    assert "835 0001: ACH 1790.00 trace TR1, 90 claims" in summaries


def test_validate_streamed_reports_what_the_whole_file_shows(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from domain.x12.documents import validate_document
    from workers.cli import edi

    monkeypatch.setattr(edi, "CHUNK", 7)
    path = _835_files(tmp_path)[-1]
    text = path.read_bytes().decode()
    broken = text.replace("CLP*c2*4*", "CLP*c2*44*", 1).replace("BPR*I*1790*", "BPR*I*1791*")
    path.write_bytes(broken.encode())
    assert run(["edi", "validate", str(path)]) == 1
    lines = capsys.readouterr().out.splitlines()
    assert lines[:-1] == [f"{path}: {p}" for p in validate_document(broken)]
    assert "unknown claim status '44'" in lines[0] and lines[-1] == f"{path}: invalid (2 problems)"


@pytest.mark.parametrize("command", [["parse", "--json"], ["parse"], ["validate"]])
def test_a_truncated_835_is_one_line_and_exit_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, command: list[str]
) -> None:
    from workers.cli import edi

    monkeypatch.setattr(edi, "CHUNK", 64)
    path = _835_files(tmp_path)[-1]
    text = path.read_bytes().decode()
    path.write_bytes(text[: len(text) // 2].encode())  # cut inside a claim of the first set
    assert run(["edi", command[0], str(path), *command[1:]]) == 1
    out, err = capsys.readouterr()
    reason = "file ends inside transaction set '0001': SE missing"
    if command[0] == "validate":
        assert out.splitlines()[-2:] == [f"{path}: segment 370: {reason}", f"{path}: invalid (1 problem)"]
        assert err == ""
    else:  # the envelope is read through before anything is written
        assert (out, err) == ("", f"error: segment 370: {reason}\n")
    assert "Traceback" not in out + err
