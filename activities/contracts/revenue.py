"""The revenue cycle's workflow and activity contracts: one frozen dataclass in, one out.

Everything here crosses Temporal, so it holds opaque ids, codes, cents and UTC times only: never a name, a birth
date, a member id or an address (those stay in the store; activities look them up by id).
Activity names are stable strings (``<area>.<verb>``): renaming a Python function must not break replay.
"""

from dataclasses import dataclass, field
from datetime import timedelta

from activities.contracts.reference import ActivityRef

# --- stable activity names -----------------------------------------------------------------------------

REGISTRATION_VALIDATE = "registration.validate"
ELIGIBILITY_CHECK = "eligibility.check"
ELIGIBILITY_RECORD = "eligibility.record"
ELIGIBILITY_UPDATE_COVERAGE = "eligibility.update_coverage"
ENCOUNTER_LIST_BILLABLE = "encounter.list_billable"
ENCOUNTER_PREPARE = "encounter.prepare"
ENCOUNTER_RECORD_CODES = "encounter.record_codes"
CLAIMS_CREATE = "claims.create"
CLAIMS_SCRUB = "claims.scrub"
CLAIMS_TERMS = "claims.terms"  # a claim's follow-up window, filing deadline and route, without scrubbing it
CLAIMS_CORRECT = "claims.correct"
CLAIMS_SUBMIT = "claims.submit"
CLAIMS_ACKNOWLEDGMENTS = "claims.acknowledgments"
CLAIMS_STATUS_INQUIRY = "claims.status_inquiry"
CLAIMS_SET_STATUS = "claims.set_status"
POSTING_FETCH_REMITTANCES = "posting.fetch_remittances"
POSTING_POST_REMITTANCE = "posting.post_remittance"
POSTING_CHARGE = "posting.charge"
POSTING_ADJUST = "posting.adjust"
COLLECTIONS_NOTIFY = "collections.notify_balance"
COLLECTIONS_BALANCE = "collections.balance"
COLLECTIONS_SEND_STATEMENT = "collections.send_statement"
COLLECTIONS_WRITE_OFF = "collections.write_off"
COLLECTIONS_AGENCY = "collections.agency_handoff"
COLLECTIONS_CREATE_PLAN = "collections.create_payment_plan"
COLLECTIONS_CHECK_PLAN = "collections.check_payment_plan"
COLLECTIONS_UPDATE_PLAN = "collections.update_payment_plan"
COLLECTIONS_POLICY = "collections.policy"  # the practice's collections policy in force (stored, versioned)

REVENUE_TASK_QUEUE = "revenue"


# --- policy: every business duration, in business days, with the length of a day ------------------------


@dataclass(frozen=True)
class RevenuePolicy:
    """Business durations as workflow input: the demo shortens ``day_seconds`` instead of touching any clock."""

    day_seconds: float = 86400.0
    ack_poll_days: float = 1.0  # how often to look for the 999/277CA
    ack_timeout_days: int = 7  # no acknowledgment by then: a follow-up work item
    remittance_poll_days: float = 1.0  # how often remittance intake asks the clearinghouse for 835s
    work_item_sla_days: int = 3
    max_status_inquiries: int = 2
    max_resubmissions: int = 3
    statement_interval_days: int = 30  # first statement, then reminders at this interval
    reminders: int = 1  # reminders between the first statement and the final notice
    agency_after_final_days: int = 30
    small_balance_cents: int = 500  # at or below: written off instead of chased
    intake_iterations_per_run: int = 200  # continue-as-new after this many polls
    min_installment_cents: int = 2500  # a payment plan's smallest installment
    max_installments: int = 12
    installment_interval_days: int = 30
    installment_grace_days: int = 10  # a missed installment gets a reminder; still behind after this, a miss counts
    plan_max_missed: int = 2  # this many missed installments break the plan
    # A hardship request granted as a new plan: smaller installments, more of them (CollectionsPolicy's terms).
    hardship_min_installment_cents: int = 1000
    hardship_max_installments: int = 24

    def days(self, count: float) -> timedelta:
        return timedelta(seconds=count * self.day_seconds)


# --- registration and eligibility ---------------------------------------------------------------------


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


# --- encounter and claim ------------------------------------------------------------------------------


@dataclass(frozen=True)
class EncounterInput:
    appointment_id: str
    policy: RevenuePolicy = field(default_factory=RevenuePolicy)


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


@dataclass(frozen=True)
class RegistrationResult:
    patient_id: str
    eligibility: tuple[EligibilityResult, ...]
    encounters: tuple[EncounterResult, ...]


# --- posting and collections ----------------------------------------------------------------------------


