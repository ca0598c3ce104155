"""Contract of the staff activities (implemented by ``activities.staff.StaffActivities``) and the inputs of
the StaffCredentialing and TrainingRenewal workflows. Opaque ids, codes and dates only: no names.

Calendar dates travel as ISO strings (``YYYY-MM-DD``): the payload converter encodes datetimes, not dates."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from activities.contracts.reference import ActivityRef

READ_CREDENTIALS = "staff.read_credentials"
RECORD_RENEWAL = "staff.record_renewal"
MARK_LAPSED = "staff.mark_credential_lapsed"
READ_TRAINING = "staff.read_training"
RECORD_COMPLETION = "staff.record_training_completion"
RECORD_EXCLUSION_DECISION = "staff.record_exclusion_decision"


# The staff workflows run on the revenue task queue (the practice's store-bound back-office work).
STAFF_TASK_QUEUE = "revenue"

CREDENTIALS_CHANGED_SIGNAL = "credentials_changed"
TRAINING_CHANGED_SIGNAL = "training_changed"


def credentialing_workflow_id(staff_id: str) -> str:
    return f"credentialing-{staff_id}"


def training_workflow_id(staff_id: str) -> str:
    return f"training-{staff_id}"


@dataclass(frozen=True)
class StaffPolicy:
    """Business durations as workflow input: the demo shortens ``day_seconds`` instead of touching any clock."""

    day_seconds: float = 86400.0
    credential_lead_days: int = 90  # the renewal item opens this long before the credential expires
    training_lead_days: int = 30  # the training item opens this long before the training is due
    work_item_sla_days: int = 14  # then the item escalates (again one SLA later, up to the mixin's maximum)
    reread_days: float = 1.0  # the store is read again at least this often (items the sweep opened, edits)
    reads_per_run: int = 120  # continue-as-new after this many reads (with no item open) to keep history short
    caqh_lead_days: int = 30  # the CAQH re-attestation item opens this long before the 120-day attestation is due
    exclusion_sla_days: float = 3.0  # an exclusion match holds billing: its item escalates after this long

    def days(self, count: float) -> timedelta:
        return timedelta(seconds=count * self.day_seconds)


@dataclass(frozen=True)
class BusinessClock:
    """Maps calendar dates to workflow time: ``origin_day`` began at ``origin_at``, a day lasts ``day_seconds``.

    With real days (86400 s) it is the calendar; a compressed day lets the demo live through a year in minutes.
    Fixed at the first run and carried across continue-as-new, so the mapping never shifts.
    """

    origin_at: datetime
    origin_day: str  # ISO date
    day_seconds: float

    def at(self, day: date) -> datetime:
        return self.origin_at + timedelta(seconds=(day - date.fromisoformat(self.origin_day)).days * self.day_seconds)

    def today(self, now: datetime) -> date:
        elapsed_days = int((now - self.origin_at).total_seconds() // self.day_seconds)
        return date.fromisoformat(self.origin_day) + timedelta(days=elapsed_days)


@dataclass(frozen=True)
class StaffTrackingInput:
    """Input of StaffCredentialing and TrainingRenewal. ``handled`` and ``clock`` carry state across
    continue-as-new: subject id (credential or requirement) -> the ISO date whose item was resolved."""

    staff_id: str
    policy: StaffPolicy = field(default_factory=StaffPolicy)
    clock: BusinessClock | None = None
    handled: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class StaffTrackingResult:
    staff_id: str
    items_resolved: int
    ended_because: str  # "staff_inactive"


# --- credentials --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReadCredentialsInput:
    staff_id: str


@dataclass(frozen=True)
class CredentialView:
    credential_id: str
    kind: str
    issuer: str
    expires_on: str  # ISO date
    lapsed: bool  # status is expired
    item_open: bool = False  # an open credential_expiring item exists for this expiry (e.g. the sweep opened it)
    item_done: bool = False  # that item was already resolved (a workflow started afresh must not ask again)


@dataclass(frozen=True)
class ExclusionView:
    """An exclusion-list match no person has decided yet (opaque ids, list name, basis and dates only)."""

    match_id: str
    source: str  # OIG, SAM
    basis: str  # npi, name_dob, name (possible)
    excluded_on: str  # ISO date
    found_on: str  # ISO date
    item_open: bool = False  # its exclusion_match item exists (the screening opened it): adopt it
    item_done: bool = False  # that item was resolved or cancelled before


@dataclass(frozen=True)
class CredentialSnapshot:
    staff_id: str
    active: bool  # False: the staff member left (or does not exist); nothing more is tracked
    credentials: list[CredentialView] = field(default_factory=list)
    exclusions: list[ExclusionView] = field(default_factory=list)


@dataclass(frozen=True)
class RecordRenewalInput:
    credential_id: str
    expected_expires_on: str  # ISO date: the expiry the item was about: a renewal recorded twice changes nothing
    new_expires_on: str  # ISO date
    by: str
    workflow_id: str
    work_item_id: str
    number: str = ""
    document_id: str = ""


@dataclass(frozen=True)
class RenewalRecorded:
    credential_id: str
    expires_on: str  # ISO date
    changed: bool  # False: already recorded (a retry) or the credential moved on meanwhile


@dataclass(frozen=True)
class MarkLapsedInput:
    credential_id: str
    expires_on: str  # ISO date; only if the credential still expires then (not renewed meanwhile)
    workflow_id: str


@dataclass(frozen=True)
class ExclusionDecisionInput:
    match_id: str
    decision: str  # confirmed (it is this person) or cleared (it is someone else)
    by: str
    workflow_id: str
    work_item_id: str


# --- training -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReadTrainingInput:
    staff_id: str


@dataclass(frozen=True)
class TrainingView:
    requirement_id: str
    code: str
    renewal_days: int
    due_on: str  # ISO date
    last_completed_on: str = ""  # ISO date; "" never completed
    item_open: bool = False
    item_done: bool = False


@dataclass(frozen=True)
class TrainingSnapshot:
    staff_id: str
    active: bool
    requirements: list[TrainingView] = field(default_factory=list)


@dataclass(frozen=True)
class RecordCompletionInput:
    staff_id: str
    requirement_id: str
    completed_on: str  # ISO date
    by: str
    workflow_id: str
    work_item_id: str
    document_id: str = ""


@dataclass(frozen=True)
class CompletionRecorded:
    training_record_id: str
    expires_on: str  # ISO date
    created: bool  # False: this completion was already recorded (a retry)


# --- typed references: how a workflow names these activities (flows.calls); mypy checks the types -----------

staff_read_credentials = ActivityRef(READ_CREDENTIALS, ReadCredentialsInput, CredentialSnapshot)
staff_record_renewal = ActivityRef(RECORD_RENEWAL, RecordRenewalInput, RenewalRecorded)
staff_mark_credential_lapsed = ActivityRef(MARK_LAPSED, MarkLapsedInput, bool)
staff_read_training = ActivityRef(READ_TRAINING, ReadTrainingInput, TrainingSnapshot)
staff_record_training_completion = ActivityRef(RECORD_COMPLETION, RecordCompletionInput, CompletionRecorded)
staff_record_exclusion_decision = ActivityRef(RECORD_EXCLUSION_DECISION, ExclusionDecisionInput, bool)
