"""The history-archive flow's ports: what goes into a run of the archive (workers.archive) and from where.

Histories come from Temporal (``fetch_history``: the payloads stay encrypted, nothing is decoded); audit rows
from the store's ``audit_events`` table, every column as stored (the table may grow columns, such as a hash
chain: they are exported as they are). Both are selected by the run's window, half-open: ``from <= t < to``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from domain import models as m
from flows.batch.archive import ArchivedEntry, Exported
from workers.archive import ArchivedFile, ArchiveStorage, RunWriter, audit_rows_jsonl, open_archive, run_stamp
from workers.settings import Settings

AUDIT_FILE = "audit-events.jsonl"


def archive_for(settings: Settings) -> ArchiveStorage:
    return open_archive(
        settings.archive_location,
        retention_days=settings.archive_retention_days,
        endpoint_url=settings.s3_endpoint_url,
        region=settings.s3_region,
        kms_key_id=settings.s3_kms_key_id,
    )


def _utc_z(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class ArchiveExport:
    """Opens the archive (and Temporal, and the store) on first use: the object crosses into a run's process."""

    def __init__(self, settings: Settings, sessions: sessionmaker[Session]) -> None:
        self.settings = settings
        self.sessions = sessions

    def storage(self) -> ArchiveStorage:
        return archive_for(self.settings)

    def window_start(self) -> datetime | None:
        from workers.archive import next_window_start

        return next_window_start(self.storage())

    def stamp(self, window_to: datetime) -> str:
        return run_stamp(window_to)

    def export_histories(self, stamp: str, since: datetime | None, until: datetime) -> Exported:
        return asyncio.run(self._export_histories(stamp, since, until))

    async def _export_histories(self, stamp: str, since: datetime | None, until: datetime) -> Exported:
        from workers.temporal.client import connect
        from workers.temporal.replay import history_file_name

        writer = RunWriter(self.storage(), stamp)
        client = await connect(self.settings)
        query = f'ExecutionStatus != "Running" AND CloseTime < "{_utc_z(until)}"'
        if since is not None:
            query += f' AND CloseTime >= "{_utc_z(since)}"'
        entries: list[ArchivedEntry] = []
        async for execution in client.list_workflows(query):
            history = await client.get_workflow_handle(execution.id, run_id=execution.run_id).fetch_history()
            name = "histories/" + history_file_name(execution.id, execution.run_id)
            entries.append(_entry(await asyncio.to_thread(writer.write, name, history.to_json().encode())))
        return Exported(tuple(entries), len(entries))

    def export_audit(self, stamp: str, since: datetime | None, until: datetime) -> Exported:
        table = m.AuditEvent.__table__
        query = select(table).where(table.c.occurred_at < until).order_by(table.c.occurred_at, table.c.id)
        if since is not None:
            query = query.where(table.c.occurred_at >= since)
        with self.sessions() as session:
            rows: list[dict[str, Any]] = [dict(row._mapping) for row in session.execute(query)]
        data, count = audit_rows_jsonl(iter(rows))
        entry = RunWriter(self.storage(), stamp).write(AUDIT_FILE, data)
        return Exported((_entry(entry),), count)

    def write_manifest(
        self,
        stamp: str,
        since: datetime | None,
        until: datetime,
        counts: dict[str, int],
        files: Sequence[ArchivedEntry],
    ) -> str:
        writer = RunWriter(self.storage(), stamp, [ArchivedFile(f.path, f.sha256, f.bytes) for f in files])
        writer.finish(since, until, counts)
        return f"{writer.storage.location.rstrip('/')}/{writer.folder}manifest.json"


def _entry(written: ArchivedFile) -> ArchivedEntry:
    return ArchivedEntry(written.path, written.sha256, written.bytes)
