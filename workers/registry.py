"""Which workflows and activities each task queue's worker runs, and what each queue needs. Each area appends
its own lines.

To add an area: import its workflow classes in :func:`workflows_by_queue` and add its activity objects (built
with adapters from the container) to the builder of the task queue that should run them in
:data:`ACTIVITY_BUILDERS`. Keep imports inside the functions: ``carecycle --help`` must stay fast.

What a queue's activities touch outside the process (the document store, the portal credentials, a browser,
the clearinghouse) is not declared by hand: :func:`queue_needs` builds each queue's activities against a probe
container that records which adapters were taken. The deployment's permissions per queue (infra/terraform:
S3 access, the portal secret, the Chromium image) are checked against it by tests/integration/test_terraform.py.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from enum import StrEnum
from typing import Any

from temporalio.client import Client
from temporalio.worker import Interceptor, Worker, WorkerDeploymentConfig
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, SandboxRestrictions

from activities.contracts.queues import TaskQueue
from workers.composition import Container
from workers.security.actors import ActorInterceptor, load_actor_keys
from workers.settings import Settings
from workers.store_retry import SqliteBusyRetryInterceptor
from workers.temporal.workflow_code import pin_workflow_code


def workflows_by_queue() -> dict[TaskQueue, list[type]]:
    from flows.portal import WORKFLOWS as PORTAL_WORKFLOWS
    from flows.revenue import WORKFLOWS as REVENUE_WORKFLOWS
    from flows.staff import WORKFLOWS as STAFF_WORKFLOWS
    from flows.standalone_work_item import StandaloneWorkItemWorkflow
    from flows.visits import WORKFLOWS as VISIT_WORKFLOWS

    return {
        TaskQueue.REVENUE: [StandaloneWorkItemWorkflow, *REVENUE_WORKFLOWS, *STAFF_WORKFLOWS, *VISIT_WORKFLOWS],
        TaskQueue.PORTAL: [*PORTAL_WORKFLOWS],
        TaskQueue.DOCUMENTS: [],
    }


ActivityBuilder = Callable[[Container], list[Callable[..., Any]]]


def _work_items(container: Container) -> list[Callable[..., Any]]:
    # Workflows on any queue open work items, and an activity runs on its workflow's queue by default.
    from activities.workitems import WorkItemActivities

    return WorkItemActivities(container.session_factory).all()


def _revenue_activities(container: Container) -> list[Callable[..., Any]]:
    from activities.patient_collections.messaging import OutboxMessenger
    from activities.revenue import Envelope, revenue_activities
    from activities.staff import StaffActivities
    from workers.visits import visit_activities

    settings = container.settings
    revenue = revenue_activities(
        container.session_factory,
        container.clearinghouse,
        container.documents,
        Envelope(settings.edi_sender_id, settings.edi_receiver_id, settings.edi_receiver_name, settings.edi_usage),
        portal_payers=frozenset(container.portal_credentials.payers()),
        messenger=OutboxMessenger.under_home(settings.home),
        tell_concurrency=settings.posting_tell_concurrency,
    )
    return [
        *_work_items(container),
        *revenue,
        *StaffActivities(container.session_factory).all(),
        *visit_activities(container.session_factory, settings),
    ]


def _portal_activities(container: Container) -> list[Callable[..., Any]]:
    from activities.portals.activities import PortalActivities

    portal = PortalActivities(
        container.session_factory, container.portal_sessions, container.portal_credentials, container.documents
    )
    return [*_work_items(container), *portal.all()]


def _documents_activities(container: Container) -> list[Callable[..., Any]]:
    from activities.portals.activities import EobActivities

    return [*_work_items(container), *EobActivities(container.documents).all()]


ACTIVITY_BUILDERS: dict[TaskQueue, ActivityBuilder] = {
    TaskQueue.REVENUE: _revenue_activities,
    TaskQueue.PORTAL: _portal_activities,
    TaskQueue.DOCUMENTS: _documents_activities,
}


def activities_by_queue(container: Container) -> dict[TaskQueue, list[Callable[..., Any]]]:
    return {queue: build(container) for queue, build in ACTIVITY_BUILDERS.items()}


# --- what each queue touches ------------------------------------------------------------------------------


class Need(StrEnum):
    """Something outside the worker process that a queue's activities use."""

    STORE = "store"  # the domain store (PostgreSQL)
    DOCUMENTS = "documents"  # the document store (S3 bucket)
    CLEARINGHOUSE = "clearinghouse"  # HTTPS to the clearinghouse
    PORTAL_CREDENTIALS = "portal_credentials"  # the payer portal accounts (a secret)
    BROWSER = "browser"  # Chromium (the portal image)
    MESSAGING_VENDORS = "messaging_vendors"  # the patients' SMS, e-mail and video vendors (their API keys)


# Container attribute -> what taking it means. A portal session drives Chromium, leases its account in the
# store and keeps failure evidence in the documents.
_ADAPTER_NEEDS: dict[str, frozenset[Need]] = {
    "session_factory": frozenset({Need.STORE}),
    "engine": frozenset({Need.STORE}),
    "documents": frozenset({Need.DOCUMENTS}),
    "clearinghouse": frozenset({Need.CLEARINGHOUSE}),
    "portal_credentials": frozenset({Need.PORTAL_CREDENTIALS}),
    "portal_sessions": frozenset({Need.BROWSER, Need.STORE, Need.DOCUMENTS}),
}


