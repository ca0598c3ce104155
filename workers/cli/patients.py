"""`carecycle patients ...`: look at the practice's patients (shows PHI to the person at the terminal only)."""

from __future__ import annotations

import argparse
from typing import Any

from workers.cli.args import non_negative_int, positive_int
from workers.cli.output import print_json, print_table


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    patients = subparsers.add_parser("patients", help="list the practice's patients")
    commands = patients.add_subparsers(dest="patients_command", metavar="COMMAND")
    commands.required = True
    listing = commands.add_parser("list", help="list patients with their primary coverage")
    listing.add_argument("--limit", type=positive_int, default=50, help="at most this many (default 50)")
    listing.add_argument("--offset", type=non_negative_int, default=0, help="skip this many first")
    listing.add_argument("--json", action="store_true", help="print as JSON")
    listing.set_defaults(handler=_list)


def _list(args: argparse.Namespace) -> int:
    from domain.services.lookups import patient_page
    from workers.cli.phi import record_phi_view
    from workers.composition import Container

    container = Container()
    try:
        container.require_schema()
        with container.uow() as uow:
            page = patient_page(uow.session, args.limit, args.offset)
            total, patients, coverages = page.total, page.patients, page.coverages
        record_phi_view(container, "patients list", "patient", "list", shown=len(patients), offset=args.offset)
    finally:
        container.close()
    by_patient: dict[str, list[dict[str, Any]]] = {}
    for coverage, payer_code in coverages:
        by_patient.setdefault(coverage.patient_id, []).append(
            {
                "rank": coverage.rank,
                "payer_id": payer_code,
                "member_id": coverage.member_id,
                "effective_from": coverage.effective_from,
                "effective_to": coverage.effective_to,
                "eligibility": coverage.eligibility_status,
            }
        )
    rows: list[dict[str, Any]] = [
        {
            "id": p.id,
            "account_number": p.account_number,
            "first_name": p.first_name,
            "last_name": p.last_name,
            "birth_date": p.birth_date,
            "sex": p.sex,
            "coverages": sorted(by_patient.get(p.id, []), key=lambda c: c["rank"] != "primary"),
        }
        for p in patients
    ]
    if args.json:
        print_json({"total": total, "offset": args.offset, "patients": rows})
        return 0
    table = []
    for row in rows:
        primary = next((c for c in row["coverages"] if c["rank"] == "primary"), None)
        table.append(
            [
                row["account_number"],
                f"{row['last_name']}, {row['first_name']}",
                row["birth_date"],
                primary["payer_id"] if primary else "self-pay",
                len(row["coverages"]),
            ]
        )
    print_table(table, ["account", "name", "born", "primary payer", "coverages"])
    print(f"{len(rows)} of {total} patients")
    return 0
