"""The revenue cycle as durable Temporal workflows.

PatientRegistration -> EligibilityCheck -> Encounter -> Claim -> PaymentPosting -> PatientCollections,
with RemittanceIntake polling the clearinghouse for 835s and a PostingException per item posting opens.
Workflow ids are business keys, so starting twice is idempotent; every business duration comes from the
``RevenuePolicy`` in the input.
"""

from __future__ import annotations

from flows.revenue.claim import ClaimWorkflow, claim_workflow_id
from flows.revenue.collections import PatientCollectionsWorkflow, collections_workflow_id
from flows.revenue.eligibility import EligibilityCheckWorkflow, eligibility_workflow_id
from flows.revenue.encounter import EncounterWorkflow, encounter_workflow_id
from flows.revenue.posting import (
    INTAKE_WORKFLOW_ID,
    PaymentPostingWorkflow,
    RemittanceIntakeWorkflow,
    posting_workflow_id,
)
from flows.revenue.posting_exceptions import PostingExceptionWorkflow
from flows.revenue.registration import PatientRegistrationWorkflow, registration_workflow_id

WORKFLOWS: tuple[type, ...] = (
    PatientRegistrationWorkflow,
    EligibilityCheckWorkflow,
    EncounterWorkflow,
    ClaimWorkflow,
    PaymentPostingWorkflow,
    PostingExceptionWorkflow,
    RemittanceIntakeWorkflow,
    PatientCollectionsWorkflow,
)

__all__ = [
    "INTAKE_WORKFLOW_ID",
    "WORKFLOWS",
    "ClaimWorkflow",
    "EligibilityCheckWorkflow",
    "EncounterWorkflow",
    "PatientCollectionsWorkflow",
    "PatientRegistrationWorkflow",
    "PaymentPostingWorkflow",
    "PostingExceptionWorkflow",
    "RemittanceIntakeWorkflow",
    "claim_workflow_id",
    "collections_workflow_id",
    "eligibility_workflow_id",
    "encounter_workflow_id",
    "posting_workflow_id",
    "registration_workflow_id",
]
