"""The front door's one intake: a practice's events become stored records and started processes.

Every door (the FHIR API, the HL7 v2 listener, the CSV import, the console, the demo) maps its wire format onto
the commands below and hands them here. Nothing else starts a patient's processes: a test
(``tests/unit/test_intake_owns_starts.py``) fails if any other module starts PatientRegistration, Encounter or
a visit workflow.

Public API::

    from intake import Intake, Actor, RegisterPatient, PatientData, BusinessId, ...

    intake = Intake(session_factory, TemporalStarter(client, policy, visits=hook))
    actor = Actor("hl7", "EPIC-ADT")                      # who caused it: api, console, cli, hl7, csv, demo
    applied = intake.run(actor, lambda unit: (            # one transaction: all written or none
        unit.register_patient(RegisterPatient(BusinessId("urn:ehr:mrn", "12345"), PatientData(...))),
        unit.schedule_appointment(ScheduleAppointment(...)),
    ))
    await intake.dispatch(applied.start_ids)             # after commit: start what the unit queued
    outcome = await intake.submit(actor, command)          # both, for one command, from async code

Commands (``intake.commands``, frozen dataclasses): ``RegisterPatient`` (with its ``CoverageEntry``s),
``MergePatients`` (``intake.merge``), ``RecordCoverage``, ``ScheduleAppointment``, ``RecordEncounter``,
``RecordCondition``, ``RecordCharge``. A record is named by the sender's business identifier
(``BusinessId(system, value)``: the EHR's MRN, appointment id, encounter id), mapped to our id in
``external_identifiers``; a ``Ref`` names a record by our id or by that identifier. ``if_exists`` says what a
known identifier means: UPDATE (upsert), KEEP (If-None-Exist) or REFUSE (a plain create: the same content again
is a retry, other content a conflict). ``expected_version`` is If-Match.

Outcomes (``intake.outcomes.Outcome``): kind, our id, ``Change`` (created / updated / unchanged), the record's
version (FHIR ``meta.versionId``) and the workflow ids queued. A repeated event is ``unchanged`` and queues
nothing.

Errors (``intake.errors``, all ``domain.errors.DomainError``s with codes, ids and no PHI): ``InvalidEvent``,
``UnknownReference``, ``IdentifierConflict``, ``VersionConflict``, ``AlreadyBilled``, ``Busy``, and the domain's
own (``ValidationError``, ``InvalidCode``, ``DuplicatePatient``, ``UnknownPayer``...). On any error nothing of
the unit is written.

What starts what (``intake.processes``):

- a new or changed patient or coverage -> PatientRegistration (``registration-<patient id>``, the domain's one
  duplicate-patient rule applied before anything is written; it never bills encounters itself); a new patient
  whose visit the same unit closes has none of its own: the visit's Encounter runs the registration's steps
  (``UnitContext.queue_encounter``, one execution instead of two);
- an appointment booked, rescheduled, changed or cancelled -> stored, then the ``VisitHook`` seam (the default
  does nothing; the visits area plugs in the Visit workflow there, ``visit-<appointment id>``);
- an encounter sent FINISHED with its diagnoses and charges -> coded under the domain's coding rules, its
  appointment completed, then Encounter -> Claim (``encounter-<appointment id>``); without diagnoses or
  charges the Encounter workflow asks the coders; a closed encounter never changes (``AlreadyBilled``);
- an encounter or appointment cancelled before billing -> cancelled, handed to the hook.

Writes happen in one transaction with the ``process_starts`` rows (a transactional outbox); the Temporal starts
happen after commit and are idempotent (business workflow ids, ``USE_EXISTING``), so a crash in between is
repaired by the next dispatch: a retried event, or any door's periodic ``dispatch()`` sweep.

Every change is an audit event naming the actor's label and codes only: ``patient.registered`` (the domain's)
for a new patient, ``intake.<kind>.<change>`` for the rest (a diagnosis or charge is named by its encounter's
event). A repeat that changed nothing is not an event of its own: the door records the call.
"""

from __future__ import annotations

from intake.commands import (
    Actor,
    BusinessId,
    Command,
    CoverageData,
    CoverageEntry,
    EncounterStatus,
    IfExists,
    MergePatients,
    PatientData,
    RecordCharge,
    RecordCondition,
    RecordCoverage,
    RecordEncounter,
    Ref,
    RegisterPatient,
    ScheduleAppointment,
    StartVisit,
)
from intake.errors import AlreadyBilled, IdentifierConflict, InvalidEvent, UnknownReference, VersionConflict
from intake.merge import MergeNeedsReview
from intake.outcomes import Change, DispatchReport, Kind, Outcome
from intake.processes import (
    AppointmentChange,
    NoVisitProcess,
    PendingStart,
    ProcessStarter,
    TemporalStarter,
    VisitHook,
    visit_workflow_id,
)
from intake.service import Applied, Busy, Intake, IntakeUnit

__all__ = [
    "Actor",
    "AlreadyBilled",
    "Applied",
    "AppointmentChange",
    "BusinessId",
    "Busy",
    "Change",
    "Command",
    "CoverageData",
    "CoverageEntry",
    "DispatchReport",
    "EncounterStatus",
    "IdentifierConflict",
    "IfExists",
    "Intake",
    "IntakeUnit",
    "InvalidEvent",
    "Kind",
    "MergeNeedsReview",
    "MergePatients",
    "NoVisitProcess",
    "Outcome",
    "PatientData",
    "PendingStart",
    "ProcessStarter",
    "RecordCharge",
    "RecordCondition",
    "RecordCoverage",
    "RecordEncounter",
    "Ref",
    "RegisterPatient",
    "ScheduleAppointment",
    "StartVisit",
    "TemporalStarter",
    "UnknownReference",
    "VersionConflict",
    "VisitHook",
    "visit_workflow_id",
]
