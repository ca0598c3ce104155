"""The EligibilityCheck workflow: a 270/271 (or the payer's portal); inactive or inconclusive goes to a person.

Its steps are ``flows.revenue.coverage.CoverageCheck`` (PatientRegistration runs the same steps inline)."""

from __future__ import annotations

from temporalio import workflow

from flows.revenue._common import RevenueWorkflow
from flows.revenue.coverage import CoverageCheck

with workflow.unsafe.imports_passed_through():
    from activities.contracts import revenue as c
    from flows.revenue.names import ELIGIBILITY_WORKFLOW
    from flows.revenue.names import eligibility_workflow_id as eligibility_workflow_id


@workflow.defn(name=ELIGIBILITY_WORKFLOW)
class EligibilityCheckWorkflow(RevenueWorkflow):
    def __init__(self) -> None:
        super().__init__()
        self._check: CoverageCheck | None = None

    @workflow.query(name="state")
    def state(self) -> dict[str, object]:
        answer = self._check.answer if self._check else None
        return {
            "stage": self._stage,
            "status": answer.status if answer else None,
            "route": answer.route if answer else None,
        }

    @workflow.run
    async def run(self, data: c.EligibilityInput) -> c.EligibilityResult:
        self._check = CoverageCheck(self, data, own_workflow=True)
        result = await self._check.run()
        await workflow.wait_condition(workflow.all_handlers_finished)
        return result
