"""Task queues: the one list of Temporal task queues, each served by `carecycle worker --queue NAME`.

A task queue is a unit of deployment (which worker process runs which code), not a people's work queue
(see ``domain.workitems.WorkQueue``). Only queues that carry traffic exist: each hosts workflows or activities
that some workflow sends there (``workers.registry`` says which).
"""

from __future__ import annotations

from enum import StrEnum


class TaskQueue(StrEnum):
    # The revenue-cycle, collections, staff and visit workflows and their store activities, including the
    # clearinghouse traffic (270/271, 837P, 999, 277CA, 276/277, 835: the revenue activities speak X12 themselves).
    REVENUE = "revenue"
    PORTAL = "portal"  # payer web portals driven by a browser (the only queue that needs Chromium)
    DOCUMENTS = "documents"  # PDFs: reading EOBs


ALL_TASK_QUEUES: tuple[TaskQueue, ...] = tuple(TaskQueue)

# Queues that once existed without hosting anything: their names still select the queue that took their place,
# so an old `carecycle worker --queue edi` keeps serving (docs/operations.md).
MERGED_QUEUES: dict[str, TaskQueue] = {"edi": TaskQueue.REVENUE, "collections": TaskQueue.REVENUE}


def parse_task_queue(name: str) -> TaskQueue:
    if name in MERGED_QUEUES:
        return MERGED_QUEUES[name]
    try:
        return TaskQueue(name)
    except ValueError:
        known = ", ".join(q.value for q in TaskQueue)
        raise ValueError(f"unknown task queue {name!r}; known: {known}") from None
