"""What the front doors hand to intake: who acts, and one frozen dataclass per event.

These are plain values (no FHIR, no HL7, no CSV): each door maps its own wire format onto them. PHI travels
in them (names, birth dates, member ids) on its way to the store; none of it is ever logged or put in a
workflow id. References to other records are either our id or the sender's business identifier.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum

from domain.actors import KINDS as SIGNED_KINDS
from domain.actors import MAX_LABEL, acting_as
from domain.enums import AppointmentKind, AppointmentStatus, CoverageRank, SubscriberRelationship

ACTOR_KINDS = frozenset({"api", "console", "cli", "hl7", "csv", "demo", "system"})


@dataclass(frozen=True)
class Actor:
    """Who caused an event: an API client, a console user, the CLI's OS user, an HL7 sender, the demo.

    ``label`` is what the audit trail records (at most 60 characters). The processes' starts, signals and Updates
    an event causes go out :meth:`acting` as this actor, signed by the client (domain.actors). ``signature`` is
    unused (kept for callers that pass one): intake passes it on untouched.
    """

    kind: str
    name: str
    signature: str | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if self.kind not in ACTOR_KINDS:
            raise ValueError(f"actor kind must be one of {', '.join(sorted(ACTOR_KINDS))}")
        if not self.name.strip():
            raise ValueError("an actor needs a name")

    @property
    def label(self) -> str:
        return f"{self.kind}:{self.name}"[:60]

    def acting(self) -> AbstractContextManager[object]:
        """Run the processes' starts, signals and Updates of this event as this actor (domain.actors.acting_as:
        the client signs it): console, cli, api as themselves; an HL7 sender, a CSV file, the demo as system."""
        kind, name = (self.kind, self.name) if self.kind in SIGNED_KINDS else ("system", f"{self.kind}:{self.name}")
        name = " ".join(name.split())[: MAX_LABEL - len(kind) - 1]  # one line, and the label fits
        return acting_as(kind, name)


@dataclass(frozen=True)
class BusinessId:
    """A sender's identifier: the system (a URI the sender chooses) and the value (an MRN, an appointment id)."""

    system: str
    value: str


@dataclass(frozen=True)
class Ref:
    """A reference to one of our records: by our id, or by the sender's business identifier."""

    id: str | None = None
    identifier: BusinessId | None = None

    @classmethod
    def to(cls, our_id: str) -> Ref:
        return cls(id=our_id)

    @classmethod
    def by(cls, system: str, value: str) -> Ref:
        return cls(identifier=BusinessId(system, value))


class IfExists(StrEnum):
    """What to do when the business identifier already names a record."""

    UPDATE = "update"  # upsert: conditional update (PUT ...?identifier=), HL7 A08, a CSV re-run
    KEEP = "keep"  # conditional create (If-None-Exist): return the existing record untouched
    REFUSE = "refuse"  # a plain create: the same content again is a retry (unchanged), other content a conflict


# --- patients and coverages -----------------------------------------------------------------------------


@dataclass(frozen=True)
class CoverageData:
    payer_code: str  # the payer's X12 payer id (urn:carecycle:payer-id), e.g. "SBXBM"
    member_id: str
    rank: CoverageRank = CoverageRank.PRIMARY
    relationship: SubscriberRelationship = SubscriberRelationship.SELF
    group_number: str | None = None
    effective_from: date | None = None
    effective_to: date | None = None
    subscriber_first_name: str | None = None
    subscriber_last_name: str | None = None
    subscriber_birth_date: date | None = None
    active: bool = True  # False: the sender cancelled it (it ends; nothing is deleted)


@dataclass(frozen=True)
class PatientData:
    first_name: str
    last_name: str
    birth_date: date
    sex: str  # F, M, U
    address_line: str = ""
    city: str = ""
    state: str = ""
    postal_code: str = ""
    phone: str = ""
    email: str | None = None


@dataclass(frozen=True)
class CoverageEntry:
    """A coverage sent with its patient (so the duplicate-patient rule sees the member ids)."""

    data: CoverageData
    identifier: BusinessId | None = None


@dataclass(frozen=True)
class RegisterPatient:
    """A new or changed patient: the MRN decides which. A new or changed one runs PatientRegistration."""

    identifier: BusinessId
    patient: PatientData
    coverages: tuple[CoverageEntry, ...] = ()
    if_exists: IfExists = IfExists.UPDATE
    target: str | None = None  # our id, when the sender updates a record it read from us
    expected_version: int | None = None  # If-Match: refuse when the record has moved on


