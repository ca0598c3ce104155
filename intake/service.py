"""The intake service: units of work over the store, and the dispatch of the processes they queued."""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Callable, Iterable, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Generic, TypeVar

from sqlalchemy import Engine, select, text, update
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from domain import audit
from domain import models as m
from domain.actors import acting_as, current_actor
from domain.errors import DomainError
from domain.store.engine import one_writer
from domain.store.uow import UnitOfWork
from intake import appointments, merge, patients, rows, visits
from intake.commands import (
    Actor,
    BusinessId,
    Command,
    MergePatients,
    RecordCharge,
    RecordCondition,
    RecordCoverage,
    RecordEncounter,
    Ref,
    RegisterPatient,
    ScheduleAppointment,
    StartVisit,
)
from intake.context import UnitContext
from intake.errors import InvalidEvent
from intake.outcomes import DispatchReport, Kind, Outcome
from intake.processes import PendingStart, ProcessStarter
from intake.records import find_identifier, prefetch_identifiers

log = logging.getLogger("carecycle.intake")

T = TypeVar("T")


class Busy(DomainError):
    """The store stayed busy (or another writer kept winning the same identifier) through every attempt."""

    code = "busy"


@dataclass(frozen=True)
class Applied(Generic[T]):
    """What a committed unit returned, and the process starts it queued (ids of ``ProcessStart`` rows)."""

    result: T
    start_ids: tuple[str, ...]
    starts: tuple[PendingStart, ...] = ()  # the queued starts themselves: ``dispatch(pending=...)`` reads nothing


class IntakeUnit:
    """One transaction of intake work: every command in it is written, or none is.

    Encounters sent FINISHED are closed for billing when the unit commits, so a transaction can carry an
    encounter and the charges recorded against it in any order."""

    def __init__(self, ctx: UnitContext) -> None:
        self._ctx = ctx

    @property
    def session(self) -> Session:
        """The unit's session, for a door that reads what it just wrote (e.g. to answer with the record)."""
        return self._ctx.session

    @property
    def actor(self) -> Actor:
        return self._ctx.actor

    def handle(self, command: Command | StartVisit) -> Outcome:
        if isinstance(command, RegisterPatient):
            return self.register_patient(command)
        if isinstance(command, RecordCoverage):
            return self.record_coverage(command)
        if isinstance(command, ScheduleAppointment):
            return self.schedule_appointment(command)
        if isinstance(command, StartVisit):
            return self.start_visit(command)
        if isinstance(command, RecordEncounter):
            return self.record_encounter(command)
        if isinstance(command, RecordCondition):
            return self.record_condition(command)
        if isinstance(command, RecordCharge):
            return self.record_charge(command)
        raise TypeError(f"not an intake command: {type(command).__name__}")

    def register_patient(self, command: RegisterPatient) -> Outcome:
        return patients.register(self._ctx, command)

    def record_coverage(self, command: RecordCoverage) -> Outcome:
        return patients.record_coverage(self._ctx, command)

    def schedule_appointment(self, command: ScheduleAppointment) -> Outcome:
        return appointments.schedule_appointment(self._ctx, command)

    def start_visit(self, command: StartVisit) -> Outcome:
        return appointments.start_visit(self._ctx, command)

    def record_encounter(self, command: RecordEncounter) -> Outcome:
        return visits.record_encounter(self._ctx, command)

    def record_condition(self, command: RecordCondition) -> Outcome:
        return visits.record_condition(self._ctx, command)

    def record_charge(self, command: RecordCharge) -> Outcome:
        return visits.record_charge(self._ctx, command)

    def merge_patients(self, command: MergePatients) -> Outcome:
        return merge.merge(self._ctx, command.survivor, command.merged)

    def find(self, kind: Kind, identifier: BusinessId) -> str | None:
        """Our id for a sender's identifier, or None."""
        return find_identifier(self._ctx.session, kind, identifier)

    @property
    def closing(self) -> tuple[str, ...]:
        """Encounters sent finished in this unit and not coded yet (they are, at the latest, at commit)."""
        return tuple(self._ctx.closing)

    def close(self, encounter_id: str) -> None:
        """Code a finished encounter of this unit now (a door that wants the error located at its entry)."""
        if encounter_id in self._ctx.closing:
            visits.close_encounter(self._ctx, encounter_id)
            del self._ctx.closing[encounter_id]

    def prefetch(self, wanted: Iterable[tuple[Kind, BusinessId]]) -> None:
        """Look up, in one query, the sender's identifiers the coming commands name (a door that knows them all
        up front: a Bundle, a message); each command then finds them without the store."""
        prefetch_identifiers(self._ctx.session, wanted)

    def prefetch_for(self, commands: Iterable[Command], also: Iterable[tuple[Kind, BusinessId]] = ()) -> None:
        """``prefetch`` every sender's identifier ``commands`` name (and ``also``)."""
        self.prefetch([*also, *(named for command in commands for named in named_identifiers(command))])

    def _close(self) -> None:
        for encounter_id in list(self._ctx.closing):
            self.close(encounter_id)
        self._ctx.write_audits()
        rows.write_later(self._ctx.session)


