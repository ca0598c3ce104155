"""PatientRegistration: validate, detect duplicates, check every coverage, then bill the completed visits.

It is the root of a patient's journey (``registration-<patient uuid>``): its children are the eligibility
checks and one Encounter workflow per completed appointment (each with its Claim).
"""

from __future__ import annotations

import asyncio

from temporalio import workflow
from temporalio.workflow import ParentClosePolicy

from flows.revenue._common import RevenueWorkflow, set_visibility
from flows.revenue.eligibility import EligibilityCheckWorkflow, eligibility_workflow_id
from flows.revenue.encounter import EncounterWorkflow, encounter_workflow_id

with workflow.unsafe.imports_passed_through():
    from activities.contracts import revenue as c
    from domain.workitems import Action, Reason


def registration_workflow_id(patient_id: str) -> str:
    return f"registration-{patient_id}"


@workflow.defn(name="PatientRegistration")
class PatientRegistrationWorkflow(RevenueWorkflow):
    def __init__(self) -> None:
        super().__init__()
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
        self._stage = "registration"
        set_visibility(stage="registration")
        check = await self.run_or_ask(
            policy,
            c.registration_validate,
            c.PatientRef(data.patient_id),
            entity_type="patient",
            entity_id=data.patient_id,
        )
        if check.duplicate_of:
            resolution = await self.ask(
                policy,
                reason=Reason.POSSIBLE_DUPLICATE_PATIENT,
                summary=f"patient {data.patient_id} may duplicate {', '.join(check.duplicate_of)}",
                entity_type="patient",
                entity_id=data.patient_id,
                context={"candidates": ",".join(check.duplicate_of)},
            )
            if resolution is not None and resolution.action in (Action.MERGE_DUPLICATE, Action.CANCEL):
                # The surviving record carries the journey; this one stops here.
                return c.RegistrationResult(data.patient_id, (), ())
        if check.problems:
            await self.ask(
                policy,
                reason=Reason.REGISTRATION_INCOMPLETE,
                summary=f"registration lacks: {', '.join(check.problems)}",
                entity_type="patient",
                entity_id=data.patient_id,
                context={"problems": ",".join(check.problems)},
            )
        self._stage = "eligibility"
        set_visibility(stage="eligibility")
        eligibility = await asyncio.gather(
            *(
                workflow.execute_child_workflow(
                    EligibilityCheckWorkflow.run,
                    c.EligibilityInput(coverage_id, policy),
                    id=eligibility_workflow_id(coverage_id),
                    parent_close_policy=ParentClosePolicy.TERMINATE,
                )
                for coverage_id in check.coverage_ids
            )
        )
        encounters: list[c.EncounterResult] = []
        if data.bill_encounters:
            encounters = await self._bill_encounters(data)
        self._stage = "done"
        set_visibility(stage="done")
        return c.RegistrationResult(data.patient_id, tuple(eligibility), tuple(encounters))

    async def _bill_encounters(self, data: c.RegistrationInput) -> list[c.EncounterResult]:
        """The patient's billable appointments, each an Encounter child workflow, run side by side."""
        policy = data.policy
        billable = await self.run_activity(c.encounter_list_billable, c.PatientRef(data.patient_id))
        self._encounters_total = len(billable.appointment_ids)
        self._stage = "encounters"
        set_visibility(stage="encounters")

        async def one(appointment_id: str) -> c.EncounterResult:
            result = await workflow.execute_child_workflow(
                EncounterWorkflow.run,
                c.EncounterInput(appointment_id, policy),
                id=encounter_workflow_id(appointment_id),
                parent_close_policy=ParentClosePolicy.TERMINATE,
            )
            self._encounters_done += 1
            return result

        return list(await asyncio.gather(*(one(a) for a in billable.appointment_ids)))
