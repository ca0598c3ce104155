"""`carecycle ledger ...`: check the double-entry ledger and read account balances."""

from __future__ import annotations

import argparse

from workers.cli.output import print_json, print_table


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    ledger = subparsers.add_parser("ledger", help="the patient and insurance ledger: checks and balances")
    commands = ledger.add_subparsers(dest="ledger_command", metavar="COMMAND")
    commands.required = True

    check = commands.add_parser("check", help="every entry balances, control accounts equal their subledgers")
    check.add_argument("--json", action="store_true", help="print the report as JSON")
    check.set_defaults(handler=_check)

    balances = commands.add_parser("balances", help="the balance of every account kind (debit-positive)")
    balances.add_argument("--json", action="store_true", help="print as JSON")
    balances.set_defaults(handler=_balances)


def _check(args: argparse.Namespace) -> int:
    from domain.ledger.checks import run_ledger_checks
    from domain.ledger.store import balances_by_account
    from workers.composition import Container

    container = Container()
    try:
        container.require_schema()
        with container.uow() as uow:
            report = run_ledger_checks(uow.session)
            trial_balance = sum(balances_by_account(uow.session).values())
    finally:
        container.close()
    ok = report.ok and trial_balance == 0
    if args.json:
        print_json(report.as_dict() | {"ok": ok, "trial_balance_cents": trial_balance})
    else:
        for check in report.checks:
            mark = "ok  " if check.ok else "FAIL"
            extra = "" if check.ok else f": {check.problems} problem(s), e.g. {', '.join(check.examples)}"
            print(f"{mark} {check.name} ({check.description}){extra}")
        print(f"{'ok  ' if trial_balance == 0 else 'FAIL'} trial_balance (all debits equal all credits)")
        print("ledger is consistent" if ok else "ledger has problems")
    return 0 if ok else 1


def _balances(args: argparse.Namespace) -> int:
    from domain.ledger.store import balances_by_account
    from domain.money import format_cents
    from workers.composition import Container

    container = Container()
    try:
        container.require_schema()
        with container.uow() as uow:
            balances = balances_by_account(uow.session)
    finally:
        container.close()
    grouped: dict[str, int] = {}
    for code, cents in balances.items():
        group = code.split(":", 1)[0]
        grouped[group] = grouped.get(group, 0) + cents
    if args.json:
        print_json({"accounts": grouped, "total_cents": sum(grouped.values())})
        return 0
    print_table([[name, format_cents(cents)] for name, cents in sorted(grouped.items())], ["account", "balance"])
    return 0
