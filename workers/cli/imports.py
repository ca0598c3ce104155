"""`carecycle import patients|coverages|appointments FILE.csv`: a practice's data in, through the intake module."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from workers.cli import CommandFailed, UsageError
from workers.cli.output import print_json

KINDS = ("patients", "coverages", "appointments")


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from csvimport.columns import DEFAULT_APPOINTMENT_SYSTEM, DEFAULT_MRN_SYSTEM, LAYOUTS

    layouts = "; ".join(
        f"{kind}: " + ", ".join(c.name + ("*" if c.required else "") for c in columns)
        for kind, columns in LAYOUTS.items()
    )
    command = subparsers.add_parser(
        "import",
        help="import patients, coverages or appointments from a CSV file (each row all or nothing; re-runs import "
        "nothing twice)",
        description="Each row goes through the intake module in its own transaction: a bad row is reported (row, "
        "column, reason) and the others go in. Patients are keyed by their MRN, appointments by their id, so a "
        f"re-run reports them unchanged. Columns (* required): {layouts}. See docs/integration.md.",
    )
    command.add_argument("kind", choices=KINDS, metavar="KIND", help="patients, coverages or appointments")
    command.add_argument("file", type=Path, metavar="FILE.csv", help="the CSV file (UTF-8, a header line first)")
    command.add_argument("--dry-run", action="store_true", help="check every row as the import would; write nothing")
    command.add_argument("--json", action="store_true", help="print the report as JSON")
    command.add_argument(
        "--mrn-system",
        default=DEFAULT_MRN_SYSTEM,
        metavar="URI",
        help=f"whose MRNs these are (default {DEFAULT_MRN_SYSTEM}; use the system your EHR's HL7/FHIR feed uses)",
    )
    command.add_argument(
        "--appointment-system", default=DEFAULT_APPOINTMENT_SYSTEM, metavar="URI", help="whose appointment ids"
    )
    command.add_argument("--timezone", default=None, metavar="ZONE", help="for starts_at without an offset")
    command.set_defaults(handler=_import)


def _import(args: argparse.Namespace) -> int:
    import getpass
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    from csvimport.layouts import Options
    from csvimport.runner import ImportFileError, import_rows, read_rows
    from intake import Actor, Intake
    from workers.composition import Container

    zone = None
    if args.timezone:
        try:
            zone = ZoneInfo(args.timezone)
        except (ZoneInfoNotFoundError, ValueError, OSError):  # OSError: a name too long for a file
            raise UsageError(f"--timezone: not a time zone name: {args.timezone!r}") from None
    options = Options(mrn_system=args.mrn_system, appointment_system=args.appointment_system, zone=zone)
    try:
        rows = read_rows(args.file, args.kind)
    except ImportFileError as exc:
        raise CommandFailed(str(exc)) from None
    container = Container()
    try:
        container.require_schema()
        actor = Actor("csv", f"{getpass.getuser()}:{args.file.name}"[:50])
        report = import_rows(
            Intake(container.session_factory),
            args.kind,
            rows,
            options=options,
            actor=actor,
            dry_run=args.dry_run,
            file=args.file.name,
        )
        processes = _start(container, report.start_ids) if report.start_ids else {"queued": 0}
    finally:
        container.close()
    _print(report.as_dict() | {"processes": processes}, args.json)
    return 1 if report.failed else 0


def _start(container: Any, start_ids: list[str]) -> dict[str, int]:
    """Start what the imported rows queued (registrations, visit hooks); without Temporal they stay queued and
    start at the next dispatch of any door (`carecycle up` runs one)."""
    import asyncio

    from workers.api import build_intake
    from workers.temporal.client import TemporalUnavailable, connect

    async def run() -> dict[str, int]:
        try:
            client = await connect(container.settings)
        except TemporalUnavailable:
            return {"queued": len(start_ids), "started": 0, "pending": len(start_ids)}
        dispatched = await build_intake(container, client).dispatch(start_ids)
        return {"queued": len(start_ids), "started": len(dispatched.started), "pending": len(dispatched.failed)}

    from domain.actors import acting_as
    from workers.security.actors import os_user

    with acting_as("cli", os_user()):  # the starts signed as the OS user who imported
        return asyncio.run(run())


def _print(report: dict[str, Any], as_json: bool) -> None:
    if as_json:
        print_json(report)
        return
    for result in report["results"]:
        if result["status"] == "failed":
            column = f", column {result['column']}" if result.get("column") else ""
            print(f"row {result['row']}{column}: {result['reason']}")
    mode = " (dry run: nothing written)" if report["dry_run"] else ""
    print(
        f"{report['file']}: {report['rows']} rows{mode}: {report['created']} created, {report['updated']} updated, "
        f"{report['unchanged']} unchanged, {report['failed']} failed"
    )
    processes = report["processes"]
    if processes.get("pending"):
        print(
            f"{processes['pending']} process start(s) wait for the workflow engine: they start once `carecycle up` "
            "runs",
            file=sys.stderr,
        )
