"""The Claim workflow's state, and a person's decision on the claim and how it is carried out.

``flows.revenue.claim`` is the process (``ClaimWorkflow``, its steps, its signal and query); this is its base class.
A claim that cannot go on by itself asks a person (failed edits, a rejection, a denial, no answer from the payer, the
timely-filing deadline): here is how the question is asked (saying why the last answer was refused), what the
``resolve`` Update's validator checks against this claim's facts, and how each answer is carried out (correct and
resubmit, appeal, write off, bill the patient, settled outside the process). Then the claim's own state: its status
is always the store's (``_take``, ``_set_status``).
"""

from __future__ import annotations

from collections.abc import Callable

from temporalio import workflow

from flows.revenue._common import (
    DomainFailure,
    RevenueWorkflow,
    refusal_context,
    set_first_visibility,
    set_visibility,
)

with workflow.unsafe.imports_passed_through():
    from activities.contracts import revenue as c
    from domain.claim_corrections import ClaimFacts, check_claim_resolution
    from domain.claim_status import ClaimStatus
    from domain.workitems import Action, Reason, Resolution
    from flows.search_attributes import aging_bucket


# Marks the histories in which a correction the store refuses asks the same question again, saying why (before:
# a manual task whose `complete` ran the same correction again, for ever).
CORRECTION_REFUSED_PATCH = "claim-correction-refused"
# A person's write-off or bill-to-patient the store refuses asks the question again (before: a manual task, then
# the same adjustment again until it passed).
CLOSE_REFUSED_PATCH = "claim-close-refused"