@dataclass(frozen=True)
class IntakeInput:
    policy: RevenuePolicy = field(default_factory=RevenuePolicy)
    iterations_left: int = -1  # -1: forever; the demo bounds it
    seen: tuple[str, ...] = ()


@dataclass(frozen=True)
class FetchedRemittances:
    remittance_keys: tuple[str, ...]  # document keys of stored 835s (or EOB extractions)


@dataclass(frozen=True)
class PostingInput:
    remittance_key: str
    policy: RevenuePolicy = field(default_factory=RevenuePolicy)


@dataclass(frozen=True)
class RemittanceRef:
    remittance_key: str


@dataclass(frozen=True)
class PostingResult:
    remittance_key: str
    already_posted: bool
    payer_id: str
    posted_cents: int
    claims: tuple[ClaimOutcome, ...]
    unmatched: tuple[str, ...] = ()  # patient control numbers we could not match
    guarantors_with_balance: tuple[str, ...] = ()
    secondary_claims: tuple[str, ...] = ()  # claims the crossover created: each gets its Claim workflow
    # The work items posting opened (parked claim payments, a payment total that differs, an unknown payer):
    # each gets its PostingException workflow ("" in older histories: none were started).
    exception_items: tuple[str, ...] = ()
    # The payments of this delivery that were stored already (domain.posting.channels), one
    # "<arrival>:<first source>:<stored remittance id>" each: already_posted (the same delivery again),
    # same_payment (the same payment came earlier by another channel, 835 or eob_pdf), channel_mismatch (stated
    # differently: nothing posted, a work item in exception_items asks a person). Empty in older histories.
    arrivals: tuple[str, ...] = ()


@dataclass(frozen=True)
class PatientCharge:
    encounter_id: str
    actor: str


@dataclass(frozen=True)
class ChargeResult:
    encounter_id: str
    guarantor_id: str
    charge_cents: int


@dataclass(frozen=True)
class ClaimAdjustment:
    """A biller's decision on a claim's open balance: write it off or move it to the patient."""

    claim_id: str
    kind: str  # write_off or bill_patient
    reason: str
    actor: str


@dataclass(frozen=True)
class AdjustmentResult:
    claim_id: str
    amount_cents: int
    guarantor_id: str
    claim_status: str = ""  # the claim's ClaimStatus in the store after the adjustment ("" in older histories)


@dataclass(frozen=True)
class CollectionsInput:
    guarantor_id: str
    policy: RevenuePolicy = field(default_factory=RevenuePolicy)
    statements_sent: int = 0
    final_sent: bool = False
    # Carried over continue-as-new by the policy-driven cycle: the business day of the first statement (ISO), and
    # the calendar the business days are measured in (ISO start day, its epoch seconds, a business day's seconds).
    first_statement_on: str = ""
    clock_origin_day: str = ""
    clock_origin_at: float = 0.0
    cycle: int = 0  # statement cycles begun again (a plan, a settlement): each cycle's statements have their own keys


@dataclass(frozen=True)
class GuarantorRef:
    guarantor_id: str


@dataclass(frozen=True)
class BalanceNotice:
    guarantor_id: str
    policy: RevenuePolicy = field(default_factory=RevenuePolicy)


@dataclass(frozen=True)
class GuarantorBalance:
    guarantor_id: str
    balance_cents: int


@dataclass(frozen=True)
class StatementRequest:
    guarantor_id: str
    kind: str  # first, reminder, final
    sequence: int
    cycle_key: str  # idempotency: the workflow id plus the sequence
    due_on: str = ""  # ISO date the policy gives (domain.collections_policy.statement_schedule); "" = its default
    statement_on: str = ""  # ISO business date of the statement; "" = today


@dataclass(frozen=True)
class CollectionsPolicyInForce:
    """The stored collections policy a step is decided by: its version and its settings (whole numbers only)."""

    version: int
    settings: dict[str, int]


@dataclass(frozen=True)
class StatementSent:
    statement_id: str
    balance_cents: int
    document_key: str | None


@dataclass(frozen=True)
class CollectionsWriteOff:
    guarantor_id: str
    amount_cents: int
    reason: str  # small_balance, hardship, bad_debt
    key: str


@dataclass(frozen=True)
class AgencyHandoff:
    guarantor_id: str
    amount_cents: int
    key: str


@dataclass(frozen=True)
class AgencyResult:
    guarantor_id: str
    export_key: str | None


@dataclass(frozen=True)
class CollectionsResult:
    guarantor_id: str
    outcome: str  # paid, written_off, agency, disputed, credit
    statements_sent: int
    balance_cents: int


@dataclass(frozen=True)
class PaymentNotice:
    amount_cents: int
    reference: str


