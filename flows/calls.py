"""The typed layer between workflows and activities: the one module in ``flows`` that schedules an activity.

A workflow passes the activity's typed reference (``activities.contracts.*``, an
:class:`~activities.contracts.reference.ActivityRef`) and its argument; ``mypy --strict`` checks the argument against
the reference's input type and the result against its output type, so nothing crosses the boundary as ``Any``. What
is scheduled is exactly what a call by name would schedule (the stable ``<area>.<verb>`` name, the same options), so
stored histories replay unchanged. ``tests/unit/test_typed_activity_calls.py`` keeps every other module of ``flows``
from calling Temporal's activity functions directly.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TypeVar

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from activities.contracts.reference import ActivityRef

InputT = TypeVar("InputT")
OutputT = TypeVar("OutputT")


async def execute(
    activity: ActivityRef[InputT, OutputT],
    arg: InputT,
    *,
    start_to_close_timeout: timedelta,
    retry_policy: RetryPolicy | None = None,
    task_queue: str | None = None,
    summary: str | None = None,
    local: bool = False,
    heartbeat_timeout: timedelta | None = None,
) -> OutputT:
    """Run ``activity`` with ``arg`` and return its result, decoded as the reference's output type.

    ``local``: as a local activity (a short store read): run by this worker inside the workflow task, recorded as
    a marker, so it costs the workflow no task of its own; retried by the same ``retry_policy``.
    ``heartbeat_timeout``: for a long activity that beats (activities.heartbeats.kept_alive): a worker lost in the
    middle of it is noticed after this long instead of at ``start_to_close_timeout``."""
    if local:
        answer: OutputT = await workflow.execute_local_activity(
            activity.name,
            arg,
            result_type=activity.output,
            start_to_close_timeout=start_to_close_timeout,
            retry_policy=retry_policy,
            summary=summary,
        )
        return answer
    result: OutputT = await workflow.execute_activity(
        activity.name,
        arg,
        result_type=activity.output,
        start_to_close_timeout=start_to_close_timeout,
        retry_policy=retry_policy,
        task_queue=task_queue,
        summary=summary,
        heartbeat_timeout=heartbeat_timeout,
    )
    return result
