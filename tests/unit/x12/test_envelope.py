"""The envelope: delimiters from ISA, line breaks, several interchanges, counts, and typed errors on bad input."""

from __future__ import annotations

import pytest

from domain.errors import DomainError
from domain.x12.envelope import (
    ControlNumbers,
    Delimiters,
    TransactionBody,
    X12Error,
    amount,
    cents,
    read_envelope,
    render_segment,
    write_interchange,
)
from tests.unit.x12.helpers import RECEIVER, SENDER, WHEN


def _file(*, delimiters: Delimiters = Delimiters(), line_breaks: bool = False, sets: int = 2, control: int = 5) -> str:
    bodies = [
        TransactionBody("999", "005010X231A1", [("AK1", "HC", str(n)), ("AK9", "A", "0", "0", "0")])
        for n in range(sets)
    ]
    return write_interchange(
        bodies,
        sender=SENDER,
        receiver=RECEIVER,
        control=ControlNumbers(control, control),
        when=WHEN,
        delimiters=delimiters,
        line_breaks=line_breaks,
    )


def test_writer_counts_and_reader_agree() -> None:
    text = _file(sets=3)
    assert text.startswith("ISA*00*")
    assert len(text.split("~")[0]) + 1 == 106
    report = read_envelope(text)
    assert report.problems == []
    (interchange,) = report.interchanges
    assert interchange.control_number == "000000005"
    assert interchange.sender_id == "PRACTICE01"
    (group,) = interchange.groups
    assert group.functional_id == "FA" and group.version == "005010X231A1"
    assert [t.control_number for t in group.transactions] == ["0001", "0002", "0003"]
    assert "SE*4*0001~" in text and "GE*3*5~" in text and "IEA*1*000000005~" in text


@pytest.mark.parametrize(
    "delimiters",
    [Delimiters(), Delimiters("|", "^", ">", "\n"), Delimiters("^", "{", "\\", "'"), Delimiters("*", "^", ">", "~")],
)
def test_delimiters_are_read_from_isa(delimiters: Delimiters) -> None:
    text = _file(delimiters=delimiters)
    report = read_envelope(text)
    assert report.interchanges[0].delimiters == delimiters
    first = next(iter(report.transactions()))
    assert [e for _, e in first.elements()][1] == ["AK1", "HC", "0"]


def test_line_breaks_and_crlf_are_tolerated() -> None:
    plain = read_envelope(_file())
    with_lf = read_envelope(_file(line_breaks=True))
    with_crlf = read_envelope(_file(line_breaks=True).replace("\n", "\r\n"))
    leading = read_envelope("\ufeff\r\n  " + _file())
    shapes = [[list(t.raw) for t in r.transactions()] for r in (plain, with_lf, with_crlf, leading)]
    assert shapes[0] == shapes[1] == shapes[2] == shapes[3]


def test_several_interchanges_with_different_delimiters() -> None:
    text = _file(control=1) + "\n" + _file(control=2, delimiters=Delimiters("|", "^", ">", "!"))
    report = read_envelope(text)
    assert [i.control_number for i in report.interchanges] == ["000000001", "000000002"]
    assert report.interchanges[1].delimiters.element == "|"
    assert len(list(report.transactions())) == 4
    # Positions run through the whole file.
    second = report.interchanges[1]
    assert second.position == 13


def test_bad_counts_are_problems_with_positions() -> None:
    text = _file().replace("SE*4*0002", "SE*9*0002").replace("GE*2*5", "GE*3*5").replace("IEA*1*", "IEA*2*")
    report = read_envelope(text, strict=False)
    messages = [str(p) for p in report.problems]
    assert messages == [
        "segment 10 SE01: SE01 says 9, the set has 4 segments",
        "segment 11 GE01: GE01 says 3, the group has 2 sets",
        "segment 12 IEA01: IEA01 says 2, the interchange has 1 groups",
    ]
    with pytest.raises(X12Error) as caught:
        read_envelope(text)
    assert caught.value.position == 10 and caught.value.segment_id == "SE"


def test_control_number_mismatch() -> None:
    text = _file().replace("SE*4*0002", "SE*4*0009").replace("IEA*1*000000005", "IEA*1*000000006")
    problems = [str(p) for p in read_envelope(text, strict=False).problems]
    assert "segment 10 SE02: SE02 does not match ST02 '0002'" in problems
    assert "segment 12 IEA02: IEA02 does not match ISA13 '000000005'" in problems


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", "file is empty"),
        ("   \n", "file is empty"),
        ("GS*HC*A*B~", "does not start with an ISA"),
        ("ISA*00*", "truncated"),
        (
            "ISA*00*  *00*          *ZZ*A              *ZZ*B              *260101*1200*^*00501*000000001*0*P*:~",
            "fixed width",
        ),
        (
            "ISA1"
            + "00*          *00*          *ZZ*A              *ZZ*B              *260101*1200*^*00501*000000001*0*P*:~",
            "not a delimiter",
        ),
    ],
)
def test_malformed_isa(text: str, reason: str) -> None:
    with pytest.raises(X12Error, match=reason) as caught:
        read_envelope(text.ljust(110) if reason == "fixed width" else text)
    assert isinstance(caught.value, DomainError)


def test_truncated_file_and_unknown_segments() -> None:
    text = _file()
    with pytest.raises(X12Error, match="SE missing"):
        read_envelope(text[: text.index("SE*4*0001")])
    with pytest.raises(X12Error, match="GE missing"):
        read_envelope(text[: text.index("GE*")])
    with pytest.raises(X12Error, match="IEA"):
        read_envelope(text[: text.index("IEA*")])
    with pytest.raises(X12Error, match="not a segment identifier") as caught:
        read_envelope(text.replace("AK9*", "a\x00k*", 1))
    assert caught.value.position == 5
    with pytest.raises(X12Error, match="outside a transaction set"):
        read_envelope(text.replace("ST*999*0001", "XX*999*0001", 1))


def test_wrong_delimiters_do_not_parse() -> None:
    text = _file().replace("*", "|", 20)  # the ISA is no longer consistent
    with pytest.raises(X12Error):
        read_envelope(text)


def test_render_segment_strips_trailing_empties_and_cleans_delimiters() -> None:
    assert render_segment(("NM1", "QC", "1", "O*NEIL", "", "", ("A", "", ""), "", "")) == "NM1*QC*1*O NEIL***A~"
    assert render_segment(("EB", "1", ["30", "98"])) == "EB*1*30^98~"


def test_amounts() -> None:
    assert [cents(t, 1, "X", 1) for t in ("12", "12.5", "12.50", "-0.05", ".5", "0", "-1.27", "100.00")] == [
        1200,
        1250,
        1250,
        -5,
        50,
        0,
        -127,
        10000,
    ]
    for bad in ("", "1,000", "12.345", "1e3", "abc", "--1", "1.2.3"):
        with pytest.raises(X12Error, match="not an amount"):
            cents(bad, 7, "CLP", 4)
    assert [amount(c) for c in (1200, 1250, 1205, -5, 0)] == ["12", "12.5", "12.05", "-0.05", "0"]
