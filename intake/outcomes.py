"""What intake answers: for each command, which record it touched, whether it changed, and what it queued."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class Change(StrEnum):
    CREATED = "created"
    UPDATED = "updated"
    UNCHANGED = "unchanged"


class Kind(StrEnum):
    """Our record kinds, as intake, the identifiers table and the audit trail name them."""

    PATIENT = "patient"
    COVERAGE = "coverage"
    APPOINTMENT = "appointment"
    ENCOUNTER = "encounter"
    CONDITION = "condition"
    CHARGE = "charge"


@dataclass(frozen=True)
class Outcome:
    """One command's result: our id, the change, the record's version after it, and the workflow ids of the
    processes it queued (started after the commit; empty when nothing changed)."""

    kind: Kind
    id: str
    change: Change
    version: int
    starts: tuple[str, ...] = ()
    related: tuple[Outcome, ...] = field(default=())  # e.g. the coverages registered with a patient

    @property
    def changed(self) -> bool:
        return self.change is not Change.UNCHANGED


@dataclass(frozen=True)
class DispatchReport:
    """What one dispatch of pending process starts did (workflow ids only)."""

    started: tuple[str, ...] = ()
    failed: tuple[str, ...] = ()  # left pending: the next dispatch tries again
    started_rows: tuple[str, ...] = ()  # the outbox rows of ``started`` (to mark later, when not marked yet)
