"""What every revenue workflow shares: activity options with explicit retry policies, visibility, work items.

Deterministic code only: no I/O, no clocks but ``workflow.now()``, no randomness.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TypeVar

from temporalio import workflow
from temporalio.exceptions import ActivityError, ApplicationError

from flows.workitems import WorkItemRequest, WorkItemsMixin

# Marks the histories in which an item the workflow withdrew leaves its open items (the query, the search
# attributes, the resolve validator). Recorded when an item is withdrawn.
WITHDRAWN_CLOSED_PATCH = "work-item-withdrawn-closed"

with workflow.unsafe.imports_passed_through():
    import flows.calls as calls  # by its full name: `from flows import calls` would re-run it in each sandbox
    from activities.contracts import revenue as c
    from activities.contracts import workitems as workitems_contract
    from activities.contracts.reference import ActivityRef
    from domain.workitems import Reason, Resolution
    from flows.revenue.options import CLEARINGHOUSE as CLEARINGHOUSE
    from flows.revenue.options import CLEARINGHOUSE_RETRY as CLEARINGHOUSE_RETRY
    from flows.revenue.options import LOCAL_STORE_PATCH
    from flows.revenue.options import LONG_ACTIVITY_HEARTBEAT as LONG_ACTIVITY_HEARTBEAT
    from flows.revenue.options import PORTAL as PORTAL
    from flows.revenue.options import STORE as STORE
    from flows.revenue.options import STORE_READ as STORE_READ
    from flows.revenue.options import STORE_RETRY as STORE_RETRY
    from flows.revenue.options import ActivityOptions as ActivityOptions
    from flows.revenue.options import portal_retry as portal_retry
    from flows.search_attributes import BY_NAME

InputT = TypeVar("InputT")
OutputT = TypeVar("OutputT")


def portal_failure_evidence(cause: ApplicationError) -> dict[str, str]:
    """A failed portal activity's error code and the keys of the screenshot and HTML it stored, for a work item."""
    evidence = {"error": cause.type or "portal_error"}
    details = cause.details[0] if cause.details else None
    if isinstance(details, dict):  # PortalFailureDetails, decoded without a type hint
        evidence.update({k: str(v) for k, v in details.items() if v and k != "payer_id"})
    return evidence


# --- visibility: search attributes and summaries never hold PHI -----------------------------------------


def set_visibility(**values: str | None) -> None:
    """Upsert the named search attributes (stage, payer_id, claim_status, aging_bucket, ids); None unsets."""
    updates = []
    for name, value in values.items():
        key = BY_NAME[name]
        updates.append(key.value_unset() if value is None else key.value_set(value))
    workflow.upsert_search_attributes(updates)


def set_first_visibility(**values: str) -> None:
    """A run's first upsert: skipped when the workflow was started with these very values (its starter gave them
    at the start: ``flows.search_attributes.starting_visibility``), so the first stage costs no upsert.

    Replay-safe without a patch: no run recorded before starters gave these attributes was started with them, so
    those histories upsert here as they did; a run continued-as-new upserts as it did too."""
    info = workflow.info()
    started = info.typed_search_attributes
    if info.continued_run_id is None and all(started.get(BY_NAME[name]) == value for name, value in values.items()):
        return
    set_visibility(**values)


