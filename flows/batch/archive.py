"""History archive: closed workflow histories (still encrypted) and the audit log, written once, with a manifest.

Each run takes the window from where the archive's newest manifest ends (the beginning, the first time) to a
little before now (visibility settles in that time), exports the histories of the workflows closed in it and the
audit rows recorded in it, then writes the manifest of checksums that makes the run count. A run that fails half
way writes no manifest: its files are reported as unfinished by the verification and the next run covers the
same window again.
"""

# No `from __future__ import annotations`: a served flow is pickled into a process of its own, and Prefect
# reads its parameters' types from the function, so they must be objects, not names to look up there.

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from prefect import Flow, flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE

from flows.batch import HISTORY_ARCHIVE

SETTLE = timedelta(minutes=2)  # closed workflows show up in visibility within this


@dataclass(frozen=True)
class ArchivedEntry:
    path: str
    sha256: str
    bytes: int


@dataclass(frozen=True)
class Exported:
    files: tuple[ArchivedEntry, ...]
    count: int  # histories, or audit rows


@dataclass(frozen=True)
class ArchivePorts:
    window_start: Callable[[], datetime | None]  # where the newest manifest's window ends; None: nothing archived
    now: Callable[[], datetime]
    # (run stamp, window from, window to) -> the files written
    export_histories: Callable[[str, datetime | None, datetime], Exported]
    export_audit: Callable[[str, datetime | None, datetime], Exported]
    # (run stamp, from, to, counts, files) -> where the manifest went
    write_manifest: Callable[[str, datetime | None, datetime, dict[str, int], Sequence[ArchivedEntry]], str]
    stamp: Callable[[datetime], str]


@dataclass(frozen=True)
class ArchiveSummary:
    window_from: datetime | None
    window_to: datetime
    histories: int
    audit_rows: int
    manifest: str


def build_history_archive(ports: ArchivePorts) -> Flow[..., ArchiveSummary]:
    retrying: dict[str, Any] = {"cache_policy": NO_CACHE, "retries": 2, "retry_delay_seconds": 30}
    window_start = task(name="archive.window_start", **retrying)(ports.window_start)
    export_histories = task(name="archive.export_histories", **retrying)(ports.export_histories)
    export_audit = task(name="archive.export_audit", **retrying)(ports.export_audit)
    write_manifest = task(name="archive.write_manifest", **retrying)(ports.write_manifest)

    @flow(name=HISTORY_ARCHIVE.name, description=HISTORY_ARCHIVE.description)
    def history_archive() -> ArchiveSummary:
        logger = get_run_logger()
        since = window_start()
        until = ports.now() - SETTLE
        if since is not None and until <= since:
            until = since  # nothing new to cover yet: an empty run keeps the chain going
        stamp = ports.stamp(until)
        histories = export_histories(stamp, since, until)
        audit = export_audit(stamp, since, until)
        counts = {"histories": histories.count, "audit_rows": audit.count}
        manifest = write_manifest(stamp, since, until, counts, [*histories.files, *audit.files])
        logger.info("archive run %s: %d histories, %d audit rows", stamp, histories.count, audit.count)
        return ArchiveSummary(since, until, histories.count, audit.count, manifest)

    return history_archive
