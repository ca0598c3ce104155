"""PatientRegistration: validate, detect duplicates, check every coverage, then bill the completed visits.

It is the root of a patient's journey (``registration-<patient uuid>``): its children are the eligibility
checks and one Encounter workflow per completed appointment (each with its Claim).
"""

from __future__ import annotations

import asyncio

from temporalio import workflow
from temporalio.workflow import ParentClosePolicy

from flows.revenue._common import (
    STORE,
    STORE_READ,
    ActivityOptions,
    RevenueWorkflow,
    set_first_visibility,
    set_visibility,
)
from flows.revenue.registering import checked_patient, eligibility_inline

with workflow.unsafe.imports_passed_through():
    from activities.contracts import revenue as c
    from flows.revenue.names import (
        ELIGIBILITY_WORKFLOW,
        ENCOUNTER_STARTS_AT,
        ENCOUNTER_WORKFLOW,
        eligibility_workflow_id,
        encounter_workflow_id,
    )
    from flows.search_attributes import starting_visibility


# Marks the histories of the lean registration (docs/capacity.md, "Levers"): each coverage's eligibility is checked
# inline (the EligibilityCheck workflow's steps, flows.revenue.eligibility.CoverageCheck) instead of in an
# EligibilityCheck child workflow, and the two store reads (registration.validate, encounter.list_billable) run as
# local activities. Same activities, work items and result; one execution, two Actions and about four workflow
# tasks fewer per journey. The eligibility work items are this workflow's, resolved through its ``resolve`` Update.
LEAN_PATCH = "registration-lean"


# Marks the histories of a registration that records one patch marker for LEAN_PATCH and LOCAL_STORE_PATCH (both
# implied): the same steps as a run with both, a marker and the SDK's TemporalChangeVersion upsert (an Action) fewer.
ONE_MARKER_PATCH = "registration-one-marker"


# PatientRegistration's first stage, given at its start by intake (free; its first upsert is then skipped).
REGISTRATION_STARTS_AT = starting_visibility(stage="registration")


def registration_workflow_id(patient_id: str) -> str:
    return f"registration-{patient_id}"


@workflow.defn(name="PatientRegistration")
class PatientRegistrationWorkflow(RevenueWorkflow):
    def __init__(self) -> None:
        super().__init__()
        self._lean = False  # LEAN_PATCH: eligibility inline, store reads as local activities
        self._encounters_total = 0
        self._encounters_done = 0

    @workflow.query(name="state")
    def state(self) -> dict[str, object]:
        return {
            "stage": self._stage,
            "encounters": self._encounters_total,
            "encounters_done": self._encounters_done,
        }

    @workflow.run
    async def run(self, data: c.RegistrationInput) -> c.RegistrationResult:
        result = await self._run(data)
        await workflow.wait_condition(workflow.all_handlers_finished)
        return result

    async def _run(self, data: c.RegistrationInput) -> c.RegistrationResult:
        policy = data.policy
        one_marker = workflow.patched(ONE_MARKER_PATCH)  # first: a run recorded before it calls no more than it did
        self._lean = one_marker or workflow.patched(LEAN_PATCH)
        self.store_steps_local(implied=one_marker)
        self._stage = "registration"
        set_first_visibility(stage="registration")
        check = await checked_patient(self, policy, data.patient_id, self._reads())
        if check is None:  # merged or cancelled as a duplicate: the surviving record carries the journey
            return c.RegistrationResult(data.patient_id, (), ())
        self._stage = "eligibility"
        set_visibility(stage="eligibility")
        eligibility = await self._check_eligibility(policy, check.coverage_ids)
        encounters: list[c.EncounterResult] = []
        if data.bill_encounters:
            encounters = await self._bill_encounters(data)
        self._stage = "done"
        set_visibility(stage="done")
        return c.RegistrationResult(data.patient_id, eligibility, tuple(encounters))

    async def _check_eligibility(
        self, policy: c.RevenuePolicy, coverage_ids: tuple[str, ...]
    ) -> tuple[c.EligibilityResult, ...]:
        """Every coverage's eligibility, side by side: inline (histories before LEAN_PATCH: one EligibilityCheck
        child workflow per coverage)."""
        if self._lean:
            return await eligibility_inline(self, policy, coverage_ids)
        children = await asyncio.gather(
            *(
                workflow.execute_child_workflow(
                    ELIGIBILITY_WORKFLOW,  # by name: this module does not import (and re-run) its workflow's
                    c.EligibilityInput(coverage_id, policy),
                    result_type=c.EligibilityResult,
                    id=eligibility_workflow_id(coverage_id),
                    parent_close_policy=ParentClosePolicy.TERMINATE,
                )
                for coverage_id in coverage_ids
            )
        )
        return tuple(children)

    def _reads(self) -> ActivityOptions:
        """How the store reads run: local activities (histories before LEAN_PATCH: activities)."""
        return STORE_READ if self._lean else STORE

    async def _bill_encounters(self, data: c.RegistrationInput) -> list[c.EncounterResult]:
        """The patient's billable appointments, each an Encounter child workflow, run side by side."""
        policy = data.policy
        billable = await self.run_activity(c.encounter_list_billable, c.PatientRef(data.patient_id), self._reads())
        self._encounters_total = len(billable.appointment_ids)
        self._stage = "encounters"
        set_visibility(stage="encounters")

        async def one(appointment_id: str) -> c.EncounterResult:
            result: c.EncounterResult = await workflow.execute_child_workflow(
                ENCOUNTER_WORKFLOW,  # by name: this module does not import (and re-run) the Encounter's and Claim's
                c.EncounterInput(appointment_id, policy),
                result_type=c.EncounterResult,
                id=encounter_workflow_id(appointment_id),
                parent_close_policy=ParentClosePolicy.TERMINATE,
                search_attributes=ENCOUNTER_STARTS_AT,
            )
            self._encounters_done += 1
            return result

        return list(await asyncio.gather(*(one(a) for a in billable.appointment_ids)))
