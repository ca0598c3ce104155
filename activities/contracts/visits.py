"""Contracts of the Visit and VirtualVisit workflows and of their activities (visits, messaging, telehealth).

Opaque ids, codes, cents and UTC times only: a patient's name, phone, e-mail, address or the text of a message
never crosses Temporal (the activities look them up and write the rendered text to the store's outbox).
Calendar dates travel as ISO strings. Activity names are stable ``<area>.<verb>`` strings.
"""

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from activities.contracts.reference import ActivityRef
from activities.contracts.revenue import Nothing, RevenuePolicy

# --- stable names ------------------------------------------------------------------------------------------

VISITS_LOAD = "visits.load"
VISITS_COVERAGE = "visits.coverage"
VISITS_RECORD_ELIGIBILITY = "visits.record_eligibility"
VISITS_SET_STATUS = "visits.set_status"
VISITS_NO_SHOW = "visits.no_show"
MESSAGING_SEND = "messaging.send"
TELEHEALTH_PREPARE = "telehealth.prepare"
TELEHEALTH_REASSIGN = "telehealth.reassign"
TELEHEALTH_OPEN_ROOM = "telehealth.open_room"
TELEHEALTH_CLOSE_ROOM = "telehealth.close_room"
TELEHEALTH_RECORD = "telehealth.record"
TELEHEALTH_CONSENT = "telehealth.consent"
TELEHEALTH_CHECK_IN = "telehealth.check_in"
TELEHEALTH_FINISH = "telehealth.finish"

VISIT_TASK_QUEUE = "revenue"  # the visit workflows run with the revenue cycle they hand over to

# Signals and Updates (names shared by intake, the CLI, the console and the webhook receiver).
CHANGED_SIGNAL = "appointment_changed"  # rescheduled (or reassigned) in the store: read it again
CANCELLED_SIGNAL = "appointment_cancelled"
VENDOR_EVENT_SIGNAL = "vendor_event"  # the video vendor's webhook: a participant joined or left, the room ended
ARRIVE_UPDATE = "arrive"
CLOSE_UPDATE = "close"
CONSENT_UPDATE = "consent"
CHECK_IN_UPDATE = "check_in"
AUDIO_FALLBACK_UPDATE = "audio_fallback"
END_UPDATE = "end"
REASSIGN_UPDATE = "reassign"
RESEND_INVITE_UPDATE = "resend_invite"
STATE_QUERY = "state"


def visit_workflow_id(appointment_id: str) -> str:
    return f"visit-{appointment_id}"


def virtual_visit_workflow_id(appointment_id: str) -> str:
    return f"virtual-visit-{appointment_id}"


def room_name(appointment_id: str) -> str:
    """The video room of a virtual visit: an opaque name the vendor sees (no patient data)."""
    return f"cc-{appointment_id}"


def appointment_of_room(name: str) -> str | None:
    return name[3:] if name.startswith("cc-") and len(name) > 3 else None


# --- policy ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class VisitPolicy:
    """The practice's visit rules as workflow input. Hours and minutes run on the business clock of
    ``revenue.day_seconds`` (a day of 86400 s is the calendar; the demo compresses it)."""

    revenue: RevenuePolicy = field(default_factory=RevenuePolicy)
    eligibility_days_before: int = 3
    eligibility_max_age_days: int = 7  # an answer older than this is stale (the nightly batch asks again)
    reminder_hours: tuple[int, ...] = (72, 24)
    no_show_grace_minutes: int = 15
    no_show_fee_cents: int = 0  # 0: no fee, only the front desk's item
    virtual_no_show_minutes: int = 10  # a virtual visit's patient not in the room this long after the start
    portal_task_queue: str = "portal"
    bill_encounter: bool = True  # hand the fulfilled visit over to the Encounter (and so the Claim)

    def business(self, real: timedelta) -> timedelta:
        """A real duration as business time."""
        return real * (86400.0 / self.revenue.day_seconds)

    def real(self, business: timedelta) -> timedelta:
        """A business duration as real (workflow timer) time."""
        return business * (self.revenue.day_seconds / 86400.0)


