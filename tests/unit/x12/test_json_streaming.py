"""`edi parse --json` writes an 835 claim by claim (issue 14 item 5: a payer's 50 MB file): the streamed output is
byte for byte what the whole document printed at once was, and the streamed claims are made only as written."""

from __future__ import annotations

from pathlib import Path

import pytest

from domain.x12.documents import parse_document, parsed_to_json
from domain.x12.to_json import StreamedList
from workers.cli.output import print_json, write_json

FIXTURES = Path(__file__).parents[2] / "fixtures" / "x12"


@pytest.mark.parametrize("name", sorted(p.name for p in FIXTURES.glob("*.x12")))
def test_streamed_json_is_what_was_printed_whole(name: str, capsys: pytest.CaptureFixture[str]) -> None:
    parsed = parse_document((FIXTURES / name).read_text())
    print_json(parsed_to_json(parsed))
    whole = capsys.readouterr().out
    write_json(parsed_to_json(parsed, streamed=True))
    assert capsys.readouterr().out == whole


def test_streamed_claims_are_made_as_they_are_written() -> None:
    made: list[int] = []

    def make(number: int) -> dict[str, int]:
        made.append(number)
        return {"n": number}

    claims = StreamedList(range(3), make)
    assert len(claims) == 3 and made == []
    assert list(claims) == [{"n": 0}, {"n": 1}, {"n": 2}] and made == [0, 1, 2]
