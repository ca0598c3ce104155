"""Task queues: the one list of Temporal task queues, each served by `carecycle worker --queue NAME`.

A task queue is a unit of deployment (which worker process runs which code), not a people's work queue
(see ``domain.workitems.WorkQueue``). ``edi`` and ``collections`` are served but have no workflow or activity of
their own yet, only the work-item activities every queue has: clearinghouse traffic and patient collections run on
``revenue`` today.
"""

from __future__ import annotations

from enum import StrEnum


class TaskQueue(StrEnum):
    # The revenue-cycle, collections, staff and visit workflows and their store activities, including the
    # clearinghouse traffic (270/271, 837P, 999, 277CA, 276/277, 835: the revenue activities speak X12 themselves).
    REVENUE = "revenue"
    EDI = "edi"  # reserved (see below)
    PORTAL = "portal"  # payer web portals driven by a browser: the portal activities, PortalEobIntake
    DOCUMENTS = "documents"  # EOB PDFs read into remittances
    COLLECTIONS = "collections"  # reserved (see below)


ALL_TASK_QUEUES: tuple[TaskQueue, ...] = tuple(TaskQueue)


def parse_task_queue(name: str) -> TaskQueue:
    try:
        return TaskQueue(name)
    except ValueError:
        known = ", ".join(q.value for q in TaskQueue)
        raise ValueError(f"unknown task queue {name!r}; known: {known}") from None
