"""`carecycle telehealth ...`: the telehealth coordinator's commands for virtual visits (VirtualVisit workflows).

``start`` and ``cancel`` go through intake (the one module that starts a patient's processes); the visit's own
steps are the workflow's validated Updates: ``consent``, ``check-in``, ``audio-fallback``, ``end``,
``resend-invite`` and ``reassign`` (refused, with the reason, when the provider holds no active license in the
patient's state on the visit day or is booked at that time). ``list`` is the day's board by state.
"""

from __future__ import annotations

import argparse
from datetime import UTC, datetime
from typing import Any

from workers.cli.args import add_json, iso_date, non_empty
from workers.cli.output import print_json, print_table
from workers.cli.visits import _report, cli_actor, print_detail, read_store, show_detail, with_desk


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    telehealth = subparsers.add_parser(
        "telehealth",
        help="virtual visits (VirtualVisit workflows): start, list, show, consent, check-in, reassign, cancel ...",
        description="A virtual visit: licensure checked (the provider's license in the patient's state), the video "
        "room and its invite, consent and check-in, the waiting room, audio fallback, and the encounter with POS "
        "02/10 and modifier 95/93.",
    )
    commands = telehealth.add_subparsers(dest="telehealth_command", metavar="COMMAND")
    commands.required = True
    _add_board_commands(commands)
    _add_visit_steps(commands)


def _add_board_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """start, list, show, cancel, reassign: the coordinator's board."""
    from domain.services.visit_board import BOARD_STATES
    from domain.visits import CANCEL_REASONS

    start = commands.add_parser("start", help="start a booked virtual appointment's VirtualVisit (through intake)")
    start.add_argument("--appointment", required=True, type=non_empty, help="the appointment's id")
    add_json(start)
    start.set_defaults(handler=_start)

    listing = commands.add_parser("list", help="the day's virtual visits by state (default today, UTC)")
    listing.add_argument("--day", type=iso_date, help="YYYY-MM-DD")
    listing.add_argument("--state", choices=[str(s) for s in BOARD_STATES])
    add_json(listing)
    listing.set_defaults(handler=_list)

    show = commands.add_parser("show", help="one virtual visit: state, room, consents, messages, trail")
    show.add_argument("appointment_id", type=non_empty)
    add_json(show)
    show.set_defaults(handler=_show)

    cancel = commands.add_parser("cancel", help="cancel the visit (through intake): the room is deleted")
    cancel.add_argument("appointment_id", type=non_empty)
    cancel.add_argument("--reason", choices=sorted(CANCEL_REASONS), default="patient")
    add_json(cancel)
    cancel.set_defaults(handler=_cancel)

    reassign = commands.add_parser("reassign", help="give the visit to a provider licensed in the patient's state")
    reassign.add_argument("appointment_id", type=non_empty)
    reassign.add_argument("--provider", required=True, type=non_empty, help="the provider's id")
    add_json(reassign)
    reassign.set_defaults(handler=_reassign)


