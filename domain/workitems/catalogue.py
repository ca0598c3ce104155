"""The work item catalogue: the queues, the reasons a process stops (each in one queue) and the actions a person
may take on each, with the fields every action needs. Pure: no I/O, no Temporal."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

from domain.claim_corrections import CORRECTABLE_FIELDS
from domain.coverage_changes import COVERAGE_FIELDS
from domain.errors import InvalidResolution


class WorkQueue(StrEnum):
    """Who handles an item. Stored in ``work_items.queue`` and in the ``WorkQueue`` search attribute."""

    REGISTRATION = "registration"
    ELIGIBILITY = "eligibility"
    CODING = "coding"
    CLAIM_EDITS = "claim_edits"
    REJECTIONS = "rejections"
    DENIALS = "denials"
    FOLLOW_UP = "follow_up"
    POSTING = "posting"
    RECONCILIATION = "reconciliation"
    COLLECTIONS = "collections"
    CREDENTIALING = "credentialing"
    SCHEDULING = "scheduling"  # the front desk: no-shows to call back, visits to rebook
    TELEHEALTH = "telehealth"  # the telehealth coordinator: blocked or failed virtual visits
    GENERAL = "general"


class Action(StrEnum):
    CORRECT_AND_RESUBMIT = "correct_and_resubmit"
    APPEAL = "appeal"
    WRITE_OFF = "write_off"
    BILL_PATIENT = "bill_patient"
    RETRY_NOW = "retry_now"
    CONFIRM_ELIGIBILITY = "confirm_eligibility"
    MARK_INACTIVE = "mark_inactive"
    UPDATE_COVERAGE = "update_coverage"
    ADD_CODES = "add_codes"
    MERGE_DUPLICATE = "merge_duplicate"
    NOT_DUPLICATE = "not_duplicate"
    POST_MANUALLY = "post_manually"
    SETTLE = "settle"
    PAYMENT_PLAN = "payment_plan"
    SEND_TO_AGENCY = "send_to_agency"
    COMPLETE = "complete"
    RECORD_RENEWAL = "record_renewal"
    RECORD_COMPLETION = "record_completion"
    RECORD_ATTESTATION = "record_attestation"
    CONFIRM_EXCLUSION = "confirm_exclusion"
    CLEAR_EXCLUSION = "clear_exclusion"
    ASSIGN = "assign"
    CANCEL = "cancel"
    REASSIGN_PROVIDER = "reassign_provider"


# Fields a biller may change when correcting a claim (line fields also as ``line<N>.<field>``); the one rule
# of their values is domain.claim_corrections. Values stay in the encrypted payload and the store.
CORRECTABLE_CLAIM_FIELDS = CORRECTABLE_FIELDS

# Fields that hold a calendar date (ISO ``YYYY-MM-DD``); the process checks the date against its own facts.
DATE_FIELDS = frozenset({"new_expires_on", "completed_on", "attested_on"})


WRITE_OFF_REASONS = frozenset(
    {
        "small_balance",
        "timely_filing",
        "contractual",
        "non_covered",
        "bad_debt",
        "charity",
        "administrative",
        "hardship",
    }
)


@dataclass(frozen=True)
class ActionSpec:
    """What one action needs. ``allowed_fields`` None means any field name is accepted."""

    required_fields: frozenset[str] = frozenset()
    allowed_fields: frozenset[str] | None = frozenset()
    needs_note: bool = False
    at_least_one_field: bool = False
    terminal: bool = True  # False: the item stays open (e.g. assign)


ACTIONS: Mapping[Action, ActionSpec] = {
    Action.CORRECT_AND_RESUBMIT: ActionSpec(allowed_fields=CORRECTABLE_CLAIM_FIELDS, at_least_one_field=True),
    Action.APPEAL: ActionSpec(needs_note=True, allowed_fields=frozenset({"appeal_level", "attachment_id"})),
    Action.WRITE_OFF: ActionSpec(required_fields=frozenset({"reason_code"}), allowed_fields=frozenset({"reason_code"})),
    # The claim's (or the balance's) whole open amount moves to the patient: there is no amount to choose.
    Action.BILL_PATIENT: ActionSpec(),
    Action.RETRY_NOW: ActionSpec(),
    Action.CONFIRM_ELIGIBILITY: ActionSpec(needs_note=True, allowed_fields=frozenset({"plan_code", "reference"})),
    Action.MARK_INACTIVE: ActionSpec(needs_note=True),
    Action.UPDATE_COVERAGE: ActionSpec(allowed_fields=frozenset(COVERAGE_FIELDS), at_least_one_field=True),
    Action.ADD_CODES: ActionSpec(
        required_fields=frozenset({"procedure_code", "diagnosis_codes"}),
        allowed_fields=frozenset({"procedure_code", "diagnosis_codes", "modifiers", "units"}),
    ),
    Action.MERGE_DUPLICATE: ActionSpec(
        required_fields=frozenset({"surviving_patient_id"}), allowed_fields=frozenset({"surviving_patient_id"})
    ),
    Action.NOT_DUPLICATE: ActionSpec(needs_note=True),
    Action.POST_MANUALLY: ActionSpec(
        required_fields=frozenset({"claim_id"}), allowed_fields=frozenset({"claim_id", "reference"})
    ),
    Action.SETTLE: ActionSpec(needs_note=True, allowed_fields=frozenset({"amount_cents"})),
    Action.PAYMENT_PLAN: ActionSpec(
        required_fields=frozenset({"installments"}), allowed_fields=frozenset({"installments", "first_due"})
    ),
    Action.SEND_TO_AGENCY: ActionSpec(needs_note=True),
    Action.COMPLETE: ActionSpec(allowed_fields=None),
    # A credential renewed: its new expiry (later than the current one), optionally the new number and the
    # stored document (the renewed license's scan) that proves it.
    Action.RECORD_RENEWAL: ActionSpec(
        required_fields=frozenset({"new_expires_on"}),
        allowed_fields=frozenset({"new_expires_on", "number", "document_id"}),
    ),
    # A training completed: the day it was completed, optionally the certificate document.
    Action.RECORD_COMPLETION: ActionSpec(
        required_fields=frozenset({"completed_on"}), allowed_fields=frozenset({"completed_on", "document_id"})
    ),
    # The provider re-attested their CAQH ProView profile on this day: the next attestation is due 120 days later.
    Action.RECORD_ATTESTATION: ActionSpec(
        required_fields=frozenset({"attested_on"}), allowed_fields=frozenset({"attested_on", "document_id"})
    ),
    # An exclusion-list match, decided by a person who compared the record with the staff member: it is them
    # (billing stays blocked from the exclusion date), or it is someone else (the block lifts). Both say why.
    Action.CONFIRM_EXCLUSION: ActionSpec(needs_note=True, allowed_fields=frozenset({"document_id"})),
    Action.CLEAR_EXCLUSION: ActionSpec(needs_note=True, allowed_fields=frozenset({"document_id"})),
    Action.ASSIGN: ActionSpec(
        required_fields=frozenset({"assignee"}), allowed_fields=frozenset({"assignee"}), terminal=False
    ),
    # A virtual visit's provider replaced by one licensed in the patient's state (the visit's own validator
    # checks the license; see flows.visits.virtual).
    Action.REASSIGN_PROVIDER: ActionSpec(
        required_fields=frozenset({"provider_id"}), allowed_fields=frozenset({"provider_id"})
    ),
    Action.CANCEL: ActionSpec(needs_note=True),
}

_EVERYWHERE = (Action.ASSIGN, Action.CANCEL)


class Reason(StrEnum):
    """Why a process stopped. Each reason lives in one queue (see :data:`REASONS`)."""

    POSSIBLE_DUPLICATE_PATIENT = "possible_duplicate_patient"
    REGISTRATION_INCOMPLETE = "registration_incomplete"
    ELIGIBILITY_INACTIVE = "eligibility_inactive"
    ELIGIBILITY_INCONCLUSIVE = "eligibility_inconclusive"
    MISSING_CODES = "missing_codes"
    CLAIM_EDIT_FAILED = "claim_edit_failed"
    CLAIM_REJECTED = "claim_rejected"
    CLAIM_DENIED = "claim_denied"
    NO_PAYER_RESPONSE = "no_payer_response"
    TIMELY_FILING_RISK = "timely_filing_risk"
    UNMATCHED_REMITTANCE = "unmatched_remittance"
    AMBIGUOUS_MATCH = "ambiguous_match"
    DEPOSIT_MISMATCH = "deposit_mismatch"
    POSTING_EXCEPTION = "posting_exception"
    PATIENT_BALANCE_OVERDUE = "patient_balance_overdue"
    PATIENT_DISPUTE = "patient_dispute"
    HARDSHIP_REQUEST = "hardship_request"
    CREDENTIAL_EXPIRING = "credential_expiring"
    CREDENTIAL_EXPIRED = "credential_expired"
    CAQH_ATTESTATION_DUE = "caqh_attestation_due"
    EXCLUSION_MATCH = "exclusion_match"
    TRAINING_DUE = "training_due"
    VISIT_NO_SHOW = "visit_no_show"
    PROVIDER_NOT_LICENSED = "provider_not_licensed"
    VIRTUAL_VISIT_FAILED = "virtual_visit_failed"
    MANUAL_TASK = "manual_task"


@dataclass(frozen=True)
class ReasonSpec:
    queue: WorkQueue
    actions: frozenset[Action]
    description: str


def _spec(queue: WorkQueue, description: str, *actions: Action) -> ReasonSpec:
    return ReasonSpec(queue=queue, actions=frozenset((*actions, *_EVERYWHERE)), description=description)


REASONS: Mapping[Reason, ReasonSpec] = {
    Reason.POSSIBLE_DUPLICATE_PATIENT: _spec(
        WorkQueue.REGISTRATION, "the new patient may already exist", Action.MERGE_DUPLICATE, Action.NOT_DUPLICATE
    ),
    Reason.REGISTRATION_INCOMPLETE: _spec(
        WorkQueue.REGISTRATION, "registration lacks required data", Action.UPDATE_COVERAGE, Action.COMPLETE
    ),
    Reason.ELIGIBILITY_INACTIVE: _spec(
        WorkQueue.ELIGIBILITY,
        "the payer reports the coverage inactive",
        Action.UPDATE_COVERAGE,
        Action.RETRY_NOW,
        Action.MARK_INACTIVE,
        Action.BILL_PATIENT,
    ),
    Reason.ELIGIBILITY_INCONCLUSIVE: _spec(
        WorkQueue.ELIGIBILITY,
        "the eligibility answer was missing or unclear",
        Action.CONFIRM_ELIGIBILITY,
        Action.RETRY_NOW,
        Action.UPDATE_COVERAGE,
        Action.MARK_INACTIVE,
    ),
    Reason.MISSING_CODES: _spec(WorkQueue.CODING, "the encounter has no billable codes", Action.ADD_CODES),
    Reason.CLAIM_EDIT_FAILED: _spec(
        WorkQueue.CLAIM_EDITS,
        "the claim failed a scrubber edit",
        Action.CORRECT_AND_RESUBMIT,
        Action.RETRY_NOW,
        Action.WRITE_OFF,
    ),
    Reason.CLAIM_REJECTED: _spec(
        WorkQueue.REJECTIONS,
        "the clearinghouse or payer rejected the claim (999/277CA)",
        Action.CORRECT_AND_RESUBMIT,
        Action.RETRY_NOW,
        Action.WRITE_OFF,
    ),
    Reason.CLAIM_DENIED: _spec(
        WorkQueue.DENIALS,
        "the payer denied the claim (see CARC/RARC)",
        Action.APPEAL,
        Action.CORRECT_AND_RESUBMIT,
        Action.WRITE_OFF,
        Action.BILL_PATIENT,
    ),
    Reason.NO_PAYER_RESPONSE: _spec(
        WorkQueue.FOLLOW_UP,
        "no remittance within the payer's follow-up window",
        Action.RETRY_NOW,
        Action.CORRECT_AND_RESUBMIT,
        Action.APPEAL,
        Action.WRITE_OFF,
        Action.COMPLETE,
    ),
    Reason.TIMELY_FILING_RISK: _spec(
        WorkQueue.FOLLOW_UP,
        "the timely-filing deadline is near or passed",
        Action.RETRY_NOW,
        Action.APPEAL,
        Action.WRITE_OFF,
    ),
    Reason.UNMATCHED_REMITTANCE: _spec(
        WorkQueue.POSTING, "a remittance line matches no claim", Action.POST_MANUALLY, Action.COMPLETE
    ),
    Reason.AMBIGUOUS_MATCH: _spec(
        WorkQueue.POSTING,
        "a remittance line matches several claims, or too weakly to post",
        Action.POST_MANUALLY,
        Action.COMPLETE,
    ),
    Reason.DEPOSIT_MISMATCH: _spec(
        WorkQueue.RECONCILIATION,
        "an ERA and the bank deposit disagree, or one of them is missing",
        Action.COMPLETE,
        Action.RETRY_NOW,
    ),
    Reason.POSTING_EXCEPTION: _spec(
        WorkQueue.POSTING,
        "posting found an inconsistency",
        Action.POST_MANUALLY,
        Action.RETRY_NOW,
        Action.WRITE_OFF,
    ),
    Reason.PATIENT_BALANCE_OVERDUE: _spec(
        WorkQueue.COLLECTIONS,
        "the patient balance is past its statement cycle",
        Action.PAYMENT_PLAN,
        Action.SETTLE,
        Action.SEND_TO_AGENCY,
        Action.WRITE_OFF,
        Action.BILL_PATIENT,
    ),
    # A guarantor disputes the balance while on a payment plan: the plan is paused until a person decides.
    Reason.PATIENT_DISPUTE: _spec(
        WorkQueue.COLLECTIONS,
        "the guarantor disputes the balance; collections are paused",
        Action.COMPLETE,  # reviewed, the balance stands (or was corrected): the plan resumes
        Action.WRITE_OFF,  # the dispute is upheld: the balance is written off, the plan ends
        Action.BILL_PATIENT,  # the plan ends; the statement cycle restarts on the corrected balance
    ),
    Reason.HARDSHIP_REQUEST: _spec(
        WorkQueue.COLLECTIONS,
        "the guarantor asks for financial-hardship relief; collections are paused",
        Action.PAYMENT_PLAN,  # a new plan with the policy's smaller hardship installments
        Action.WRITE_OFF,  # a hardship (or charity) write-off of the balance
        Action.COMPLETE,  # refused: the plan resumes as it was
    ),
    Reason.CREDENTIAL_EXPIRING: _spec(
        WorkQueue.CREDENTIALING,
        "a credential is about to expire",
        Action.RECORD_RENEWAL,  # renewed: the new expiry is recorded and the next cycle is scheduled
        Action.COMPLETE,  # handled elsewhere (e.g. the store was updated): the credential is read again
        Action.RETRY_NOW,  # read the credential again now
    ),
    Reason.CREDENTIAL_EXPIRED: _spec(
        WorkQueue.CREDENTIALING,
        "a credential has expired and was not renewed (escalated at once)",
        Action.RECORD_RENEWAL,
        Action.COMPLETE,
        Action.RETRY_NOW,
    ),
    Reason.CAQH_ATTESTATION_DUE: _spec(
        WorkQueue.CREDENTIALING,
        "the provider's CAQH ProView attestation is due (every 120 days)",
        Action.RECORD_ATTESTATION,  # re-attested on a day: the next one is due 120 days later
        Action.RECORD_RENEWAL,  # the next due date, as CAQH shows it
        Action.COMPLETE,
        Action.RETRY_NOW,
    ),
    Reason.EXCLUSION_MATCH: _spec(
        WorkQueue.CREDENTIALING,
        "a staff member matches an OIG LEIE or SAM exclusion record; billing is held",
        Action.CONFIRM_EXCLUSION,  # it is this person: the provider's claims stay blocked from the exclusion date
        Action.CLEAR_EXCLUSION,  # it is someone else: the block lifts
    ),
    Reason.TRAINING_DUE: _spec(
        WorkQueue.CREDENTIALING,
        "a required training is due (or overdue) for renewal",
        Action.RECORD_COMPLETION,  # completed: a training record is written, the next due date follows
        Action.COMPLETE,  # handled elsewhere: the training records are read again
    ),
    Reason.VISIT_NO_SHOW: _spec(
        WorkQueue.SCHEDULING,
        "the patient did not come to the visit (the practice's no-show policy was applied)",
        Action.COMPLETE,  # the patient was contacted (and rebooked through intake)
    ),
    Reason.PROVIDER_NOT_LICENSED: _spec(
        WorkQueue.TELEHEALTH,
        "the provider holds no active license in the patient's state on the visit date",
        Action.REASSIGN_PROVIDER,  # a provider licensed there takes the visit
        Action.RETRY_NOW,  # the license was recorded since: check again
    ),
    Reason.VIRTUAL_VISIT_FAILED: _spec(
        WorkQueue.TELEHEALTH,
        "the video vendor failed for good; the room was deleted and its tokens revoked",
        Action.COMPLETE,  # the patient was called (and the visit rebooked through intake)
    ),
    Reason.MANUAL_TASK: _spec(WorkQueue.GENERAL, "a task opened by hand or by a batch sweep", Action.COMPLETE),
}


def queue_of(reason: str) -> WorkQueue:
    return REASONS[parse_reason(reason)].queue


def parse_reason(reason: str) -> Reason:
    try:
        return Reason(reason)
    except ValueError:
        raise InvalidResolution(f"unknown work item reason {reason!r}") from None


def allowed_actions(reason: str) -> list[str]:
    return sorted(REASONS[parse_reason(reason)].actions)


def is_terminal(action: str) -> bool:
    return ACTIONS[Action(action)].terminal
