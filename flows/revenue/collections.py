"""PatientCollections: a guarantor's patient balance through statements, reminders, a final notice and the agency.

One workflow per guarantor (``collections-<guarantor uuid>``), started or woken by signal-with-start whenever
posting leaves patient responsibility. Durable timers space the statements; dispute and hardship signals pause
the cycle; a small balance is written off; after the final notice a person decides (payment plan, settle,
agency, write-off) and the default is the agency hand-off. A payment plan is followed installment by installment
on durable timers: a missed installment gets a reminder, too many misses break the plan and the balance goes to
the agency; a plan paid in full ends collections. While a plan runs (patched ``collections-plan-signals``) a
payment wakes it, so a plan paid off early ends at once; a dispute or a hardship request pauses it (no reminders,
no misses, no agency) and opens a work item: the person resumes the plan (its due dates moved by the pause),
re-plans it on the policy's hardship terms, writes the balance off, or ends the plan for a new statement cycle.
Continue-as-new keeps long cycles' history short.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import datetime, timedelta

from temporalio import workflow

from flows.revenue._common import DomainFailure, RevenueWorkflow, set_visibility

with workflow.unsafe.imports_passed_through():
    from activities.contracts import revenue as c
    from domain.collections_policy import CollectionsPolicy, payment_plan_from_fields, requested_installments
    from domain.workitems import Action, Reason, Resolution


# Histories recorded before a running plan listened to payments, disputes and hardship requests slept to each
# due date; this marker switches new runs to the plan follower that does.
PLAN_SIGNALS_PATCH = "collections-plan-signals"


def collections_workflow_id(guarantor_id: str) -> str:
    return f"collections-{guarantor_id}"


def plan_terms(policy: c.RevenuePolicy, *, hardship: bool) -> CollectionsPolicy:
    """The payment-plan terms ``collections.create_payment_plan`` applies (the hardship ones for a re-plan)."""
    return CollectionsPolicy(
        min_installment_cents=policy.hardship_min_installment_cents if hardship else policy.min_installment_cents,
        max_installments=policy.hardship_max_installments if hardship else policy.max_installments,
        installment_interval_days=policy.installment_interval_days,
    )


def _check_plan_terms(resolution: Resolution, *, policy: c.RevenuePolicy, balance: int, hardship: bool) -> None:
    """The Update validator's part of a ``payment_plan`` resolution: the plan rule the activity applies, with the
    balance this workflow read last (a balance that changed since is checked again by the activity)."""
    if resolution.action == Action.PAYMENT_PLAN:
        payment_plan_from_fields(
            plan_terms(policy, hardship=hardship), resolution.fields, balance, workflow.now().date()
        )


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


@workflow.defn(name="PatientCollections")
class PatientCollectionsWorkflow(RevenueWorkflow):
    def __init__(self) -> None:
        super().__init__()
        self._balance_changed = False
        self._paused: set[str] = set()
        self._balance = 0
        self._statements = 0
        self._payments: list[c.PaymentNotice] = []
        self._plan_due_at: datetime | None = None  # the running plan's next deadline (due date or grace end)

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
        balance = await self.run_activity(c.COLLECTIONS_BALANCE, c.GuarantorRef(guarantor_id), c.GuarantorBalance)
        self._balance = balance.balance_cents
        return self._balance

    def _done(self, data: c.CollectionsInput, outcome: str) -> c.CollectionsResult:
        self._stage = "done"
        set_visibility(stage=f"collections_{outcome}")
        return c.CollectionsResult(data.guarantor_id, outcome, self._statements, self._balance)

    @workflow.run
    async def run(self, data: c.CollectionsInput) -> c.CollectionsResult:
        result = await self._run(data)
        await workflow.wait_condition(workflow.all_handlers_finished)
        return result

    async def _run(self, data: c.CollectionsInput) -> c.CollectionsResult:
        policy = data.policy
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
            if balance <= policy.small_balance_cents:
                await self.run_activity(
                    c.COLLECTIONS_WRITE_OFF,
                    c.CollectionsWriteOff(data.guarantor_id, balance, "small_balance", f"{wf_id}/small/{balance}"),
                    c.Nothing,
                )
                self._balance = 0
                return self._done(data, "written_off")
            if final_sent:
                outcome = await self._after_final_notice(data, balance)
                if outcome is not None:
                    return self._done(data, outcome)
                final_sent = False  # a payment plan or settlement restarted the cycle
                continue
            kind = (
                "first" if self._statements == 0 else ("final" if self._statements > policy.reminders else "reminder")
            )
            self._stage = f"statement:{kind}"
            await self.run_activity(
                c.COLLECTIONS_SEND_STATEMENT,
                c.StatementRequest(data.guarantor_id, kind, self._statements + 1, f"{wf_id}/{self._statements + 1}"),
                c.StatementSent,
            )
            self._statements += 1
            final_sent = kind == "final"
            interval = policy.agency_after_final_days if final_sent else policy.statement_interval_days
            await self._pause(policy, policy.days(interval))

    async def _pause(self, policy: c.RevenuePolicy, duration: object) -> None:
        """Sleep on a durable timer, waking early when the balance changes."""
        self._stage = "waiting"
        try:
            await workflow.wait_condition(lambda: self._balance_changed, timeout=duration)  # type: ignore[arg-type]
        except TimeoutError:
            pass

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
            check=functools.partial(_check_plan_terms, policy=policy, balance=balance, hardship=False),
        )
        if resolution is None:
            return None  # a payment came in: look again
        key = f"{workflow.info().workflow_id}/{resolution.action}/{self._statements}"
        if resolution.action == Action.WRITE_OFF:
            await self.run_activity(
                c.COLLECTIONS_WRITE_OFF,
                c.CollectionsWriteOff(data.guarantor_id, balance, resolution.fields["reason_code"], key),
                c.Nothing,
            )
            self._balance = 0
            return "written_off"
        if resolution.action in (Action.SEND_TO_AGENCY, Action.CANCEL):
            await self.run_activity(
                c.COLLECTIONS_AGENCY, c.AgencyHandoff(data.guarantor_id, balance, key), c.AgencyResult
            )
            return "agency"
        # Histories recorded before installments were followed restarted the statement cycle on a plan.
        if resolution.action == Action.PAYMENT_PLAN and workflow.patched("payment-plan-installments"):
            return await self._payment_plan(data, resolution.fields, key)
        # payment_plan (old histories), settle or bill_patient: the statement cycle starts again on the balance.
        self._statements = 0
        return None

    async def _payment_plan(self, data: c.CollectionsInput, fields: dict[str, str], key: str) -> str | None:
        """Follow a payment plan: wait for each installment's due date, check the ledger, remind, break or finish."""
        policy = data.policy
        try:
            plan = await self.run_activity(
                c.COLLECTIONS_CREATE_PLAN,
                c.PaymentPlanRequest(
                    data.guarantor_id,
                    requested_installments(fields),
                    fields.get("first_due") or None,
                    policy.min_installment_cents,
                    policy.max_installments,
                    policy.installment_interval_days,
                    key,
                ),
                c.PaymentPlanCreated,
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
                c.COLLECTIONS_SEND_STATEMENT,
                c.StatementRequest(
                    data.guarantor_id,
                    "plan_reminder",
                    number,
                    f"{workflow.info().workflow_id}/plan/{self._statements}/{number}",
                ),
                c.StatementSent,
            )
            self._stage = f"plan:grace:{number}"
            await workflow.sleep(policy.days(policy.installment_grace_days))
            standing = await self._check_plan(plan.plan_id, due_cents)
            if standing.completed:
                return self._plan_completed()
            if standing.behind_cents == 0:
                continue
            missed += 1
            broken = missed >= policy.plan_max_missed or number == len(plan.amounts_cents)
            status = "broken" if broken else "active"
            await self.run_activity(
                c.COLLECTIONS_UPDATE_PLAN, c.PaymentPlanUpdate(plan.plan_id, status, missed), c.Nothing
            )
            if broken:
                return await self._plan_broken(data, key)
        standing = await self._check_plan(plan.plan_id, due_cents)
        if standing.completed:
            return self._plan_completed()
        # Every installment met, yet the balance grew (new charges): the statement cycle takes the rest.
        self._statements = 0
        return None

    async def _check_plan(self, plan_id: str, due_cents: int) -> c.PaymentPlanStanding:
        return await self.run_activity(
            c.COLLECTIONS_CHECK_PLAN, c.PaymentPlanCheck(plan_id, due_cents), c.PaymentPlanStanding
        )

    def _plan_completed(self) -> str:
        self._balance = 0
        return "plan_completed"

    async def _plan_broken(self, data: c.CollectionsInput, key: str) -> str | None:
        """A broken plan resumes where the final notice left off: the agency takes what is still owed."""
        balance = await self._read_balance(data.guarantor_id)
        if balance <= data.policy.small_balance_cents:
            self._statements = 0
            return None  # the main loop writes a small remainder off (or finds it paid)
        await self.run_activity(
            c.COLLECTIONS_AGENCY, c.AgencyHandoff(data.guarantor_id, balance, f"{key}/broken"), c.AgencyResult
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
                c.COLLECTIONS_SEND_STATEMENT,
                c.StatementRequest(
                    data.guarantor_id,
                    "plan_reminder",
                    number,
                    f"{workflow.info().workflow_id}/plan/{self._statements}/{run.key}/{number}",
                ),
                c.StatementSent,
            )
            self._stage = f"plan:grace:{number}"
            grace_ends = run.deadline + policy.days(policy.installment_grace_days)
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
            broken = run.missed >= policy.plan_max_missed or number == len(plan.amounts_cents)
            status = "broken" if broken else "active"
            await self.run_activity(
                c.COLLECTIONS_UPDATE_PLAN, c.PaymentPlanUpdate(plan.plan_id, status, run.missed), c.Nothing
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
        await self.run_activity(
            c.COLLECTIONS_UPDATE_PLAN, c.PaymentPlanUpdate(plan_id, "paused", run.missed), c.Nothing
        )
        key = f"{run.key}/{signal}/{run.pauses}"
        refused = ""
        try:
            while True:
                # Reading the balance must not swallow a payment the plan has not looked at yet.
                unseen_payment = self._balance_changed
                balance = await self._read_balance(data.guarantor_id)
                self._balance_changed = self._balance_changed or unseen_payment
                context = {"plan": plan_id, "balance_cents": str(balance), "missed": str(run.missed)}
                if refused:
                    context["refused"] = refused
                resolution = await self.ask(
                    policy,
                    reason=reason,
                    summary=f"guarantor {data.guarantor_id} on plan {plan_id}: {signal} ({balance} cents owed)",
                    entity_type="guarantor",
                    entity_id=data.guarantor_id,
                    context=context,
                    until=lambda: signal not in self._paused,
                    check=functools.partial(_check_plan_terms, policy=policy, balance=balance, hardship=True),
                )
                if resolution is None or resolution.action in (Action.COMPLETE, Action.CANCEL):
                    break  # withdrawn by the guarantor, or reviewed and refused: the plan resumes
                if resolution.action == Action.WRITE_OFF:
                    if balance > 0:
                        await self.run_activity(
                            c.COLLECTIONS_WRITE_OFF,
                            c.CollectionsWriteOff(data.guarantor_id, balance, resolution.fields["reason_code"], key),
                            c.Nothing,
                        )
                    await self._end_plan(plan_id, run.missed)
                    self._balance = 0
                    raise _PlanEnded("written_off")
                if resolution.action == Action.BILL_PATIENT:
                    await self._end_plan(plan_id, run.missed)
                    self._statements = 0
                    raise _PlanEnded(None)
                # A hardship re-plan over what is owed now, on the policy's hardship terms.
                try:
                    replanned = await self.run_activity(
                        c.COLLECTIONS_CREATE_PLAN,
                        c.PaymentPlanRequest(
                            data.guarantor_id,
                            requested_installments(resolution.fields),
                            resolution.fields.get("first_due") or None,
                            policy.hardship_min_installment_cents,
                            policy.hardship_max_installments,
                            policy.installment_interval_days,
                            f"{key}/replan",
                        ),
                        c.PaymentPlanCreated,
                    )
                except DomainFailure as failure:
                    refused = failure.code  # the terms break the rules: the person is asked again
                    continue
                await self._end_plan(plan_id, run.missed)
                return replanned
        finally:
            self._paused.discard(signal)
        run.deadline += workflow.now() - started
        self._stage = resumed_stage
        await self.run_activity(
            c.COLLECTIONS_UPDATE_PLAN, c.PaymentPlanUpdate(plan_id, "active", run.missed), c.Nothing
        )
        return None

    async def _end_plan(self, plan_id: str, missed: int) -> None:
        await self.run_activity(c.COLLECTIONS_UPDATE_PLAN, c.PaymentPlanUpdate(plan_id, "cancelled", missed), c.Nothing)
