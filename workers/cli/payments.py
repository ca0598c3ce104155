"""`carecycle payments ...`: record a patient's payment, import bank files, reconcile ERAs with deposits."""

from __future__ import annotations

import argparse
from pathlib import Path

from workers.cli import CommandFailed
from workers.cli.args import amount, non_empty, read_text
from workers.cli.output import print_json


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    payments = subparsers.add_parser("payments", help="patient payments, bank files and deposit reconciliation")
    commands = payments.add_subparsers(dest="payments_command", metavar="COMMAND")
    commands.required = True

    record = commands.add_parser("record", help="record a patient's payment against the guarantor's balance")
    record.add_argument(
        "--patient", required=True, type=non_empty, metavar="ID", help="patient id or account number (P00000001)"
    )
    record.add_argument("--amount", required=True, type=amount, metavar="25.00", help="amount in dollars and cents")
    record.add_argument("--method", required=True, choices=("card", "cash", "check"), help="how it was paid")
    record.add_argument("--by", type=non_empty, default="cli", metavar="USER", help="who recorded it (default cli)")
    record.add_argument("--reference", default=None, help="check number or card authorisation")
    record.add_argument(
        "--key",
        type=non_empty,
        default=None,
        help="idempotency key: the same key records the payment once; another payment under it is a conflict",
    )
    record.add_argument("--json", action="store_true", help="print as JSON")
    record.set_defaults(handler=_record)

    bank = commands.add_parser("import-bank", help="import a BAI2 or CSV bank file (date,amount,trace,description)")
    bank.add_argument("file", type=Path, metavar="FILE")
    bank.add_argument("--format", choices=("bai2", "csv"), default=None, help="default: guessed from the content")
    bank.add_argument("--json", action="store_true", help="print as JSON")
    bank.set_defaults(handler=_import_bank)

    reconcile = commands.add_parser("reconcile", help="match ERA trace numbers to deposits; differences -> work items")
    reconcile.add_argument("--json", action="store_true", help="print as JSON")
    reconcile.set_defaults(handler=_reconcile)


def _record(args: argparse.Namespace) -> int:
    from domain.ledger.payments import record_patient_payment
    from domain.money import format_cents
    from domain.services.lookups import patient_id_for
    from workers.composition import Container

    container = Container()
    try:
        container.require_schema()
        with container.uow() as uow:
            patient_id = patient_id_for(uow.session, args.patient)
            if patient_id is None:
                raise CommandFailed(f"no patient with id or account number {args.patient}")
            recorded = record_patient_payment(
                uow.session,
                patient_id,
                args.amount,
                args.method,
                recorded_by=args.by,
                reference=args.reference,
                key=args.key,
            )
            uow.commit()
    finally:
        container.close()
    if args.json:
        print_json(
            {
                "payment_id": recorded.payment_id,
                "patient_id": recorded.patient_id,
                "guarantor_id": recorded.guarantor_id,
                "amount_cents": recorded.amount_cents,
                "balance_after_cents": recorded.balance_after_cents,
                "already_posted": recorded.already_posted,
            }
        )
    else:
        state = "already recorded" if recorded.already_posted else "recorded"
        print(
            f"payment {recorded.payment_id} {state}: {format_cents(recorded.amount_cents)} by {args.method}; "
            f"guarantor balance now {format_cents(recorded.balance_after_cents)}"
        )
    return 0


def _import_bank(args: argparse.Namespace) -> int:
    from domain.money import format_cents
    from domain.reconciliation import import_bank_file
    from workers.composition import Container

    text = read_text(args.file, "bank file")
    container = Container()
    try:
        container.require_schema()
        with container.uow() as uow:
            imported = import_bank_file(uow.session, text, args.file.name, fmt=args.format)
            uow.commit()
    finally:
        container.close()
    if args.json:
        print_json(
            {
                "deposit_id": imported.deposit_id,
                "lines": imported.lines,
                "total_cents": imported.total_cents,
                "already_imported": imported.already_imported,
            }
        )
    else:
        state = "already imported" if imported.already_imported else "imported"
        print(f"{state} {imported.lines} deposit line(s), {format_cents(imported.total_cents)} ({imported.deposit_id})")
    return 0


def _reconcile(args: argparse.Namespace) -> int:
    from domain.reconciliation import reconcile_deposits
    from workers.composition import Container

    container = Container()
    try:
        container.require_schema()
        with container.uow() as uow:
            result = reconcile_deposits(uow.session)
            uow.commit()
    finally:
        container.close()
    if args.json:
        print_json(
            {
                "matched": result.matched,
                "amount_mismatches": result.amount_mismatches,
                "deposits_without_era": result.deposits_without_era,
                "eras_without_deposit": result.eras_without_deposit,
                "work_items_opened": list(result.work_items_opened),
            }
        )
    else:
        print(
            f"{result.matched} ERA(s) matched to deposits, {result.amount_mismatches} amount mismatch(es), "
            f"{result.deposits_without_era} deposit(s) without ERA, {result.eras_without_deposit} ERA(s) without "
            f"deposit; {len(result.work_items_opened)} work item(s) opened"
        )
    return 0
