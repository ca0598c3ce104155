"""PatientCollections: a guarantor's patient balance through statements, reminders, a final notice and the agency.

One workflow per guarantor (``collections-<guarantor uuid>``), started or woken by signal-with-start whenever
posting leaves patient responsibility. The cycle is decided by the practice's collections policy, stored and
versioned (``carecycle policy``), read at every step: ``domain.collections_policy.next_step`` says whether to send
the next statement (due when the policy's schedule says), wait, write a small balance off, or hand an unpaid final
notice over (the agency, or bad debt below its minimum) once a person has had the last word (payment plan, settle,
agency, write-off). Dispute and hardship signals pause the cycle. A payment plan is followed installment by
installment (``flows.revenue.collections_plans``). Continue-as-new keeps long cycles' history short.

The modules: ``collections_cycle`` (new runs), ``collections_legacy`` (histories from before the stored policy,
patch ``collections-domain-policy``), ``collections_plans`` (the plan follower), ``collections_base`` (the shared
state, signals and validator rules).
"""

from __future__ import annotations

from temporalio import workflow

from flows.revenue.collections_base import legacy_rules, plan_terms
from flows.revenue.collections_cycle import POLICY_CYCLE_PATCH, PolicyCycle
from flows.revenue.collections_legacy import PLAN_INSTALLMENTS_PATCH, PLAN_SIGNALS_PATCH, LegacyCycle

with workflow.unsafe.imports_passed_through():
    from activities.contracts import revenue as c


def collections_workflow_id(guarantor_id: str) -> str:
    return f"collections-{guarantor_id}"


@workflow.defn(name="PatientCollections")
class PatientCollectionsWorkflow(PolicyCycle, LegacyCycle):
    @workflow.run
    async def run(self, data: c.CollectionsInput) -> c.CollectionsResult:
        result = await self._run(data)
        await workflow.wait_condition(workflow.all_handlers_finished)
        return result

    async def _run(self, data: c.CollectionsInput) -> c.CollectionsResult:
        if workflow.patched(POLICY_CYCLE_PATCH):
            return await self._run_by_policy(data)
        return await self._run_legacy(data)


__all__ = [
    "PLAN_INSTALLMENTS_PATCH",
    "PLAN_SIGNALS_PATCH",
    "POLICY_CYCLE_PATCH",
    "PatientCollectionsWorkflow",
    "collections_workflow_id",
    "legacy_rules",
    "plan_terms",
]
