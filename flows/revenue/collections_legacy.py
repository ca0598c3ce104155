"""The PatientCollections cycle of histories recorded before the stored collections policy (patch
``collections-domain-policy``): their timers, kept so that they replay; every decision is the domain's
(domain.collections_policy), by the rules their input carried (``RevenuePolicy``). New runs use
``flows.revenue.collections_cycle``.
"""

from __future__ import annotations

import functools

from temporalio import workflow

from flows.revenue._common import DomainFailure, set_visibility
from flows.revenue.collections_base import check_plan_terms, legacy_rules
from flows.revenue.collections_plans import PlanFollower

with workflow.unsafe.imports_passed_through():
    from activities.contracts import revenue as c
    from domain.collections_policy import (
        CollectionsPolicy,
        days_after_notice,
        is_final_notice,
        is_small_balance,
        notice_kind,
        plan_breaks,
        requested_installments,
    )
    from domain.workitems import Action, Reason

# Histories recorded before installments were followed restarted the statement cycle on a plan.
PLAN_INSTALLMENTS_PATCH = "payment-plan-installments"
# Histories recorded before a running plan listened to payments, disputes and hardship requests slept to each
# due date; this marker switches new runs to the plan follower that does.
PLAN_SIGNALS_PATCH = "collections-plan-signals"


