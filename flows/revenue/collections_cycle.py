"""The PatientCollections cycle decided by the practice's collections policy (domain.collections_policy).

At every step the workflow reads the policy in force (``collections.policy``: the newest stored version, so a
``carecycle policy set`` reaches running cycles at their next step, at the latest a business week later) and the
guarantor's balance, and asks :func:`domain.collections_policy.next_step` what to do: nothing (paid), refund a
credit, write a small balance off, wait for a dispute or hardship request, send the next statement (due when the
policy's schedule says), sleep until the next one is due, or, after the final notice, hand the balance over (the
agency, or a bad-debt write-off below the agency's minimum) once a person has had the last word. Business dates
come from a :class:`BusinessClock` fixed at the first run (a compressed day in the demo).

Histories from before this cycle (patch ``collections-domain-policy``) keep their timers in
``flows.revenue.collections_legacy``; this is the only cycle new runs use.
"""

from __future__ import annotations

import functools
from datetime import date, datetime, timedelta

from temporalio import workflow

from flows.revenue._common import DomainFailure, refusal_context, set_visibility
from flows.revenue.collections_base import check_collections_resolution
from flows.revenue.collections_plans import PlanFollower

with workflow.unsafe.imports_passed_through():
    from activities.contracts import revenue as c
    from activities.contracts.staff import BusinessClock
    from domain.collections_policy import (
        CollectionsPolicy,
        Step,
        cycle_started_on,
        hardship_terms,
        next_step,
        requested_installments,
        settlement,
        statement_due_on,
    )
    from domain.errors import DomainError
    from domain.workitems import Action, Reason, Resolution

# Marks the histories in which the cycle is decided by the stored collections policy at every step.
POLICY_CYCLE_PATCH = "collections-domain-policy"
# A running cycle reads the policy (and the balance) again at its next step's date, and at least this often: a
# new version reaches it within a business week (each look costs two activities and a timer in its history).
POLICY_RECHECK_DAYS = 7


