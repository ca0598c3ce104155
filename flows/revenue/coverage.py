"""One coverage's eligibility question, asked by a revenue workflow: a 270/271 (or the payer's portal); inactive or
inconclusive goes to a person.

The EligibilityCheck workflow's steps (``CoverageCheck``), which PatientRegistration also runs inline, and
``ask_payer``, the one way a workflow asks eligibility. A module of its own so that PatientRegistration and the
Visit do not import (and re-run, in the workflow sandbox) the EligibilityCheck workflow's class for every run.
"""

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


class CoverageCheck:
    """One coverage's eligibility question, to its end: the EligibilityCheck workflow's steps.

    ``own_workflow``: run by an EligibilityCheck workflow, whose stage and search attributes follow the steps.
    Else it runs inline in another revenue workflow (PatientRegistration, behind
    ``flows.revenue.registration.LEAN_PATCH``): the same activities, work items and result, and the
    host's stage and search attributes are left as the host set them."""

    def __init__(self, wf: RevenueWorkflow, data: c.EligibilityInput, *, own_workflow: bool) -> None:
        self.wf = wf
        self.data = data
        self.own_workflow = own_workflow
        self.answer: c.EligibilityAnswer | None = None  # the payer's last answer

    async def run(self) -> c.EligibilityResult:
        wf, data = self.wf, self.data
        policy = data.policy
        refusal: dict[str, str] = {}
        while True:
            self._show("checking", stage="eligibility")
            answer = await ask_payer(wf, policy, data.coverage_id, data.portal_task_queue)
            self.answer = answer
            self._show(None, payer_id=answer.payer_id)
            if answer.status == "active":
                return await self._record(answer, "active", "payer")
            reason = answer.status if answer.reject_reason is None else f"{answer.status}:{answer.reject_reason}"
            summary = f"payer {answer.payer_id} answered {reason} through the {answer.route}"
            if refusal:
                summary = f"the coverage update was refused ({refusal['refused']}): {refusal['refused_because']}"
            resolution = await wf.ask(
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
                    refusal = await self._update_coverage(resolution)
                continue
            status = "active" if resolution.action == Action.CONFIRM_ELIGIBILITY else "inactive"
            return await self._record(answer, status, resolution.by)

    def _show(self, query_stage: str | None, **visibility: str | None) -> None:
        """The EligibilityCheck workflow's stage (its ``state`` query) and search attributes; nothing when inline."""
        if not self.own_workflow:
            return
        if query_stage is not None:
            self.wf._stage = query_stage
        set_visibility(**visibility)

    async def _update_coverage(self, resolution: Resolution) -> dict[str, str]:
        """Apply a person's coverage update; a refusal (a payer code naming no payer) is said in the next item,
        which asks again (histories before the patch: a manual task, then the same update again until it passes)."""
        wf, data = self.wf, self.data
        update = c.CoverageUpdate(data.coverage_id, dict(resolution.fields), resolution.by)
        try:
            await wf.run_activity(c.eligibility_update_coverage, update)
        except DomainFailure as failure:
            if workflow.patched(COVERAGE_UPDATE_REFUSED_PATCH):
                return refusal_context(failure)
            await wf.manual_task(
                data.policy, c.ELIGIBILITY_UPDATE_COVERAGE, failure, entity_type="coverage", entity_id=data.coverage_id
            )
            await wf.run_or_ask(
                data.policy,
                c.eligibility_update_coverage,
                update,
                entity_type="coverage",
                entity_id=data.coverage_id,
            )
        return {}

    async def _record(self, answer: c.EligibilityAnswer, status: str, decided_by: str) -> c.EligibilityResult:
        data = self.data
        await self.wf.run_activity(
            c.eligibility_record, c.EligibilityRecord(data.coverage_id, status, decided_by, answer.route)
        )
        self._show("done", stage="eligibility_done")
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
