"""The revenue cycle as durable Temporal workflows.

PatientRegistration -> EligibilityCheck -> Encounter -> Claim -> PaymentPosting -> PatientCollections,
with RemittanceIntake polling the clearinghouse for 835s and a PostingException per item posting opens.
Workflow ids are business keys, so starting twice is idempotent; every business duration comes from the
``RevenuePolicy`` in the input.

The names below are loaded from their modules when first asked for (PEP 562), not when the package is imported:
the workflow sandbox imports a workflow's module afresh for every workflow it starts, and importing
``flows.revenue.eligibility`` runs this file first. Eager imports here made each workflow re-run all the revenue
modules (patient_collections, posting, claim...) instead of its own chain (bench/README.md, lever "lazy package").
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from flows.revenue.claim import ClaimWorkflow, claim_workflow_id
    from flows.revenue.eligibility import EligibilityCheckWorkflow, eligibility_workflow_id
    from flows.revenue.encounter import EncounterWorkflow, encounter_workflow_id
    from flows.revenue.patient_collections import PatientCollectionsWorkflow, collections_workflow_id
    from flows.revenue.posting import (
        INTAKE_WORKFLOW_ID,
        PaymentPostingWorkflow,
        RemittanceIntakeWorkflow,
        posting_workflow_id,
    )
    from flows.revenue.posting_exceptions import PostingExceptionWorkflow
    from flows.revenue.registration import PatientRegistrationWorkflow, registration_workflow_id

    WORKFLOWS: tuple[type, ...]

_HOME = {
    "ClaimWorkflow": "claim",
    "claim_workflow_id": "claim",
    "PatientCollectionsWorkflow": "patient_collections",
    "collections_workflow_id": "patient_collections",
    "EligibilityCheckWorkflow": "eligibility",
    "eligibility_workflow_id": "eligibility",
    "EncounterWorkflow": "encounter",
    "encounter_workflow_id": "encounter",
    "INTAKE_WORKFLOW_ID": "posting",
    "PaymentPostingWorkflow": "posting",
    "RemittanceIntakeWorkflow": "posting",
    "posting_workflow_id": "posting",
    "PostingExceptionWorkflow": "posting_exceptions",
    "PatientRegistrationWorkflow": "registration",
    "registration_workflow_id": "registration",
}
_WORKFLOW_NAMES = (
    "PatientRegistrationWorkflow",
    "EligibilityCheckWorkflow",
    "EncounterWorkflow",
    "ClaimWorkflow",
    "PaymentPostingWorkflow",
    "PostingExceptionWorkflow",
    "RemittanceIntakeWorkflow",
    "PatientCollectionsWorkflow",
)


def __getattr__(name: str) -> Any:
    if name == "WORKFLOWS":
        return tuple(__getattr__(workflow) for workflow in _WORKFLOW_NAMES)
    if name not in _HOME:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{_HOME[name]}"), name)
    globals()[name] = value
    return value


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