class PolicyCycle(PlanFollower):
    """The cycle new runs use (see the module)."""

    def _start_clock(self, data: c.CollectionsInput) -> None:
        if data.clock_origin_day:
            origin = datetime.fromtimestamp(data.clock_origin_at, workflow.now().tzinfo)
            self._clock = BusinessClock(origin, data.clock_origin_day, data.policy.day_seconds)
        else:
            now = workflow.now()
            self._clock = BusinessClock(now, now.date().isoformat(), data.policy.day_seconds)

    def _carry_over(self, data: c.CollectionsInput, notices: int, first_on: date | None) -> c.CollectionsInput:
        assert self._clock is not None
        return c.CollectionsInput(
            data.guarantor_id,
            data.policy,
            notices,
            False,
            first_on.isoformat() if first_on else "",
            self._clock.origin_day,
            self._clock.origin_at.timestamp(),
            self._cycle,
        )

    async def _run_by_policy(self, data: c.CollectionsInput) -> c.CollectionsResult:
        self._by_policy = True
        self._cycle = data.cycle
        self._start_clock(data)
        policy = data.policy
        notices = data.statements_sent
        first_on = date.fromisoformat(data.first_statement_on) if data.first_statement_on else None
        set_visibility(stage="collections", entity_type="guarantor", entity_id=data.guarantor_id)
        if notices == 0:  # let the claims of one visit settle before the first statement goes out
            await self._pause(policy, policy.days(1))
        while True:
            if workflow.info().is_continue_as_new_suggested():
                workflow.continue_as_new(self._carry_over(data, notices, first_on))
            rules = await self._read_rules()
            if self._paused:
                self._stage = "paused:" + ",".join(sorted(self._paused))
                await workflow.wait_condition(lambda: not self._paused)
                continue
            balance = await self._read_balance(data.guarantor_id)
            today = self._today()
            if first_on is None and notices > 0:  # a cycle carried over from before this patch
                first_on = cycle_started_on(rules, today, notices)
            step = next_step(
                rules, balance_cents=balance, today=today, first_statement_on=first_on, notices_sent=notices
            )
            self._statements = notices
            if step.action == "statement":
                first_on = today if step.sequence == 1 else first_on
                assert first_on is not None
                await self._send_notice(data, rules, step, first_on, today)
                notices = step.sequence
                continue
            if step.action == "wait":
                assert step.wait_until is not None
                await self._wait_until(data, step.wait_until)
                continue
            outcome = await self._settle_step(data, rules, step, balance)
            if outcome == "restart":
                notices, first_on, self._cycle = 0, None, self._cycle + 1
                continue
            if outcome is not None:
                return self._done(data, outcome)

    async def _send_notice(
        self, data: c.CollectionsInput, rules: CollectionsPolicy, step: Step, first_on: date, today: date
    ) -> None:
        assert step.kind is not None
        self._stage = f"statement:{step.kind}"
        await self.run_activity(
            c.collections_send_statement,
            c.StatementRequest(
                data.guarantor_id,
                step.kind,
                step.sequence,
                self._cycle_key(step.sequence),
                due_on=statement_due_on(rules, first_on, step.sequence).isoformat(),
                statement_on=today.isoformat(),
            ),
        )

    def _cycle_key(self, sequence: int) -> str:
        """The statement's idempotency key: a cycle begun again sends its own statements, not the first cycle's."""
        prefix = workflow.info().workflow_id + (f"/cycle{self._cycle}" if self._cycle else "")
        return f"{prefix}/{sequence}"

    async def _wait_until(self, data: c.CollectionsInput, day: date) -> None:
        """Sleep until the policy's next date (a business week at most: the policy may change), waking on a payment
        or a pause."""
        assert self._clock is not None
        remaining = min(self._clock.at(day) - workflow.now(), data.policy.days(POLICY_RECHECK_DAYS))
        self._stage = "waiting"
        if remaining <= timedelta(0):
            return
        try:
            await workflow.wait_condition(
                lambda: self._balance_changed or bool(self._paused),
                timeout=remaining,
            )
        except TimeoutError:
            pass

    async def _settle_step(
        self, data: c.CollectionsInput, rules: CollectionsPolicy, step: Step, balance: int
    ) -> str | None:
        """Carry out a step that ends the cycle (or asks a person first); "restart" starts the statements again,
        None looks again (a payment came)."""
        key = f"{self._cycle_key(self._statements)}/{step.action}"
        if step.action == "paid":
            return "paid"
        if step.action == "refund":
            await self.ask(
                data.policy,
                reason=Reason.POSTING_EXCEPTION,
                summary=f"guarantor {data.guarantor_id} has a credit of {step.amount_cents} cents: refund it",
                entity_type="guarantor",
                entity_id=data.guarantor_id,
                context={"credit_cents": str(step.amount_cents)},
            )
            return "credit"
        if step.action == "write_off":
            small_key = f"{workflow.info().workflow_id}/small/{balance}"
            await self._write_off(data, step.amount_cents, "small_balance", small_key)
            return "written_off"
        if step.action == "pause":
            return None
        return await self._overdue(data, rules, step, balance, key)

    async def _overdue(
        self, data: c.CollectionsInput, rules: CollectionsPolicy, step: Step, balance: int, key: str
    ) -> str | None:
        """After the final notice the person has the last word; the policy proposes the hand-off."""
        refusal: dict[str, str] = {}
        while True:
            today = self._today()
            resolution = await self.ask(
                data.policy,
                reason=Reason.PATIENT_BALANCE_OVERDUE,
                summary=f"guarantor {data.guarantor_id} owes {balance} cents after the final notice",
                entity_type="guarantor",
                entity_id=data.guarantor_id,
                context={
                    "balance_cents": str(balance),
                    "statements": str(self._statements),
                    "policy_version": str(self._rules_version),
                    "policy_proposes": step.action,
                    **refusal,
                },
                until=lambda: self._balance_changed,
                check=functools.partial(
                    check_collections_resolution, rules=rules, balance=balance, today=today, hardship=False
                ),
            )
            if resolution is None:
                return None  # a payment came in: look again
            action_key = f"{key}/{resolution.action}"
            if resolution.action == Action.WRITE_OFF:
                await self._write_off(data, balance, resolution.fields["reason_code"], action_key)
                return "written_off"
            if resolution.action in (Action.SEND_TO_AGENCY, Action.CANCEL):
                return await self._hand_over(data, step, action_key)
            if resolution.action == Action.SETTLE:
                try:
                    forgiven = settlement(rules, balance, _amount(resolution))
                except DomainError as exc:  # refused by the validator already; never a failed workflow task
                    refusal = {"refused": exc.code, "refused_because": exc.message[:300]}
                    continue
                if forgiven:
                    await self._write_off(data, forgiven, "administrative", action_key)
                return "restart"
            if resolution.action == Action.PAYMENT_PLAN:
                try:
                    plan = await self._create_plan(data, rules, resolution, action_key, hardship=False)
                except DomainFailure as failure:  # the balance changed since: the plan rule says why
                    refusal = refusal_context(failure)
                    continue
                outcome = await self._follow_plan(data, plan, action_key)
                return "restart" if outcome is None else str(outcome)
            return "restart"  # bill_patient: the statement cycle starts again on the balance

    async def _create_plan(
        self, data: c.CollectionsInput, rules: CollectionsPolicy, resolution: Resolution, key: str, *, hardship: bool
    ) -> c.PaymentPlanCreated:
        terms = hardship_terms(rules) if hardship else rules
        plan: c.PaymentPlanCreated = await self.run_activity(
            c.collections_create_payment_plan,
            c.PaymentPlanRequest(
                data.guarantor_id,
                requested_installments(resolution.fields),
                resolution.fields.get("first_due") or None,
                terms.min_installment_cents,
                terms.max_installments,
                terms.installment_interval_days,
                key,
            ),
        )
        return plan


def _amount(resolution: Resolution) -> int | None:
    text = resolution.fields.get("amount_cents", "")
    return int(text) if text.isascii() and text.isdigit() else None
