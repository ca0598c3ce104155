"""Merging two patient records the sender found to be one person (HL7 ADT^A40, a FHIR Patient link).

The merged record's identifiers (its MRN among them) name the survivor from now on, so later events with the old
MRN land on the surviving patient. A record that never had a visit billed is merged here: its booked
appointments, conditions and coverages the survivor lacks move over, and the survivor is registered again (its
eligibility checked). A record with visits, claims or money on it is not merged by a message: the ledger, the
claims and their processes belong to it, and a person decides (``MergeNeedsReview``, nothing written).
"""

from __future__ import annotations

from sqlalchemy import func, select, update

from domain import models as m
from domain.enums import AppointmentStatus
from domain.errors import DomainError
from intake import records, rows
from intake.commands import BusinessId, Ref
from intake.context import UnitContext
from intake.outcomes import Change, Kind, Outcome


class MergeNeedsReview(DomainError):
    """The merged patient has visits, claims or money: merging them is a person's work."""

    code = "merge_needs_review"


def merge(ctx: UnitContext, survivor: Ref, merged: BusinessId) -> Outcome:
    session = ctx.session
    # What this unit wrote so far goes to the store first: the checks and moves below read and update it there.
    rows.write_later(session, keep_tracking=True)
    survivor_id = records.resolve(session, Kind.PATIENT, survivor, m.Patient)
    merged_id = records.find_identifier(session, Kind.PATIENT, records.check_identifier(merged, "patient"))
    version = records.version_of(session, Kind.PATIENT, survivor_id)
    if merged_id == survivor_id:
        return Outcome(Kind.PATIENT, survivor_id, Change.UNCHANGED, version)
    if merged_id is None:
        # Not known here: from now on the old MRN names the survivor.
        records.link_identifier(session, Kind.PATIENT, merged, survivor_id)
        ctx.audit(Kind.PATIENT, survivor_id, Change.UPDATED, {"merged_identifier": "linked"})
        return Outcome(Kind.PATIENT, survivor_id, Change.UPDATED, version)
    _refuse_with_history(ctx, merged_id)
    _move(ctx, merged_id, survivor_id)
    digest = records.content_hash("merged-into", survivor_id)
    records.accept(session, Kind.PATIENT, merged_id, digest, ctx.actor.label, new=False, status="merged")
    ctx.audit(Kind.PATIENT, merged_id, Change.UPDATED, {"merged_into": survivor_id})
    ctx.audit(Kind.PATIENT, survivor_id, Change.UPDATED, {"merged_from": merged_id})
    start = ctx.queue_registration(survivor_id)
    return Outcome(Kind.PATIENT, survivor_id, Change.UPDATED, version, (start,))


def _refuse_with_history(ctx: UnitContext, patient_id: str) -> None:
    session = ctx.session
    checks = (
        (m.Encounter, m.Encounter.patient_id),
        (m.Claim, m.Claim.patient_id),
        (m.JournalEntry, m.JournalEntry.patient_id),
        (m.PatientPayment, m.PatientPayment.patient_id),
    )
    for model, column in checks:
        count = session.execute(select(func.count()).select_from(model).where(column == patient_id)).scalar_one()
        if count:
            raise MergeNeedsReview(
                f"patient {patient_id} has {model.__tablename__} on record: a person merges it (nothing was changed)"
            )


def _move(ctx: UnitContext, merged_id: str, survivor_id: str) -> None:
    session = ctx.session
    session.execute(
        update(m.ExternalIdentifier)
        .where(m.ExternalIdentifier.kind == Kind.PATIENT.value, m.ExternalIdentifier.entity_id == merged_id)
        .values(entity_id=survivor_id)
    )
    records.forget_identifiers(session)
    session.execute(
        update(m.Appointment)
        .where(m.Appointment.patient_id == merged_id, m.Appointment.status == AppointmentStatus.BOOKED)
        .values(patient_id=survivor_id)
    )
    session.execute(
        update(m.ClinicalEntry)
        .where(m.ClinicalEntry.patient_id == merged_id, m.ClinicalEntry.encounter_id.is_(None))
        .values(patient_id=survivor_id)
    )
    held = {
        (c.payer_id, c.member_id)
        for c in session.execute(select(m.Coverage).where(m.Coverage.patient_id == survivor_id)).scalars()
    }
    for coverage in session.execute(select(m.Coverage).where(m.Coverage.patient_id == merged_id)).scalars():
        if (coverage.payer_id, coverage.member_id) not in held:
            coverage.patient_id = survivor_id
    session.flush()
