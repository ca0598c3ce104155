"""`carecycle audit ...`: replay a workflow's history against the current code, export histories."""

from __future__ import annotations

import argparse
from datetime import date


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {text!r}") from None


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    audit = subparsers.add_parser("audit", help="auditors: replay a workflow's history, export histories")
    commands = audit.add_subparsers(dest="audit_command", metavar="COMMAND")
    commands.required = True
    replay = commands.add_parser(
        "replay", help="replay a history against the current code; print a verdict and a readable timeline"
    )
    source = replay.add_mutually_exclusive_group(required=True)
    source.add_argument("workflow_id", nargs="?", help="the workflow to fetch from Temporal")
    source.add_argument("--history", metavar="FILE", help="a history JSON file (from `audit export` or the Web UI)")
    replay.add_argument("--run-id", help="a specific run (default: the latest)")
    replay.add_argument("--json", action="store_true", help="print verdict and timeline as JSON")
    replay.set_defaults(handler=_replay)
    export = commands.add_parser("export", help="write closed workflows' histories as JSON files")
    export.add_argument("--closed-since", type=_date, metavar="DATE", help="only workflows closed on/after YYYY-MM-DD")
    export.add_argument("--to", required=True, metavar="DIR", help="directory to write into")
    export.set_defaults(handler=_export)


def _replay(args: argparse.Namespace) -> int:
    import asyncio
    from pathlib import Path

    from temporalio.client import WorkflowHistory
    from temporalio.service import RPCError, RPCStatusCode

    from console.history import build_timeline, entry_json, format_value
    from workers.cli import CommandFailed
    from workers.cli.output import print_json
    from workers.cli.stack import temporal_errors
    from workers.security.codec import encrypted_data_converter
    from workers.security.keys import load_keys
    from workers.settings import load_settings
    from workers.temporal.client import connect
    from workers.temporal.replay import ReplayVerdict, read_history_file, replay

    settings = load_settings()

    async def run() -> tuple[ReplayVerdict, list[dict[str, object]], str]:
        keys = load_keys(settings)
        converter = encrypted_data_converter(keys)
        history: WorkflowHistory
        if args.history:
            path = Path(args.history)
            if not path.is_file():
                raise CommandFailed(f"no history file {path}")
            try:
                history = read_history_file(path)
            except Exception:
                raise CommandFailed(f"{path} is not a workflow history JSON file") from None
        else:
            client = await connect(settings, keys=keys)
            try:
                history = await client.get_workflow_handle(args.workflow_id, run_id=args.run_id).fetch_history()
            except RPCError as exc:
                if exc.status == RPCStatusCode.NOT_FOUND:
                    raise CommandFailed(f"no workflow {args.workflow_id}") from None
                raise
        verdict = await replay(history, converter)
        timeline = [entry_json(e) for e in await build_timeline(history, converter)]
        return verdict, timeline, history.workflow_id

    with temporal_errors():
        verdict, timeline, workflow_id = asyncio.run(run())
    if args.json:
        print_json({"workflow_id": workflow_id, "ok": verdict.ok, "failure": verdict.failure, "timeline": timeline})
        return 0 if verdict.ok else 1
    print(verdict.text)
    print()
    for entry in timeline:
        print(f"{entry['at']}  #{entry['event_id']:<4} {entry['title']}")
        for key in ("input", "args", "result", "failure"):
            if key in entry and entry[key] not in ([], None, ""):
                print(f"{'':>30}{key}: {format_value(entry[key])}")
    return 0 if verdict.ok else 1


def _export(args: argparse.Namespace) -> int:
    import asyncio
    from pathlib import Path

    from workers.cli.stack import temporal_errors
    from workers.settings import load_settings
    from workers.temporal.client import connect
    from workers.temporal.replay import export_histories

    settings = load_settings()

    async def run() -> list[Path]:
        client = await connect(settings)
        return await export_histories(client, Path(args.to), args.closed_since)

    with temporal_errors():
        written = asyncio.run(run())
    print(f"exported {len(written)} workflow histories to {args.to}")
    return 0
