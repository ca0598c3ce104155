"""`carecycle db ...`: create, migrate, seed and check the domain store."""

from __future__ import annotations

import argparse

from workers.cli.args import int_range, iso_date, non_negative_int
from workers.cli.output import print_json


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    db = subparsers.add_parser("db", help="create, migrate, seed and check the domain store")
    commands = db.add_subparsers(dest="db_command", metavar="COMMAND")
    commands.required = True

    upgrade = commands.add_parser("upgrade", help="create or migrate the schema to the newest revision")
    upgrade.add_argument("--json", action="store_true", help="print the result as JSON")
    upgrade.set_defaults(handler=_upgrade)

    seed = commands.add_parser("seed", help="fill the store with a synthetic practice (Faker; never real data)")
    seed.add_argument(
        "--patients", type=int_range(0, 100_000), default=200, help="number of patients (default 200, at most 100000)"
    )
    seed.add_argument(
        "--seed", type=non_negative_int, default=7, help="random seed: same seed and day, same data (default 7)"
    )
    seed.add_argument(
        "--as-of",
        type=iso_date,
        default=None,
        metavar="YYYY-MM-DD",
        help="the day the practice's dates are relative to (default today)",
    )
    seed.add_argument("--json", action="store_true", help="print counts as JSON")
    seed.set_defaults(handler=_seed)

    copy = commands.add_parser(
        "copy",
        help="copy this store (e.g. the embedded SQLite file) into an empty PostgreSQL database",
        description="Migrates the target to this store's revision, copies every table in one transaction and "
        "compares the row counts. Refuses a target that holds any carecycle row. Stop the workers first; "
        "afterwards point CARECYCLE_DATABASE_URL at the target and run `carecycle db check`.",
    )
    copy.add_argument("--to", required=True, metavar="URL", help="the target, e.g. postgresql://user@host/db")
    copy.add_argument("--json", action="store_true", help="print the row counts as JSON")
    copy.set_defaults(handler=_copy)

    check = commands.add_parser("check", help="check integrity: balanced ledger, no orphans, legal statuses")
    check.add_argument("--json", action="store_true", help="print the report as JSON")
    check.set_defaults(handler=_check)


def _upgrade(args: argparse.Namespace) -> int:
    from domain.store.engine import redact_url
    from domain.store.migrate import upgrade
    from workers.composition import Container

    container = Container()
    try:
        revision = upgrade(container.engine)
    finally:
        container.close()
    if args.json:
        print_json({"revision": revision, "database": redact_url(container.settings.database_url)})
    else:
        print(f"store at revision {revision} ({redact_url(container.settings.database_url)})")
    return 0


def _seed(args: argparse.Namespace) -> int:
    from workers.composition import Container
    from workers.synthetic import seed_practice

    container = Container()
    try:
        container.require_schema()
        with container.uow() as uow:
            summary = seed_practice(uow.session, patients=args.patients, seed=args.seed, as_of=args.as_of)
            uow.commit()
    finally:
        container.close()
    if args.json:
        print_json(summary.as_dict())
    else:
        counts = summary.counts
        print(
            f"seeded a synthetic practice (seed {summary.seed}, as of {summary.as_of}): "
            f"{counts.get('patients', 0)} patients, {counts.get('coverages', 0)} coverages, "
            f"{counts.get('appointments', 0)} appointments, {counts.get('claims', 0)} claims, "
            f"{counts.get('staff', 0)} staff, {counts.get('credentials', 0)} credentials"
        )
        for status, count in sorted(summary.claims_by_status.items()):
            print(f"  claims {status}: {count}")
    return 0


def _copy(args: argparse.Namespace) -> int:
    from domain.store.copy_store import InvalidCopyTarget, copy_to_url
    from domain.store.engine import redact_url
    from workers.cli import UsageError
    from workers.composition import Container

    container = Container()
    try:
        container.require_schema()
        try:
            report = copy_to_url(container.engine, args.to)
        except InvalidCopyTarget as exc:
            raise UsageError(f"--to {exc}") from None
    finally:
        container.close()
    where = redact_url(args.to)
    if args.json:
        print_json({"target": where, "revision": report.revision, "rows": report.rows, "tables": report.counts})
        return 0
    print(f"copied {report.rows} rows in {len(report.counts)} tables to {where} (revision {report.revision})")
    for table, rows in report.counts.items():
        if rows:
            print(f"  {table}: {rows}")
    print("row counts match; next: CARECYCLE_DATABASE_URL=<the target> carecycle db check")
    return 0


def _check(args: argparse.Namespace) -> int:
    from domain.store.integrity import check_store
    from workers.composition import Container

    container = Container()
    try:
        container.require_schema()
        with container.uow() as uow:
            report = check_store(uow.session)
    finally:
        container.close()
    if args.json:
        print_json(report.as_dict())
    else:
        for check in report.checks:
            mark = "ok  " if check.ok else "FAIL"
            extra = "" if check.ok else f": {check.problems} problem(s), e.g. {', '.join(check.examples)}"
            print(f"{mark} {check.name} ({check.description}){extra}")
        print("store is consistent" if report.ok else "store has problems")
    return 0 if report.ok else 1
