"""What every revenue workflow shares: activity options with explicit retry policies, visibility, work items.

Deterministic code only: no I/O, no clocks but ``workflow.now()``, no randomness.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import TypeVar

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError

from flows.workitems import WorkItemRequest, WorkItemsMixin

with workflow.unsafe.imports_passed_through():
    from activities.contracts import portal as portal_contract
    from activities.contracts import revenue as c
    from activities.contracts import workitems as workitems_contract
    from activities.contracts.reference import ActivityRef
    from domain.workitems import Reason, Resolution
    from flows import calls
    from flows.search_attributes import BY_NAME

InputT = TypeVar("InputT")
OutputT = TypeVar("OutputT")

# Domain errors are raised by activities as non-retryable ApplicationErrors whose type is the error's code;
# the workflow turns them into work items instead of failing.
STORE_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(seconds=30),
    maximum_attempts=10,
)
# The clearinghouse and payers are slow and flaky: keep trying longer, with a wider spacing.
CLEARINGHOUSE_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=2),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(seconds=60),
    maximum_attempts=20,
)


@dataclass(frozen=True)
class ActivityOptions:
    start_to_close: timedelta
    retry: RetryPolicy
    task_queue: str | None = None  # None: the workflow's own queue
    local: bool = False  # a local activity: a short read run inside the workflow task (flows.calls.execute)
    # A long activity that beats while it runs (activities.heartbeats.kept_alive): a worker lost in the middle of it
    # is noticed after this long and the activity retried elsewhere, not after its whole start_to_close.
    heartbeat: timedelta | None = None


STORE = ActivityOptions(timedelta(seconds=60), STORE_RETRY)
# A short read of the store, run as a local activity: no workflow task, no activity task of its own.
STORE_READ = ActivityOptions(timedelta(seconds=60), STORE_RETRY, local=True)
CLEARINGHOUSE = ActivityOptions(timedelta(seconds=120), CLEARINGHOUSE_RETRY)
# A browser session on a payer's portal: slow, one at a time per account, on the portal workers' own queue.
# A lost worker is noticed after LONG_ACTIVITY_HEARTBEAT (not part of what a history replays).
LONG_ACTIVITY_HEARTBEAT = timedelta(seconds=30)
PORTAL = ActivityOptions(
    timedelta(seconds=300), CLEARINGHOUSE_RETRY, task_queue="portal", heartbeat=LONG_ACTIVITY_HEARTBEAT
)


def portal_retry(maximum_attempts: int) -> RetryPolicy:
    """A portal activity's retries: an unavailable portal is tried again with a wide spacing; a refused login, a
    changed page, missing credentials or a one-time code nobody supplied are for a person."""
    return RetryPolicy(
        initial_interval=timedelta(seconds=30),
        backoff_coefficient=2.0,
        maximum_interval=timedelta(minutes=30),
        maximum_attempts=maximum_attempts,
        non_retryable_error_types=[
            portal_contract.ERROR_LOGIN_FAILED,
            portal_contract.ERROR_LAYOUT_CHANGED,
            portal_contract.ERROR_CREDENTIALS_MISSING,
            portal_contract.ERROR_OTP_UNAVAILABLE,
            "not_found",
        ],
    )


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

    async def run_activity(
        self, activity: ActivityRef[InputT, OutputT], arg: InputT, options: ActivityOptions = STORE
    ) -> OutputT:
        """Run an activity through the typed layer; a domain refusal (non-retryable) raises :class:`DomainFailure`."""
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
        """Something else answered first (e.g. the remittance came): the item is cancelled, recorded as such."""
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

    async def run_or_ask(
        self,
        policy: c.RevenuePolicy,
        activity: ActivityRef[InputT, OutputT],
        arg: InputT,
        *,
        entity_type: str,
        entity_id: str,
        options: ActivityOptions = STORE,
    ) -> OutputT:
        """Run an activity; a domain refusal becomes a work item, and the activity runs again once resolved."""
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