def _add_visit_steps(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """consent, check-in, resend-invite, audio-fallback, end: the visit's own steps (its Updates)."""
    from domain.visits import CONSENT_METHODS, PATIENT_LOCATIONS

    consent = commands.add_parser("consent", help="record the patient's telehealth consent")
    consent.add_argument("appointment_id", type=non_empty)
    consent.add_argument("--method", required=True, choices=sorted(CONSENT_METHODS))
    consent.add_argument("--state", required=True, type=non_empty, help="the state the patient is in (e.g. OR)")
    add_json(consent)
    consent.set_defaults(handler=_consent)

    check_in = commands.add_parser("check-in", help="the patient's pre-visit check-in: where they are")
    check_in.add_argument("appointment_id", type=non_empty)
    check_in.add_argument("--location", required=True, choices=sorted(PATIENT_LOCATIONS), help="home or other")
    check_in.add_argument("--state", required=True, type=non_empty, help="the state the patient is in (e.g. OR)")
    add_json(check_in)
    check_in.set_defaults(handler=_check_in)

    for name, what in (
        ("resend-invite", "send the join link again (a fresh token)"),
        ("audio-fallback", "the video failed: the visit goes on by phone (modifier 93)"),
        ("end", "the provider ends the visit (audio only, or the room did not report the end)"),
    ):
        step = commands.add_parser(name, help=what)
        step.add_argument("appointment_id", type=non_empty)
        add_json(step)
        step.set_defaults(handler=_step, step=name)


def _by() -> str:
    """Who the CLI says acts in a visit's Update: the OS user (``cli:<user>``), as intake records it."""
    label: str = cli_actor().label
    return label


def _done(args: argparse.Namespace, payload: dict[str, Any], line: str) -> int:
    if args.json:
        print_json(payload)
    else:
        print(line)
    return 0


def _start(args: argparse.Namespace) -> int:
    return _report(with_desk(lambda desk: desk.start(cli_actor(), args.appointment)), args, "started")


def _cancel(args: argparse.Namespace) -> int:
    return _report(
        with_desk(lambda desk: desk.cancel(cli_actor(), args.appointment_id, args.reason)), args, "cancelled"
    )


def _reassign(args: argparse.Namespace) -> int:
    provider = with_desk(lambda desk: desk.reassign(args.appointment_id, args.provider, _by()))
    payload = {"appointment_id": args.appointment_id, "provider_id": provider}
    return _done(args, payload, f"virtual visit {args.appointment_id} reassigned to provider {provider}")


def _consent(args: argparse.Namespace) -> int:
    from activities.contracts import visits as c

    request = c.ConsentRequest(args.method, args.state.strip().upper(), _by())
    state = with_desk(lambda desk: desk.update(args.appointment_id, c.CONSENT_UPDATE, request))
    return _done(args, {"appointment_id": args.appointment_id, "state": state}, f"consent recorded: {state}")


def _check_in(args: argparse.Namespace) -> int:
    from activities.contracts import visits as c

    request = c.CheckInRequest(args.location, args.state.strip().upper(), _by())
    state = with_desk(lambda desk: desk.update(args.appointment_id, c.CHECK_IN_UPDATE, request))
    return _done(args, {"appointment_id": args.appointment_id, "state": state}, f"checked in: {state}")


def _step(args: argparse.Namespace) -> int:
    from activities.contracts import visits as c

    name = {"resend-invite": c.RESEND_INVITE_UPDATE, "audio-fallback": c.AUDIO_FALLBACK_UPDATE, "end": c.END_UPDATE}
    if args.step == "resend-invite":  # the console's page sends it the same way (VisitDesk.resend_invite)
        answer = with_desk(lambda desk: desk.resend_invite(args.appointment_id, _by()))
    else:
        answer = with_desk(lambda desk: desk.update(args.appointment_id, name[args.step], c.ActorRequest(_by())))
    return _done(args, {"appointment_id": args.appointment_id, "answer": answer}, f"{args.step}: {answer}")


def _list(args: argparse.Namespace) -> int:
    from domain.services.visit_board import telehealth_board

    day = args.day or datetime.now(UTC).date()
    board = read_store(lambda s: telehealth_board(s, day))
    if args.state:
        board = {args.state: board.get(args.state, [])}
    if args.json:
        print_json(
            {"day": day, "states": {state: [line.as_dict() for line in lines] for state, lines in board.items()}}
        )
        return 0
    rows = [
        (
            state,
            line.appointment_id,
            line.starts_at.isoformat(timespec="minutes"),
            line.provider_id,
            line.patient_state or "-",
            "audio" if line.audio_only else "video",
            line.blocked_reason or "",
        )
        for state, lines in board.items()
        for line in lines
    ]
    print_table(rows, ["STATE", "APPOINTMENT", "STARTS", "PROVIDER", "PATIENT STATE", "MODE", "BLOCKED"])
    counts = ", ".join(f"{state} {len(lines)}" for state, lines in board.items() if lines) or "none"
    print(f"{day}: {counts}")
    return 0


def _show(args: argparse.Namespace) -> int:
    detail = show_detail(args.appointment_id)
    if args.json:
        print_json(detail)
    else:
        print_detail(detail)
    return 0
