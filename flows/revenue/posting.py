"""PaymentPosting: one remittance (an 835 or an EOB read as one), posted exactly once.

It is started per remittance as ``posting-<remittance key>`` (by RemittanceIntake, flows.revenue.remittance_intake,
by the portal EOB intake or by ``remit post``), so a re-delivered 835 is a no-op. It signals each claim's workflow
with its outcome, tells collections about new patient balances, and gives each work item posting opened its
PostingException workflow (flows.revenue.posting_exceptions), which waits for the biller and carries it out.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from temporalio import workflow
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.workflow import ParentClosePolicy

from flows.revenue._common import (
    LONG_ACTIVITY_HEARTBEAT,
    STORE_RETRY,
    ActivityOptions,
    RevenueWorkflow,
    set_first_visibility,
    set_visibility,
)

with workflow.unsafe.imports_passed_through():
    from activities.contracts import posting_exceptions as xc
    from activities.contracts import revenue as c
    from domain.workitems import Reason
    from flows.revenue.names import CLAIM_REMITTANCE_SIGNAL, CLAIM_WORKFLOW, claim_workflow_id
    from flows.search_attributes import starting_visibility

# Marks the histories in which a claim without a running process is reopened by its remittance.
LATE_REMITTANCE_PATCH = "late-remittance-reopens-claim"
# Marks the histories in which each work item posting opened gets its PostingException workflow (before: the items
# waited on no process, and nothing carried a person's resolution out).
EXCEPTION_WORKFLOWS_PATCH = "posting-exception-workflows"
# Marks the histories in which a remittance with more to tell than the policy's posting_carry_limit keeps its
# outcomes beside the 835 and has them told by posting.tell, a page per activity (before: a signal per claim and
# an activity per guarantor in this history, and every outcome in one payload).
TELL_IN_PAGES_PATCH = "posting-tell-in-pages"
# Marks the histories of a posting that records one patch marker, implying the three above (each marker a run records
# costs the SDK's TemporalChangeVersion upsert, a billed Action), and names its payer with a later stage when nothing
# waits in between: with "done" when it has little to tell (TOLD_IN_A_MOMENT), on its own before a longer telling or a
# person's item.
ONE_MARKER_PATCH = "posting-one-marker"
# Claims, secondary claims and guarantors a posting tells in a moment (a signal, a start or an activity each): with no
# more than these, a new run (ONE_MARKER_PATCH) names its payer with its "done" stage; with more, or told in pages, it
# names the payer first, so that the console shows it while the telling runs.
TOLD_IN_A_MOMENT = 10
# Posting a payer's 10,000-claim ERA takes more than a store activity's minute on a busy machine, and a page is
# hundreds of signals and starts. Both beat while they run, so a worker lost in the middle is noticed after the
# heartbeat timeout, not after ten minutes (posting.post_remittance is kept alive by activities.heartbeats;
# posting.tell beats its own progress after each item, so it gets longer). Activity timeouts are not part of what a
# history replays.
POSTING = ActivityOptions(timedelta(minutes=10), STORE_RETRY, heartbeat=LONG_ACTIVITY_HEARTBEAT)
TELLING = ActivityOptions(timedelta(minutes=10), STORE_RETRY, heartbeat=2 * LONG_ACTIVITY_HEARTBEAT)


# PaymentPosting's first stage, given at its start by every starter (free; its first upsert is then skipped).
POSTING_STARTS_AT = starting_visibility(stage="posting")


def posting_workflow_id(remittance_key: str) -> str:
    return f"posting-{remittance_key}"


@workflow.defn(name="PaymentPosting")
class PaymentPostingWorkflow(RevenueWorkflow):
    def __init__(self) -> None:
        super().__init__()
        self._result: c.PostingResult | None = None
        self._reopened: list[str] = []
        self._told_claims = 0  # a large remittance's claims told so far by posting.tell (its outcomes are not here)
        self._reopened_count = 0

    @workflow.query(name="state")
    def state(self) -> dict[str, object]:
        result = self._result
        return {
            "stage": self._stage,
            "posted_cents": result.posted_cents if result else None,
            "claims": (result.kept_claims or len(result.claims)) if result else None,
            "already_posted": result.already_posted if result else None,
            "reopened_claims": list(self._reopened),
            "claims_told": self._told_claims,
            "reopened_count": self._reopened_count or len(self._reopened),
        }

    @workflow.run
    async def run(self, data: c.PostingInput) -> c.PostingResult:
        result = await self._run(data)
        await workflow.wait_condition(workflow.all_handlers_finished)
        return result

    async def _run(self, data: c.PostingInput) -> c.PostingResult:
        policy = data.policy
        self._stage = "posting"
        one_marker = workflow.patched(ONE_MARKER_PATCH)  # first: a run recorded before it calls no more than it did
        set_first_visibility(stage="posting")
        # A large remittance's outcomes stay beside the 835 and are told a page per activity (below).
        carry_limit = policy.posting_carry_limit if one_marker or workflow.patched(TELL_IN_PAGES_PATCH) else -1
        result = await self.run_or_ask(
            policy,
            c.posting_post_remittance,
            c.RemittanceRef(data.remittance_key, carry_limit=carry_limit),
            entity_type="remittance",
            entity_id=data.remittance_key[:36],
            options=POSTING,
        )
        self._result = result
        payer = {"payer_id": result.payer_id or None}  # shown on its own, or with the next stage (ONE_MARKER_PATCH)
        to_tell = len(result.claims) + len(result.secondary_claims) + len(result.guarantors_with_balance)
        if not one_marker or result.kept or to_tell > TOLD_IN_A_MOMENT:  # a longer telling: the payer shows meanwhile
            set_visibility(**payer)
            payer = {}
        self._stage = "signalling"
        if result.kept:
            await self._tell_in_pages(policy, result)
        # Each claim hears its own outcome. A claim whose process has ended (or never ran: history) gets a new run
        # that goes on from this outcome: a reversal, a late denial or a late payment is not left unattended.
        for outcome in result.claims:
            handle = workflow.get_external_workflow_handle(claim_workflow_id(outcome.claim_id))
            try:
                await handle.signal(CLAIM_REMITTANCE_SIGNAL, outcome)
            except Exception:  # the claim's workflow is gone or never existed
                if one_marker or workflow.patched(LATE_REMITTANCE_PATCH):
                    await self._reopen(policy, outcome)
                else:
                    workflow.logger.info("no running workflow for claim %s", outcome.claim_id)
        for claim_id in result.secondary_claims:  # the crossover: each secondary claim gets its own process
            try:
                # By name: abandoned, its result is not ours to decode (a typed reference would decode it here)
                await workflow.start_child_workflow(
                    CLAIM_WORKFLOW,
                    c.ClaimInput(claim_id, policy),
                    id=claim_workflow_id(claim_id),
                    parent_close_policy=ParentClosePolicy.ABANDON,
                )
            except WorkflowAlreadyStartedError:
                pass
        for guarantor_id in result.guarantors_with_balance:
            await self.run_activity(c.collections_notify_balance, c.BalanceNotice(guarantor_id, policy))
        if result.exception_items and (one_marker or workflow.patched(EXCEPTION_WORKFLOWS_PATCH)):
            # One activity starts them all (posting-exception-<item>): this history stays short on a large ERA.
            await self.run_activity(
                xc.posting_start_exceptions, xc.StartExceptions(result.exception_items, data.remittance_key, policy)
            )
        if result.unmatched:
            if payer:  # the payer shows while a person decides
                set_visibility(**payer)
                payer = {}
            await self.ask(
                policy,
                reason=Reason.UNMATCHED_REMITTANCE,
                summary=f"{len(result.unmatched)} claim(s) of remittance {data.remittance_key} matched no claim",
                entity_type="remittance",
                entity_id=data.remittance_key[:36],
                context={"patient_control_numbers": ",".join(result.unmatched)[:500]},
            )
        self._stage = "done"
        set_visibility(stage="done", **payer)
        return result

    async def _tell_in_pages(self, policy: c.RevenuePolicy, result: c.PostingResult) -> None:
        """Each claim's outcome, each secondary claim and each guarantor with a balance, told by posting.tell a
        page at a time: three events per page instead of two or more per claim (a 10,000-claim ERA stays far
        under Temporal's history limits, and its outcomes are never a payload here)."""
        page = max(1, policy.posting_page)
        for offset in range(0, result.kept, page):
            told = await self.run_activity(
                c.posting_tell, c.TellPage(result.remittance_key, offset, page, policy), TELLING
            )
            self._told_claims += told.signalled + told.reopened
            self._reopened_count += told.reopened

    async def _reopen(self, policy: c.RevenuePolicy, outcome: c.ClaimOutcome) -> None:
        try:
            # By name: abandoned, its result is not ours to decode (a typed reference would decode it here)
            await workflow.start_child_workflow(
                CLAIM_WORKFLOW,
                c.ClaimInput(outcome.claim_id, policy, reopened_by=outcome),
                id=claim_workflow_id(outcome.claim_id),
                parent_close_policy=ParentClosePolicy.ABANDON,
            )
            self._reopened.append(outcome.claim_id)
        except WorkflowAlreadyStartedError:  # another posting reopened it just now: it hears this outcome too
            await workflow.get_external_workflow_handle(claim_workflow_id(outcome.claim_id)).signal(
                CLAIM_REMITTANCE_SIGNAL, outcome
            )


def __getattr__(name: str) -> Any:
    """RemittanceIntake has its own module now (flows.revenue.remittance_intake); its names are still found here for
    the imports that named this module (``flows.revenue`` re-exports them)."""
    if name in ("INTAKE_WORKFLOW_ID", "RemittanceIntakeWorkflow"):
        from flows.revenue import remittance_intake

        return getattr(remittance_intake, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
