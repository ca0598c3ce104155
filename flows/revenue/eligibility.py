"""The EligibilityCheck workflow: a 270/271 (or the payer's portal); inactive or inconclusive goes to a person."""

from __future__ import annotations

from dataclasses import replace
from typing import TypeVar

from temporalio import workflow
from temporalio.exceptions import ActivityError

from flows.revenue._common import (
    CLEARINGHOUSE,
    PORTAL,
    ActivityOptions,
    DomainFailure,
    RevenueWorkflow,
    refusal_context,
    set_visibility,
)

with workflow.unsafe.imports_passed_through():
    from activities.contracts import portal as portal_contract
    from activities.contracts import revenue as c
    from activities.contracts.reference import ActivityRef
    from domain.workitems import Action, Reason, Resolution


# Marks the histories in which a refused coverage update asks the eligibility question again, saying why.
COVERAGE_UPDATE_REFUSED_PATCH = "coverage-update-refused"


InputT = TypeVar("InputT")
OutputT = TypeVar("OutputT")


def eligibility_workflow_id(coverage_id: str) -> str:
    return f"eligibility-{coverage_id}"


@workflow.defn(name="EligibilityCheck")
class EligibilityCheckWorkflow(RevenueWorkflow):
    def __init__(self) -> None:
        super().__init__()
        self._answer: c.EligibilityAnswer | None = None

    @workflow.query(name="state")
    def state(self) -> dict[str, object]:
        answer = self._answer
        return {
            "stage": self._stage,
            "status": answer.status if answer else None,
            "route": answer.route if answer else None,
        }

    @workflow.run
    async def run(self, data: c.EligibilityInput) -> c.EligibilityResult:
        result = await self._run(data)
        await workflow.wait_condition(workflow.all_handlers_finished)
        return result

    async def _run(self, data: c.EligibilityInput) -> c.EligibilityResult:
        policy = data.policy
        refusal: dict[str, str] = {}
        while True:
            self._stage = "checking"
            set_visibility(stage="eligibility")
            answer = await ask_payer(self, policy, data.coverage_id, data.portal_task_queue)
            self._answer = answer
            set_visibility(payer_id=answer.payer_id)
            if answer.status == "active":
                return await self._record(data, answer, "active", "payer")
            reason = answer.status if answer.reject_reason is None else f"{answer.status}:{answer.reject_reason}"
            summary = f"payer {answer.payer_id} answered {reason} through the {answer.route}"
            if refusal:
                summary = f"the coverage update was refused ({refusal['refused']}): {refusal['refused_because']}"
            resolution = await self.ask(
                policy,
                reason=Reason.ELIGIBILITY_INACTIVE if answer.status == "inactive" else Reason.ELIGIBILITY_INCONCLUSIVE,
                summary=summary,
                entity_type="coverage",
                entity_id=data.coverage_id,
                context={"payer": answer.payer_id, "answer": reason, "route": answer.route, **refusal},
            )
            assert resolution is not None
            refusal = {}
            if resolution.action in (Action.RETRY_NOW, Action.UPDATE_COVERAGE):
                if resolution.action == Action.UPDATE_COVERAGE:
                    refusal = await self._update_coverage(data, resolution)
                continue
            status = "active" if resolution.action == Action.CONFIRM_ELIGIBILITY else "inactive"
            return await self._record(data, answer, status, resolution.by)

    async def _update_coverage(self, data: c.EligibilityInput, resolution: Resolution) -> dict[str, str]:
        """Apply a person's coverage update; a refusal (a payer code naming no payer) is said in the next item,
        which asks again (histories before the patch: a manual task, then the same update again until it passes)."""
        update = c.CoverageUpdate(data.coverage_id, dict(resolution.fields), resolution.by)
        try:
            await self.run_activity(c.eligibility_update_coverage, update)
        except DomainFailure as failure:
            if workflow.patched(COVERAGE_UPDATE_REFUSED_PATCH):
                return refusal_context(failure)
            await self.manual_task(
                data.policy, c.ELIGIBILITY_UPDATE_COVERAGE, failure, entity_type="coverage", entity_id=data.coverage_id
            )
            await self.run_or_ask(
                data.policy,
                c.eligibility_update_coverage,
                update,
                entity_type="coverage",
                entity_id=data.coverage_id,
            )
        return {}

    async def _record(
        self, data: c.EligibilityInput, answer: c.EligibilityAnswer, status: str, decided_by: str
    ) -> c.EligibilityResult:
        await self.run_activity(
            c.eligibility_record, c.EligibilityRecord(data.coverage_id, status, decided_by, answer.route)
        )
        self._stage = "done"
        set_visibility(stage="eligibility_done")
        return c.EligibilityResult(data.coverage_id, answer.payer_id, status, decided_by)


async def ask_payer(
    wf: RevenueWorkflow,
    policy: c.RevenuePolicy,
    coverage_id: str,
    portal_task_queue: str,
    *,
    refusal_is_answer: bool = False,
) -> c.EligibilityAnswer:
    """Ask the coverage's payer: a 270/271 through the clearinghouse, or its web portal when it answers only there.

    The one way a workflow asks eligibility (EligibilityCheck, and the Visit before a visit). A refusal of the
    activity (bad data) or a payer out of reach goes to a person, or, with ``refusal_is_answer``, comes back as an
    ``inconclusive`` answer for the caller's own work item."""
    try:
        answer = await _ask(
            wf,
            policy,
            c.eligibility_check,
            c.CoverageRef(coverage_id),
            coverage_id,
            CLEARINGHOUSE,
            refusal_is_answer,
        )
        if answer.route == "portal" and answer.status == "unrouted":
            # The payer answers only on its web portal: a browser session on the portal workers.
            wf._stage = "portal"
            result = await _ask(
                wf,
                policy,
                portal_contract.portal_check_eligibility,
                portal_contract.PortalEligibilityInput(coverage_id),
                coverage_id,
                replace(PORTAL, task_queue=portal_task_queue),
                refusal_is_answer,
            )
            answer = c.EligibilityAnswer(
                coverage_id,
                result.payer_id or answer.payer_id,
                result.status,
                "portal",
                result.copay_cents,
                result.deductible_remaining_cents,
                result.reject_reason,
            )
    except (DomainFailure, ActivityError) as failure:
        if not refusal_is_answer:
            raise
        code = failure.code if isinstance(failure, DomainFailure) else "payer_unreachable"
        return c.EligibilityAnswer(coverage_id, "", "inconclusive", "clearinghouse", reject_reason=code)
    return answer


async def _ask(
    wf: RevenueWorkflow,
    policy: c.RevenuePolicy,
    activity: ActivityRef[InputT, OutputT],
    arg: InputT,
    coverage_id: str,
    options: ActivityOptions,
    refusal_is_answer: bool,
) -> OutputT:
    if refusal_is_answer:
        return await wf.run_activity(activity, arg, options)
    return await wf.run_or_ask(policy, activity, arg, entity_type="coverage", entity_id=coverage_id, options=options)