@dataclass(frozen=True)
class VisitInput:
    appointment_id: str
    policy: VisitPolicy = field(default_factory=VisitPolicy)


@dataclass(frozen=True)
class VisitResult:
    appointment_id: str
    outcome: str  # fulfilled, cancelled, noshow, failed
    encounter_workflow_id: str | None = None
    reminders_sent: int = 0
    eligibility: str | None = None  # the last answer: active, inactive, inconclusive, self_pay


# --- the visits activities ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class AppointmentRef:
    appointment_id: str


@dataclass(frozen=True)
class VisitSchedule:
    appointment_id: str
    patient_id: str
    provider_id: str
    kind: str  # in_person, telehealth
    status: str
    starts_at: datetime
    duration_minutes: int
    visit_day: str  # ISO date of the visit


@dataclass(frozen=True)
class VisitCoverage:
    """The patient's coverages on the visit day, and whether they changed since eligibility was last asked
    (the store compares a fingerprint; the workflow never sees the member ids)."""

    appointment_id: str
    coverage_ids: tuple[str, ...]
    changed: bool
    last_status: str | None


@dataclass(frozen=True)
class VisitEligibility:
    appointment_id: str
    status: str  # active, inactive, inconclusive, self_pay
    coverage_statuses: dict[str, str] = field(default_factory=dict)  # coverage id -> status


@dataclass(frozen=True)
class StatusChange:
    appointment_id: str
    status: str  # arrived, fulfilled
    actor: str


@dataclass(frozen=True)
class NoShow:
    appointment_id: str
    fee_cents: int
    actor: str


@dataclass(frozen=True)
class NoShowResult:
    appointment_id: str
    marked: bool  # False: the appointment had moved on in the store (arrived, cancelled) and was left alone
    fee_cents: int = 0
    guarantor_id: str | None = None


@dataclass(frozen=True)
class PatientMessage:
    """Send a template to the appointment's patient on every channel on file (SMS, e-mail), opt-outs honoured.
    ``key`` makes it idempotent (one outbox row per channel and key)."""

    appointment_id: str
    template: str  # domain.messages: reminder, telehealth_invite, cancellation
    key: str


@dataclass(frozen=True)
class MessageOutcome:
    key: str
    sent: tuple[str, ...] = ()  # channels the provider accepted
    opted_out: tuple[str, ...] = ()
    failed: tuple[str, ...] = ()  # channels the provider refused for good (bad number, inactive address)


# --- telehealth --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LicenseView:
    """A state license as the licensure rule reads it (domain.licensure.License), dates as ISO strings."""

    state: str
    status: str
    issued_on: str
    expires_on: str | None = None


@dataclass(frozen=True)
class ProviderOption:
    """A provider the visit could be given to: their state licenses and whether the slot is free for them."""

    provider_id: str
    licenses: tuple[LicenseView, ...]
    free: bool


@dataclass(frozen=True)
class VirtualVisitPlan:
    appointment_id: str
    provider_id: str
    patient_state: str  # where the patient is expected (the record), or said they are at check-in
    visit_day: str
    problem: str | None  # None: the provider may see the patient there; else why not (ids, states, dates)
    candidates: tuple[ProviderOption, ...] = ()
    consent_on_file: bool = False
    has_contact: bool = True


@dataclass(frozen=True)
class Reassignment:
    appointment_id: str
    provider_id: str
    patient_state: str
    actor: str


@dataclass(frozen=True)
class RoomRequest:
    appointment_id: str
    expires_at: datetime  # the room and its tokens die then at the latest


@dataclass(frozen=True)
class RoomOpened:
    appointment_id: str
    room_name: str
    created: bool  # False: the room existed (a retry)