class _Anything:
    """Stands in for an adapter: any attribute, call or iteration works and yields nothing."""

    def __getattr__(self, name: str) -> _Anything:
        return self

    def __call__(self, *args: Any, **kwargs: Any) -> _Anything:
        return self

    def __iter__(self) -> Any:
        return iter(())


# Settings whose reading means a need (adapters some builders make from the settings themselves).
_SETTING_NEEDS: dict[str, Need] = {
    "sms_": Need.MESSAGING_VENDORS,
    "email_": Need.MESSAGING_VENDORS,
    "video_": Need.MESSAGING_VENDORS,
    "webhook": Need.MESSAGING_VENDORS,
}


class _RecordingSettings:
    """The settings, recording which needs their reads reveal."""

    def __init__(self, settings: Settings, taken: set[Need]) -> None:
        self._settings = settings
        self._taken = taken

    def __getattr__(self, name: str) -> Any:
        for prefix, need in _SETTING_NEEDS.items():
            if name.startswith(prefix):
                self._taken.add(need)
        return getattr(self._settings, name)


class _ProbeContainer:
    def __init__(self, settings: Settings) -> None:
        self.taken: set[Need] = set()
        self.settings = _RecordingSettings(settings, self.taken)

    def __getattr__(self, name: str) -> Any:
        if name not in _ADAPTER_NEEDS:
            raise AttributeError(f"Container has no adapter {name!r} known to workers.registry._ADAPTER_NEEDS")
        self.taken |= _ADAPTER_NEEDS[name]
        return _Anything()


def queue_needs(settings: Settings | None = None) -> dict[TaskQueue, frozenset[Need]]:
    """Each task queue's needs, found by building its activities against a recording container."""
    from pathlib import Path

    probe_settings = settings or Settings(home=Path("."), database_url="sqlite://")
    needs: dict[TaskQueue, frozenset[Need]] = {}
    for queue, build in ACTIVITY_BUILDERS.items():
        probe = _ProbeContainer(probe_settings)
        build(probe)  # type: ignore[arg-type]
        needs[queue] = frozenset(probe.taken)
    return needs


# --- workers -----------------------------------------------------------------------------------------------


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


WORKFLOW_PACKAGES = ("flows",)  # the workflow code: its modules run afresh in each workflow's sandbox


def workflow_runner() -> SandboxedWorkflowRunner:
    """The sandbox every worker runs its workflows in (and the replayer replays them in).

    The workflow code is compiled once per process, here, and each sandbox runs that code
    (workers.temporal.workflow_code): a worker runs the code it started with, whatever happens to the files."""
    pin_workflow_code(WORKFLOW_PACKAGES)
    # The domain is pure and deterministic; passing it through avoids re-importing SQLAlchemy mappings
    # into every workflow sandbox. OpenTelemetry is passed through for the tracing interceptor's spans.
    return SandboxedWorkflowRunner(
        restrictions=SandboxRestrictions.default.with_passthrough_modules(
            "domain", "activities.contracts", "opentelemetry"
        )
    )


def build_workers(
    client: Client,
    container: Container,
    queues: Sequence[str] | None = None,
    *,
    executor: ThreadPoolExecutor | None = None,
    deployment: WorkerDeploymentConfig | None = None,
) -> list[Worker]:
    """One Worker per task queue (all queues by default), with that queue's concurrency limit.

    ``deployment``: run as a version of a Worker Deployment (workers.versioning); None: unversioned."""
    settings = container.settings
    wanted = [TaskQueue(q) for q in queues] if queues else list(TaskQueue)
    workflows = workflows_by_queue()
    limits = {queue: concurrency_for(settings, queue) for queue in wanted}
    pool = executor or ThreadPoolExecutor(max_workers=max(1, sum(limits.values())), thread_name_prefix="activity")
    # Every person's resolution is checked for a signed actor before the workflow's validator (issue 12).
    # A unit that lost a SQLite write race runs again at once with the write lock first (workers.store_retry).
    interceptors: list[Interceptor] = [ActorInterceptor(load_actor_keys(settings)), SqliteBusyRetryInterceptor()]
    workers = []
    for queue in wanted:
        activities = ACTIVITY_BUILDERS[queue](container)
        if not workflows.get(queue) and not activities:
            continue
        options: dict[str, Any] = {}
        if deployment is not None:
            options["deployment_config"] = deployment
        workers.append(
            Worker(
                client,
                task_queue=queue.value,
                workflows=workflows.get(queue, []),
                activities=activities,
                activity_executor=pool,
                max_concurrent_activities=limits[queue],
                graceful_shutdown_timeout=timedelta(seconds=settings.worker_graceful_shutdown_seconds),
                workflow_runner=workflow_runner(),
                max_concurrent_workflow_tasks=settings.worker_workflow_task_slots or None,
                interceptors=interceptors,
                **options,
            )
        )
    return workers


def queue_needs_json() -> str:
    """What infra/terraform/queue_needs.json holds (the deployment reads its per-queue permissions from it):
    ``.venv/bin/python -m workers.registry > infra/terraform/queue_needs.json``."""
    import json

    needs = queue_needs()
    return json.dumps({q.value: sorted(n.value for n in needs[q]) for q in TaskQueue}, indent=2) + "\n"


if __name__ == "__main__":
    import sys

    sys.stdout.write(queue_needs_json())
