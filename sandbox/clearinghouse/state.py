"""The clearinghouse's own records: one stdlib sqlite3 file under the sandbox state directory.

It is an outside system, so it keeps nothing in the platform's store. One connection guarded by a lock:
uvicorn serves sync endpoints from a thread pool and the scheduler runs in another thread.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from sandbox.clearinghouse.model import Member

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS members (
    payer_id TEXT NOT NULL, member_id TEXT NOT NULL, data TEXT NOT NULL,
    PRIMARY KEY (payer_id, member_id));
CREATE TABLE IF NOT EXISTS accumulators (
    payer_id TEXT NOT NULL, member_id TEXT NOT NULL, plan_year INTEGER NOT NULL,
    deductible_met_cents INTEGER NOT NULL, PRIMARY KEY (payer_id, member_id, plan_year));
CREATE TABLE IF NOT EXISTS submissions (
    id TEXT PRIMARY KEY, received_at TEXT NOT NULL, channel TEXT NOT NULL, status TEXT NOT NULL,
    claims INTEGER NOT NULL, accepted INTEGER NOT NULL, x12 TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS claims (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    submission_id TEXT NOT NULL, claim_id TEXT NOT NULL, payer_id TEXT NOT NULL, member_id TEXT NOT NULL,
    frequency TEXT NOT NULL, charge_cents INTEGER NOT NULL, service_date TEXT,
    status TEXT NOT NULL, rejection TEXT, payer_claim_number TEXT,
    received_at TEXT NOT NULL, due_at TEXT, released_at TEXT, remittance_id TEXT,
    payment TEXT, submitted TEXT, follow_up TEXT, follow_up_due_at TEXT);
CREATE INDEX IF NOT EXISTS ix_claims_claim ON claims (claim_id);
CREATE INDEX IF NOT EXISTS ix_claims_icn ON claims (payer_claim_number);
CREATE INDEX IF NOT EXISTS ix_claims_due ON claims (status, due_at);
CREATE TABLE IF NOT EXISTS documents (
    id TEXT PRIMARY KEY, seq INTEGER NOT NULL, kind TEXT NOT NULL, created_at TEXT NOT NULL,
    batch_id TEXT, payer_id TEXT, receiver TEXT, delivered_at TEXT, x12 TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS ix_documents_kind ON documents (kind, delivered_at);
"""


@dataclass(frozen=True)
class StoredDocument:
    id: str
    kind: str  # 999, 277CA, 835, 271, 277
    created_at: datetime
    batch_id: str | None
    payer_id: str | None
    receiver: str | None
    x12: str
    delivered: bool

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "kind": self.kind,
            "created_at": self.created_at.isoformat(),
            "batch_id": self.batch_id,
            "payer_id": self.payer_id,
            "delivered": self.delivered,
            "x12": self.x12,
        }


