"""`carecycle policy ...`: the practice's collections policy (statement cycle, small balances, the agency, payment
plans): what is in force, and a new version. Running PatientCollections cycles follow a new version at their next
step (they read the policy at every step)."""

from __future__ import annotations

import argparse
from typing import Any

from workers.cli.output import print_json, print_table


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    policy = subparsers.add_parser("policy", help="the collections policy: show the version in force, set a new one")
    commands = policy.add_subparsers(dest="policy_command", metavar="COMMAND")
    commands.required = True

    show = commands.add_parser("show", help="the collections policy in force (and, with --history, every version)")
    show.add_argument("--history", action="store_true", help="every stored version, oldest first")
    show.add_argument("--json", action="store_true", help="print as JSON")
    show.set_defaults(handler=_show)

    change = commands.add_parser(
        "set",
        help="store a new version with some settings changed (name=value; *_cents also in dollars: small_balance=5.00)",
    )
    change.add_argument("settings", nargs="+", metavar="NAME=VALUE", help="a setting and its new value")
    change.add_argument("--by", required=True, metavar="USER", help="who changes the policy (recorded in the audit)")
    change.add_argument("--note", default="", help="why (kept with the version)")
    change.add_argument("--json", action="store_true", help="print as JSON")
    change.set_defaults(handler=_set)


def _view(stored: Any) -> dict[str, Any]:
    return dict(stored.as_dict())


def _print_policy(view: dict[str, Any]) -> None:
    from domain.collections_policy import POLICY_FIELDS
    from domain.money import format_dollars

    when = view["created_at"] or "-"
    print(f"collections policy version {view['version']} (set by {view['created_by']} at {when})")
    if view["note"]:
        print(f"note: {view['note']}")
    rows = []
    for name, value in view["settings"].items():
        shown = format_dollars(value) if name.endswith("_cents") else str(value)
        rows.append([name, shown, POLICY_FIELDS[name]])
    print_table(rows, ["SETTING", "VALUE", "MEANING"])


def _show(args: argparse.Namespace) -> int:
    from domain.collections_policy_store import current_policy, policy_history
    from workers.composition import Container

    container = Container()
    try:
        container.require_schema()
        with container.uow() as uow:
            stored = [current_policy(uow.session)] if not args.history else policy_history(uow.session)
    finally:
        container.close()
    views = [_view(s) for s in stored]
    if args.json:
        print_json(views[0] if not args.history else {"versions": views})
        return 0
    if not views:
        print("no stored version: the defaults are in force (`carecycle policy show`)")
        return 0
    for view in views:
        _print_policy(view)
    return 0


def _set(args: argparse.Namespace) -> int:
    from domain.collections_policy_store import current_policy, set_policy
    from domain.errors import InvalidResolution, ValidationError
    from domain.workitems import parse_assignments
    from workers.cli import UsageError
    from workers.composition import Container

    try:
        assignments = parse_assignments(args.settings)
    except InvalidResolution as exc:
        raise UsageError(str(exc)) from None
    container = Container()
    try:
        container.require_schema()
        with container.uow() as uow:
            before = current_policy(uow.session).version
            try:
                stored = set_policy(uow.session, assignments, actor=args.by, note=args.note)
            except ValidationError as exc:  # a setting that is not one, or a value the policy's rules refuse
                raise UsageError(exc.message) from None
            uow.commit()
    finally:
        container.close()
    view = _view(stored) | {"changed": stored.version != before}
    if args.json:
        print_json(view)
        return 0
    if not view["changed"]:
        print(f"nothing changed: version {stored.version} stays in force")
        return 0
    print(f"collections policy version {stored.version} is in force; running cycles follow it at their next step")
    return 0