@dataclass(frozen=True)
class Nothing:
    """For activities with nothing to say back."""

    ok: bool = True


# --- payment plans ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PaymentPlanRequest:
    guarantor_id: str
    installments: int
    first_due: str | None  # ISO date from the resolution, or None: one interval from today
    min_installment_cents: int
    max_installments: int
    interval_days: int
    key: str  # idempotency: the workflow id plus the resolution


@dataclass(frozen=True)
class PaymentPlanCreated:
    plan_id: str
    total_cents: int
    amounts_cents: tuple[int, ...]  # one per installment, in order; they add up to the total
    first_due_in_days: int  # from today (business days for the workflow's timer)
    interval_days: int


@dataclass(frozen=True)
class PaymentPlanCheck:
    plan_id: str
    due_cents: int  # what the installments due so far add up to


@dataclass(frozen=True)
class PaymentPlanStanding:
    plan_id: str
    paid_cents: int  # paid toward the plan since it started (from the ledger balance)
    behind_cents: int
    completed: bool


@dataclass(frozen=True)
class PaymentPlanUpdate:
    plan_id: str
    status: str  # active, paused, broken, cancelled (completed is set by the check)
    missed_installments: int


# --- typed references: how a workflow names these activities (flows.calls); mypy checks the types -----------

registration_validate = ActivityRef(REGISTRATION_VALIDATE, PatientRef, RegistrationCheck)
eligibility_check = ActivityRef(ELIGIBILITY_CHECK, CoverageRef, EligibilityAnswer)
eligibility_record = ActivityRef(ELIGIBILITY_RECORD, EligibilityRecord, Nothing)
eligibility_update_coverage = ActivityRef(ELIGIBILITY_UPDATE_COVERAGE, CoverageUpdate, Nothing)
encounter_list_billable = ActivityRef(ENCOUNTER_LIST_BILLABLE, PatientRef, BillableAppointments)
encounter_prepare = ActivityRef(ENCOUNTER_PREPARE, AppointmentRef, PreparedEncounter)
encounter_record_codes = ActivityRef(ENCOUNTER_RECORD_CODES, RecordCodes, PreparedEncounter)
claims_create = ActivityRef(CLAIMS_CREATE, EncounterRef, CreatedClaim)
claims_scrub = ActivityRef(CLAIMS_SCRUB, ClaimRef, ScrubResult)
claims_terms = ActivityRef(CLAIMS_TERMS, ClaimRef, ScrubResult)
claims_correct = ActivityRef(CLAIMS_CORRECT, ClaimCorrection, Nothing)
claims_submit = ActivityRef(CLAIMS_SUBMIT, ClaimCorrection, SubmitResult)
claims_acknowledgments = ActivityRef(CLAIMS_ACKNOWLEDGMENTS, AckQuery, AckResult)
claims_status_inquiry = ActivityRef(CLAIMS_STATUS_INQUIRY, ClaimRef, StatusInquiryResult)
claims_set_status = ActivityRef(CLAIMS_SET_STATUS, SetClaimStatus, Nothing)
posting_fetch_remittances = ActivityRef(POSTING_FETCH_REMITTANCES, Nothing, FetchedRemittances)
posting_post_remittance = ActivityRef(POSTING_POST_REMITTANCE, RemittanceRef, PostingResult)
posting_charge = ActivityRef(POSTING_CHARGE, PatientCharge, ChargeResult)
posting_adjust = ActivityRef(POSTING_ADJUST, ClaimAdjustment, AdjustmentResult)
collections_notify_balance = ActivityRef(COLLECTIONS_NOTIFY, BalanceNotice, Nothing)
collections_balance = ActivityRef(COLLECTIONS_BALANCE, GuarantorRef, GuarantorBalance)
collections_send_statement = ActivityRef(COLLECTIONS_SEND_STATEMENT, StatementRequest, StatementSent)
collections_write_off = ActivityRef(COLLECTIONS_WRITE_OFF, CollectionsWriteOff, Nothing)
collections_agency_handoff = ActivityRef(COLLECTIONS_AGENCY, AgencyHandoff, AgencyResult)
collections_create_payment_plan = ActivityRef(COLLECTIONS_CREATE_PLAN, PaymentPlanRequest, PaymentPlanCreated)
collections_check_payment_plan = ActivityRef(COLLECTIONS_CHECK_PLAN, PaymentPlanCheck, PaymentPlanStanding)
collections_update_payment_plan = ActivityRef(COLLECTIONS_UPDATE_PLAN, PaymentPlanUpdate, Nothing)
collections_policy = ActivityRef(COLLECTIONS_POLICY, Nothing, CollectionsPolicyInForce)
