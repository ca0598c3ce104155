"""`carecycle claims ...`: export claims as an 837P file and run the claim edits (the scrubber)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING, Any

from workers.cli import CommandFailed
from workers.cli.args import iso_date, writable_file
from workers.cli.output import print_json

if TYPE_CHECKING:
    from domain.x12.claim837 import ProfessionalClaim


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    claims = subparsers.add_parser("claims", help="export claims (837P) and run the claim edits")
    commands = claims.add_subparsers(dest="claims_command", metavar="COMMAND")
    commands.required = True

    export = commands.add_parser("export", help="write claims to an X12 file (default: every claim ready to submit)")
    export.add_argument("--format", choices=["837p"], required=True, help="the file format (837p)")
    export.add_argument("--claim", action="append", default=[], metavar="ID", help="a claim id (repeatable)")
    export.add_argument("--out", type=Path, required=True, metavar="FILE", help="where to write the file")
    export.add_argument("--json", action="store_true", help="print the result as JSON")
    export.set_defaults(handler=_export)

    scrub = commands.add_parser("scrub", help="run the claim edits (default: every draft and ready claim)")
    scrub.add_argument("--claim", action="append", default=[], metavar="ID", help="a claim id (repeatable)")
    scrub.add_argument("--as-of", type=iso_date, default=None, metavar="YYYY-MM-DD", help="today's date")
    scrub.add_argument("--json", action="store_true", help="print the failures as JSON")
    scrub.set_defaults(handler=_scrub)


def _export(args: argparse.Namespace) -> int:
    from datetime import datetime

    from domain.claim_status import ClaimStatus
    from domain.services.lookups import claims_named_or_in_status
    from domain.services.professional import load_professional_claim
    from domain.store.control_numbers import next_numbers
    from domain.x12.claim837 import Submitter, write_837p
    from domain.x12.envelope import Party
    from workers.composition import Container

    writable_file(args.out)
    container = Container()
    settings = container.settings
    try:
        container.require_schema()
        with container.uow() as uow:
            session = uow.session
            rows = claims_named_or_in_status(session, args.claim, [ClaimStatus.READY])
            if not rows:
                raise CommandFailed("no claims to export (none is ready; name claims with --claim)")
            claims: list[ProfessionalClaim] = [load_professional_claim(session, row) for row in rows]
            control = next_numbers(session)
            practice_name = claims[0].billing_provider.last_or_organization_name
            text = write_837p(
                claims,
                sender=Party("ZZ", settings.edi_sender_id),
                receiver=Party("ZZ", settings.edi_receiver_id),
                control=control,
                submitter=Submitter(practice_name, settings.edi_sender_id),
                receiver_name=settings.edi_receiver_name,
                when=datetime.now(),
                usage=settings.edi_usage,
            )
            try:
                args.out.write_text(text, encoding="ascii", errors="replace")
            except OSError as exc:
                raise CommandFailed(f"cannot write {args.out}: {exc.strerror}") from None
            uow.commit()  # the control numbers are used once the file exists
    finally:
        container.close()
    result: dict[str, Any] = {
        "file": str(args.out),
        "claims": len(claims),
        "service_lines": sum(len(c.lines) for c in claims),
        "interchange_control_number": control.interchange,
        "group_control_number": control.group,
        "claim_ids": [c.claim_id for c in claims],
    }
    if args.json:
        print_json(result)
    else:
        print(
            f"wrote {result['claims']} claims ({result['service_lines']} service lines) to {args.out} "
            f"as 837P interchange {control.interchange:09d}"
        )
    return 0


def _scrub(args: argparse.Namespace) -> int:
    from datetime import UTC, datetime

    from domain.claim_status import ClaimStatus
    from domain.errors import DomainError
    from domain.services.lookups import claims_named_or_in_status
    from domain.services.scrubbing import open_claim_fingerprints, scrub_claim
    from workers.composition import Container

    today = args.as_of or datetime.now(UTC).date()
    container = Container()
    report: list[dict[str, Any]] = []
    try:
        container.require_schema()
        with container.uow() as uow:
            session = uow.session
            rows = claims_named_or_in_status(session, args.claim, [ClaimStatus.DRAFT, ClaimStatus.READY])
            patients = {row.patient_id for row in rows}
            open_claims = open_claim_fingerprints(session, patients if len(patients) <= 500 else None)
            for row in rows:
                try:
                    failures = scrub_claim(session, row, today, open_claims).failures
                except DomainError as exc:
                    report.append({"claim_id": row.id, "failures": [{"code": "LOAD", "message": str(exc)}]})
                    continue
                report.append({"claim_id": row.id, "failures": [f.as_dict() for f in failures]})
    finally:
        container.close()
    failing = [r for r in report if r["failures"]]
    if args.json:
        print_json({"claims": len(report), "failing": len(failing), "results": report})
    else:
        for result in failing:
            for failure in result["failures"]:
                hint = f" (fix: {failure['fix_hint']})" if failure.get("fix_hint") else ""
                print(f"{result['claim_id']}: {failure['code']} {failure['message']}{hint}")
        print(f"{len(report)} claims checked, {len(failing)} with failures")
    return 1 if failing else 0
