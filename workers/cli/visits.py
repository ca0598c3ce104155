"""`carecycle visits ...`: book, list, show, cancel, reschedule, arrive and close appointments.

Booking, moving, cancelling and the desk's check-in/check-out go through intake (the one module that starts a
patient's processes), exactly as the EHR's events do: intake stores the appointment and starts or tells its Visit
(in person) or VirtualVisit (telehealth) workflow. Lists and a visit's page read the store (ids and codes only).
"""

from __future__ import annotations

import argparse
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any, TypeVar

from workers.cli.args import _typed, add_json, int_range, iso_date, non_empty
from workers.cli.output import print_json, print_table

T = TypeVar("T")

KINDS = ("in_person", "telehealth")
STATUSES = ("booked", "arrived", "fulfilled", "cancelled", "noshow")


def _when(text: str) -> datetime:
    try:
        value = datetime.fromisoformat(text.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date and time (2026-03-02T09:30-08:00): {text[:40]!r}") from None
    if value.tzinfo is None:
        raise argparse.ArgumentTypeError("give the time zone offset too (2026-03-02T09:30-08:00)")
    if not 1900 <= value.year <= 2199:
        raise argparse.ArgumentTypeError(f"must be a time from 1900 to 2199, got {value.year}")
    return value


visit_time = _typed(
    _when,
    "date and time",
    ("x", "", "2026-03-02T09:30", "2026-13-02T09:30+00:00", "0001-01-01T00:00+00:00"),
    "2199-03-02T09:30+00:00",
)
minutes = int_range(5, 480)


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from domain.visits import CANCEL_REASONS, VISIT_TYPES

    visits = subparsers.add_parser(
        "visits",
        help="appointments and their Visit workflows: book, list, show, cancel, reschedule, arrive, close",
        description="Each booked appointment has one durable workflow (visit-<id>, or virtual-visit-<id> for "
        "telehealth): eligibility before the visit, reminders 72 h and 24 h before, the no-show policy, and the "
        "hand-over to the Encounter. Booking, moving and cancelling go through intake like the EHR's events.",
    )
    commands = visits.add_subparsers(dest="visits_command", metavar="COMMAND")
    commands.required = True

    book = commands.add_parser("book", help="book an appointment (starts its Visit or VirtualVisit workflow)")
    book.add_argument("--patient", required=True, type=non_empty, help="the patient's id")
    book.add_argument("--provider", required=True, type=non_empty, help="the provider's id or NPI")
    book.add_argument("--start", required=True, type=visit_time, help="start with its offset: 2026-03-02T09:30-08:00")
    book.add_argument("--minutes", type=minutes, default=20, help="length in minutes (5-480, default 20)")
    book.add_argument("--kind", choices=KINDS, default="in_person", help="in_person (default) or telehealth")
    book.add_argument("--type", dest="visit_type", choices=sorted(VISIT_TYPES), default="follow_up")
    book.add_argument("--location", type=non_empty, help="the location's id (default: the practice's first)")
    add_json(book)
    book.set_defaults(handler=_book)

    listing = commands.add_parser("list", help="appointments by start time (ids, codes and states only)")
    listing.add_argument("--day", type=iso_date, help="only this day (UTC), YYYY-MM-DD")
    listing.add_argument("--status", choices=STATUSES)
    listing.add_argument("--kind", choices=KINDS)
    listing.add_argument("--limit", type=int_range(1, 10_000), default=200)
    add_json(listing)
    listing.set_defaults(handler=_list)

    show = commands.add_parser("show", help="one appointment: status, eligibility, messages, trail, workflow state")
    show.add_argument("appointment_id", type=non_empty)
    add_json(show)
    show.set_defaults(handler=_show)

    cancel = commands.add_parser("cancel", help="cancel an appointment (its workflow drops its timers)")
    cancel.add_argument("appointment_id", type=non_empty)
    cancel.add_argument("--reason", choices=sorted(CANCEL_REASONS), default="patient")
    add_json(cancel)
    cancel.set_defaults(handler=_cancel)

    move = commands.add_parser("reschedule", help="move a booked appointment (its workflow moves its timers)")
    move.add_argument("appointment_id", type=non_empty)
    move.add_argument("--start", required=True, type=visit_time, help="the new start with its offset")
    move.add_argument("--minutes", type=minutes, help="a new length in minutes")
    add_json(move)
    move.set_defaults(handler=_reschedule)

    for name, status, what in (
        ("arrive", "arrived", "the patient arrived (the desk's check-in)"),
        ("close", "fulfilled", "the visit is over (check-out): it goes on to its Encounter and Claim"),
    ):
        step = commands.add_parser(name, help=what)
        step.add_argument("appointment_id", type=non_empty)
        add_json(step)
        step.set_defaults(handler=_move, status=status)


def cli_actor() -> Any:
    from intake import Actor
    from workers.security.actors import os_user

    return Actor("cli", os_user())


def with_desk(work: Callable[[Any], Awaitable[T]]) -> T:
    """Run ``work(desk)`` with a VisitDesk on the configured store and Temporal."""
    import asyncio

    from workers.cli.stack import temporal_errors
    from workers.composition import Container
    from workers.settings import load_settings
    from workers.temporal.client import connect
    from workers.visit_desk import VisitDesk

    settings = load_settings()
    container = Container(settings)
    try:
        container.require_schema()

        async def run() -> T:
            return await work(VisitDesk(container, await connect(settings)))

        with temporal_errors(), cli_actor().acting():  # the desk's Updates signed as the OS user
            return asyncio.run(run())
    finally:
        container.close()


def _report(outcome: Any, args: argparse.Namespace, verb: str) -> int:
    payload = {"appointment_id": outcome.id, "change": str(outcome.change), "workflows": list(outcome.starts)}
    if args.json:
        print_json(payload)
    else:
        started = f" ({', '.join(outcome.starts)})" if outcome.starts else ""
        print(f"{verb} appointment {outcome.id}: {outcome.change}{started}")
    return 0


def _book(args: argparse.Namespace) -> int:
    from workers.visit_desk import Booking

    booking = Booking(args.patient, args.provider, args.start, args.minutes, args.kind, args.visit_type, args.location)
    return _report(with_desk(lambda desk: desk.book(cli_actor(), booking)), args, "booked")


def _cancel(args: argparse.Namespace) -> int:
    return _report(
        with_desk(lambda desk: desk.cancel(cli_actor(), args.appointment_id, args.reason)), args, "cancelled"
    )


def _reschedule(args: argparse.Namespace) -> int:
    outcome = with_desk(lambda desk: desk.reschedule(cli_actor(), args.appointment_id, args.start, args.minutes))
    return _report(outcome, args, "rescheduled")


def _move(args: argparse.Namespace) -> int:
    outcome = with_desk(lambda desk: desk.move(cli_actor(), args.appointment_id, args.status))
    return _report(outcome, args, args.status)


def read_store(read: Callable[[Any], T]) -> T:
    from workers.composition import Container

    container = Container()
    try:
        container.require_schema()
        with container.session_factory() as session:
            return read(session)
    finally:
        container.close()


def _list(args: argparse.Namespace) -> int:
    from domain.services.visit_board import visits

    lines = read_store(lambda s: visits(s, day=args.day, status=args.status, kind=args.kind, limit=args.limit))
    if args.json:
        print_json({"appointments": [line.as_dict() for line in lines]})
        return 0
    rows = [
        (
            line.appointment_id,
            line.starts_at.isoformat(timespec="minutes"),
            line.kind,
            line.status,
            line.eligibility or "-",
            line.telehealth_state or "-",
            line.provider_id,
        )
        for line in lines
    ]
    print_table(rows, ["APPOINTMENT", "STARTS", "KIND", "STATUS", "ELIGIBILITY", "TELEHEALTH", "PROVIDER"])
    print(f"{len(lines)} appointment(s)")
    return 0


def _show(args: argparse.Namespace) -> int:
    detail = show_detail(args.appointment_id)
    if args.json:
        print_json(detail)
        return 0
    print_detail(detail)
    return 0


def show_detail(appointment_id: str) -> dict[str, Any]:
    """The store's view of one visit plus its workflow's own state (when Temporal answers)."""
    from domain.services.visit_board import visit_detail
    from workers.cli import CommandFailed

    detail = read_store(lambda s: visit_detail(s, appointment_id))
    try:
        detail["workflow"] = with_desk(lambda desk: desk.state(appointment_id))
    except CommandFailed:  # Temporal is away: the store's view stands alone
        detail["workflow"] = None
    return detail


def print_detail(detail: dict[str, Any]) -> None:
    for key in (
        "appointment_id",
        "kind",
        "status",
        "starts_at",
        "duration_minutes",
        "visit_type",
        "provider_id",
        "patient_id",
        "eligibility",
        "telehealth_state",
        "patient_state",
        "patient_location",
        "audio_only",
        "blocked_reason",
        "cancel_reason",
        "source",
    ):
        value = detail.get(key)
        if value not in (None, "", False) or key in ("status", "kind"):
            print(f"{key:18} {value.isoformat() if isinstance(value, datetime) else value}")
    for message in detail["messages"]:
        print(f"message            {message['template']} by {message['channel']}: {message['status']}")
    for event in detail["events"]:
        at = event["at"].isoformat(timespec="seconds") if isinstance(event["at"], datetime) else event["at"]
        print(f"event              {at} {event['action']} ({event['actor']})")
    state = detail.get("workflow")
    if state:
        print(f"workflow           {', '.join(f'{k}={v}' for k, v in state.items() if v not in (None, ''))}")
