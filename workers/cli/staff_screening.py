"""`carecycle staff screen`: check every active staff member against the OIG LEIE and/or the SAM exclusions extract
now (the monthly `exclusion-screening` batch flow does the same on a schedule)."""

from __future__ import annotations

import argparse
from dataclasses import asdict
from datetime import UTC, datetime
from typing import Any

from workers.cli.output import print_json, print_table
from workers.cli.staff_enrollment import day, os_actor


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    screen = commands.add_parser(
        "screen",
        help="screen every active staff member against the OIG LEIE and/or SAM exclusion files",
        description="Matches staff by NPI, then by name and birth date. Each match is recorded once (a later file "
        "with the same record finds the same match) and opens an exclusion_match item in the credentialing queue, "
        "owned by the staff member's StaffCredentialing workflow; from the exclusion date the provider's claims are "
        "stopped (PROVIDER_EXCLUDED) until a person clears the match. A name match where a birth date is missing "
        "is a possible match: it opens the item but blocks billing only once confirmed. The staff's "
        "exclusion_screening credentials of the lists screened are renewed for a month.",
    )
    screen.add_argument("--oig", metavar="FILE", help="the OIG LEIE file (UPDATED.csv, its published layout)")
    screen.add_argument("--sam", metavar="FILE", help="the SAM exclusions public extract (V2 layout)")
    screen.add_argument("--as-of", type=day, metavar="YYYY-MM-DD", help="the screening day (default today, UTC)")
    screen.add_argument(
        "--no-workflows",
        action="store_true",
        help="do not contact Temporal (the workflows adopt the items at their next daily read)",
    )
    screen.add_argument("--by", metavar="USER", help="who screens (default: the operating-system account)")
    screen.add_argument("--json", action="store_true", help="print as JSON")
    screen.set_defaults(handler=_screen)


def _screen(args: argparse.Namespace) -> int:
    from pathlib import Path

    from workers.cli import UsageError
    from workers.cli.args import existing_file
    from workers.composition import Container
    from workers.screening import ExclusionFiles, run_screening

    if not args.oig and not args.sam:
        raise UsageError("give --oig FILE, --sam FILE or both")
    for named in (args.oig, args.sam):
        if named:
            existing_file(Path(named), "exclusion list")  # one line for a missing, unreadable or odd path
    today = args.as_of or datetime.now(UTC).date()
    container = Container()
    try:
        container.require_schema()
        files = ExclusionFiles(container.settings.home / "exclusions").resolve(args.oig, args.sam)
        summary = run_screening(container.session_factory, files, today, args.by or os_actor())
        workflows = (
            {"contacted": False, "reason": "--no-workflows"}
            if args.no_workflows or not summary.staff_with_open_matches
            else _hand_over(container, summary.staff_with_open_matches)
        )
    finally:
        container.close()
    payload: dict[str, Any] = {
        "screening_id": summary.screening_id,
        "screened_on": summary.screened_on,
        "files": summary.files,
        "staff_screened": summary.staff_screened,
        "matches": [asdict(hit) for hit in summary.matches],
        "new_matches": summary.new_matches,
        "work_items_opened": summary.work_items_opened,
        "credentials_renewed": summary.credentials_renewed,
        "workflows": workflows,
    }
    if args.json:
        print_json(payload)
        return 0
    lists = ", ".join(f"{source} ({d['records']} records)" for source, d in sorted(summary.files.items()))
    print(f"screened {summary.staff_screened} active staff against {lists}")
    if summary.matches:
        print_table(
            [
                (h.staff_id, h.source, h.basis, h.excluded_on, h.status, "new" if h.new else "known", h.work_item_id)
                for h in summary.matches
            ],
            ["STAFF", "LIST", "BASIS", "EXCLUDED", "STATUS", "", "WORK ITEM"],
        )
    print(
        f"{len(summary.matches)} matches ({summary.new_matches} new), {summary.work_items_opened} work items opened, "
        f"{summary.credentials_renewed} screening credentials renewed"
    )
    if workflows.get("contacted") is False and workflows.get("reason") != "--no-workflows":
        print(f"note: {workflows['reason']}; the workflows adopt the items at their next read")
    return 0


def _hand_over(container: Any, staff_ids: list[str]) -> dict[str, Any]:
    """Start or wake each matched staff member's credentialing workflow; Temporal being away is no failure (the
    items are in the store and the workflows read it daily)."""
    import asyncio

    from temporalio.service import RPCError

    from workers.screening import hand_to_workflows
    from workers.security.keys import CodecKeyError
    from workers.security.stack_secrets import SecretFileError
    from workers.temporal.client import TemporalUnavailable, connect

    async def run() -> dict[str, Any]:
        client = await connect(container.settings)
        handed = await hand_to_workflows(client, container.session_factory, staff_ids)
        return {"contacted": True, "started": handed.started, "signalled": handed.signalled}

    try:
        return asyncio.run(run())
    except (TemporalUnavailable, RPCError, CodecKeyError, SecretFileError) as exc:
        return {"contacted": False, "reason": str(exc).splitlines()[0]}
