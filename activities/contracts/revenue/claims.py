"""Encounter and claim payloads (and the results the registration, encounter and claim workflows return):
one frozen dataclass in, one out; opaque ids, codes, cents and UTC times only."""

from dataclasses import dataclass, field

from activities.contracts.revenue.policy import RevenuePolicy
from activities.contracts.revenue.registration import EligibilityResult, PatientRegistered


@dataclass(frozen=True)
class EncounterInput:
    appointment_id: str
    policy: RevenuePolicy = field(default_factory=RevenuePolicy)
    # A new patient's first visit, come in with the patient: the Encounter runs the patient's registration too
    # (flows.revenue.registering), beside its coding and billing, instead of a PatientRegistration of its own.
    register_patient: bool = False


@dataclass(frozen=True)
class AppointmentRef:
    appointment_id: str


@dataclass(frozen=True)
class BillableAppointments:
    appointment_ids: tuple[str, ...]


@dataclass(frozen=True)
class PreparedEncounter:
    encounter_id: str
    patient_id: str
    guarantor_id: str
    coded: bool
    claim_id: str | None  # an existing claim for it, if any
    bill_to: str  # payer, patient (no active coverage) or none (nothing to bill)
    missing: tuple[str, ...] = ()  # what coding lacks: diagnoses, procedures


@dataclass(frozen=True)
class RecordCodes:
    encounter_id: str
    diagnosis_codes: tuple[str, ...]
    procedure_codes: tuple[str, ...]
    actor: str
    modifiers: tuple[str, ...] = ()
    units: tuple[int, ...] = ()  # one for every line, or one per procedure (domain.coding.coding_lines)


@dataclass(frozen=True)
class EncounterRef:
    encounter_id: str


@dataclass(frozen=True)
class CreatedClaim:
    claim_id: str | None  # None: billed to the patient instead
    bill_to: str


@dataclass(frozen=True)
class ClaimOutcome:
    """What posting found for one claim in a remittance; sent as a signal to the claim's workflow."""

    claim_id: str
    remittance_key: str
    status: str  # paid, partially_paid, denied (the claim status after posting), reversed
    paid_cents: int
    patient_responsibility_cents: int
    adjustment_codes: tuple[str, ...] = ()  # "CO-45", "PR-1", ...
    remark_codes: tuple[str, ...] = ()  # RARC
    explanation: tuple[str, ...] = ()  # CARC/RARC meanings, no PHI
    claim_status: str = ""  # the claim's ClaimStatus in the store after posting ("" in older histories)


@dataclass(frozen=True)
class ClaimInput:
    claim_id: str
    policy: RevenuePolicy = field(default_factory=RevenuePolicy)
    resubmissions: int = 0  # carried over continue-as-new
    portal_task_queue: str = "portal"  # where the portal workers ask a portal payer for the claim's status
    # A remittance for a claim whose process had ended (a reversal, a late denial or payment): the new run starts
    # from this outcome instead of scrubbing and submitting the claim again.
    reopened_by: ClaimOutcome | None = None


@dataclass(frozen=True)
class ClaimRef:
    claim_id: str


@dataclass(frozen=True)
class ClaimEdit:
    code: str
    message: str  # no PHI: codes and amounts
    fix_hint: str


@dataclass(frozen=True)
class ScrubResult:
    claim_id: str
    payer_id: str
    passed: bool
    edits: tuple[ClaimEdit, ...]
    follow_up_days: int
    filing_deadline_days: int  # days left until the timely-filing deadline (negative: already passed)
    charge_cents: int
    route: str = "clearinghouse"  # how the payer answers status inquiries: clearinghouse (276/277) or portal
    lines: int = 0  # the claim's service lines (0: not said): a correction's line numbers are checked against it
    diagnoses: int = 0  # the claim's diagnoses (0: not said): a correction's diagnosis pointers are checked too
    line_pointers: tuple[int, ...] = ()  # each line's highest diagnosis pointer
    claim_status: str = ""  # the claim's ClaimStatus in the store after the scrub ("" in older histories)


@dataclass(frozen=True)
class ClaimCorrection:
    claim_id: str
    changes: dict[str, str]  # field=value as a biller typed them (validated by the activity)
    frequency_code: str  # 1 original, 7 replacement
    actor: str


@dataclass(frozen=True)
class SubmitResult:
    claim_id: str
    interchange_control_number: str
    batch_key: str  # the clearinghouse's id (or document key) of the batch
    frequency_code: str
    claim_status: str = ""  # the claim's ClaimStatus in the store after the submission ("" in older histories)


@dataclass(frozen=True)
class AckQuery:
    claim_id: str
    batch_key: str


@dataclass(frozen=True)
class AckResult:
    claim_id: str
    state: str  # pending, accepted, rejected
    codes: tuple[str, ...] = ()  # 999 IK3/IK4 errors or 277CA STC category:status codes
    claim_status: str = ""  # the claim's ClaimStatus in the store ("" in older histories)


@dataclass(frozen=True)
class StatusInquiryResult:
    claim_id: str
    category: str  # 277 STC01-1, e.g. A1, P1 (pending), F1 (finalized/paid), F2 (denied), A7 ...
    status_code: str
    finalized: bool
    route: str


@dataclass(frozen=True)
class SetClaimStatus:
    claim_id: str
    status: str
    actor: str
    note: str = ""


@dataclass(frozen=True)
class ClaimResult:
    claim_id: str
    status: str
    paid_cents: int
    patient_responsibility_cents: int
    submissions: int
    work_items: tuple[str, ...]  # reason codes of the work items it needed


@dataclass(frozen=True)
class EncounterResult:
    appointment_id: str
    encounter_id: str
    claim: ClaimResult | None
    patient_charge_cents: int = 0
    registration: PatientRegistered | None = None  # the patient's registration, when this Encounter ran it


@dataclass(frozen=True)
class RegistrationResult:
    patient_id: str
    eligibility: tuple[EligibilityResult, ...]
    encounters: tuple[EncounterResult, ...]
