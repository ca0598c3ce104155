"""What the appointment and encounter commands share: the practice's provider and location they name, the answer
for a record that already exists, and whether an encounter is closed for billing (then it no longer changes).
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from domain import models as m
from intake import records, reference, rows
from intake.commands import IfExists
from intake.context import UnitContext
from intake.errors import IdentifierConflict, InvalidEvent, UnknownReference
from intake.outcomes import Change, Kind, Outcome
from intake.reference import LocationRef, ProviderRef

FINISHED = "finished"


def provider_by_npi(session: Session, npi: str) -> ProviderRef:
    provider = reference.provider(session, npi.strip())
    if provider is None:
        raise UnknownReference(f"no provider of the practice has NPI {npi.strip()!r}")
    return provider


def location(session: Session, location_id: str | None) -> LocationRef:
    """A location of the practice by id, or (none named) its first by name."""
    found = reference.location(session, location_id)
    if found is None:
        if location_id is not None:
            raise UnknownReference(f"unknown location {location_id}")
        raise InvalidEvent("the practice has no location yet: set the practice up first")
    return found


def keep_or_refuse(ctx: UnitContext, kind: Kind, entity_id: str, digest: str, if_exists: IfExists) -> Outcome | None:
    """The answer for an existing record when the command only creates (If-None-Exist or a plain create)."""
    if if_exists is IfExists.KEEP:
        return Outcome(kind, entity_id, Change.UNCHANGED, records.version_of(ctx.session, kind, entity_id))
    record = records.record_of(ctx.session, kind, entity_id)
    if if_exists is IfExists.REFUSE and (record is None or record.content_hash != digest):
        raise IdentifierConflict(f"{kind.value} {entity_id} already has that identifier: update it instead")
    return None


def is_closed(session: Session, encounter_id: str) -> bool:
    record = records.record_of(session, Kind.ENCOUNTER, encounter_id)
    return record is not None and record.source_status == FINISHED


def encounter_of(session: Session, appointment_id: str) -> str | None:
    """The encounter of an appointment (one at most): one this unit created, else the store's (an appointment
    this unit created has none there)."""
    mine = [e.id for e in rows.created_rows(session, m.Encounter) if e.appointment_id == appointment_id]
    if mine or rows.created(session, m.Appointment, appointment_id):
        return mine[0] if mine else None
    found: str | None = session.execute(
        select(m.Encounter.id).where(m.Encounter.appointment_id == appointment_id)
    ).scalar_one_or_none()
    return found
