"""The payment-plan follower of the PatientCollections workflow: installment by installment on durable timers; a
payment wakes it (paid off: done at once), a dispute or a hardship request pauses it and opens a work item, a miss
gets a reminder and the grace days, too many misses break it (``domain.collections_policy.plan_breaks``).
The rules come from the stored policy in force at each installment (or an old history's input).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from temporalio import workflow

from flows.revenue._common import DomainFailure
from flows.revenue.collections_base import (
    CollectionsBase,
    check_collections_resolution,
    check_plan_terms,
    legacy_rules,
)

with workflow.unsafe.imports_passed_through():
    from activities.contracts import revenue as c
    from domain.collections_policy import hardship_terms, is_small_balance, plan_breaks, requested_installments
    from domain.workitems import Action, Reason, Resolution


@dataclass
class _PlanRun:
    """A payment plan being followed: its terms, where the workflow's clock puts the next deadline, its misses."""

    plan: c.PaymentPlanCreated
    key: str
    deadline: datetime
    missed: int = 0
    pauses: int = 0


class _PlanEnded(Exception):
    """A pause's resolution ended the plan: ``outcome`` ends collections, None restarts the statement cycle."""

    def __init__(self, outcome: str | None) -> None:
        super().__init__(outcome or "statement_cycle")
        self.outcome = outcome


