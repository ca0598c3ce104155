"""Task queues: the one list of Temporal task queues, each served by `carecycle worker --queue NAME`.

A task queue is a unit of deployment (which worker process runs which code), not a people's work queue
(see ``domain.workitems.WorkQueue``).
"""

from __future__ import annotations

from enum import StrEnum


class TaskQueue(StrEnum):
    REVENUE = "revenue"  # the revenue-cycle workflows and their store activities
    EDI = "edi"  # clearinghouse traffic: 270/271, 837P, 999, 277CA, 276/277, 835
    PORTAL = "portal"  # payer web portals driven by a browser
    DOCUMENTS = "documents"  # PDFs, EOB reading, document storage
    COLLECTIONS = "collections"  # patient statements, reminders, payment plans


ALL_TASK_QUEUES: tuple[TaskQueue, ...] = tuple(TaskQueue)


def parse_task_queue(name: str) -> TaskQueue:
    try:
        return TaskQueue(name)
    except ValueError:
        known = ", ".join(q.value for q in TaskQueue)
        raise ValueError(f"unknown task queue {name!r}; known: {known}") from None
