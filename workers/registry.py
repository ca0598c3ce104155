"""Which workflows and activities each task queue's worker runs. Each area appends its own lines.

To add an area: import its workflow classes in :func:`workflows_by_queue` and build its activity object
(with adapters from the container) in :func:`activities_by_queue`, under the task queue that should run
them. Keep imports inside the functions: ``carecycle --help`` must stay fast.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

from temporalio.client import Client
from temporalio.worker import Interceptor, Worker
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, SandboxRestrictions

from activities.contracts.queues import TaskQueue
from workers.composition import Container
from workers.security.actors import ActorInterceptor, load_actor_keys
from workers.settings import Settings
from workers.store_retry import SqliteBusyRetryInterceptor


def workflows_by_queue() -> dict[TaskQueue, list[type]]:
    from flows.portal import WORKFLOWS as PORTAL_WORKFLOWS
    from flows.revenue import WORKFLOWS as REVENUE_WORKFLOWS
    from flows.staff import WORKFLOWS as STAFF_WORKFLOWS
    from flows.standalone_work_item import StandaloneWorkItemWorkflow
    from flows.visits import WORKFLOWS as VISIT_WORKFLOWS

    return {
        TaskQueue.REVENUE: [StandaloneWorkItemWorkflow, *REVENUE_WORKFLOWS, *STAFF_WORKFLOWS, *VISIT_WORKFLOWS],
        TaskQueue.EDI: [],
        TaskQueue.PORTAL: [*PORTAL_WORKFLOWS],
        TaskQueue.DOCUMENTS: [],
        TaskQueue.COLLECTIONS: [],
    }


def activities_by_queue(container: Container) -> dict[TaskQueue, list[Callable[..., Any]]]:
    from activities.patient_collections.messaging import OutboxMessenger
    from activities.portals.activities import EobActivities, PortalActivities
    from activities.revenue import Envelope, revenue_activities
    from activities.staff import StaffActivities
    from activities.workitems import WorkItemActivities
    from workers.visits import visit_activities

    # Workflows on any queue open work items, and an activity runs on its workflow's queue by default.
    work_items = WorkItemActivities(container.session_factory)
    settings = container.settings
    revenue = revenue_activities(
        container.session_factory,
        container.clearinghouse,
        container.documents,
        Envelope(settings.edi_sender_id, settings.edi_receiver_id, settings.edi_receiver_name, settings.edi_usage),
        portal_payers=frozenset(container.portal_credentials.payers()),
        messenger=OutboxMessenger.under_home(settings.home),
    )
    portal = PortalActivities(
        container.session_factory, container.portal_sessions, container.portal_credentials, container.documents
    )
    eob = EobActivities(container.documents)
    return {
        TaskQueue.REVENUE: [
            *work_items.all(),
            *revenue,
            *StaffActivities(container.session_factory).all(),
            *visit_activities(container.session_factory, settings),
        ],
        TaskQueue.EDI: [*work_items.all()],
        TaskQueue.PORTAL: [*work_items.all(), *portal.all()],
        TaskQueue.DOCUMENTS: [*work_items.all(), *eob.all()],
        TaskQueue.COLLECTIONS: [*work_items.all()],
    }


def all_workflows() -> list[type]:
    """Every registered workflow class once (the Replayer and the auditors need them all)."""
    seen: dict[str, type] = {}
    for classes in workflows_by_queue().values():
        for cls in classes:
            seen.setdefault(f"{cls.__module__}.{cls.__qualname__}", cls)
    return list(seen.values())


def concurrency_for(settings: Settings, queue: str) -> int:
    limits: dict[str, int] = {}
    for entry in filter(None, (e.strip() for e in (settings.worker_concurrency or "").split(","))):
        name, _, raw = entry.partition("=")
        if not raw.strip().isdigit() or int(raw) <= 0:
            raise ValueError(f"CARECYCLE_WORKER_CONCURRENCY entry {entry!r} must look like queue=positive_number")
        limits[name.strip()] = int(raw)
    return limits.get(queue, settings.worker_default_concurrency)


def workflow_runner() -> SandboxedWorkflowRunner:
    # The domain is pure and deterministic; passing it through avoids re-importing SQLAlchemy mappings
    # into every workflow sandbox.
    return SandboxedWorkflowRunner(
        restrictions=SandboxRestrictions.default.with_passthrough_modules("domain", "activities.contracts")
    )


def build_workers(
    client: Client,
    container: Container,
    queues: Sequence[str] | None = None,
    *,
    executor: ThreadPoolExecutor | None = None,
) -> list[Worker]:
    """One Worker per task queue (all queues by default), with that queue's concurrency limit."""
    settings = container.settings
    wanted = [TaskQueue(q) for q in queues] if queues else list(TaskQueue)
    workflows = workflows_by_queue()
    activities = activities_by_queue(container)
    limits = {queue: concurrency_for(settings, queue) for queue in wanted}
    pool = executor or ThreadPoolExecutor(max_workers=max(1, sum(limits.values())), thread_name_prefix="activity")
    # Every person's resolution is checked for a signed actor before the workflow's validator (issue 12).
    # A unit that lost a SQLite write race runs again at once with the write lock first (workers.store_retry).
    interceptors: list[Interceptor] = [ActorInterceptor(load_actor_keys(settings)), SqliteBusyRetryInterceptor()]
    workers = []
    for queue in wanted:
        if not workflows.get(queue) and not activities.get(queue):
            continue
        workers.append(
            Worker(
                client,
                task_queue=queue.value,
                workflows=workflows.get(queue, []),
                activities=activities.get(queue, []),
                activity_executor=pool,
                max_concurrent_activities=limits[queue],
                graceful_shutdown_timeout=timedelta(seconds=settings.worker_graceful_shutdown_seconds),
                workflow_runner=workflow_runner(),
                max_concurrent_workflow_tasks=settings.worker_workflow_task_slots or None,
                interceptors=interceptors,
            )
        )
    return workers