@dataclass(frozen=True)
class RecordCoverage:
    """A coverage of a known patient. Keyed by its identifier, else by (patient, payer, member id)."""

    patient: Ref
    coverage: CoverageData
    identifier: BusinessId | None = None
    if_exists: IfExists = IfExists.UPDATE
    target: str | None = None
    expected_version: int | None = None


# --- appointments and encounters ------------------------------------------------------------------------


@dataclass(frozen=True)
class ScheduleAppointment:
    """A booked, rescheduled, changed or cancelled appointment (status CANCELLED cancels it)."""

    identifier: BusinessId
    patient: Ref
    provider_npi: str
    starts_at: datetime
    status: AppointmentStatus = AppointmentStatus.SCHEDULED
    kind: AppointmentKind = AppointmentKind.IN_PERSON
    duration_minutes: int = 20
    location_id: str | None = None  # our location id; None: the practice's first location
    if_exists: IfExists = IfExists.UPDATE
    target: str | None = None
    expected_version: int | None = None
    visit_type: str | None = None  # domain.visits.VISIT_TYPES; None: follow_up for a new one, else unchanged
    cancel_reason: str | None = None  # domain.visits.CANCEL_REASONS, with status CANCELLED


@dataclass(frozen=True)
class StartVisit:
    """Start (again) the visit process of an appointment that is stored and booked: its Visit, or its VirtualVisit
    for a virtual one (``carecycle telehealth start``, the console's telehealth page). Idempotent: a running one is
    left as it is."""

    appointment: Ref


class EncounterStatus(StrEnum):
    OPEN = "open"  # planned, arrived, in progress: stored, not billed
    FINISHED = "finished"  # closed: its diagnoses and charges bill (Encounter -> Claim)
    CANCELLED = "cancelled"  # cancelled or entered in error before it was billed


@dataclass(frozen=True)
class RecordEncounter:
    """A visit's encounter. FINISHED closes it for billing when the unit commits: its diagnoses (in rank order)
    and every charge recorded against it become the coded encounter, and the Encounter workflow starts."""

    identifier: BusinessId
    patient: Ref
    provider_npi: str
    date_of_service: date
    status: EncounterStatus
    diagnosis_codes: tuple[str, ...] = ()  # ICD-10-CM in rank order
    appointment: Ref | None = None  # None: a walk-in (an appointment row is made for it)
    location_id: str | None = None
    place_of_service: str | None = None  # None: the location's, or 10 for a telehealth visit
    telehealth: bool = False
    if_exists: IfExists = IfExists.UPDATE
    target: str | None = None
    expected_version: int | None = None


@dataclass(frozen=True)
class RecordCondition:
    """A diagnosis (ICD-10-CM) of a patient, optionally made during an encounter."""

    patient: Ref
    code: str
    encounter: Ref | None = None
    identifier: BusinessId | None = None
    active: bool = True
    if_exists: IfExists = IfExists.UPDATE
    target: str | None = None
    expected_version: int | None = None


@dataclass(frozen=True)
class RecordCharge:
    """A billable service (CPT/HCPCS) of an encounter. Without an identifier it is keyed by (encounter, code,
    modifiers, reasons): the same service twice in one encounter is one charge with a quantity."""

    patient: Ref
    encounter: Ref
    code: str
    quantity: int = 1
    modifiers: tuple[str, ...] = ()
    price_cents: int | None = None  # None: the practice's fee schedule
    reason_codes: tuple[str, ...] = ()  # the diagnoses it treats (ICD-10-CM); none: the encounter's first four
    identifier: BusinessId | None = None
    active: bool = True
    if_exists: IfExists = IfExists.UPDATE
    target: str | None = None
    expected_version: int | None = None


@dataclass(frozen=True)
class MergePatients:
    """Two records are one person: ``merged`` (the sender's identifier of the record that goes, e.g. HL7 MRG-1)
    into ``survivor``. See ``intake.merge`` for what moves and when a person must do it."""

    survivor: Ref
    merged: BusinessId


# MergePatients is not a ``Command``: it names no record of its own (``IntakeUnit.merge_patients`` applies it).
# StartVisit neither: it names an appointment already stored (``IntakeUnit.start_visit`` applies it).
Command = RegisterPatient | RecordCoverage | ScheduleAppointment | RecordEncounter | RecordCondition | RecordCharge
