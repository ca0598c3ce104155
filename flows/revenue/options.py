"""How the revenue workflows run their activities: timeouts and explicit retry policies, by kind of activity.

Data only (a frozen dataclass, retry policies and a function that builds one), imported through
``workflow.unsafe.imports_passed_through`` by ``flows.revenue._common``, which re-exports the names: the workflow
sandbox re-runs a workflow's other imports for every run it starts (bench/README.md, "values passed through").
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from temporalio.common import RetryPolicy

from activities.contracts import portal as portal_contract

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
# A short step in the store (a read, or one short transaction), run as a local activity: no workflow task and no
# activity task of its own, a marker in the history instead of three events. The same retries as STORE.
STORE_READ = ActivityOptions(timedelta(seconds=60), STORE_RETRY, local=True)
# Marks the histories in which a revenue workflow runs its store steps (what runs with STORE by default) as local
# activities (RevenueWorkflow.store_steps_local): the same activities, inputs and results, fewer workflow tasks.
LOCAL_STORE_PATCH = "revenue-local-store"
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
