"""The batch side's I/O: the ports of ``flows.batch`` over the store and the folders under ``CARECYCLE_HOME``,
and Prefect's settings for a run in this process. Which flows exist and when they run: workers.batch_plane.

Prefect keeps its own state (an SQLite database) under ``CARECYCLE_HOME/prefect``; the first run in a fresh
home starts and migrates that server, which takes some seconds. Reports go to ``CARECYCLE_HOME/reports``; the
remittance drop folder is ``CARECYCLE_HOME/inbound`` with ``processed/`` and ``failed/`` inside it.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from domain import models as m
from domain.aging import insurance_open_balances
from domain.claim_status import ClaimStatus
from flows.batch.aging import OpenBalance
from flows.batch.credentials import ExpiringCredential, ExpiringSet, ExpiringTraining
from flows.batch.visit_eligibility import VisitEligibilityResult
from workers.screening import ExclusionFiles
from workers.settings import Settings

# Claims billed to a payer and not settled: the insurance AR.
INSURANCE_AR_STATUSES = (
    ClaimStatus.SUBMITTED,
    ClaimStatus.ACKNOWLEDGED,
    ClaimStatus.ACCEPTED,
    ClaimStatus.REJECTED,
    ClaimStatus.PARTIALLY_PAID,
    ClaimStatus.DENIED,
    ClaimStatus.APPEALED,
)
# A credentialing item is due this long before the credential lapses (at least a day from now).
CREDENTIAL_LEAD = timedelta(days=14)

Poster = Callable[[str], Mapping[str, Any]]


class RemittancePostingFailed(Exception):
    """The posting step refused a remittance file; the message is the poster's one-line reason."""


def utc_today() -> date:
    return datetime.now(UTC).date()


# --- the store -----------------------------------------------------------------------------------------


def _active_staff_credentials(session: Session) -> Sequence[Any]:
    """Every dated, unrevoked credential of an active staff member."""
    return session.execute(
        select(
            m.Credential.id,
            m.Credential.staff_id,
            m.Credential.kind,
            m.Credential.issuer,
            m.Credential.expires_on,
        )
        .join(m.Staff, m.Staff.id == m.Credential.staff_id)
        .where(
            m.Staff.active.is_(True),
            m.Credential.expires_on.is_not(None),
            m.Credential.status != "revoked",
        )
    ).all()


def _active_staff_training(session: Session) -> Sequence[Any]:
    """Every training record of an active staff member, with its requirement's code."""
    return session.execute(
        select(
            m.TrainingRecord.id,
            m.TrainingRecord.staff_id,
            m.TrainingRequirement.code,
            m.TrainingRecord.expires_on,
        )
        .join(m.TrainingRequirement, m.TrainingRequirement.id == m.TrainingRecord.requirement_id)
        .join(m.Staff, m.Staff.id == m.TrainingRecord.staff_id)
        .where(m.Staff.active.is_(True))
    ).all()


def _latest(rows: Sequence[Any], key: Callable[[Any], tuple[str, ...]]) -> list[Any]:
    """Per key, the row that expires last (the first of equals, as read)."""
    latest: dict[tuple[str, ...], Any] = {}
    for row in rows:
        if key(row) not in latest or row.expires_on > latest[key(row)].expires_on:
            latest[key(row)] = row
    return list(latest.values())


