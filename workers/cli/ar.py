"""`carecycle ar ...`: accounts receivable aging by payer or by patient."""

from __future__ import annotations

import argparse

from workers.cli.args import iso_date
from workers.cli.output import print_json, print_table


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    ar = subparsers.add_parser("ar", help="accounts receivable: aging buckets and days in AR")
    commands = ar.add_subparsers(dest="ar_command", metavar="COMMAND")
    commands.required = True
    aging = commands.add_parser("aging", help="AR in 0-30, 31-60, 61-90, 91-120, 120+ day buckets")
    aging.add_argument("--by", choices=("payer", "patient"), default="payer", help="group by payer or patient")
    aging.add_argument("--as-of", type=iso_date, default=None, metavar="YYYY-MM-DD", help="age as of this day (today)")
    aging.add_argument("--json", action="store_true", help="print as JSON")
    aging.set_defaults(handler=_aging)


def _aging(args: argparse.Namespace) -> int:
    from domain.aging import BUCKETS, ar_aging
    from domain.money import format_cents
    from workers.composition import Container

    container = Container()
    try:
        container.require_schema()
        with container.uow() as uow:
            report = ar_aging(uow.session, by=args.by, as_of=args.as_of)
    finally:
        container.close()
    if args.json:
        print_json(report.as_dict())
        return 0
    rows = [[row.key, *(format_cents(row.buckets[b]) for b in BUCKETS), format_cents(row.total)] for row in report.rows]
    rows.append(["total", *(format_cents(report.totals[b]) for b in BUCKETS), format_cents(report.total_cents)])
    print_table(rows, [args.by, *BUCKETS, "total"])
    print(f"days in AR: {report.days_in_ar if report.days_in_ar is not None else 'n/a (no charges in 90 days)'}")
    return 0