class ClaimDecisions(RevenueWorkflow):
    """``ClaimWorkflow``'s base: the claim's state, a person's decisions on it, and the claim's status and stage."""

    _policy: c.RevenuePolicy  # the run's policy (ClaimInput.policy), set before the first step

    def __init__(self) -> None:
        super().__init__()
        self._claim_id = ""
        self._status = ClaimStatus.DRAFT.value  # the store's ClaimStatus, from every activity's answer (_take)
        self._outcomes: list[c.ClaimOutcome] = []
        self._heard: set[tuple[object, ...]] = set()  # every outcome this run has heard (ClaimWorkflow.remittance)
        self._submissions = 0
        self._paid_cents = 0
        self._patient_cents = 0
        self._payer_id = ""
        self._submitted_at: float | None = None
        self._portal_task_queue = "portal"
        self._lines = 0  # the claim's service lines and diagnoses (from the scrub): for the correction rule
        self._diagnoses = 0
        self._line_pointers: tuple[int, ...] = ()
        self._refusal: dict[str, str] = {}  # why the last resolution could not be applied (for the next item)
        self._ack_verdict: str | None = None  # what a person decided on the no-acknowledgment item
        self._upserted = False  # the run's first stage may have come with its start (set_first_visibility)
        self._payer_with_stage = False  # PAYER_WITH_STAGE_PATCH (flows.revenue.claim)
        self._payer_pending = ""  # a payer to upsert with the next stage (_enter)

    # --- a person's decision and how it is carried out ---------------------------------------------------------

    async def _decide(self, policy: c.RevenuePolicy, reason: Reason, summary: str, context: dict[str, str]) -> str:
        self._enter(str(reason))
        verdict = await self._resolve(policy, reason, summary, context)
        assert verdict is not None
        return verdict

    async def _resolve(
        self,
        policy: c.RevenuePolicy,
        reason: Reason,
        summary: str,
        context: dict[str, str],
        until: Callable[[], bool] | None = None,
    ) -> str | None:
        """Ask a person and carry out the answer (None: ``until`` came first). A correction, write-off or bill to the
        patient that the store refuses asks the same question again, with the rule and the value that failed."""
        resolution = await self._ask_claim(policy, reason, summary, context, until)
        if resolution is None:
            return None
        return await self._carry_out(policy, resolution, reason, summary, context)

    async def _carry_out(
        self, policy: c.RevenuePolicy, resolution: Resolution, reason: Reason, summary: str, context: dict[str, str]
    ) -> str:
        verdict = await self._apply(policy, resolution)
        while verdict == "refused":
            again = await self._ask_claim(policy, reason, summary, context, None)
            assert again is not None
            verdict = await self._apply(policy, again)
        return verdict

    async def _ask_claim(
        self,
        policy: c.RevenuePolicy,
        reason: Reason,
        summary: str,
        context: dict[str, str],
        until: Callable[[], bool] | None,
    ) -> Resolution | None:
        refusal, self._refusal = self._refusal, {}
        if refusal:
            summary = f"the last resolution was refused ({refusal['refused']}): {refusal['refused_because']}"
        return await self.ask(
            policy,
            reason=reason,
            summary=summary,
            entity_type="claim",
            entity_id=self._claim_id,
            context={**context, **refusal},
            until=until,
            check=self._check,
        )

    def _check(self, resolution: Resolution) -> None:
        """The Update validator's part that needs this claim's facts (domain.claim_corrections)."""
        facts = ClaimFacts(
            status=self._status,
            submissions=self._submissions,
            max_resubmissions=self._policy.max_resubmissions,
            lines=self._lines,
            diagnoses=self._diagnoses,
            today=workflow.now().date(),
            line_pointers=self._line_pointers,
        )
        check_claim_resolution(resolution.action, resolution.fields, facts)

    async def _apply(self, policy: c.RevenuePolicy, resolution: Resolution) -> str:
        """Carry out a biller's resolution: "resubmit", "wait" again (appeal, retry), "closed", or "refused" (a
        correction the store refused: ask again)."""
        actor = resolution.by
        if resolution.action == Action.CORRECT_AND_RESUBMIT:
            if self._submissions > policy.max_resubmissions:
                await self._close("write_off", "too_many_resubmissions", actor)
                return "closed"
            frequency = "7" if self._submissions else "1"
            correction = c.ClaimCorrection(self._claim_id, dict(resolution.fields), frequency, actor)
            try:
                await self.run_activity(c.claims_correct, correction)
            except DomainFailure as failure:
                if workflow.patched(CORRECTION_REFUSED_PATCH):
                    self._refusal = refusal_context(failure)
                    return "refused"
                # Histories before the patch: a manual task, then the same correction again until it passes.
                await self.manual_task(policy, c.CLAIMS_CORRECT, failure, entity_type="claim", entity_id=self._claim_id)
                await self.run_or_ask(
                    policy, c.claims_correct, correction, entity_type="claim", entity_id=self._claim_id
                )
            return "resubmit"
        if resolution.action == Action.APPEAL:
            await self._set_status(ClaimStatus.APPEALED.value, resolution.note)
            self._enter("appealed")
            return "wait"
        if resolution.action in (Action.WRITE_OFF, Action.BILL_PATIENT):
            reason = resolution.fields.get("reason_code", str(resolution.action))
            try:
                await self._close(str(resolution.action), reason, actor, person=True)
            except DomainFailure as failure:
                self._refusal = refusal_context(failure)
                return "refused"
            return "closed"
        if resolution.action in (Action.COMPLETE, Action.CANCEL):
            self._enter("done")
            return "closed"  # the person settled it outside the process
        if resolution.action == Action.RETRY_NOW:
            return "wait"
        return "wait"  # unreachable: the validator refuses actions not offered

    async def _close(self, kind: str, reason: str, actor: str, person: bool = False) -> None:
        """Write the claim off or bill the patient. A person's choice the store refuses raises the refusal (the
        caller asks the person again, saying why); the process's own choice, or a history from before
        CLOSE_REFUSED_PATCH, opens a manual task and tries the same adjustment again."""
        adjustment = c.ClaimAdjustment(self._claim_id, kind, reason, actor)
        if person and workflow.patched(CLOSE_REFUSED_PATCH):
            adjusted = await self.run_activity(c.posting_adjust, adjustment)
        else:
            adjusted = await self.run_or_ask(
                self._policy, c.posting_adjust, adjustment, entity_type="claim", entity_id=self._claim_id
            )
        if kind == "bill_patient":
            self._patient_cents += adjusted.amount_cents
            await self.run_activity(c.collections_notify_balance, c.BalanceNotice(adjusted.guarantor_id, self._policy))
            self._take(adjusted.claim_status, "billed_to_patient")
        else:
            self._take(adjusted.claim_status, ClaimStatus.WRITTEN_OFF.value)
        self._enter("done")

    # --- the claim's own state -------------------------------------------------------------------------------

    def _take(self, store_status: str, older_history: str) -> None:
        """The claim's status is the store's (each claim activity answers with it). ``older_history``: what
        histories recorded before the answers carried it had here, so that they replay as they ran."""
        self._status = store_status or older_history

    def _enter(self, stage: str) -> None:
        self._stage = stage
        age_days = 0.0
        if self._submitted_at is not None:
            age_days = (workflow.now().timestamp() - self._submitted_at) / self._policy.day_seconds
        visibility = {"stage": stage, "claim_status": self._status, "aging_bucket": aging_bucket(int(age_days))}
        if self._payer_pending:
            visibility["payer_id"], self._payer_pending = self._payer_pending, ""
        if self._upserted:
            set_visibility(**visibility)
        else:
            set_first_visibility(**visibility)
            self._upserted = True

    async def _set_status(self, status: str, note: str = "") -> None:
        await self.run_activity(
            c.claims_set_status,
            c.SetClaimStatus(self._claim_id, status, actor=f"workflow:{workflow.info().workflow_id}", note=note),
        )
        self._status = status  # the activity moved the store's claim there (an illegal move is refused)

    def _result(self) -> c.ClaimResult:
        return c.ClaimResult(
            claim_id=self._claim_id,
            status=self._status,
            paid_cents=self._paid_cents,
            patient_responsibility_cents=self._patient_cents,
            submissions=self._submissions,
            work_items=tuple(self._work_log),
        )