@dataclass(frozen=True)
class RoomClosed:
    appointment_id: str
    deleted: bool  # False: there was no room (never opened, or deleted before)


@dataclass(frozen=True)
class TelehealthEvent:
    """Something that happened in a virtual visit, recorded on its row and in the audit trail."""

    appointment_id: str
    kind: str  # state, patient_joined, provider_joined, audio_fallback, blocked, invite_sent
    state: str
    at: datetime
    actor: str
    detail: str = ""  # a code (e.g. not_licensed), never PHI


@dataclass(frozen=True)
class ConsentRequest:
    method: str  # verbal, electronic, written
    patient_state: str
    by: str


@dataclass(frozen=True)
class ConsentRecord:
    appointment_id: str
    method: str
    patient_state: str
    at: datetime
    by: str


@dataclass(frozen=True)
class CheckInRequest:
    patient_location: str  # home, other
    patient_state: str
    by: str


@dataclass(frozen=True)
class CheckInRecord:
    appointment_id: str
    patient_location: str
    patient_state: str
    at: datetime
    by: str


@dataclass(frozen=True)
class ActorRequest:
    """An Update that only needs to know who asked (audio fallback, end, resend the invite)."""

    by: str


@dataclass(frozen=True)
class ReassignRequest:
    provider_id: str
    by: str


@dataclass(frozen=True)
class VendorEvent:
    """A video vendor webhook, reduced to what the workflow needs (no names: roles and opaque ids)."""

    kind: str  # participant_joined, participant_left, meeting_ended
    role: str  # patient, provider, "" for room events
    at: datetime
    event_id: str = ""


@dataclass(frozen=True)
class VisitFinish:
    appointment_id: str
    audio_only: bool
    started_at: datetime | None
    ended_at: datetime
    actor: str


@dataclass(frozen=True)
class FinishedVisit:
    appointment_id: str
    encounter_id: str
    place_of_service: str
    modifier: str
    duration_minutes: int


@dataclass(frozen=True)
class VirtualVisitResult:
    appointment_id: str
    outcome: str  # done, no_show, cancelled, failed
    place_of_service: str | None = None
    modifier: str | None = None
    duration_minutes: int = 0
    encounter_workflow_id: str | None = None
    reassigned_to: str | None = None


# --- typed references: how a workflow names these activities (flows.calls); mypy checks the types -----------

visits_load = ActivityRef(VISITS_LOAD, AppointmentRef, VisitSchedule)
visits_coverage = ActivityRef(VISITS_COVERAGE, AppointmentRef, VisitCoverage)
visits_record_eligibility = ActivityRef(VISITS_RECORD_ELIGIBILITY, VisitEligibility, Nothing)
visits_set_status = ActivityRef(VISITS_SET_STATUS, StatusChange, VisitSchedule)
visits_no_show = ActivityRef(VISITS_NO_SHOW, NoShow, NoShowResult)
messaging_send = ActivityRef(MESSAGING_SEND, PatientMessage, MessageOutcome)
telehealth_prepare = ActivityRef(TELEHEALTH_PREPARE, AppointmentRef, VirtualVisitPlan)
telehealth_reassign = ActivityRef(TELEHEALTH_REASSIGN, Reassignment, VirtualVisitPlan)
telehealth_open_room = ActivityRef(TELEHEALTH_OPEN_ROOM, RoomRequest, RoomOpened)
telehealth_close_room = ActivityRef(TELEHEALTH_CLOSE_ROOM, AppointmentRef, RoomClosed)
telehealth_record = ActivityRef(TELEHEALTH_RECORD, TelehealthEvent, Nothing)
telehealth_consent = ActivityRef(TELEHEALTH_CONSENT, ConsentRecord, Nothing)
telehealth_check_in = ActivityRef(TELEHEALTH_CHECK_IN, CheckInRecord, VirtualVisitPlan)
telehealth_finish = ActivityRef(TELEHEALTH_FINISH, VisitFinish, FinishedVisit)