class BatchStore:
    """The store queries and writes the batch flows need."""

    def __init__(self, session_factory: sessionmaker[Session]) -> None:
        self._session_factory = session_factory

    @contextlib.contextmanager
    def _session(self) -> Iterator[Session]:
        with self._session_factory() as session:
            yield session

    def find_expiring(self, as_of: date, within_days: int) -> ExpiringSet:
        horizon = as_of + timedelta(days=within_days)
        with self._session() as session:
            credentials = _active_staff_credentials(session)
            training = _active_staff_training(session)
        # Only the newest credential of a kind from an issuer counts: a renewal supersedes the old row.
        newest = _latest(credentials, lambda row: (row.staff_id, row.kind, row.issuer))
        latest_training = _latest(training, lambda record: (record.staff_id, record.code))
        return ExpiringSet(
            credentials=tuple(
                ExpiringCredential(
                    credential_id=row.id,
                    staff_id=row.staff_id,
                    kind=str(row.kind),
                    issuer=row.issuer,
                    expires_on=row.expires_on,
                    days_left=(row.expires_on - as_of).days,
                )
                for row in sorted(newest, key=lambda r: (r.expires_on, r.id))
                if row.expires_on <= horizon
            ),
            training=tuple(
                ExpiringTraining(
                    training_record_id=row.id,
                    staff_id=row.staff_id,
                    requirement_code=row.code,
                    expires_on=row.expires_on,
                    days_left=(row.expires_on - as_of).days,
                )
                for row in sorted(latest_training, key=lambda r: (r.expires_on, r.id))
                if row.expires_on <= horizon
            ),
        )

    def open_credential_work_item(self, credential: ExpiringCredential, as_of: date) -> bool:
        # The one way work items are opened (idempotent by dedupe key), shared with the workflows' activity.
        from activities.contracts.staff import credentialing_workflow_id
        from activities.contracts.workitems import OpenWorkItemInput
        from activities.workitems import WorkItemActivities
        from domain.staff import credential_item_key, credential_item_reason, credential_item_summary
        from domain.workitems import queue_of

        reason = credential_item_reason(credential.kind, credential.expires_on, as_of)
        earliest = datetime.combine(as_of, time(), tzinfo=UTC) + timedelta(days=1)
        due = max(earliest, datetime.combine(credential.expires_on - CREDENTIAL_LEAD, time(), tzinfo=UTC))
        opened = WorkItemActivities(self._session_factory).open(
            OpenWorkItemInput(
                # An expired one is shown as expired (the workflow escalates it when it adopts the item).
                reason=reason,
                queue=queue_of(reason).value,
                summary=credential_item_summary(credential.kind, credential.issuer, credential.expires_on, as_of),
                entity_type="credential",
                entity_id=credential.credential_id,
                # The staff member's StaffCredentialing workflow owns the item: it opens items under the same
                # business dedupe key, so it adopts this one (at its next read, or at once on the
                # credentials_changed signal) and a resolution goes to it (`carecycle staff start-tracking`).
                workflow_id=credentialing_workflow_id(credential.staff_id),
                dedupe_key=credential_item_key(credential.credential_id, credential.expires_on),
                sla_due_at=due,
                context={
                    "credential_id": credential.credential_id,
                    "staff_id": credential.staff_id,
                    "kind": credential.kind,
                    "expires_on": credential.expires_on.isoformat(),
                },
            )
        )
        return opened.created

    def open_balances(self, as_of: date) -> list[OpenBalance]:
        """The ledger's insurance AR by payer and date of service (domain.aging: the one source of payers' AR)."""
        grouped: dict[tuple[str, str, date], list[int]] = {}
        with self._session() as session:
            for balance in insurance_open_balances(session, as_of):
                key = (balance.payer_code, balance.payer_name, balance.date_of_service)
                entry = grouped.setdefault(key, [0, 0])
                entry[0] += 1
                entry[1] += balance.open_cents
        return [OpenBalance(payer, name, day, count, cents) for (payer, name, day), (count, cents) in grouped.items()]


# --- reports and the drop folder ---------------------------------------------------------------------


class Reports:
    """Report files under one folder, named by kind and day; written atomically (a reader never sees half)."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def _write(self, name: str, text: str) -> str:
        self.directory.mkdir(parents=True, exist_ok=True)
        target = self.directory / name
        partial = target.with_name(f".{target.name}.partial")
        partial.write_text(text, encoding="utf-8")
        partial.replace(target)
        return str(target)

    def write_json(self, kind: str, as_of: date, document: Mapping[str, Any]) -> str:
        return self._write(f"{kind}-{as_of.isoformat()}.json", json.dumps(document, indent=2, default=str) + "\n")

    def write_csv(self, kind: str, as_of: date, rows: Sequence[Mapping[str, Any]]) -> str:
        buffer = io.StringIO()
        if rows:
            writer = csv.DictWriter(buffer, fieldnames=list(rows[0]), lineterminator="\n")
            writer.writeheader()
            writer.writerows(rows)
        return self._write(f"{kind}-{as_of.isoformat()}.csv", buffer.getvalue())


class DropFolder:
    """An inbound folder of remittance files: pending -> .processing/ -> processed/ or failed/."""

    SUFFIX = ".835"

    def __init__(self, inbound: Path) -> None:
        self.inbound = inbound
        self.processing = inbound / ".processing"
        self.processed = inbound / "processed"
        self.failed = inbound / "failed"

    def pending(self) -> list[str]:
        if not self.inbound.is_dir():
            return []
        files = [p for p in self.inbound.iterdir() if p.is_file() and p.name.lower().endswith(self.SUFFIX)]
        return [p.name for p in sorted(files, key=lambda p: (p.stat().st_mtime, p.name))]

    def claim(self, name: str) -> str | None:
        self.processing.mkdir(parents=True, exist_ok=True)
        target = self.processing / name
        try:
            # A rename within one file system is atomic: of two sweeps, exactly one gets the file.
            (self.inbound / name).rename(target)
        except FileNotFoundError:
            return None
        return str(target)

    def put_back(self, claimed: str) -> str:
        """A claimed file back where the next sweep finds it (its posting could not be reached)."""
        source = Path(claimed)
        target = self.inbound / source.name
        source.rename(target)
        return str(target)

    def file_away(self, claimed: str, failure: str | None) -> str:
        source = Path(claimed)
        folder = self.processed if failure is None else self.failed
        folder.mkdir(parents=True, exist_ok=True)
        target = folder / source.name
        if target.exists():  # the same file name delivered again: keep both
            stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%f")
            target = folder / f"{source.stem}.{stamp}{source.suffix}"
        source.rename(target)
        if failure is not None:
            target.with_name(target.name + ".error.txt").write_text(failure + "\n", encoding="utf-8")
        return str(target)


def remittance_poster(wait_seconds: float = 300.0) -> Poster:
    """Posting as `carecycle remit post` does it: the file is handed to the PaymentPosting workflow
    (workers.remittances), which tells every waiting Claim workflow; returns what it posted.

    An unreadable file raises ``RemittancePostingFailed`` (the sweep files it under failed/); the workflow engine
    out of reach raises ``PostingDeferred`` (the file goes back to the inbound folder for the next sweep)."""

    def post(path: str) -> Mapping[str, Any]:
        from domain.errors import DomainError
        from flows.batch.remittance import PostingDeferred
        from workers.remittances import PostingNotFinished, deliver, read_835
        from workers.temporal.client import TemporalUnavailable

        text = Path(path).read_text(encoding="utf-8", errors="replace")
        try:
            return {"remittances": deliver(text, read_835(text), wait_seconds=wait_seconds)}
        except TemporalUnavailable as exc:
            raise PostingDeferred(str(exc)) from None
        except (DomainError, PostingNotFinished) as exc:
            raise RemittancePostingFailed(str(exc)) from None

    return post


# --- composition and running ---------------------------------------------------------------------------


@dataclass(frozen=True)
class BatchPaths:
    reports: Path
    inbound: Path
    prefect_home: Path
    exclusions: ExclusionFiles | None = None  # None: CARECYCLE_HOME/exclusions beside the reports

    @classmethod
    def of(cls, settings: Settings) -> BatchPaths:
        exclusions = ExclusionFiles(
            settings.home / "exclusions",
            Path(settings.oig_leie_file) if settings.oig_leie_file else None,
            Path(settings.sam_exclusions_file) if settings.sam_exclusions_file else None,
        )
        return cls(settings.home / "reports", settings.home / "inbound", settings.home / "prefect", exclusions)


@dataclass(frozen=True)
class VisitEligibilityWiring:
    """The nightly visit-eligibility batch's store query and 270/271 (workers.visit_eligibility)."""

    due: Callable[[date, int], Sequence[Any]]
    check: Callable[[str], VisitEligibilityResult]
    concurrency: int = 4