class DomainFailure(Exception):
    """An activity refused for a domain reason (bad data, illegal move): a person must decide."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def refusal_context(failure: DomainFailure) -> dict[str, str]:
    """What a reopened work item says about the resolution the process could not apply: the rule (the refusal's
    code) and its message, which names the field and the value that failed (never PHI: activities' messages hold
    codes, ids and amounts)."""
    return {"refused": failure.code, "refused_because": failure.message[:300]}


class RevenueWorkflow(WorkItemsMixin):
    """Base of the revenue workflows: runs activities and asks people through work items (``resolve`` Update)."""

    def __init__(self) -> None:
        self._work_log: list[str] = []
        self._stage = "started"
        self._store = STORE  # how this run's store steps run (store_steps_local)

    def store_steps_local(self, implied: bool = False) -> None:
        """From here on, this run's store steps (activities run without options: short store transactions) are local
        activities, in runs that began with ``LOCAL_STORE_PATCH``; histories before it keep their activity tasks.
        Called first thing by the journey's workflows (PatientRegistration, Encounter, Claim).

        ``implied``: the run has a later patch of its workflow that implies this one, so it records that one marker
        only (each marker costs the history an event and the SDK's ``TemporalChangeVersion`` upsert, a billed
        Action); a run recorded before that patch replays as it ran."""
        if implied or workflow.patched(LOCAL_STORE_PATCH):
            self._store = STORE_READ

    async def run_activity(
        self, activity: ActivityRef[InputT, OutputT], arg: InputT, options: ActivityOptions | None = None
    ) -> OutputT:
        """Run an activity through the typed layer; a domain refusal (non-retryable) raises :class:`DomainFailure`.
        Without ``options``: a store step, as ``store_steps_local`` says."""
        options = options or self._store
        try:
            return await calls.execute(
                activity,
                arg,
                start_to_close_timeout=options.start_to_close,
                retry_policy=options.retry,
                task_queue=options.task_queue,
                local=options.local,
                heartbeat_timeout=options.heartbeat,
            )
        except ActivityError as exc:
            cause = exc.cause
            if isinstance(cause, ApplicationError) and cause.non_retryable:
                raise DomainFailure(cause.type or "domain_error", cause.message) from None
            raise
        except ApplicationError as exc:  # a local activity's failure arrives as its own error, not an ActivityError
            if options.local and exc.non_retryable:
                raise DomainFailure(exc.type or "domain_error", exc.message) from None
            raise

    async def ask(
        self,
        policy: c.RevenuePolicy,
        *,
        reason: Reason,
        summary: str,
        entity_type: str,
        entity_id: str,
        context: dict[str, str] | None = None,
        until: Callable[[], bool] | None = None,
        check: Callable[[Resolution], object] | None = None,
    ) -> Resolution | None:
        """Open a work item and wait for a person's resolution (or until ``until()`` is true: returns None).

        ``check``: the rule this workflow applies to the resolution, run by the Update validator (see
        :class:`flows.workitems.WorkItemRequest`)."""
        request = WorkItemRequest(
            reason=reason,
            entity_type=entity_type,
            entity_id=entity_id,
            summary=summary[:200],
            sla=policy.days(policy.work_item_sla_days),
            context=context or {},
            check=check,
        )
        self._work_log.append(str(reason))
        previous_stage = self._stage
        self._stage = f"waiting:{reason}"
        try:
            if until is None:
                return await self.work_items.open_and_wait(request)
            work_item_id = await self.work_items.open(request)
            waiting = asyncio.ensure_future(self.work_items.wait(work_item_id, request.sla))
            await workflow.wait_condition(lambda: waiting.done() or until())
            if waiting.done():
                return waiting.result()
            waiting.cancel()
            await self._withdraw(work_item_id)
            return None
        finally:
            self._stage = previous_stage

    async def _withdraw(self, work_item_id: str) -> None:
        """Something else answered first (e.g. the remittance came): the item is cancelled, recorded as such, and no
        longer open in this workflow (WITHDRAWN_CLOSED_PATCH; before, its query still listed it, its search
        attributes still named its queue, and a late resolution passed the validator)."""
        await calls.execute(
            workitems_contract.workitems_record_resolution,
            workitems_contract.RecordResolutionInput(
                work_item_id=work_item_id,
                action="cancel",
                by=f"workflow:{workflow.info().workflow_id}",
                terminal=True,
                note="withdrawn: the process went on without it",
            ),
            start_to_close_timeout=STORE.start_to_close,
            retry_policy=STORE.retry,
        )
        if workflow.patched(WITHDRAWN_CLOSED_PATCH):
            self.work_items.withdrawn(work_item_id)

    async def run_or_ask(
        self,
        policy: c.RevenuePolicy,
        activity: ActivityRef[InputT, OutputT],
        arg: InputT,
        *,
        entity_type: str,
        entity_id: str,
        options: ActivityOptions | None = None,
    ) -> OutputT:
        """Run an activity (without ``options``: a store step); a domain refusal becomes a work item, and the activity
        runs again once resolved."""
        while True:
            try:
                return await self.run_activity(activity, arg, options)
            except DomainFailure as failure:
                await self.manual_task(policy, activity.name, failure, entity_type=entity_type, entity_id=entity_id)

    async def manual_task(
        self, policy: c.RevenuePolicy, name: str, failure: DomainFailure, *, entity_type: str, entity_id: str
    ) -> None:
        """A refused activity whose input no person gave (the store's data is at fault): a person fixes the data,
        then the activity runs again. A resolution's own refusal asks the resolution's question again instead."""
        await self.ask(
            policy,
            reason=Reason.MANUAL_TASK,
            summary=f"{name} refused ({failure.code}): {failure.message}",
            entity_type=entity_type,
            entity_id=entity_id,
            context={"activity": name, "error": failure.code, "refused_because": failure.message[:300]},
        )
