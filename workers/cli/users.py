"""`carecycle users ...`: the people who may sign in to the operations console, and their roles.

Passwords come from a prompt (asked twice) or, for scripts, the first line of standard input with
``--password-stdin``; they are never taken as an argument (it would sit in the shell history and ``ps``).
"""

from __future__ import annotations

import argparse
import sys

from workers.cli.args import add_json

ROLE_HELP = (
    "operations (dashboard, queues: no patient data), biller (+ claims, accounts, resolves work items), "
    "auditor (+ workflow histories, audit log), admin (everything, users)"
)


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    users = subparsers.add_parser("users", help="manage the console's users and their roles")
    commands = users.add_subparsers(dest="users_command", metavar="COMMAND")
    commands.required = True

    add = commands.add_parser("add", help="add a console user with a role and a password")
    add.add_argument("name", metavar="NAME", help="user name: lower-case letters, digits, '.', '_' or '-'")
    add.add_argument("--role", required=True, help=ROLE_HELP)
    add.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
    add_json(add)
    add.set_defaults(handler=_add)

    listing = commands.add_parser("list", help="list console users with role and state")
    listing.add_argument("--json", action="store_true", help="print as JSON")
    listing.set_defaults(handler=_list)

    disable = commands.add_parser("disable", help="stop a user from signing in (their open sessions end at once)")
    disable.add_argument("name", metavar="NAME")
    add_json(disable)
    disable.set_defaults(handler=_disable)

    enable = commands.add_parser("enable", help="let a disabled user sign in again")
    enable.add_argument("name", metavar="NAME")
    add_json(enable)
    enable.set_defaults(handler=_enable)

    passwd = commands.add_parser("passwd", help="set a user's password (their open sessions end at once)")
    passwd.add_argument("name", metavar="NAME")
    passwd.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
    add_json(passwd)
    passwd.set_defaults(handler=_passwd)

    role = commands.add_parser("role", help="change a user's role (effective on their next page)")
    role.add_argument("name", metavar="NAME")
    role.add_argument("--role", required=True, help=ROLE_HELP)
    add_json(role)
    role.set_defaults(handler=_role)

    revoke = commands.add_parser("revoke", help="end every open console session of a user now")
    revoke.add_argument("name", metavar="NAME")
    add_json(revoke)
    revoke.set_defaults(handler=_revoke)


def _actor() -> str:
    """Who ran the command, for the audit trail: the operating-system account."""
    from workers.security.actors import os_user

    return f"cli:{os_user()}"


def _read_password(from_stdin: bool) -> str:
    from workers.cli import CommandFailed

    if from_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        import getpass

        if not sys.stdin.isatty():
            raise CommandFailed("no terminal to ask for the password: use --password-stdin")
        password = getpass.getpass("Password: ")
        if getpass.getpass("Repeat the password: ") != password:
            raise CommandFailed("the two passwords differ")
    if not password:
        raise CommandFailed("no password given")
    return password


def _json(payload: dict[str, object]) -> int:
    from workers.cli.output import print_json

    print_json(payload)
    return 0


def _change(name: str, as_json: bool, disabled: bool | None = None, password: str | None = None) -> int:
    from console.accounts import set_disabled, set_password
    from workers.composition import Container

    container = Container()
    try:
        container.require_schema()
        with container.uow() as uow:
            if password is not None:
                user = set_password(uow.session, name, password, actor=_actor())
            else:
                assert disabled is not None
                user = set_disabled(uow.session, name, disabled, actor=_actor())
            uow.commit()
    finally:
        container.close()
    state = "disabled" if user.disabled else "enabled"
    if as_json:
        changed = {"password_changed": True} if password is not None else {}
        return _json({"username": user.username, "role": user.role.value, "disabled": user.disabled, **changed})
    print(f"{user.username} ({user.role.value}): {'password changed' if password is not None else state}")
    return 0


def _add(args: argparse.Namespace) -> int:
    from console.accounts import add_user, check_username, parse_role
    from workers.composition import Container

    name = check_username(args.name)
    role = parse_role(args.role)
    password = _read_password(args.password_stdin)
    container = Container()
    try:
        container.require_schema()
        with container.uow() as uow:
            user = add_user(uow.session, name, role, password, actor=_actor())
            uow.commit()
    finally:
        container.close()
    if args.json:
        return _json({"username": user.username, "role": user.role.value, "added": True})
    print(f"added console user {user.username} ({user.role.value})")
    return 0


def _list(args: argparse.Namespace) -> int:
    from console.accounts import list_users
    from workers.cli.output import print_json, print_table
    from workers.composition import Container

    container = Container()
    try:
        container.require_schema()
        with container.uow() as uow:
            users = list_users(uow.session)
    finally:
        container.close()
    rows = [
        {
            "username": u.username,
            "role": u.role.value,
            "disabled": u.disabled,
            "open_sessions": u.open_sessions,
            "last_sign_in_at": u.last_sign_in_at,
        }
        for u in users
    ]
    if args.json:
        print_json({"users": rows})
        return 0
    print_table(
        [
            [
                r["username"],
                r["role"],
                "disabled" if r["disabled"] else "active",
                r["open_sessions"],
                r["last_sign_in_at"] or "",
            ]
            for r in rows
        ],
        ["user", "role", "state", "open sessions", "last sign-in"],
    )
    return 0


def _disable(args: argparse.Namespace) -> int:
    return _change(args.name, args.json, disabled=True)


def _enable(args: argparse.Namespace) -> int:
    return _change(args.name, args.json, disabled=False)


def _passwd(args: argparse.Namespace) -> int:
    return _change(args.name, args.json, password=_read_password(args.password_stdin))


def _role(args: argparse.Namespace) -> int:
    from console.accounts import parse_role, set_role
    from workers.composition import Container

    role = parse_role(args.role)
    container = Container()
    try:
        container.require_schema()
        with container.uow() as uow:
            user = set_role(uow.session, args.name, role, actor=_actor())
            uow.commit()
    finally:
        container.close()
    if args.json:
        return _json({"username": user.username, "role": user.role.value})
    print(f"{user.username} is now {user.role.value}")
    return 0


def _revoke(args: argparse.Namespace) -> int:
    from console.accounts import revoke_sessions
    from workers.composition import Container

    container = Container()
    try:
        container.require_schema()
        with container.uow() as uow:
            ended = revoke_sessions(uow.session, args.name, actor=_actor())
            uow.commit()
    finally:
        container.close()
    if args.json:
        return _json({"username": args.name, "sessions_ended": ended})
    print(f"{args.name}: {ended} open session{'' if ended == 1 else 's'} ended")
    return 0