class PlanFollower(CollectionsBase):
    def _plan_completed(self) -> str:
        self._balance = 0
        return "plan_completed"

    async def _plan_broken(self, data: c.CollectionsInput, key: str) -> str | None:
        """A broken plan resumes where the final notice left off: the agency takes what is still owed."""
        balance = await self._read_balance(data.guarantor_id)
        if self._by_policy:  # the policy's hand-off rule (agency, bad debt below its minimum, small balance)
            step = self._handoff_step(balance)
            if step.action == "write_off":
                self._statements = 0
                return None  # the main loop writes a small remainder off (or finds it paid)
            return await self._hand_over(data, step, f"{key}/broken")
        if is_small_balance(legacy_rules(data.policy), balance) or balance <= 0:
            self._statements = 0
            return None  # the main loop writes a small remainder off (or finds it paid)
        await self.run_activity(
            c.collections_agency_handoff, c.AgencyHandoff(data.guarantor_id, balance, f"{key}/broken")
        )
        return "agency"

    # --- a plan that listens: payments wake it, disputes and hardship requests pause it -------------------

    async def _follow_plan(self, data: c.CollectionsInput, plan: c.PaymentPlanCreated, key: str) -> str | None:
        run = _PlanRun(plan, key, workflow.now())
        try:
            while True:
                outcome = await self._plan_installments(data, run)
                if not isinstance(outcome, c.PaymentPlanCreated):
                    return outcome
                run = _PlanRun(outcome, f"{run.key}/replan/{run.pauses}", workflow.now())  # the hardship plan
        except _PlanEnded as ended:
            return ended.outcome
        finally:
            self._plan_due_at = None

    async def _plan_installments(self, data: c.CollectionsInput, run: _PlanRun) -> str | c.PaymentPlanCreated | None:
        """One plan, installment by installment; returns an outcome, or the new plan a hardship re-plan made."""
        policy = data.policy
        plan = run.plan
        due_cents = 0
        for number, amount in enumerate(plan.amounts_cents, start=1):
            rules = await self._rules_for(data)
            self._stage = f"plan:installment:{number}"
            wait_days = plan.first_due_in_days if number == 1 else plan.interval_days
            run.deadline += policy.days(wait_days)
            woke = await self._plan_wait(data, run, due_cents)
            if woke is not None:
                return woke
            due_cents += amount
            standing = await self._check_plan(plan.plan_id, due_cents)
            if standing.completed:
                return self._plan_completed()
            if standing.behind_cents == 0:
                continue
            # Missed: a reminder, then the grace period (a payment in it is seen at once).
            await self.run_activity(
                c.collections_send_statement,
                c.StatementRequest(
                    data.guarantor_id,
                    "plan_reminder",
                    number,
                    f"{workflow.info().workflow_id}/plan/{self._statements}/{run.key}/{number}",
                ),
            )
            self._stage = f"plan:grace:{number}"
            grace_ends = run.deadline + policy.days(rules.installment_grace_days)
            saved, run.deadline = run.deadline, grace_ends
            woke = await self._plan_wait(data, run, due_cents)
            if woke is not None:
                return woke
            run.deadline = saved + (run.deadline - grace_ends)  # a pause during grace moves later due dates too
            standing = await self._check_plan(plan.plan_id, due_cents)
            if standing.completed:
                return self._plan_completed()
            if standing.behind_cents == 0:
                continue
            run.missed += 1
            broken = plan_breaks(rules, run.missed, number, len(plan.amounts_cents))
            status = "broken" if broken else "active"
            await self.run_activity(
                c.collections_update_payment_plan, c.PaymentPlanUpdate(plan.plan_id, status, run.missed)
            )
            if broken:
                return await self._plan_broken(data, run.key)
        standing = await self._check_plan(plan.plan_id, due_cents)
        if standing.completed:
            return self._plan_completed()
        self._statements = 0
        return None

    async def _plan_wait(
        self, data: c.CollectionsInput, run: _PlanRun, due_cents: int
    ) -> str | c.PaymentPlanCreated | None:
        """Sleep until ``run.deadline``. A payment wakes the plan (paid off: done at once); a dispute or hardship
        request pauses it and moves the deadline by the pause. None: the deadline came."""
        while True:
            if self._paused:
                replanned = await self._plan_pause(data, run)
                if replanned is not None:
                    return replanned
                continue
            self._plan_due_at = run.deadline
            remaining = run.deadline - workflow.now()
            if remaining <= timedelta(0):
                return None
            try:
                await workflow.wait_condition(lambda: self._balance_changed or bool(self._paused), timeout=remaining)
            except TimeoutError:
                return None
            if self._balance_changed and not self._paused:
                self._balance_changed = False
                standing = await self._check_plan(run.plan.plan_id, due_cents)
                if standing.completed:
                    return self._plan_completed()

    async def _plan_pause(self, data: c.CollectionsInput, run: _PlanRun) -> c.PaymentPlanCreated | None:
        """A dispute (first) or a hardship request: the plan waits for a person; the pause moves its due dates.

        Returns the new plan of a hardship re-plan, None to resume; raises :class:`_PlanEnded` to end the plan."""
        policy = data.policy
        signal = "dispute" if "dispute" in self._paused else "hardship"
        reason = Reason.PATIENT_DISPUTE if signal == "dispute" else Reason.HARDSHIP_REQUEST
        plan_id = run.plan.plan_id
        run.pauses += 1
        started = workflow.now()
        resumed_stage, self._stage = self._stage, f"plan:paused:{signal}"
        await self.run_activity(c.collections_update_payment_plan, c.PaymentPlanUpdate(plan_id, "paused", run.missed))
        key = f"{run.key}/{signal}/{run.pauses}"
        refused = ""
        try:
            while True:
                # Reading the balance must not swallow a payment the plan has not looked at yet.
                unseen_payment = self._balance_changed
                balance = await self._read_balance(data.guarantor_id)
                self._balance_changed = self._balance_changed or unseen_payment
                resolution = await self.ask(
                    policy,
                    reason=reason,
                    summary=f"guarantor {data.guarantor_id} on plan {plan_id}: {signal} ({balance} cents owed)",
                    entity_type="guarantor",
                    entity_id=data.guarantor_id,
                    context=_pause_context(plan_id, balance, run.missed, refused),
                    until=lambda: signal not in self._paused,
                    check=self._hardship_check(policy, balance),
                )
                if resolution is None or resolution.action in (Action.COMPLETE, Action.CANCEL):
                    break  # withdrawn by the guarantor, or reviewed and refused: the plan resumes
                if resolution.action == Action.WRITE_OFF:
                    if balance > 0:
                        await self.run_activity(
                            c.collections_write_off,
                            c.CollectionsWriteOff(data.guarantor_id, balance, resolution.fields["reason_code"], key),
                        )
                    await self._end_plan(plan_id, run.missed)
                    self._balance = 0
                    raise _PlanEnded("written_off")
                if resolution.action == Action.BILL_PATIENT:
                    await self._end_plan(plan_id, run.missed)
                    self._statements = 0
                    raise _PlanEnded(None)
                try:
                    replanned = await self.run_activity(
                        c.collections_create_payment_plan, self._hardship_replan(data, resolution, key)
                    )
                except DomainFailure as failure:
                    refused = f"{failure.code}: {failure.message}"[:300]  # the person is asked again, told why
                    continue
                await self._end_plan(plan_id, run.missed)
                return replanned
        finally:
            self._paused.discard(signal)
        run.deadline += workflow.now() - started
        self._stage = resumed_stage
        await self.run_activity(c.collections_update_payment_plan, c.PaymentPlanUpdate(plan_id, "active", run.missed))
        return None

    def _hardship_replan(self, data: c.CollectionsInput, resolution: Resolution, key: str) -> c.PaymentPlanRequest:
        """A hardship re-plan over what is owed now, on the policy's hardship terms."""
        terms = hardship_terms(self._rules if self._by_policy and self._rules else legacy_rules(data.policy))
        return c.PaymentPlanRequest(
            data.guarantor_id,
            requested_installments(resolution.fields),
            resolution.fields.get("first_due") or None,
            terms.min_installment_cents,
            terms.max_installments,
            terms.installment_interval_days,
            f"{key}/replan",
        )

    def _hardship_check(self, policy: c.RevenuePolicy, balance: int) -> Callable[[Resolution], None]:
        if self._by_policy and self._rules is not None:
            return functools.partial(
                check_collections_resolution,
                rules=self._rules,
                balance=balance,
                today=self._today(),
                hardship=True,
            )
        return functools.partial(check_plan_terms, policy=policy, balance=balance, hardship=True)

    async def _end_plan(self, plan_id: str, missed: int) -> None:
        await self.run_activity(c.collections_update_payment_plan, c.PaymentPlanUpdate(plan_id, "cancelled", missed))


def _pause_context(plan_id: str, balance: int, missed: int, refused: str) -> dict[str, str]:
    """A paused plan's work item context; ``refused``: why the last re-plan was refused (empty: none was)."""
    context = {"plan": plan_id, "balance_cents": str(balance), "missed": str(missed)}
    if refused:
        context["refused"] = refused
    return context
