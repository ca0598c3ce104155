"""`carecycle demo`: the main job, a synthetic practice through the whole revenue cycle on the embedded stack."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from workers.cli import CommandFailed
from workers.cli.args import add_json, float_range, int_range, non_negative_int, seconds_per_day

if TYPE_CHECKING:
    from workers.demo import Progress
    from workers.settings import Settings


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from workers.demo import DEFAULT_PATIENTS, DEFAULT_SEED, DEFAULT_TIME_SCALE

    demo = subparsers.add_parser(
        "demo",
        help="run a synthetic practice through the whole revenue cycle (embedded stack, sandbox payers)",
        description="Brings up the embedded stack in a home of its own ($CARECYCLE_HOME/demo: its own SQLite "
        "store, Temporal dev server and sandbox; CARECYCLE_DATABASE_URL, TEMPORAL_ADDRESS and the practice's "
        "clearinghouse, portals and bucket are not used), seeds the synthetic practice if the store is empty, and "
        "runs every patient's journey (registration, eligibility, coding, claim, remittance, posting, collections) "
        "with the sandbox adjudicating, at the compressed speed of --time-scale. Ends with a summary and how to "
        "look at what it did.",
    )
    demo.add_argument(
        "--patients", type=int_range(1, 5000), default=DEFAULT_PATIENTS, help="patients to seed (default %(default)s)"
    )
    demo.add_argument("--seed", type=non_negative_int, default=DEFAULT_SEED, help="seed of the practice and the payers")
    demo.add_argument(
        "--time-scale",
        type=seconds_per_day,
        default=DEFAULT_TIME_SCALE,
        metavar="SECONDS_PER_DAY",
        help="real seconds per business day (default %(default)s)",
    )
    demo.add_argument(
        "--home",
        type=Path,
        default=None,
        metavar="DIR",
        help="the demo's own home (default $CARECYCLE_HOME/demo); never a practice's home",
    )
    demo.add_argument("--auto-resolve", action="store_true", help="a scripted biller resolves the work items")
    add_json(demo, "print one JSON object (the summary) only")
    demo.add_argument("--external-workers", action="store_true", help=argparse.SUPPRESS)
    demo.add_argument("--max-seconds", type=float_range(1, 86400), default=None, help=argparse.SUPPRESS)
    demo.set_defaults(handler=_demo, serves=True)


def _demo(args: argparse.Namespace) -> int:
    import asyncio

    from workers.cli.output import print_json
    from workers.cli.stack import temporal_errors
    from workers.demo import DemoOptions, run_demo
    from workers.logs import configure_logging

    settings = _demo_home_settings(args)
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
    try:
        with temporal_errors():
            summary = asyncio.run(run_demo(settings, options, None if args.json else _show_progress))
    finally:
        log_file.flush()
    summary["look_again"] = _look_again(settings.home, args.time_scale)
    if args.json:
        print_json(summary)
        return 0
    sys.stderr.write("\n")
    _print_summary(summary, settings, args.time_scale)
    return 0


def _demo_home_settings(args: argparse.Namespace) -> Settings:
    """The demo's own home (never the practice's), prepared, with its compressed clock recorded."""
    from workers.clock import clock_for_demo, demo_home
    from workers.demo import demo_settings
    from workers.settings import load_settings, prepare_home

    practice = load_settings()
    home = args.home.resolve() if args.home is not None else demo_home(practice.home)
    if home == practice.home and args.home is not None:
        raise CommandFailed("--home names CARECYCLE_HOME itself: the demo runs only in a home of its own")
    settings = demo_settings(practice, home, args.time_scale)
    prepare_home(settings, settings.logs_dir)
    clock_for_demo(settings.home, args.time_scale, settings.database_url)
    return settings


def _show_progress(progress: Progress) -> None:
    items = ", ".join(f"{q} {n}" for q, n in sorted(progress.open_items.items())) or "none"
    sys.stderr.write(
        f"\rjourneys {progress.completed}/{progress.started} done, {progress.waiting} in flight, "
        f"{progress.failed} failed | open work items: {items} | resolved {progress.resolved}   "
    )
    sys.stderr.flush()


def _what_runs(running: dict[str, Any]) -> str:
    """A running workflow in one line: its stage, what it has in flight, and its children the same way."""
    doing = [f"{a['type']} (attempt {a['attempt']}, {a['state'].lower()})" for a in running["activities"]]
    if running["workflow_task_pending"]:
        doing.append("a workflow task")
    children = [_what_runs(child) for child in running["children"] if isinstance(child, dict)]
    text = f"{running['workflow_id']} [{running['stage'] or 'no stage'}]: " + (
        ", ".join(doing) or "a timer or a person"
    )
    return text + "".join(f" -> {child}" for child in children)


def _print_summary(summary: dict[str, Any], settings: Settings, time_scale: float) -> None:
    from domain.money import format_cents

    journeys = summary["journeys"]
    print(f"carecycle demo: {summary['patients']} patients, seed {summary['seed']}, {summary['elapsed_seconds']} s")
    print(
        f"journeys: {journeys['started']} started, {journeys['completed']} completed, "
        f"{journeys['waiting']} waiting, {journeys['failed']} failed"
    )
    print("claims by status: " + ", ".join(f"{k} {v}" for k, v in summary["claims_by_status"].items()))
    print(f"payments posted: {format_cents(summary['payments_posted_cents'])}")
    print(f"patient balances: {format_cents(summary['patient_balance_cents'])}")
    print(f"statements sent: {summary['statements_sent']}, remittances posted: {summary['remittances_posted']}")
    open_items = summary["open_work_items"]
    print("open work items: " + (", ".join(f"{q} {n}" for q, n in open_items.items()) or "none"))
    for item in summary["waiting_on"][:20]:
        where = f"{item['queue']}/{item['reason']}"
        print(f"  waiting: {item['workflow_id']} on {where} (carecycle tasks show {item['work_item_id']})")
    for running in summary["journeys"].get("running", [])[:10]:
        print(f"  still running: {_what_runs(running)}")
    visits = summary["visits"]
    print(
        f"visits through the front door: {visits['in_person']} in person, {visits['virtual']} virtual; "
        f"in-person no-shows {visits['no_shows']}, virtual no-shows {visits['virtual_no_shows']}, "
        f"audio-only {visits['audio_only']}, licensure blocks resolved by "
        f"reassignment {visits['licensure_blocks_resolved_by_reassignment']}"
    )
    print(f"ledger balanced: {'yes' if summary['ledger_balanced'] else 'NO'}")
    print(f"home: {settings.home} (its own store and workflows, {time_scale:g} s per business day)")
    print(f"the demo's servers have stopped; to look at what it did (Web UI, console): {summary['look_again']}")


def _look_again(home: Path, time_scale: float) -> str:
    import shlex

    return f"CARECYCLE_HOME={shlex.quote(str(home))} carecycle up --time-scale {time_scale:g}"
