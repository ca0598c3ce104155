"""RemittanceIntake: polls the clearinghouse for 835s on a durable timer and starts one PaymentPosting per
remittance (``posting-<remittance key>``: a re-delivered 835 is a no-op), then confirms the 835s to the
clearinghouse (at least once: a poll lost before the confirm fetches them again); continue-as-new keeps its
history short.
"""

from __future__ import annotations

from temporalio import workflow
from temporalio.common import WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.workflow import ParentClosePolicy

from flows.revenue._common import CLEARINGHOUSE, RevenueWorkflow, set_visibility
from flows.revenue.posting import POSTING_STARTS_AT, PaymentPostingWorkflow, posting_workflow_id

with workflow.unsafe.imports_passed_through():
    from activities.contracts import revenue as c

INTAKE_WORKFLOW_ID = "remittance-intake"
CONFIRMS_AFTER_START = "intake-confirms-after-start"


@workflow.defn(name="RemittanceIntake")
class RemittanceIntakeWorkflow(RevenueWorkflow):
    def __init__(self) -> None:
        super().__init__()
        self._stop = False
        self._posted = 0

    @workflow.signal(name="stop")
    def stop(self) -> None:
        self._stop = True

    @workflow.query(name="state")
    def state(self) -> dict[str, object]:
        return {"stage": self._stage, "remittances_started": self._posted}

    @workflow.run
    async def run(self, data: c.IntakeInput) -> int:
        policy = data.policy
        iterations = 0
        left = data.iterations_left
        self._stage = "polling"
        set_visibility(stage="remittance_intake")
        while not self._stop and left != 0:
            # Confirmed to the clearinghouse only once each posting is started: a worker lost between the
            # clearinghouse's confirm and the fetch's completion lost those 835s (stored, never posted).
            confirm_after = workflow.patched(CONFIRMS_AFTER_START)
            fetched = await self.run_activity(
                c.posting_fetch_remittances, c.FetchRemittances(confirm=not confirm_after), CLEARINGHOUSE
            )
            for key in fetched.remittance_keys:
                try:
                    await workflow.start_child_workflow(
                        PaymentPostingWorkflow.run,
                        c.PostingInput(key, policy),
                        id=posting_workflow_id(key),
                        search_attributes=POSTING_STARTS_AT,
                        id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
                        parent_close_policy=ParentClosePolicy.ABANDON,
                    )
                    self._posted += 1
                except WorkflowAlreadyStartedError:
                    pass  # posted (or being posted) already: posting is keyed by the remittance
            if fetched.document_ids:
                await self.run_activity(
                    c.posting_confirm_remittances, c.ConfirmRemittances(fetched.document_ids), CLEARINGHOUSE
                )
            iterations += 1
            left -= 1 if left > 0 else 0
            if iterations >= policy.intake_iterations_per_run or workflow.info().is_continue_as_new_suggested():
                workflow.continue_as_new(c.IntakeInput(policy, left))
            try:
                await workflow.wait_condition(lambda: self._stop, timeout=policy.days(policy.remittance_poll_days))
            except TimeoutError:
                pass
        return self._posted
