"""`carecycle staff enroll|enrollments`: a provider's enrollment with each payer (pending, active, terminated and
its dates). A claim for a service on a day the rendering provider is not enrolled with the payer is stopped by the
claim edit PROVIDER_NOT_ENROLLED."""

from __future__ import annotations

import argparse
from dataclasses import asdict
from datetime import UTC, date, datetime

from workers.cli.output import print_json, print_table


def day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {text!r}") from None


def os_actor() -> str:
    """Who ran the command when --by is not given, for the audit trail: the operating-system account."""
    import os
    import pwd

    try:
        return f"cli:{pwd.getpwuid(os.getuid()).pw_name}"
    except KeyError:
        return f"cli:uid-{os.getuid()}"


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    enroll = commands.add_parser(
        "enroll",
        help="record a provider's enrollment with a payer, or move it: pending -> active -> terminated",
        description="Without a current enrollment with the payer (or after a termination) a new one is recorded; "
        "otherwise the current one changes. active needs --from (the payer's effective date); terminated needs "
        "--to (the last day covered). A claim is stopped (PROVIDER_NOT_ENROLLED) for a date of service no active "
        "or terminated enrollment covers.",
    )
    enroll.add_argument("staff_id", metavar="STAFF_ID", help="the staff member behind the provider record")
    enroll.add_argument("--payer", required=True, metavar="PAYER", help="the payer's id (e.g. SBXBM)")
    enroll.add_argument("--status", required=True, choices=("pending", "active", "terminated"))
    enroll.add_argument("--from", dest="effective_from", type=day, metavar="YYYY-MM-DD", help="effective date")
    enroll.add_argument("--to", dest="effective_to", type=day, metavar="YYYY-MM-DD", help="last day covered")
    enroll.add_argument("--number", help="the payer's provider number, if it gives one")
    enroll.add_argument("--by", metavar="USER", help="who records it (default: the operating-system account)")
    enroll.add_argument("--json", action="store_true", help="print as JSON")
    enroll.set_defaults(handler=_enroll)

    listing = commands.add_parser("enrollments", help="list payer enrollments (all, one staff member's, one payer's)")
    listing.add_argument("--staff-id", help="only this staff member's")
    listing.add_argument("--payer", metavar="PAYER", help="only this payer's")
    listing.add_argument("--as-of", type=day, metavar="YYYY-MM-DD", help="the day the state is for (default today)")
    listing.add_argument("--json", action="store_true", help="print as JSON")
    listing.set_defaults(handler=_enrollments)


def _enroll(args: argparse.Namespace) -> int:
    from domain.services.enrollments import EnrollmentRow, record_enrollment
    from domain.store.uow import retry_when_busy
    from workers.composition import Container

    today = datetime.now(UTC).date()
    container = Container()

    def record() -> EnrollmentRow:
        with container.uow() as uow:
            row = record_enrollment(
                uow.session,
                staff_id=args.staff_id,
                payer_code=args.payer,
                status=args.status,
                effective_from=args.effective_from,
                effective_to=args.effective_to,
                number=args.number,
                actor=args.by or os_actor(),
                today=today,
            )
            uow.commit()
            return row

    try:
        container.require_schema()
        row = retry_when_busy(record)  # the workers may write at the same moment (SQLite)
    finally:
        container.close()
    if args.json:
        print_json(asdict(row))
    else:
        span = f"{row.effective_from or '?'} .. {row.effective_to or 'open'}"
        print(f"{row.payer_id}: provider {row.provider_npi} {row.status} ({span}), enrollment {row.enrollment_id}")
    return 0


def _enrollments(args: argparse.Namespace) -> int:
    from domain.services.enrollments import list_enrollments
    from workers.composition import Container

    today = args.as_of or datetime.now(UTC).date()
    container = Container()
    try:
        container.require_schema()
        with container.uow() as uow:
            rows = list_enrollments(uow.session, today=today, staff_id=args.staff_id, payer_code=args.payer)
    finally:
        container.close()
    if args.json:
        print_json({"as_of": today, "enrollments": [asdict(r) for r in rows]})
        return 0
    print_table(
        [(r.staff_id, r.provider_npi, r.payer_id, r.state, r.effective_from, r.effective_to, r.number) for r in rows],
        ["STAFF", "NPI", "PAYER", "STATE", "FROM", "TO", "NUMBER"],
    )
    print(f"{len(rows)} enrollments")
    return 0
