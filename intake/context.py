"""One unit of intake work as the handlers see it: the transaction, who acts, today, and what to do at commit."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy.orm import Session

from domain import audit
from domain.enums import AppointmentKind
from intake import records
from intake.commands import Actor
from intake.outcomes import Change, Kind
from intake.processes import APPOINTMENT, ENCOUNTER, REGISTERS, REGISTRATION, PendingStart, workflow_id_for


@dataclass
class UnitContext:
    session: Session
    actor: Actor
    today: date
    start_ids: list[str] = field(default_factory=list)
    starts: list[PendingStart] = field(default_factory=list)  # the same, as the dispatch needs them (no re-read)
    queued: dict[tuple[str, str, str], str] = field(default_factory=dict)  # (process, entity, detail) -> workflow id
    closing: dict[str, None] = field(default_factory=dict)  # encounters to close for billing at commit, in order
    audits: list[tuple[Kind, str, Change, dict[str, Any]]] = field(default_factory=list)

    def _queue(self, process: str, entity_id: str, detail: str = "", kind: str = AppointmentKind.IN_PERSON) -> str:
        key = (process, entity_id, detail)
        if key not in self.queued:
            workflow_id = workflow_id_for(process, entity_id, kind)
            row = records.queue_start(self.session, process, entity_id, workflow_id, detail)
            self.start_ids.append(row.id)
            self.starts.append(PendingStart(row.id, process, entity_id, workflow_id, detail, row.created_at))
            self.queued[key] = workflow_id
        return self.queued[key]

    def queue_registration(self, patient_id: str, *, new: bool = False) -> str:
        """PatientRegistration for a new or changed patient (or coverage), once this unit commits. ``new``: the
        patient was created by this unit (no earlier run can exist)."""
        if not new and (REGISTRATION, patient_id, "created") in self.queued:
            return self.queued[(REGISTRATION, patient_id, "created")]
        return self._queue(REGISTRATION, patient_id, "created" if new else "")

    def queue_encounter(self, appointment_id: str, patient_id: str = "") -> str:
        """The Encounter workflow (coding, then the Claim) of a visit closed for billing.

        A new patient's first visit closed in the unit that created the patient (a FHIR transaction of the patient
        and the visit, as the demo sends): the registration this unit queued for the patient is folded into the
        visit's Encounter (started ``register_patient``: it runs the registration's steps beside the billing), one
        process instead of two. The patient's later registrations in this unit are then that Encounter's."""
        registration = (REGISTRATION, patient_id, "created")
        for queued in ((ENCOUNTER, appointment_id, REGISTERS), (ENCOUNTER, appointment_id, "")):
            if queued in self.queued:  # the visit's Encounter is queued already in this unit: once
                return self.queued[queued]
        if not patient_id or registration not in self.queued or self.queued[registration].startswith("encounter-"):
            return self._queue(ENCOUNTER, appointment_id)
        self._unqueue(registration)
        self.queued[registration] = self._queue(ENCOUNTER, appointment_id, REGISTERS)
        return self.queued[registration]

    def _unqueue(self, key: tuple[str, str, str]) -> None:
        """Take back a start this unit queued (nothing of it reaches the outbox when the unit commits)."""
        workflow_id = self.queued.pop(key)
        start = next(s for s in self.starts if (s.process, s.entity_id, s.detail) == key)
        assert start.workflow_id == workflow_id
        records.unqueue_start(self.session, start.id)
        self.starts.remove(start)
        self.start_ids.remove(start.id)

    def queue_appointment(self, appointment_id: str, detail: str, kind: str) -> str:
        """The appointment seam: booked, rescheduled, cancelled... handed to the visit hook after commit, recorded
        under the workflow id the hook acts on (the appointment's kind names it)."""
        return self._queue(APPOINTMENT, appointment_id, detail, kind)

    def audit(self, kind: Kind, entity_id: str, change: Change, details: dict[str, Any] | None = None) -> None:
        """The audit event of one accepted change (codes and ids only, no PHI), written when the unit ends. A
        repeat that changed nothing is not an event of its own: the door's record of the call names it."""
        if change is not Change.UNCHANGED:
            self.audits.append((kind, entity_id, change, details or {}))

    def write_audits(self) -> None:
        """Append the unit's audit events, last of all: the audit chain's head is held only until the commit. One
        event per record: a record created and closed in one unit is one event with both facts."""
        merged: dict[tuple[Kind, str], tuple[Change, dict[str, Any]]] = {}
        for kind, entity_id, change, details in self.audits:
            first = merged.get((kind, entity_id))
            merged[(kind, entity_id)] = (first[0], {**first[1], **details}) if first else (change, dict(details))
        for (kind, entity_id), (change, details) in merged.items():
            audit.record(
                self.session,
                actor=self.actor.label,
                action=f"intake.{kind.value}.{change.value}",
                entity_type=kind.value,
                entity_id=entity_id,
                details={"source": self.actor.kind, **details},
            )
        self.audits.clear()
