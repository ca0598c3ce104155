"""`carecycle edi ...`: read any X12 5010 file we exchange (835, 837P, 270/271, 276/277, 277CA, 999)."""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from pathlib import Path

from workers.cli.args import add_json
from workers.cli.output import print_json, write_json

CHUNK = 1 << 20  # characters read at a time: a payer's 50 MB 835 is read, parsed and written as it goes


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    edi = subparsers.add_parser("edi", help="parse and validate X12 5010 files")
    commands = edi.add_subparsers(dest="edi_command", metavar="COMMAND")
    commands.required = True

    parse = commands.add_parser("parse", help="parse a file and print what it says (835, 837P, 27x, 999)")
    parse.add_argument("file", type=Path, metavar="FILE")
    parse.add_argument("--json", action="store_true", help="print the JSON documented in docs/edi.md")
    parse.set_defaults(handler=_parse)

    validate = commands.add_parser(
        "validate",
        help="check structure, counts, elements and 835 balancing; every problem found, one line each with its "
        "segment position: exit 0 valid, 1 invalid",
    )
    validate.add_argument("file", type=Path, metavar="FILE")
    add_json(validate, "print {file, valid, problems: [{position, segment, element, reason, severity}]}")
    validate.set_defaults(handler=_validate)


def read_chunks(path: Path) -> Iterator[str]:
    """The file's text a chunk at a time, line breaks as they are. X12 is ASCII; bytes that are not are kept
    visible (as U+FFFD) so the parser can name them. Whether the file can be read is checked at once."""
    from workers.cli.args import existing_file

    existing_file(path, "X12 file")
    return _chunks(path)


def _chunks(path: Path) -> Iterator[str]:
    from workers.cli import CommandFailed

    try:
        with path.open(encoding="utf-8", errors="replace", newline="") as file:
            while chunk := file.read(CHUNK):
                yield chunk
    except OSError as exc:
        raise CommandFailed(f"cannot read {str(path)[:200]}: {exc.strerror or exc}") from None


def _parse(args: argparse.Namespace) -> int:
    from domain.x12.documents import stream_document
    from domain.x12.to_json import StreamedList

    # Streamed: a payer's 50 MB 835 is read and written claim by claim (its envelope checked in a first reading);
    # a claim the codec refuses part-way leaves what was written before the one-line error (exit 1).
    path = args.file
    read_chunks(path)  # the file can be read, before anything is said about it
    entries = stream_document(lambda: read_chunks(path))
    if args.json:
        write_json({"transaction_sets": StreamedList(entries, _same)})
        return 0
    for entry in entries:
        print(_summary(entry))
    return 0


def _same(entry: dict[str, object]) -> dict[str, object]:
    return entry


def _summary(entry: dict[str, object]) -> str:
    kind = entry["type"]
    control = entry["control_number"]
    if kind == "835":
        payment = entry["payment"]
        assert isinstance(payment, dict)
        claims = entry["claims"]
        assert isinstance(claims, list)
        count = sum(1 for _ in claims)  # streamed: read to the end of the set
        warnings = entry["balancing_warnings"]
        assert isinstance(warnings, list)
        warned = sum(1 for _ in warnings)
        text = f"835 {control}: {payment['method']} {payment['amount']} trace {payment['trace_number']}, {count} claims"
        return text + (f", {warned} balancing warnings" if warned else "")
    for key in ("claims", "transactions", "inquiries", "responses", "results"):
        value = entry.get(key)
        if isinstance(value, list):
            return f"{kind} {control}: {len(value)} {key}"
    return f"{kind} {control}"


def _validate(args: argparse.Namespace) -> int:
    from domain.x12.documents import validate_stream

    path = args.file
    read_chunks(path)  # the file can be read, before anything is said about it
    problems = validate_stream(lambda: read_chunks(path))
    errors = [p for p in problems if p.severity == "error"]
    if args.json:
        print_json(
            {
                "file": str(args.file),
                "valid": not errors,
                "problems": [
                    {
                        "position": p.position,
                        "segment": p.segment_id,
                        "element": p.element,
                        "reason": p.reason,
                        "severity": p.severity,
                    }
                    for p in problems
                ],
            }
        )
        return 1 if errors else 0
    for problem in problems:
        print(f"{args.file}: {'warning: ' if problem.severity != 'error' else ''}{problem}")
    if errors:
        print(f"{args.file}: invalid ({len(errors)} problem{'s' if len(errors) != 1 else ''})")
        return 1
    print(f"{args.file}: valid")
    return 0