class ClearinghouseState:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._lock = threading.RLock()
        self._db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        self._db.row_factory = sqlite3.Row
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA busy_timeout=5000")
        self._db.executescript(_SCHEMA)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One write transaction: everything a submission or a release does commits or nothing does."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def query(self, sql: str, params: tuple[Any, ...] = ()) -> list[sqlite3.Row]:
        with self._lock:
            return list(self._db.execute(sql, params).fetchall())

    # --- meta: clock offset and counters -------------------------------------------------------------

    def get_meta(self, key: str, default: str | None = None) -> str | None:
        rows = self.query("SELECT value FROM meta WHERE key = ?", (key,))
        return str(rows[0]["value"]) if rows else default

    def set_meta(self, db: sqlite3.Connection, key: str, value: str) -> None:
        db.execute(
            "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            (key, value),
        )

    def next_counter(self, db: sqlite3.Connection, name: str, start: int = 1) -> int:
        row = db.execute("SELECT value FROM meta WHERE key = ?", (f"counter:{name}",)).fetchone()
        value = int(row["value"]) + 1 if row else start
        self.set_meta(db, f"counter:{name}", str(value))
        return value

    def clock_offset(self) -> timedelta:
        return timedelta(seconds=float(self.get_meta("clock_offset_seconds", "0") or 0))

    def advance_clock(self, delta: timedelta) -> timedelta:
        with self.transaction() as db:
            offset = self.clock_offset() + delta
            self.set_meta(db, "clock_offset_seconds", repr(offset.total_seconds()))
        return offset

    # --- roster ------------------------------------------------------------------------------------

    def upsert_members(self, members: list[Member], *, replace_payers: set[str] | None = None) -> int:
        with self.transaction() as db:
            for payer in sorted(replace_payers or ()):
                db.execute("DELETE FROM members WHERE payer_id = ?", (payer,))
            db.executemany(
                "INSERT INTO members (payer_id, member_id, data) VALUES (?, ?, ?) "
                "ON CONFLICT(payer_id, member_id) DO UPDATE SET data = excluded.data",
                [(m.payer_id, m.member_id, json.dumps(m.to_json())) for m in members],
            )
        return len(members)

    def member(self, payer_id: str, member_id: str) -> Member | None:
        rows = self.query(
            "SELECT data FROM members WHERE payer_id = ? AND member_id = ?", (payer_id.upper(), member_id.strip())
        )
        return Member.from_json(json.loads(rows[0]["data"])) if rows else None

    def member_count(self) -> dict[str, int]:
        rows = self.query("SELECT payer_id, count(*) AS n FROM members GROUP BY payer_id ORDER BY payer_id")
        return {str(r["payer_id"]): int(r["n"]) for r in rows}

    def deductible_met(self, payer_id: str, member_id: str, plan_year: int) -> int:
        rows = self.query(
            "SELECT deductible_met_cents FROM accumulators WHERE payer_id = ? AND member_id = ? AND plan_year = ?",
            (payer_id, member_id, plan_year),
        )
        return int(rows[0]["deductible_met_cents"]) if rows else 0

    def add_deductible(self, db: sqlite3.Connection, payer_id: str, member_id: str, plan_year: int, cents: int) -> None:
        db.execute(
            "INSERT INTO accumulators (payer_id, member_id, plan_year, deductible_met_cents) VALUES (?, ?, ?, ?) "
            "ON CONFLICT(payer_id, member_id, plan_year) "
            "DO UPDATE SET deductible_met_cents = deductible_met_cents + excluded.deductible_met_cents",
            (payer_id, member_id, plan_year, cents),
        )

    # --- documents: the mailbox ---------------------------------------------------------------------

    def add_document(
        self,
        db: sqlite3.Connection,
        kind: str,
        x12: str,
        created_at: datetime,
        *,
        batch_id: str | None = None,
        payer_id: str | None = None,
        receiver: str | None = None,
        delivered: bool = False,
    ) -> str:
        seq = self.next_counter(db, "document")
        document_id = f"{kind.lower()}-{seq:08d}"
        db.execute(
            "INSERT INTO documents (id, seq, kind, created_at, batch_id, payer_id, receiver, delivered_at, x12) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                document_id,
                seq,
                kind,
                created_at.isoformat(),
                batch_id,
                payer_id,
                receiver,
                created_at.isoformat() if delivered else None,
                x12,
            ),
        )
        return document_id

    def documents(
        self,
        kinds: tuple[str, ...],
        *,
        include_delivered: bool = False,
        batch_id: str | None = None,
        receivers: tuple[str, ...] | None = None,
        exclude_receivers: tuple[str, ...] = (),
        limit: int | None = None,
    ) -> list[StoredDocument]:
        marks = ",".join("?" for _ in kinds)
        sql = f"SELECT * FROM documents WHERE kind IN ({marks})"
        params: list[Any] = list(kinds)
        if not include_delivered:
            sql += " AND delivered_at IS NULL"
        if batch_id is not None:
            sql += " AND batch_id = ?"
            params.append(batch_id)
        if receivers is not None:
            sql += f" AND receiver IN ({','.join('?' for _ in receivers) or 'NULL'})"
            params.extend(receivers)
        if exclude_receivers:
            sql += f" AND coalesce(receiver, '') NOT IN ({','.join('?' for _ in exclude_receivers)})"
            params.extend(exclude_receivers)
        sql += " ORDER BY seq"
        if limit is not None:
            sql += " LIMIT ?"
            params.append(limit)
        return [_document(r) for r in self.query(sql, tuple(params))]

    def document(self, document_id: str) -> StoredDocument | None:
        rows = self.query("SELECT * FROM documents WHERE id = ?", (document_id,))
        return _document(rows[0]) if rows else None

    def mark_delivered(self, document_ids: list[str], at: datetime) -> int:
        with self.transaction() as db:
            changed = 0
            for document_id in document_ids:
                cursor = db.execute(
                    "UPDATE documents SET delivered_at = ? WHERE id = ? AND delivered_at IS NULL",
                    (at.isoformat(), document_id),
                )
                changed += cursor.rowcount
        return changed


def _document(row: sqlite3.Row) -> StoredDocument:
    return StoredDocument(
        id=str(row["id"]),
        kind=str(row["kind"]),
        created_at=datetime.fromisoformat(str(row["created_at"])),
        batch_id=row["batch_id"],
        payer_id=row["payer_id"],
        receiver=row["receiver"],
        x12=str(row["x12"]),
        delivered=row["delivered_at"] is not None,
    )


class SandboxClock:
    """Sandbox time: the wall clock plus an offset an admin can advance (the demo skips ahead in days).

    ``time_scale`` is real seconds per sandbox day for waiting periods (adjudication delays): 86400 is real
    time, 2 makes a 14-day adjudication take 28 seconds, 0 releases at once.
    """

    def __init__(self, state: ClearinghouseState, time_scale: float) -> None:
        if time_scale < 0:
            raise ValueError("time scale must not be negative")
        self.state = state
        self.time_scale = time_scale

    def now(self) -> datetime:
        return datetime.now(UTC) + self.state.clock_offset()

    def today(self) -> date:
        return self.now().date()

    def after_days(self, start: datetime, days: int) -> datetime:
        return start + timedelta(seconds=days * self.time_scale)
