"""`carecycle staff list|show`: the practice's people with each credential's state (active, expiring, expired,
pending, revoked), exclusion-list matches, payer enrollments and licensed states. Shows names (and, in `show`, the
birth date) to the person at the terminal only."""

from __future__ import annotations

import argparse
from dataclasses import asdict
from datetime import UTC, date, datetime
from typing import Any

from workers.cli.output import print_json, print_table
from workers.cli.staff_enrollment import day


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    listing = commands.add_parser("list", help="the staff with their credentials' states and open matches")
    listing.add_argument("--as-of", type=day, metavar="YYYY-MM-DD", help="the day the states are for (default today)")
    listing.add_argument("--json", action="store_true", help="print as JSON")
    listing.set_defaults(handler=_list)

    show = commands.add_parser(
        "show", help="one staff member: credentials and their states, exclusion matches, enrollments, open items"
    )
    show.add_argument("staff_id", metavar="STAFF_ID", help="the staff member's id")
    show.add_argument("--as-of", type=day, metavar="YYYY-MM-DD", help="the day the states are for (default today)")
    show.add_argument("--json", action="store_true", help="print as JSON")
    show.set_defaults(handler=_show)


def _lead_days() -> Any:
    from activities.contracts.staff import StaffPolicy
    from domain.services.staff_records import LeadDays

    policy = StaffPolicy()
    return LeadDays(credential=policy.credential_lead_days, caqh=policy.caqh_lead_days)


def _today(args: argparse.Namespace) -> date:
    return args.as_of or datetime.now(UTC).date()


def _list(args: argparse.Namespace) -> int:
    from domain.services.staff_records import staff_overview
    from workers.composition import Container

    today = _today(args)
    container = Container()
    try:
        container.require_schema()
        with container.uow() as uow:
            rows = staff_overview(uow.session, today, _lead_days())
    finally:
        container.close()
    if args.json:
        print_json({"as_of": today, "staff": [asdict(r) for r in rows]})
        return 0
    print_table(
        [
            (
                r.staff_id,
                f"{r.last_name}, {r.first_name}",
                r.role,
                "yes" if r.active else "no",
                r.npi,
                ", ".join(f"{count} {state}" for state, count in r.credentials.items()),
                r.open_exclusion_matches or "",
                r.open_items or "",
            )
            for r in rows
        ],
        ["ID", "NAME", "ROLE", "ACTIVE", "NPI", "CREDENTIALS", "EXCLUSION MATCHES", "OPEN ITEMS"],
    )
    print(f"{len(rows)} staff")
    return 0


def _show(args: argparse.Namespace) -> int:
    from domain.services.staff_records import staff_detail
    from workers.composition import Container

    today = _today(args)
    container = Container()
    try:
        container.require_schema()
        with container.uow() as uow:
            detail = staff_detail(uow.session, args.staff_id, today, _lead_days())
    finally:
        container.close()
    if args.json:
        print_json({"as_of": today, **asdict(detail)})
        return 0
    print(f"{detail.last_name}, {detail.first_name} ({detail.role}{'' if detail.active else ', inactive'})")
    print(f"  id {detail.staff_id}  NPI {detail.npi or '-'}  hired {detail.hired_on}  born {detail.birth_date or '-'}")
    print(f"  licensed on {today}: {', '.join(detail.licensed_states) or 'nowhere'}")
    print("\nCredentials")
    print_table(
        [
            (
                c.kind,
                c.issuer,
                c.state_code,
                c.number,
                c.expires_on,
                c.days_left,
                c.state + ("" if c.current else " (old)"),
            )
            for c in detail.credentials
        ],
        ["KIND", "ISSUER", "ST", "NUMBER", "EXPIRES", "DAYS LEFT", "STATE"],
    )
    if detail.exclusion_matches:
        print("\nExclusion-list matches")
        print_table(
            [
                (x.source, x.basis, x.exclusion_type, x.excluded_on, x.reinstated_on, x.status, x.decided_by)
                for x in detail.exclusion_matches
            ],
            ["LIST", "BASIS", "TYPE", "EXCLUDED", "REINSTATED", "STATUS", "DECIDED BY"],
        )
    if detail.enrollments:
        print("\nPayer enrollments")
        print_table(
            [(e.payer_id, e.state, e.effective_from, e.effective_to, e.number) for e in detail.enrollments],
            ["PAYER", "STATE", "FROM", "TO", "NUMBER"],
        )
    if detail.open_items:
        print("\nOpen credentialing items")
        print_table(
            [(i["work_item_id"], i["reason"], i["summary"]) for i in detail.open_items], ["ID", "REASON", "SUMMARY"]
        )
    return 0