@contextlib.contextmanager
def prefect_local(paths: BatchPaths, log_level: str = "INFO", api_url: str | None = None) -> Iterator[None]:
    """Prefect with its state under CARECYCLE_HOME, analytics off, recording in ``api_url`` (a running Prefect
    server) or, without one, in its ephemeral in-process server over the same local database."""
    paths.prefect_home.mkdir(parents=True, exist_ok=True)
    # Prefect reads these when it is first imported, so that not even its profile lands outside CARECYCLE_HOME;
    # they are put back afterwards.
    names = ("PREFECT_HOME", "PREFECT_SERVER_ANALYTICS_ENABLED", "PREFECT_API_URL")
    saved = {name: os.environ.get(name) for name in names}
    os.environ["PREFECT_HOME"] = str(paths.prefect_home)
    os.environ["PREFECT_SERVER_ANALYTICS_ENABLED"] = "false"
    if api_url:
        os.environ["PREFECT_API_URL"] = api_url
    else:
        os.environ.pop("PREFECT_API_URL", None)
    try:
        with _prefect_settings(paths, log_level, api_url):
            yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


@contextlib.contextmanager
def _prefect_settings(paths: BatchPaths, log_level: str, api_url: str | None) -> Iterator[None]:
    from prefect.settings import (
        PREFECT_API_URL,
        PREFECT_HOME,
        PREFECT_LOGGING_LEVEL,
        PREFECT_SERVER_ANALYTICS_ENABLED,
        PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS,
        temporary_settings,
    )

    # ... and these hold even when it was imported earlier in the process (tests, the embedded stack). Without an
    # API URL, any one set earlier in the process is dropped: the ephemeral server is meant.
    with temporary_settings(
        restore_defaults=[] if api_url else [PREFECT_API_URL],
        updates={
            PREFECT_HOME: paths.prefect_home,
            PREFECT_SERVER_ANALYTICS_ENABLED: False,
            # The first start migrates a new database: slow on a busy machine.
            PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS: 180,
            PREFECT_LOGGING_LEVEL: log_level,
            **({PREFECT_API_URL: api_url} if api_url else {}),
        },
    ):
        yield


def stop_prefect_local() -> None:
    """Stop the ephemeral Prefect server this process started, if any.

    Prefect stops it at interpreter exit, but the ``carecycle`` entry point leaves through ``os._exit`` (see
    workers/cli), which skips exit handlers: without this the server process would outlive the command.
    """
    from prefect.logging.handlers import APILogWorker
    from prefect.server.api.server import SubprocessASGIServer

    APILogWorker.drain_all(timeout=5)  # the run's last log lines reach the server before it goes
    SubprocessASGIServer().stop()