class LegacyCycle(PlanFollower):
    async def _run_legacy(self, data: c.CollectionsInput) -> c.CollectionsResult:
        """The timers of histories from before the stored policy (kept so that they replay); the decisions are the
        domain's, by the rules their input carried."""
        policy = data.policy
        rules = legacy_rules(policy)
        self._statements = data.statements_sent
        final_sent = data.final_sent
        wf_id = workflow.info().workflow_id
        set_visibility(stage="collections", entity_type="guarantor", entity_id=data.guarantor_id)
        # Let the claims of one visit settle before the first statement goes out.
        if self._statements == 0:
            await self._pause(policy, policy.days(1))
        while True:
            if workflow.info().is_continue_as_new_suggested():
                workflow.continue_as_new(c.CollectionsInput(data.guarantor_id, policy, self._statements, final_sent))
            if self._paused:
                self._stage = "paused:" + ",".join(sorted(self._paused))
                await workflow.wait_condition(lambda: not self._paused)
            balance = await self._read_balance(data.guarantor_id)
            if balance == 0:
                return self._done(data, "paid")
            if balance < 0:
                await self.ask(
                    policy,
                    reason=Reason.POSTING_EXCEPTION,
                    summary=f"guarantor {data.guarantor_id} has a credit of {-balance} cents: refund it",
                    entity_type="guarantor",
                    entity_id=data.guarantor_id,
                    context={"credit_cents": str(-balance)},
                )
                return self._done(data, "credit")
            if is_small_balance(rules, balance):
                await self.run_activity(
                    c.collections_write_off,
                    c.CollectionsWriteOff(data.guarantor_id, balance, "small_balance", f"{wf_id}/small/{balance}"),
                )
                self._balance = 0
                return self._done(data, "written_off")
            if final_sent:
                outcome = await self._after_final_notice(data, balance)
                if outcome is not None:
                    return self._done(data, outcome)
                final_sent = False  # a payment plan or settlement restarted the cycle
                continue
            kind = notice_kind(rules, self._statements + 1)
            self._stage = f"statement:{kind}"
            await self.run_activity(
                c.collections_send_statement,
                c.StatementRequest(data.guarantor_id, kind, self._statements + 1, f"{wf_id}/{self._statements + 1}"),
            )
            self._statements += 1
            final_sent = is_final_notice(kind)
            await self._pause(policy, policy.days(days_after_notice(rules, kind)))

    async def _after_final_notice(self, data: c.CollectionsInput, balance: int) -> str | None:
        policy = data.policy
        resolution = await self.ask(
            policy,
            reason=Reason.PATIENT_BALANCE_OVERDUE,
            summary=f"guarantor {data.guarantor_id} owes {balance} cents after the final notice",
            entity_type="guarantor",
            entity_id=data.guarantor_id,
            context={"balance_cents": str(balance), "statements": str(self._statements)},
            until=lambda: self._balance_changed,
            check=functools.partial(check_plan_terms, policy=policy, balance=balance, hardship=False),
        )
        if resolution is None:
            return None  # a payment came in: look again
        key = f"{workflow.info().workflow_id}/{resolution.action}/{self._statements}"
        if resolution.action == Action.WRITE_OFF:
            await self.run_activity(
                c.collections_write_off,
                c.CollectionsWriteOff(data.guarantor_id, balance, resolution.fields["reason_code"], key),
            )
            self._balance = 0
            return "written_off"
        if resolution.action in (Action.SEND_TO_AGENCY, Action.CANCEL):
            await self.run_activity(c.collections_agency_handoff, c.AgencyHandoff(data.guarantor_id, balance, key))
            return "agency"
        # Histories recorded before installments were followed restarted the statement cycle on a plan.
        if resolution.action == Action.PAYMENT_PLAN and workflow.patched(PLAN_INSTALLMENTS_PATCH):
            return await self._payment_plan(data, resolution.fields, key)
        # payment_plan (old histories), settle or bill_patient: the statement cycle starts again on the balance.
        self._statements = 0
        return None

    async def _payment_plan(self, data: c.CollectionsInput, fields: dict[str, str], key: str) -> str | None:
        """Follow a payment plan: wait for each installment's due date, check the ledger, remind, break or finish."""
        policy = data.policy
        rules = legacy_rules(policy)
        try:
            plan = await self.run_activity(
                c.collections_create_payment_plan, _plan_request(data.guarantor_id, fields, key, rules)
            )
        except DomainFailure:
            # A plan the rules refuse (too many installments, too small): the statement cycle starts again.
            self._statements = 0
            return None
        if workflow.patched(PLAN_SIGNALS_PATCH):
            return await self._follow_plan(data, plan, key)
        missed = 0
        due_cents = 0
        for number, amount in enumerate(plan.amounts_cents, start=1):
            self._stage = f"plan:installment:{number}"
            wait_days = plan.first_due_in_days if number == 1 else plan.interval_days
            if wait_days > 0:
                await workflow.sleep(policy.days(wait_days))
            due_cents += amount
            standing = await self._check_plan(plan.plan_id, due_cents)
            if standing.completed:
                return self._plan_completed()
            if standing.behind_cents == 0:
                continue
            # Missed: a reminder, then the grace period; still behind after it, the miss counts.
            await self.run_activity(
                c.collections_send_statement,
                c.StatementRequest(
                    data.guarantor_id,
                    "plan_reminder",
                    number,
                    f"{workflow.info().workflow_id}/plan/{self._statements}/{number}",
                ),
            )
            self._stage = f"plan:grace:{number}"
            await workflow.sleep(policy.days(rules.installment_grace_days))
            standing = await self._check_plan(plan.plan_id, due_cents)
            if standing.completed:
                return self._plan_completed()
            if standing.behind_cents == 0:
                continue
            missed += 1
            broken = plan_breaks(rules, missed, number, len(plan.amounts_cents))
            status = "broken" if broken else "active"
            await self.run_activity(
                c.collections_update_payment_plan, c.PaymentPlanUpdate(plan.plan_id, status, missed)
            )
            if broken:
                return await self._plan_broken(data, key)
        standing = await self._check_plan(plan.plan_id, due_cents)
        if standing.completed:
            return self._plan_completed()
        # Every installment met, yet the balance grew (new charges): the statement cycle takes the rest.
        self._statements = 0
        return None


def _plan_request(
    guarantor_id: str, fields: dict[str, str], key: str, rules: CollectionsPolicy
) -> c.PaymentPlanRequest:
    """The plan a person asked for (installments, first due day), on the rules' terms."""
    return c.PaymentPlanRequest(
        guarantor_id,
        requested_installments(fields),
        fields.get("first_due") or None,
        rules.min_installment_cents,
        rules.max_installments,
        rules.installment_interval_days,
        key,
    )
