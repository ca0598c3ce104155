"""Registration and eligibility payloads: one frozen dataclass in, one out; opaque ids and codes only."""

from dataclasses import dataclass, field

from activities.contracts.revenue.policy import RevenuePolicy


@dataclass(frozen=True)
class RegistrationInput:
    patient_id: str
    policy: RevenuePolicy = field(default_factory=RevenuePolicy)
    bill_encounters: bool = True  # go on to the patient's completed visits


@dataclass(frozen=True)
class PatientRef:
    patient_id: str


@dataclass(frozen=True)
class RegistrationCheck:
    patient_id: str
    guarantor_id: str
    coverage_ids: tuple[str, ...]  # in rank order
    problems: tuple[str, ...] = ()  # problem codes (e.g. "missing_phone"), never the values
    duplicate_of: tuple[str, ...] = ()  # other patient ids


@dataclass(frozen=True)
class EligibilityInput:
    coverage_id: str
    policy: RevenuePolicy = field(default_factory=RevenuePolicy)
    portal_task_queue: str = "portal"  # where the portal workers (browser sessions) listen


@dataclass(frozen=True)
class CoverageRef:
    coverage_id: str


@dataclass(frozen=True)
class EligibilityAnswer:
    """What the payer said (271 or portal): status is active, inactive or inconclusive."""

    coverage_id: str
    payer_id: str
    status: str
    route: str  # clearinghouse or portal
    copay_cents: int | None = None
    deductible_remaining_cents: int | None = None
    reject_reason: str | None = None  # AAA03 code or portal error code


@dataclass(frozen=True)
class EligibilityRecord:
    coverage_id: str
    status: str  # active, inactive, unverified
    decided_by: str
    route: str | None = None  # how the payer was asked: clearinghouse (270/271) or portal (recorded in the audit)


@dataclass(frozen=True)
class CoverageUpdate:
    """A person's correction of a coverage (member id, payer, dates) before eligibility is asked again."""

    coverage_id: str
    fields: dict[str, str]  # stays in the encrypted payload; applied by the activity, never logged
    actor: str


@dataclass(frozen=True)
class EligibilityResult:
    coverage_id: str
    payer_id: str
    status: str  # active, inactive
    decided_by: str  # "payer" or the person who resolved the work item


@dataclass(frozen=True)
class PatientRegistered:
    """The registration's outcome when the Encounter of a new patient's first visit ran it
    (``EncounterInput.register_patient``): no eligibility when the record was merged or cancelled as a duplicate."""

    patient_id: str
    eligibility: tuple[EligibilityResult, ...]
