"""`carecycle remit ...`: post a remittance file by hand, read an EOB PDF into the remittance model."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from workers.cli import CommandFailed
from workers.cli.output import print_json


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    remit = subparsers.add_parser("remit", help="post remittances (835) and read EOB PDFs")
    commands = remit.add_subparsers(dest="remit_command", metavar="COMMAND")
    commands.required = True

    post = commands.add_parser("post", help="parse an 835 file and post it to claims and the ledger (once)")
    post.add_argument("file", type=Path, metavar="FILE", help="the 835 file")
    post.add_argument("--json", action="store_true", help="print the posting results as JSON")
    post.set_defaults(handler=_post)

    extract = commands.add_parser("extract", help="read an EOB PDF into the remittance model (835 JSON shape)")
    extract.add_argument("file", type=Path, metavar="FILE.pdf", help="the EOB PDF")
    extract.add_argument("--payer", default=None, metavar="ID", help="the payer id, when the layout needs it")
    extract.add_argument("--post", action="store_true", help="also post the extracted remittance")
    extract.add_argument("--json", action="store_true", help="print as JSON (the default output is JSON too)")
    extract.set_defaults(handler=_extract)


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        raise CommandFailed(f"no such file: {path}") from None
    except OSError as exc:
        raise CommandFailed(f"cannot read {path}: {exc.strerror}") from None


def _post_all(remittances: list[Any], source: str) -> list[dict[str, Any]]:
    from domain.posting import post_remittance
    from workers.composition import Container

    container = Container()
    results: list[dict[str, Any]] = []
    try:
        container.require_schema()
        for remittance in remittances:
            # Each remittance is its own transaction: one bad set never undoes another's posting.
            with container.uow() as uow:
                result = post_remittance(uow.session, remittance, source_document_key=None, actor=f"cli:{source}")
                uow.commit()
            results.append(result.as_dict() | {"posted_total_cents": result.posted_total_cents})
    finally:
        container.close()
    return results


def _print_results(results: list[dict[str, Any]], as_json: bool) -> None:
    from domain.money import format_cents

    if as_json:
        print_json({"remittances": results})
        return
    for r in results:
        if not r["payer_known"]:
            print(f"remittance {r['trace_number']}: unknown payer {r['payer_id']}: nothing posted, work item opened")
            continue
        if r["already_posted"]:
            print(
                f"remittance {r['trace_number']} ({r['payer_id']}): already_posted, nothing posted again "
                f"({r['claims_matched']} claims matched earlier)"
            )
            continue
        print(
            f"remittance {r['trace_number']} ({r['payer_id']}): {r['claims_matched']} claims matched, "
            f"{r['claims_unmatched']} unmatched, {r['claims_in_exception']} in exception; "
            f"posted {format_cents(r['paid_cents'])}, unapplied {format_cents(r['unapplied_cents'])}, "
            f"patient responsibility {format_cents(r['patient_responsibility_cents'])}, "
            f"{len(r['work_items_opened'])} work item(s) opened"
        )


def _post(args: argparse.Namespace) -> int:
    from domain.x12.remit835 import parse_835

    remittances = parse_835(_read(args.file))
    _print_results(_post_all(remittances, args.file.name), args.json)
    return 0


def _extract(args: argparse.Namespace) -> int:
    if not args.file.exists():
        raise CommandFailed(f"no such file: {args.file}")
    try:
        from activities.eob import extract_eob
        from domain.x12.json import remittance_to_json
    except ImportError:
        raise CommandFailed("EOB extraction is not available in this installation") from None
    remittance = extract_eob(args.file, args.payer)
    if not args.post:
        print_json(remittance_to_json([remittance]))
        return 0
    results = _post_all([remittance], args.file.name)
    if args.json:
        print_json(remittance_to_json([remittance]) | {"posting": results})
    else:
        _print_results(results, False)
    return 0
