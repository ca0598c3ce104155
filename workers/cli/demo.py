"""`carecycle demo`: the main job, a synthetic practice through the whole revenue cycle on the embedded stack."""

from __future__ import annotations

import argparse
import sys

from workers.cli import non_negative_int, positive_int


def _seconds_per_day(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if not 0.05 <= value <= 86400:
        raise argparse.ArgumentTypeError("seconds per business day must be between 0.05 and 86400")
    return value


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from workers.demo import DEFAULT_PATIENTS, DEFAULT_SEED, DEFAULT_TIME_SCALE

    demo = subparsers.add_parser(
        "demo",
        help="run a synthetic practice through the whole revenue cycle (embedded stack, sandbox payers)",
        description="Brings up the embedded stack in CARECYCLE_HOME, seeds the synthetic practice if the store is "
        "empty, and runs every patient's journey (registration, eligibility, coding, claim, remittance, "
        "posting, collections) with the sandbox adjudicating. Ends with a summary.",
    )
    demo.add_argument(
        "--patients", type=positive_int, default=DEFAULT_PATIENTS, help="patients to seed (default %(default)s)"
    )
    demo.add_argument("--seed", type=non_negative_int, default=DEFAULT_SEED, help="seed of the practice and the payers")
    demo.add_argument(
        "--time-scale",
        type=_seconds_per_day,
        default=DEFAULT_TIME_SCALE,
        metavar="SECONDS_PER_DAY",
        help="real seconds per business day (default %(default)s)",
    )
    demo.add_argument("--auto-resolve", action="store_true", help="a scripted biller resolves the work items")
    demo.add_argument("--json", action="store_true", help="print one JSON object (the summary) only")
    demo.add_argument("--external-workers", action="store_true", help=argparse.SUPPRESS)
    demo.add_argument("--max-seconds", type=float, default=170.0, help=argparse.SUPPRESS)
    demo.set_defaults(handler=_demo)


def _demo(args: argparse.Namespace) -> int:
    import asyncio

    from workers.cli.output import print_json
    from workers.cli.stack import temporal_errors
    from workers.demo import DemoOptions, Progress, run_demo
    from workers.logging import configure_logging
    from workers.settings import load_settings

    settings = load_settings()
    settings.logs_dir.mkdir(parents=True, exist_ok=True)
    # The terminal shows progress and the summary; the structured logs (no PHI) go to a file.
    log_file = (settings.logs_dir / "demo.log").open("a", encoding="utf-8")
    configure_logging("demo", settings.log_level, stream=log_file)
    options = DemoOptions(
        patients=args.patients,
        seed=args.seed,
        time_scale=args.time_scale,
        auto_resolve=args.auto_resolve,
        run_workers=not args.external_workers,
        max_seconds=args.max_seconds,
    )

    def show(progress: Progress) -> None:
        if args.json:
            return
        items = ", ".join(f"{q} {n}" for q, n in sorted(progress.open_items.items())) or "none"
        sys.stderr.write(
            f"\rjourneys {progress.completed}/{progress.started} done, {progress.waiting} in flight, "
            f"{progress.failed} failed | open work items: {items} | resolved {progress.resolved}   "
        )
        sys.stderr.flush()

    try:
        with temporal_errors():
            summary = asyncio.run(run_demo(settings, options, show))
    finally:
        log_file.flush()
    if args.json:
        print_json(summary)
        return 0
    sys.stderr.write("\n")
    journeys = summary["journeys"]
    print(f"carecycle demo: {summary['patients']} patients, seed {summary['seed']}, {summary['elapsed_seconds']} s")
    print(
        f"journeys: {journeys['started']} started, {journeys['completed']} completed, "
        f"{journeys['waiting']} waiting, {journeys['failed']} failed"
    )
    print("claims by status: " + ", ".join(f"{k} {v}" for k, v in summary["claims_by_status"].items()))
    from domain.money import format_cents

    print(f"payments posted: {format_cents(summary['payments_posted_cents'])}")
    print(f"patient balances: {format_cents(summary['patient_balance_cents'])}")
    print(f"statements sent: {summary['statements_sent']}, remittances posted: {summary['remittances_posted']}")
    open_items = summary["open_work_items"]
    print("open work items: " + (", ".join(f"{q} {n}" for q, n in open_items.items()) or "none"))
    for item in summary["waiting_on"][:20]:
        where = f"{item['queue']}/{item['reason']}"
        print(f"  waiting: {item['workflow_id']} on {where} (carecycle tasks show {item['work_item_id']})")
    print(f"ledger balanced: {'yes' if summary['ledger_balanced'] else 'NO'}")
    for name, url in summary["ui"].items():
        print(f"{name}: {url}")
    return 0
