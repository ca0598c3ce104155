"""PostingException: one work item posting opened, worked until a person's resolution is carried out.

Posting parks a claim payment it cannot apply (unmatched, ambiguous, or failing a check: the money waits in
unapplied cash), or finds a remittance whose payment total differs from its claims, or one from an unknown payer,
and opens a work item in the ``posting`` queue (domain.posting). PaymentPosting starts one of these workflows per
item (``posting-exception-<work item id>``, through the ``posting.start_exceptions`` activity, so its own history
stays one activity long however many lines were parked); ``carecycle tasks`` adopts an item opened before this
workflow existed the same way.

The workflow reads the item's facts (the parked payment, the claims it names) and waits for the person through the
work-item machinery (``resolve`` Update). The Update validator runs :func:`domain.posting.parked.check_resolution`
with those facts; a claim the workflow knows nothing of (one a person typed) is read from the store by the Update
handler and the same rule runs on it before the resolution is recorded, so a wrong claim is refused at once, with
the rule's message, and "resolved" means it will be applied. The ``posting.resolve_exception`` activity then runs
the rule once more in its transaction and carries the resolution out through the one domain function
(``domain.posting.post_manually``, the write-offs of domain.services.posting_exceptions). A payment posted to a
claim is told to the claim's workflow as PaymentPosting tells it (the ``remittance`` signal, or a new run of a
claim whose process has ended); a patient balance to collections; a crossover's secondary claim gets its
process. If the store still refuses (it changed in between), the question is asked again once, in a new item that
names the rule and the value that failed; nothing repeats by itself.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from typing import TypeVar

from temporalio import workflow
from temporalio.exceptions import ActivityError, ApplicationError, WorkflowAlreadyStartedError
from temporalio.workflow import ParentClosePolicy

from flows.revenue._common import STORE, DomainFailure, RevenueWorkflow, refusal_context, set_visibility
from flows.revenue.posting import POSTING_STARTS_AT, posting_workflow_id
from flows.workitems import WorkItemRequest

with workflow.unsafe.imports_passed_through():
    import flows.calls as calls  # by its full name: `from flows import calls` would re-run it in each sandbox
    from activities.contracts import posting_exceptions as xc
    from activities.contracts import revenue as c
    from activities.contracts.reference import ActivityRef
    from domain.errors import ValidationError
    from domain.posting.parked import ExceptionFacts, ExceptionKind, check_resolution, needs_claim_facts
    from domain.workitems import Action, Resolution
    from flows.revenue.names import CLAIM_REMITTANCE_SIGNAL, CLAIM_WORKFLOW, claim_workflow_id

OPEN_STATES = ("open", "claimed")
InputT = TypeVar("InputT")
OutputT = TypeVar("OutputT")


@workflow.defn(name=xc.WORKFLOW_TYPE)
class PostingExceptionWorkflow(RevenueWorkflow):
    def __init__(self) -> None:
        super().__init__()
        self._data = xc.PostingExceptionInput("")
        self._facts: ExceptionFacts | None = None
        self._claim_id = ""
        self._claim_status = ""
        self._refusals = 0

    @workflow.query(name="state")
    def state(self) -> dict[str, object]:
        facts = self._facts
        return {
            "stage": self._stage,
            "work_item_id": self._data.work_item_id,
            "kind": str(facts.kind) if facts else None,
            "claim_id": self._claim_id or None,
            "claim_status": self._claim_status or None,
            "refusals": self._refusals,
        }

    @workflow.run
    async def run(self, data: xc.PostingExceptionInput) -> xc.PostingExceptionResult:
        result = await self._run(data)
        await workflow.wait_condition(workflow.all_handlers_finished)
        return result

    async def _run(self, data: xc.PostingExceptionInput) -> xc.PostingExceptionResult:
        self._data = data
        self._stage = "reading"
        set_visibility(stage="posting_exception", entity_type="work_item", entity_id=data.work_item_id)
        try:
            item = await self._read(())
        except DomainFailure as failure:  # no such item (or not posting's): nothing to wait for
            workflow.logger.info("posting exception not adopted", extra={"error": failure.code})
            self._stage = "done"
            return xc.PostingExceptionResult(data.work_item_id, "", "")
        self._facts = item.facts
        if item.state not in OPEN_STATES:  # resolved or cancelled before this workflow adopted it
            self._stage = "done"
            return xc.PostingExceptionResult(data.work_item_id, "", "")
        sla = data.policy.days(data.policy.work_item_sla_days)
        request = self._adopted(item, sla)
        overdue = workflow.now() >= item.sla_due_at
        while True:
            self._stage = f"waiting:{item.reason}"
            work_item_id = await self.work_items.open(request)
            if overdue:  # an item adopted past its SLA is escalated at once, like any late item
                await self.work_items.escalate(work_item_id, 1)
            resolution = await self.work_items.wait(work_item_id, sla, 1 if overdue else 0)
            if resolution.action == Action.CANCEL:
                self._stage = "done"
                return xc.PostingExceptionResult(data.work_item_id, resolution.action, resolution.by)
            self._stage = f"applying:{resolution.action}"
            try:
                applied = await self._call(
                    xc.posting_resolve_exception,
                    xc.ExceptionResolution(
                        data.work_item_id,
                        resolution.action,
                        resolution.by,
                        dict(resolution.fields),
                        data.remittance_key,
                        work_item_id,
                    ),
                )
            except DomainFailure as failure:  # the store changed since the rule passed: ask again, saying why
                self._refusals += 1
                request = self._asked_again(request, item, failure)
                item = await self._reread()
                self._facts, overdue = item.facts, False
                continue
            await self._carry_on(applied)
            self._stage = "done"
            set_visibility(stage="done")
            return xc.PostingExceptionResult(
                data.work_item_id,
                resolution.action,
                resolution.by,
                self._claim_id,
                self._claim_status,
                self._refusals,
            )

    def _adopted(self, item: xc.ExceptionItem, sla: timedelta) -> WorkItemRequest:
        """Posting's own item as this workflow's request: adopted by its dedupe key, not opened again."""
        return WorkItemRequest(
            reason=item.reason,
            entity_type=item.entity_type,
            entity_id=item.entity_id,
            summary=item.summary,
            sla=sla,
            dedupe_key=item.dedupe_key,
            check=self._check,
            confirm=self._confirm,
        )

    def _asked_again(self, request: WorkItemRequest, item: xc.ExceptionItem, failure: DomainFailure) -> WorkItemRequest:
        """The store refused the resolution (it changed since the rule passed): a new item says which rule failed."""
        refusal = refusal_context(failure)
        return replace(
            request,
            summary=f"the last resolution was refused ({refusal['refused']}): {refusal['refused_because']}"[:200],
            context={**item.context, **refusal},
            dedupe_key=f"posting-exception:{self._data.work_item_id}:refused:{self._refusals}",
        )

    async def _read(self, claim_ids: tuple[str, ...]) -> xc.ExceptionItem:
        """The item and its facts (the activity also makes the item's row name this workflow: adoption)."""
        return await self._call(
            xc.posting_exception_facts,
            xc.FactsRequest(self._data.work_item_id, workflow.info().workflow_id, claim_ids, self._data.remittance_key),
        )

    async def _call(self, activity: ActivityRef[InputT, OutputT], arg: InputT) -> OutputT:
        """A store activity through the typed layer; a domain refusal comes back as a DomainFailure."""
        try:
            return await calls.execute(
                activity, arg, start_to_close_timeout=STORE.start_to_close, retry_policy=STORE.retry
            )
        except ActivityError as exc:
            cause = exc.cause
            if isinstance(cause, ApplicationError) and cause.non_retryable:
                raise DomainFailure(cause.type or "domain_error", cause.message) from None
            raise

    async def _reread(self) -> xc.ExceptionItem:
        try:
            return await self._read(())
        except DomainFailure as failure:
            raise ApplicationError(failure.message, type=failure.code, non_retryable=True) from None

    # --- the rule, in the Update ------------------------------------------------------------------------

    def _check(self, resolution: Resolution) -> None:
        """The Update validator's part: the rule with the facts this workflow holds."""
        assert self._facts is not None
        check_resolution(resolution.action, resolution.fields, self._facts)

    async def _confirm(self, resolution: Resolution) -> None:
        """The Update handler's part: a claim this workflow holds no facts of (or whether an unknown payer is
        known now) is read from the store, and the same rule runs on it before anything is recorded."""
        facts = self._facts
        assert facts is not None
        claim_id = needs_claim_facts(resolution.action, resolution.fields, facts)
        payer_question = facts.kind is ExceptionKind.UNKNOWN_PAYER and resolution.action == Action.RETRY_NOW
        if not claim_id and not payer_question:
            return
        try:
            item = await self._read((claim_id,) if claim_id else ())
        except DomainFailure as failure:
            raise ValidationError(failure.message) from None
        self._facts = item.facts
        check_resolution(resolution.action, resolution.fields, item.facts)

    # --- what follows a carried-out resolution ------------------------------------------------------------

    async def _carry_on(self, applied: xc.ExceptionApplied) -> None:
        policy = self._data.policy
        if applied.outcome is not None:
            self._claim_id, self._claim_status = applied.outcome.claim_id, applied.outcome.claim_status
            set_visibility(claim_id=applied.outcome.claim_id)
            await self._tell_claim(policy, applied.outcome)
        if applied.secondary_claim_id:
            await self._start_claim(c.ClaimInput(applied.secondary_claim_id, policy))
        if applied.guarantor_id:
            await self._call(c.collections_notify_balance, c.BalanceNotice(applied.guarantor_id, policy))
        if applied.repost_key:  # the payer is known now: the stored 835 is posted again, by PaymentPosting
            try:
                # By name: abandoned, its result is not ours to decode (a typed reference would decode it here)
                await workflow.start_child_workflow(
                    "PaymentPosting",
                    c.PostingInput(applied.repost_key, policy),
                    id=posting_workflow_id(applied.repost_key),
                    search_attributes=POSTING_STARTS_AT,
                    parent_close_policy=ParentClosePolicy.ABANDON,
                )
            except WorkflowAlreadyStartedError:
                pass  # a posting of it is running: it posts what is left

    async def _tell_claim(self, policy: c.RevenuePolicy, outcome: c.ClaimOutcome) -> None:
        """As PaymentPosting does: the claim's waiting workflow hears the payment; a claim whose process has ended
        (or never ran) gets a new run that goes on from this outcome."""
        handle = workflow.get_external_workflow_handle(claim_workflow_id(outcome.claim_id))
        try:
            await handle.signal(CLAIM_REMITTANCE_SIGNAL, outcome)
        except Exception:  # the claim's workflow is gone or never existed
            if not await self._start_claim(c.ClaimInput(outcome.claim_id, policy, reopened_by=outcome)):
                # started by someone else just now: it hears this too
                await handle.signal(CLAIM_REMITTANCE_SIGNAL, outcome)

    async def _start_claim(self, data: c.ClaimInput) -> bool:
        try:
            # By name: abandoned, its result is not ours to decode (a typed reference would decode it here)
            await workflow.start_child_workflow(
                CLAIM_WORKFLOW,
                data,
                id=claim_workflow_id(data.claim_id),
                parent_close_policy=ParentClosePolicy.ABANDON,
            )
        except WorkflowAlreadyStartedError:
            return False
        return True
