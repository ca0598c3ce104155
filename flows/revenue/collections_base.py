"""What the PatientCollections workflow's cycles share: its state and signals, the balance, the policy in force,
the write-offs and the hand-off, and the Update validator's rules for collections resolutions.

The cycles: ``flows.revenue.collections_cycle`` (decided by the stored policy at every step: new runs) and
``flows.revenue.collections_legacy`` (the timers of histories from before it); the plan follower both use is
``flows.revenue.collections_plans``.
"""

from __future__ import annotations

from datetime import date, datetime

from temporalio import workflow

from flows.revenue._common import RevenueWorkflow, set_visibility

with workflow.unsafe.imports_passed_through():
    from activities.contracts import revenue as c
    from activities.contracts.staff import BusinessClock
    from domain.collections_policy import (
        CollectionsPolicy,
        Step,
        handoff,
        hardship_terms,
        payment_plan_from_fields,
        policy_from_settings,
        settlement,
    )
    from domain.workitems import Action, Resolution


def legacy_rules(policy: c.RevenuePolicy) -> CollectionsPolicy:
    """The collections rules a run from before the stored policy carries in its input (RevenuePolicy)."""
    return CollectionsPolicy(
        statement_interval_days=policy.statement_interval_days,
        reminders=policy.reminders,
        agency_after_final_days=policy.agency_after_final_days,
        small_balance_cents=policy.small_balance_cents,
        min_installment_cents=policy.min_installment_cents,
        max_installments=policy.max_installments,
        installment_interval_days=policy.installment_interval_days,
        installment_grace_days=policy.installment_grace_days,
        hardship_min_installment_cents=policy.hardship_min_installment_cents,
        hardship_max_installments=policy.hardship_max_installments,
        plan_max_missed=policy.plan_max_missed,
    )


def plan_terms(policy: c.RevenuePolicy, *, hardship: bool) -> CollectionsPolicy:
    """The payment-plan terms of a run from before the stored policy (the hardship ones for a re-plan)."""
    rules = legacy_rules(policy)
    return hardship_terms(rules) if hardship else rules


def check_plan_terms(resolution: Resolution, *, policy: c.RevenuePolicy, balance: int, hardship: bool) -> None:
    """The Update validator's part of a ``payment_plan`` resolution in a run from before the stored policy."""
    if resolution.action == Action.PAYMENT_PLAN:
        payment_plan_from_fields(
            plan_terms(policy, hardship=hardship), resolution.fields, balance, workflow.now().date()
        )


def check_collections_resolution(
    resolution: Resolution, *, rules: CollectionsPolicy, balance: int, today: date, hardship: bool
) -> None:
    """The Update validator's part of a collections resolution: the rules its activities apply, with the balance the
    workflow read last and the policy in force (a plan by the policy's terms, a settlement below the balance)."""
    terms = hardship_terms(rules) if hardship else rules
    if resolution.action == Action.PAYMENT_PLAN:
        payment_plan_from_fields(terms, resolution.fields, balance, today)
    elif resolution.action == Action.SETTLE and "amount_cents" in resolution.fields:
        settlement(rules, balance, int(resolution.fields["amount_cents"]))


class CollectionsBase(RevenueWorkflow):
    def __init__(self) -> None:
        super().__init__()
        self._balance_changed = False
        self._paused: set[str] = set()
        self._balance = 0
        self._statements = 0
        self._payments: list[c.PaymentNotice] = []
        self._plan_due_at: datetime | None = None  # the running plan's next deadline (due date or grace end)
        self._by_policy = False  # decided by the stored policy (collections_cycle) rather than the input's rules
        self._rules: CollectionsPolicy | None = None  # the stored policy as last read
        self._rules_version = 0
        self._cycle = 0  # statement cycles begun again in this process (their statements get their own keys)
        self._clock: BusinessClock | None = None  # business days (a compressed day in the demo)

    @workflow.signal(name="balance_changed")
    def balance_changed(self) -> None:
        self._balance_changed = True

    @workflow.signal(name="payment_received")
    def payment_received(self, notice: c.PaymentNotice) -> None:
        self._payments.append(notice)
        self._balance_changed = True

    @workflow.signal(name="dispute")
    def dispute(self, open_: bool) -> None:
        (self._paused.add if open_ else self._paused.discard)("dispute")

    @workflow.signal(name="hardship")
    def hardship(self, open_: bool) -> None:
        (self._paused.add if open_ else self._paused.discard)("hardship")

    @workflow.query(name="state")
    def state(self) -> dict[str, object]:
        return {
            "stage": self._stage,
            "balance_cents": self._balance,
            "statements_sent": self._statements,
            "paused": sorted(self._paused),
            "plan_due_at": self._plan_due_at.isoformat() if self._plan_due_at else None,
        }

    async def _read_balance(self, guarantor_id: str) -> int:
        self._balance_changed = False
        balance = await self.run_activity(c.collections_balance, c.GuarantorRef(guarantor_id))
        self._balance = balance.balance_cents
        return self._balance

    def _done(self, data: c.CollectionsInput, outcome: str) -> c.CollectionsResult:
        self._stage = "done"
        set_visibility(stage=f"collections_{outcome}")
        return c.CollectionsResult(data.guarantor_id, outcome, self._statements, self._balance)

    async def _read_rules(self) -> CollectionsPolicy:
        """The practice's collections policy in force (``collections.policy``: the newest stored version)."""
        in_force = await self.run_activity(c.collections_policy, c.Nothing())
        self._rules = policy_from_settings(in_force.settings)
        self._rules_version = in_force.version
        return self._rules

    def _today(self) -> date:
        assert self._clock is not None
        return self._clock.today(workflow.now())

    async def _rules_for(self, data: c.CollectionsInput) -> CollectionsPolicy:
        """The rules a plan step is decided by: the stored policy in force (read now), or an old history's input."""
        if self._by_policy:
            return await self._read_rules()
        return legacy_rules(data.policy)

    async def _pause(self, policy: c.RevenuePolicy, duration: object) -> None:
        """Sleep on a durable timer, waking early when the balance changes."""
        self._stage = "waiting"
        try:
            await workflow.wait_condition(lambda: self._balance_changed, timeout=duration)  # type: ignore[arg-type]
        except TimeoutError:
            pass

    async def _write_off(self, data: c.CollectionsInput, amount: int, reason: str, key: str) -> None:
        await self.run_activity(c.collections_write_off, c.CollectionsWriteOff(data.guarantor_id, amount, reason, key))
        self._balance = 0

    async def _hand_over(self, data: c.CollectionsInput, step: Step, key: str) -> str:
        """The policy's hand-off: the agency (its placement writes the balance off as bad debt on the ledger), or a
        bad-debt write-off of a balance below the agency's minimum, or a small balance's write-off."""
        if step.action == "agency":
            await self.run_activity(
                c.collections_agency_handoff, c.AgencyHandoff(data.guarantor_id, step.amount_cents, key)
            )
            self._balance = 0
            return "agency"
        reason = "bad_debt" if step.action == "bad_debt" else "small_balance"
        await self._write_off(data, step.amount_cents, reason, key)
        return "written_off"

    def _handoff_step(self, balance: int) -> Step:
        """How the stored policy hands an unpaid balance over (a broken plan, an unanswered final notice)."""
        assert self._rules is not None
        return handoff(self._rules, balance)

    async def _check_plan(self, plan_id: str, due_cents: int) -> c.PaymentPlanStanding:
        return await self.run_activity(c.collections_check_payment_plan, c.PaymentPlanCheck(plan_id, due_cents))

    def _plan_completed(self) -> str:
        self._balance = 0
        return "plan_completed"
