"""`carecycle audit ...`: replay a workflow's history against the current code, export histories."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from workers.cli.args import add_json, iso_date, non_empty, positive_int, read_text, writable_dir

if TYPE_CHECKING:
    from workers.settings import Settings


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    audit = subparsers.add_parser("audit", help="auditors: replay a workflow's history, export histories")
    commands = audit.add_subparsers(dest="audit_command", metavar="COMMAND")
    commands.required = True
    replay = commands.add_parser(
        "replay", help="replay a history against the current code; print a verdict and a readable timeline"
    )
    source = replay.add_mutually_exclusive_group(required=True)
    source.add_argument("workflow_id", nargs="?", type=non_empty, help="the workflow to fetch from Temporal")
    source.add_argument(
        "--history", type=Path, metavar="FILE", help="a history JSON file (from `audit export` or the Web UI)"
    )
    replay.add_argument("--run-id", type=non_empty, help="a specific run (default: the latest)")
    replay.add_argument("--json", action="store_true", help="print verdict and timeline as JSON")
    replay.set_defaults(handler=_replay)
    export = commands.add_parser("export", help="write closed workflows' histories as JSON files")
    export.add_argument(
        "--closed-since", type=iso_date, metavar="DATE", help="only workflows closed on/after YYYY-MM-DD"
    )
    export.add_argument(
        "--to", required=True, type=Path, metavar="DIR", help="folder to write into (created if missing)"
    )
    add_json(export)
    export.set_defaults(handler=_export)
    log = commands.add_parser("log", help="read the audit trail: sign-ins, PHI views, resolutions, account changes")
    log.add_argument("--actor", help="only this actor (a user name, cli:<os user>, workflow:<id>, ...)")
    log.add_argument("--action", help="only actions starting with this (phi.view, console_user., work_item.resolve)")
    log.add_argument("--entity-type", help="only this kind of record (claim, patient, console_user, workflow, ...)")
    log.add_argument("--entity-id", help="only this record")
    log.add_argument("--workflow-id", help="only events of this workflow")
    log.add_argument("--since", type=iso_date, metavar="DATE", help="on or after YYYY-MM-DD (UTC)")
    log.add_argument("--until", type=iso_date, metavar="DATE", help="on or before YYYY-MM-DD (UTC)")
    log.add_argument("--limit", type=positive_int, default=100, help="at most this many, newest first (default 100)")
    log.add_argument("--json", action="store_true", help="print as JSON")
    log.set_defaults(handler=_log)
    verify = commands.add_parser(
        "verify-log", help="check the audit trail's hash chain: exit 1 if a row was edited, deleted or inserted"
    )
    verify.add_argument("--json", action="store_true", help="print the verdict as JSON")
    verify.set_defaults(handler=_verify_log)
    verify = commands.add_parser(
        "verify-archive",
        help="check the history archive: every file against its manifest's checksum, every manifest's link",
    )
    verify.add_argument(
        "--archive",
        metavar="URL",
        help="file:///path or s3://bucket/prefix (default CARECYCLE_ARCHIVE_URL, else $CARECYCLE_HOME/archive)",
    )
    verify.add_argument("--json", action="store_true", help="print the result as JSON")
    verify.set_defaults(handler=_verify_archive)


def _replay(args: argparse.Namespace) -> int:
    import asyncio

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
            path = args.history
            text = read_text(path, "history file")
            try:
                history = read_history_file(path, text)
            except Exception:
                raise CommandFailed(f"{path} is not a workflow history JSON file") from None
        else:
            client = await connect(settings, keys=keys)
            try:
                history = await client.get_workflow_handle(args.workflow_id, run_id=args.run_id).fetch_history()
            except RPCError as exc:
                run = f" run {args.run_id}" if args.run_id else ""
                if exc.status == RPCStatusCode.NOT_FOUND:
                    raise CommandFailed(f"no workflow {args.workflow_id}{run}") from None
                if exc.status == RPCStatusCode.INVALID_ARGUMENT:
                    raise CommandFailed(f"Temporal refused workflow {args.workflow_id}{run}: {exc.message}") from None
                raise CommandFailed(f"Temporal could not return the history: {exc.message}") from None
        verdict = await replay(history, converter)
        timeline = [entry_json(e) for e in await build_timeline(history, converter)]
        _record_decoded_view(settings, history.workflow_id, "audit replay")
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


def _record_decoded_view(settings: Settings, workflow_id: str, command: str) -> None:
    """A decoded history holds PHI: its printing is an audit event (when the store is reachable: a history file
    read without one still says so in the log)."""
    import logging

    from sqlalchemy.exc import SQLAlchemyError

    from workers.cli.phi import record_phi_view
    from workers.composition import Container, StoreNotReady

    container = Container(settings)
    try:
        container.require_schema()
        record_phi_view(container, command, "workflow", workflow_id[:36], workflow_id=workflow_id)
    except (StoreNotReady, SQLAlchemyError):
        logging.getLogger("carecycle.cli").warning("a decoded history was printed without a store to audit it in")
    finally:
        container.close()


def _export(args: argparse.Namespace) -> int:
    import asyncio

    from workers.cli.output import print_json
    from workers.cli.stack import temporal_errors
    from workers.settings import load_settings
    from workers.temporal.client import connect
    from workers.temporal.replay import export_histories

    settings = load_settings()
    folder = writable_dir(args.to)

    async def run() -> list[Path]:
        client = await connect(settings)
        return await export_histories(client, folder, args.closed_since)

    with temporal_errors():
        written = asyncio.run(run())
    if args.json:
        print_json({"folder": str(folder), "exported": len(written), "files": [str(p) for p in written]})
        return 0
    print(f"exported {len(written)} workflow histories to {folder}")
    return 0


def _log(args: argparse.Namespace) -> int:
    from datetime import UTC, datetime, time, timedelta

    from domain.audit import AuditFilter, event_row, search_events
    from workers.cli.output import print_json, print_table
    from workers.composition import Container

    where = AuditFilter(
        actor=args.actor,
        action=args.action,
        entity_type=args.entity_type,
        entity_id=args.entity_id,
        workflow_id=args.workflow_id,
        since=datetime.combine(args.since, time.min, UTC) if args.since else None,
        until=datetime.combine(args.until, time.min, UTC) + timedelta(days=1) if args.until else None,
    )
    container = Container()
    try:
        container.require_schema()
        with container.uow() as uow:
            rows = [event_row(e) for e in search_events(uow.session, where, limit=args.limit)]
    finally:
        container.close()
    if args.json:
        print_json({"count": len(rows), "events": rows})
        return 0
    if not rows:
        print("no audit events match")
        return 0
    print_table(
        [
            [
                r["seq"],
                r["occurred_at"][:19].replace("T", " "),
                r["actor"],
                r["action"],
                f"{r['entity_type']} {r['entity_id']}",
                r["workflow_id"],
            ]
            for r in rows
        ],
        ["SEQ", "WHEN (UTC)", "ACTOR", "ACTION", "RECORD", "WORKFLOW"],
    )
    return 0


def _verify_log(args: argparse.Namespace) -> int:
    from domain.audit import verify_chain
    from workers.cli.output import print_json
    from workers.composition import Container

    container = Container()
    try:
        container.require_schema()
        with container.uow() as uow:
            verdict = verify_chain(uow.session)
    finally:
        container.close()
    if args.json:
        print_json(
            {
                "ok": verdict.ok,
                "rows": verdict.rows,
                "head_seq": verdict.head_seq,
                "head_hash": verdict.head_hash,
                "breaks": [{"seq": b.seq, "event_id": b.event_id, "problem": b.problem} for b in verdict.breaks],
            }
        )
        return 0 if verdict.ok else 1
    if verdict.ok:
        print(f"OK: {verdict.rows} audit events, hash chain intact; head {verdict.head_seq} {verdict.head_hash}")
        return 0
    print(f"BROKEN: {len(verdict.breaks)} problem(s) in {verdict.rows} audit events")
    for b in verdict.breaks:
        print(f"  {'end' if b.seq is None else b.seq}: {b.problem}")
    return 1


def _verify_archive(args: argparse.Namespace) -> int:
    from dataclasses import replace

    from workers.archive import ArchiveError, verify_archive
    from workers.archive_export import archive_for
    from workers.cli import CommandFailed
    from workers.cli.output import print_json
    from workers.settings import load_settings

    settings = load_settings()
    if args.archive:
        settings = replace(settings, archive_url=args.archive)
    try:
        report = verify_archive(archive_for(settings))
    except ArchiveError as exc:
        raise CommandFailed(str(exc)) from None
    if report.runs == 0 and report.ok:
        raise CommandFailed(f"no archive runs at {report.location} (has the history-archive flow run?)")
    if args.json:
        print_json(report.as_dict())
    else:
        for problem in report.problems:
            print(f"FAIL {problem}")
        for folder in report.as_dict()["unfinished_runs"]:
            print(f"note {folder}: a run that wrote no manifest (its window was archived again later)")
        verdict = "archive verified" if report.ok else "ARCHIVE DOES NOT VERIFY"
        print(f"{verdict}: {report.runs} runs, {report.files} files at {report.location}")
    return 0 if report.ok else 1
