"""The revenue workflows' names, ids and first stages: what one workflow needs to start or signal another.

Pure data (strings and string functions), imported through ``workflow.unsafe.imports_passed_through``: a workflow
that starts a Claim or signals one names it here, and so does not import (and, in the workflow sandbox, re-run)
the other workflow's module and its class definitions for every run it starts (bench/README.md, "names").
The workflow classes are registered under these very names.
"""

from __future__ import annotations

from flows.search_attributes import starting_visibility

ELIGIBILITY_WORKFLOW = "EligibilityCheck"
ENCOUNTER_WORKFLOW = "Encounter"
CLAIM_WORKFLOW = "Claim"
# The Claim's signal through which a posting tells it what the payer decided (c.ClaimOutcome).
CLAIM_REMITTANCE_SIGNAL = "remittance"


def eligibility_workflow_id(coverage_id: str) -> str:
    return f"eligibility-{coverage_id}"


def encounter_workflow_id(appointment_id: str) -> str:
    return f"encounter-{appointment_id}"


def claim_workflow_id(claim_id: str) -> str:
    return f"claim-{claim_id}"


# The Encounter's first stage, given at its start by intake and PatientRegistration (see EncounterWorkflow._run).
ENCOUNTER_STARTS_AT = starting_visibility(stage="coding")
