"""Typed references: how a workflow names the revenue activities (flows.calls); mypy checks the types."""

from activities.contracts.reference import ActivityRef
from activities.contracts.revenue.claims import (
    AckQuery,
    AckResult,
    AppointmentRef,
    BillableAppointments,
    ClaimCorrection,
    ClaimRef,
    CreatedClaim,
    EncounterRef,
    PreparedEncounter,
    RecordCodes,
    ScrubResult,
    SetClaimStatus,
    StatusInquiryResult,
    SubmitResult,
)
from activities.contracts.revenue.names import (
    CLAIMS_ACKNOWLEDGMENTS,
    CLAIMS_CORRECT,
    CLAIMS_CREATE,
    CLAIMS_SCRUB,
    CLAIMS_SET_STATUS,
    CLAIMS_STATUS_INQUIRY,
    CLAIMS_SUBMIT,
    CLAIMS_TERMS,
    COLLECTIONS_AGENCY,
    COLLECTIONS_BALANCE,
    COLLECTIONS_CHECK_PLAN,
    COLLECTIONS_CREATE_PLAN,
    COLLECTIONS_NOTIFY,
    COLLECTIONS_POLICY,
    COLLECTIONS_SEND_STATEMENT,
    COLLECTIONS_UPDATE_PLAN,
    COLLECTIONS_WRITE_OFF,
    ELIGIBILITY_CHECK,
    ELIGIBILITY_RECORD,
    ELIGIBILITY_UPDATE_COVERAGE,
    ENCOUNTER_LIST_BILLABLE,
    ENCOUNTER_PREPARE,
    ENCOUNTER_RECORD_CODES,
    POSTING_ADJUST,
    POSTING_CHARGE,
    POSTING_CONFIRM_REMITTANCES,
    POSTING_FETCH_REMITTANCES,
    POSTING_POST_REMITTANCE,
    POSTING_TELL,
    REGISTRATION_VALIDATE,
)
from activities.contracts.revenue.plans import (
    PaymentPlanCheck,
    PaymentPlanCreated,
    PaymentPlanRequest,
    PaymentPlanStanding,
    PaymentPlanUpdate,
)
from activities.contracts.revenue.posting import (
    AdjustmentResult,
    AgencyHandoff,
    AgencyResult,
    BalanceNotice,
    ChargeResult,
    ClaimAdjustment,
    CollectionsPolicyInForce,
    CollectionsWriteOff,
    ConfirmRemittances,
    FetchedRemittances,
    FetchRemittances,
    GuarantorBalance,
    GuarantorRef,
    Nothing,
    PatientCharge,
    PostingResult,
    RemittanceRef,
    StatementRequest,
    StatementSent,
    TellPage,
    Told,
)
from activities.contracts.revenue.registration import (
    CoverageRef,
    CoverageUpdate,
    EligibilityAnswer,
    EligibilityRecord,
    PatientRef,
    RegistrationCheck,
)

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
posting_fetch_remittances = ActivityRef(POSTING_FETCH_REMITTANCES, FetchRemittances, FetchedRemittances)
posting_confirm_remittances = ActivityRef(POSTING_CONFIRM_REMITTANCES, ConfirmRemittances, Nothing)
posting_post_remittance = ActivityRef(POSTING_POST_REMITTANCE, RemittanceRef, PostingResult)
posting_tell = ActivityRef(POSTING_TELL, TellPage, Told)
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