_OWN_KIND: dict[type, Kind] = {
    RegisterPatient: Kind.PATIENT,
    RecordCoverage: Kind.COVERAGE,
    ScheduleAppointment: Kind.APPOINTMENT,
    RecordEncounter: Kind.ENCOUNTER,
    RecordCondition: Kind.CONDITION,
    RecordCharge: Kind.CHARGE,
}
_REF_KINDS = (("patient", Kind.PATIENT), ("appointment", Kind.APPOINTMENT), ("encounter", Kind.ENCOUNTER))


def named_identifiers(command: Command) -> list[tuple[Kind, BusinessId]]:
    """The sender's identifiers a command names: its own, its references' and (a registration) its coverages'."""
    named: list[tuple[Kind, BusinessId]] = []
    own = getattr(command, "identifier", None)
    if own is not None:
        named.append((_OWN_KIND[type(command)], own))
    for field_name, kind in _REF_KINDS:
        ref = getattr(command, field_name, None)
        if isinstance(ref, Ref) and ref.identifier is not None:
            named.append((kind, ref.identifier))
    if isinstance(command, RegisterPatient):
        named += [(Kind.COVERAGE, e.identifier) for e in command.coverages if e.identifier is not None]
    return named


class Intake:
    """The one module that turns a practice's events into stored records and started processes.

    ``run``/``handle`` write in one transaction (retried on a lost write race); ``dispatch`` starts, after the
    commit, what was queued. ``submit`` does both for an async caller."""

    def __init__(
        self,
        session_factory: sessionmaker[Session],
        starter: ProcessStarter | None = None,
        *,
        today: Callable[[], date] | None = None,
        attempts: int = 8,
    ) -> None:
        self.session_factory = session_factory
        self.starter = starter
        self._today = today or (lambda: datetime.now(UTC).date())
        self._attempts = attempts

    def run(self, actor: Actor, work: Callable[[IntakeUnit], T], *, dry_run: bool = False) -> Applied[T]:
        """Run ``work`` in one unit and commit; a write race lost to another writer (SQLite busy, a unique
        identifier taken meanwhile) runs it again from the start, up to ``attempts`` times.

        ``dry_run``: every rule is applied (encounters are even coded) and then the unit is rolled back: nothing
        is written and nothing will start (a door's validation without side effects)."""
        for attempt in range(1, self._attempts + 1):
            try:
                with self._writer(), UnitOfWork(self.session_factory) as uow:
                    _take_write_lock(uow.session)
                    ctx = UnitContext(uow.session, actor, self._today())
                    unit = IntakeUnit(ctx)
                    with audit.batched(uow.session):  # the unit's events: one append to the chain, at the end
                        result = work(unit)
                        unit._close()
                    if dry_run:
                        uow.session.rollback()
                        return Applied(result, ())
                    uow.commit()
                    return Applied(result, tuple(ctx.start_ids), tuple(ctx.starts))
            except (IntegrityError, OperationalError) as exc:
                if not _retryable(exc):
                    if isinstance(exc, IntegrityError):  # a constraint the validation should have named
                        raise InvalidEvent("the event breaks a constraint of the store") from exc
                    raise
                if attempt == self._attempts:
                    raise Busy("the store was busy or another event wrote the same record: send it again") from None
                if isinstance(exc, OperationalError):  # busy: give the other writer time; a unique key lost to a
                    # committed writer (PostgreSQL raises it once that one has committed) is read again at once
                    time.sleep(min(1.0, 0.05 * 2**attempt) * random.uniform(0.5, 1.0))
        raise AssertionError("unreachable")

    def _writer(self) -> AbstractContextManager[None]:
        """This process's turn to write (SQLite: units of one process queue in order, see ``one_writer``)."""
        bind = self.session_factory.kw.get("bind")
        return one_writer(bind) if isinstance(bind, Engine) else nullcontext()

    def handle(self, actor: Actor, command: Command | StartVisit) -> Applied[Outcome]:
        return self.run(actor, lambda unit: unit.handle(command))

    async def submit(self, actor: Actor, command: Command | StartVisit) -> Outcome:
        """Store the event (in a worker thread), then start what it queued, signed as ``actor``."""
        applied = await asyncio.to_thread(self.handle, actor, command)
        with actor.acting():
            await self.dispatch(applied.start_ids)
        return applied.result

    async def dispatch(
        self,
        start_ids: Sequence[str] | None = None,
        *,
        limit: int = 500,
        older_than: float = 0.0,
        pending: Sequence[PendingStart] | None = None,
        mark: bool = True,
    ) -> DispatchReport:
        """Start pending processes: the ones named, or (a sweep) every pending one queued more than ``older_than``
        seconds ago, oldest first; or ``pending``, the starts a unit just queued (``Applied.starts``: the outbox
        is not read again).

        Each start is idempotent (business workflow ids); a failure leaves the row pending for the next
        dispatch and is logged with the workflow id and the error type only. ``mark=False`` leaves the started
        rows unmarked (``DispatchReport.started_rows``) for the caller to mark together with others
        (``mark_started``); until then a sweep may start them again, which starts nothing new."""
        if self.starter is None:
            return DispatchReport()
        if pending is None:
            pending = await asyncio.to_thread(self._pending, start_ids, limit, older_than)
        gate = asyncio.Semaphore(16)

        async def start(item: PendingStart) -> str | None:
            async with gate:
                try:
                    with nullcontext() if current_actor() else acting_as("system", "intake"):  # a sweep: intake's
                        await self.starter.start(item)  # type: ignore[union-attr]
                except Exception as exc:  # any failure leaves the start pending for the next dispatch
                    log.warning(
                        "process start failed; it stays pending",
                        extra={"workflow_id": item.workflow_id, "reason": type(exc).__name__},
                    )
                    await asyncio.to_thread(self._mark_failed, item.id, type(exc).__name__)
                    return None
                return item.id

        done = await asyncio.gather(*(start(item) for item in pending))
        started_ids = [row_id for row_id in done if row_id is not None]
        if started_ids and mark:
            await asyncio.to_thread(self.mark_started, started_ids)
        by_id = {item.id: item.workflow_id for item in pending}
        return DispatchReport(
            tuple(by_id[i] for i in started_ids),
            tuple(item.workflow_id for item in pending if item.id not in started_ids),
            tuple(started_ids),
        )

    def pending_count(self) -> int:
        with UnitOfWork(self.session_factory) as uow:
            return len(uow.session.execute(select(m.ProcessStart.id).where(m.ProcessStart.started_at.is_(None))).all())

    def _pending(self, start_ids: Sequence[str] | None, limit: int, older_than: float) -> list[PendingStart]:
        query = select(m.ProcessStart).where(m.ProcessStart.started_at.is_(None))
        if older_than > 0:  # a sweep leaves the newest to the dispatch of the request that queued them
            query = query.where(m.ProcessStart.created_at < datetime.now(UTC) - timedelta(seconds=older_than))
        if start_ids is not None:
            if not start_ids:
                return []
            query = query.where(m.ProcessStart.id.in_(list(start_ids)))
        query = query.order_by(m.ProcessStart.created_at, m.ProcessStart.id).limit(limit)
        with UnitOfWork(self.session_factory) as uow:
            return [
                PendingStart(row.id, row.process, row.entity_id, row.workflow_id, row.detail, row.created_at)
                for row in uow.session.execute(query).scalars()
            ]

    def mark_started(self, row_ids: Sequence[str]) -> None:
        """Mark outbox rows started (a dispatch with ``mark=False`` left them for this)."""
        # One UPDATE, no read first: a write-only transaction waits for SQLite's lock instead of losing a race.
        with self._writer(), UnitOfWork(self.session_factory) as uow:
            uow.session.execute(
                update(m.ProcessStart)
                .where(m.ProcessStart.id.in_(list(row_ids)), m.ProcessStart.started_at.is_(None))
                .values(started_at=datetime.now(UTC), attempts=m.ProcessStart.attempts + 1)
            )
            uow.commit()

    def _mark_failed(self, row_id: str, error: str) -> None:
        with self._writer(), UnitOfWork(self.session_factory) as uow:
            uow.session.execute(
                update(m.ProcessStart)
                .where(m.ProcessStart.id == row_id)
                .values(attempts=m.ProcessStart.attempts + 1, last_error=error[:60])
            )
            uow.commit()


def _take_write_lock(session: Session) -> None:
    """On SQLite, take the write lock before the unit reads anything: units then queue on the busy timeout instead
    of failing when another writer commits between their reads and their first write (a stale snapshot cannot
    be upgraded). A write statement that touches no row is enough. PostgreSQL needs nothing of the kind."""
    if session.get_bind().dialect.name == "sqlite":
        session.execute(text("UPDATE process_starts SET attempts = attempts WHERE 1 = 0"))


def _retryable(exc: IntegrityError | OperationalError) -> bool:
    if isinstance(exc, IntegrityError):
        return "unique" in str(exc.orig).lower() or "duplicate" in str(exc.orig).lower()
    return "locked" in str(exc.orig).lower() or "busy" in str(exc.orig).lower() or "deadlock" in str(exc.orig).lower()
