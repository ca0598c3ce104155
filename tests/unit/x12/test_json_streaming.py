"""`edi parse --json` writes an 835 claim by claim (issue 14 item 5: a payer's 50 MB file): the streamed output is
byte for byte what the whole document printed at once was, and the streamed claims are made only as written."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from domain.x12.documents import parse_document, parsed_to_json, stream_document, validate_document, validate_stream
from domain.x12.envelope import X12Error
from domain.x12.to_json import StreamedList
from tests.unit.x12.helpers import chunks, remittance_texts
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


def _mutated(seed: int) -> tuple[str, int]:
    """One of the fixtures or a written 835, with one to three characters changed, added or cut (or the file cut
    short there), and a chunk size to read it in."""
    rng = random.Random(seed)
    texts = [*remittance_texts().values(), *(p.read_text() for p in sorted(FIXTURES.glob("*.x12")))]
    text = list(rng.choice(texts))
    for _ in range(rng.randrange(1, 4)):
        where, what = rng.randrange(len(text)), rng.choice("~*:^\n\r ACENPRS0129.-")
        operation = rng.randrange(4)
        if operation == 0:
            del text[where]
        elif operation == 1:
            text.insert(where, what)
        elif operation == 2:
            text[where] = what
        else:
            del text[where:]
    return "".join(text), rng.choice([1, 3, 50, 107, 1 << 20])


@pytest.mark.parametrize("seed", range(120))
def test_read_in_chunks_is_what_the_text_held_whole_gives(seed: int, capsys: pytest.CaptureFixture[str]) -> None:
    """`edi parse --json` and `edi validate` read the file in chunks: the same bytes or the same error, the same
    problems, whatever the file (here mutated at random) and wherever the chunks end."""
    text, size = _mutated(seed)
    assert validate_stream(lambda: chunks(text, size), kept_segments=seed % 3 * 5) == validate_document(text)
    try:
        print_json(parsed_to_json(parse_document(text)))
    except X12Error as exc:
        whole: str | Exception = exc
    else:
        whole = capsys.readouterr().out
    try:
        write_json({"transaction_sets": StreamedList(stream_document(lambda: chunks(text, size)), lambda e: e)})
    except X12Error as exc:
        assert isinstance(whole, X12Error) and str(exc) == str(whole)
    else:
        assert capsys.readouterr().out == whole
