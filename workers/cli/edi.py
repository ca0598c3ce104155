"""`carecycle edi ...`: read any X12 5010 file we exchange (835, 837P, 270/271, 276/277, 277CA, 999)."""

from __future__ import annotations

import argparse
from pathlib import Path

from workers.cli.args import add_json
from workers.cli.output import print_json, write_json


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


def read_text(path: Path) -> str:
    """The file as text. X12 is ASCII; bytes that are not are kept visible so the parser can name them."""
    from workers.cli.args import read_bytes

    return read_bytes(path, "X12 file").decode("utf-8", errors="replace")


def _parse(args: argparse.Namespace) -> int:
    from domain.x12.documents import parse_document, parsed_to_json

    parsed = parse_document(read_text(args.file))
    # Streamed: a payer's 50 MB 835 is written claim by claim, never held as one document of dicts and a string.
    document = parsed_to_json(parsed, streamed=True)
    if args.json:
        write_json(document)
        return 0
    for entry in document["transaction_sets"]:
        print(_summary(entry))
    return 0


def _summary(entry: dict[str, object]) -> str:
    kind = entry["type"]
    control = entry["control_number"]
    if kind == "835":
        payment = entry["payment"]
        assert isinstance(payment, dict)
        claims = entry["claims"]
        warnings = entry["balancing_warnings"]
        assert isinstance(claims, list) and isinstance(warnings, list)
        text = (
            f"835 {control}: {payment['method']} {payment['amount']} trace {payment['trace_number']}, "
            f"{len(claims)} claims"
        )
        return text + (f", {len(warnings)} balancing warnings" if warnings else "")
    for key in ("claims", "transactions", "inquiries", "responses", "results"):
        value = entry.get(key)
        if isinstance(value, list):
            return f"{kind} {control}: {len(value)} {key}"
    return f"{kind} {control}"


def _validate(args: argparse.Namespace) -> int:
    from domain.x12.documents import validate_document

    problems = validate_document(read_text(args.file))
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
