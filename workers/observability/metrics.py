"""Application metrics, sampled from the store and from Temporal and exported through the Temporal Runtime.

They sit beside the SDK's own metrics (``temporal_*``) on the same exporter: the worker process's Prometheus
endpoint, or the OTLP collector when one is configured. Each is a gauge of the state of the practice, read
every ``CARECYCLE_METRICS_INTERVAL_SECONDS`` (a counter kept per process would double-count across worker
processes and start over at each restart; the store does not). Every worker process reports the same
store-wide values: aggregate them with ``max``, never ``sum`` (the Grafana dashboard in docs/ does).

Labels are codes only (stage, status, queue, source), never ids or PHI.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker
from temporalio.api.enums.v1 import TaskQueueType
from temporalio.api.taskqueue.v1 import TaskQueue as TaskQueueRef
from temporalio.api.workflowservice.v1 import DescribeTaskQueueRequest
from temporalio.client import Client
from temporalio.common import MetricGauge, MetricMeter

from domain import models as m
from domain.enums import WorkItemState
from flows.search_attributes import STAGE

log = logging.getLogger("carecycle.metrics")

# Journeys are counted by listing the running workflows; past this many a sample stops counting (and says so).
MAX_LISTED_WORKFLOWS = 50_000
Labels = tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class Sample:
    """One reading of every application gauge: metric name -> label set -> value."""

    values: dict[str, dict[Labels, int]] = field(default_factory=dict)

    def put(self, metric: str, value: int, **labels: str) -> None:
        self.values.setdefault(metric, {})[tuple(sorted(labels.items()))] = int(value)


# name -> (description, unit); STORE_GAUGES are read from the store, the others from Temporal.
GAUGES: dict[str, tuple[str, str]] = {
    "carecycle_claims": ("Claims by status", ""),
    "carecycle_work_items": ("Work items by people's queue and state (open, claimed, resolved, cancelled)", ""),
    "carecycle_work_items_overdue": ("Open or claimed work items past their SLA, by queue", ""),
    "carecycle_remittances_posted": ("Remittances posted, by source (835, eob_pdf)", ""),
    "carecycle_remittance_posted_cents": ("Payer payments posted from remittances, in cents, by source", "cents"),
    "carecycle_patient_payments_posted_cents": ("Patient payments posted, in cents, by method", "cents"),
    "carecycle_journeys": ("Running workflows by type and Stage search attribute", ""),
    "carecycle_task_queue_backlog": ("Approximate backlog of a task queue, by task queue and task type", ""),
    "carecycle_task_queue_backlog_age_seconds": ("Age of the oldest task waiting, by task queue and type", "s"),
}


STORE_GAUGES = frozenset(
    {
        "carecycle_claims",
        "carecycle_work_items",
        "carecycle_work_items_overdue",
        "carecycle_remittances_posted",
        "carecycle_remittance_posted_cents",
        "carecycle_patient_payments_posted_cents",
    }
)


def sample_store(session_factory: sessionmaker[Session], sample: Sample, now: datetime | None = None) -> None:
    """The store's part: claims, work items, remittances and payments."""
    now = now or datetime.now(UTC)
    active = (WorkItemState.OPEN.value, WorkItemState.CLAIMED.value)
    with session_factory() as session:
        for status, count in session.execute(select(m.Claim.status, func.count()).group_by(m.Claim.status)):
            sample.put("carecycle_claims", count, status=str(status))
        rows = session.execute(
            select(m.WorkItem.queue, m.WorkItem.state, func.count()).group_by(m.WorkItem.queue, m.WorkItem.state)
        )
        for queue, state, count in rows:
            sample.put("carecycle_work_items", count, queue=queue, state=str(state))
        overdue = session.execute(
            select(m.WorkItem.queue, func.count())
            .where(
                m.WorkItem.state.in_(active), m.WorkItem.sla_due_at < now.replace(tzinfo=None)
            )  # as the console compares
            .group_by(m.WorkItem.queue)
        )
        for queue, count in overdue:
            sample.put("carecycle_work_items_overdue", count, queue=queue)
        remittances = session.execute(
            select(
                m.Remittance.source, func.count(), func.coalesce(func.sum(m.Remittance.payment_amount_cents), 0)
            ).group_by(m.Remittance.source)
        )
        for source, count, cents in remittances:
            sample.put("carecycle_remittances_posted", count, source=source)
            sample.put("carecycle_remittance_posted_cents", cents, source=source)
        payments = session.execute(
            select(m.PatientPayment.method, func.sum(m.PatientPayment.amount_cents)).group_by(m.PatientPayment.method)
        )
        for method, cents in payments:
            sample.put("carecycle_patient_payments_posted_cents", cents or 0, method=method)


async def sample_temporal(client: Client, task_queues: Iterable[str], sample: Sample) -> None:
    """Temporal's part: running journeys by type and stage, and each task queue's backlog."""
    counted = 0
    tally: dict[tuple[str, str], int] = {}
    async for execution in client.list_workflows('ExecutionStatus = "Running"', page_size=1000):
        stage = execution.typed_search_attributes.get(STAGE) or ""
        key = (execution.workflow_type, stage)
        tally[key] = tally.get(key, 0) + 1
        counted += 1
        if counted >= MAX_LISTED_WORKFLOWS:
            log.warning("journeys metric: stopped counting at %d running workflows", counted)
            break
    for (workflow_type, stage_value), count in tally.items():
        sample.put("carecycle_journeys", count, workflow_type=workflow_type, stage=stage_value)
    kinds = {"workflow": TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW, "activity": TaskQueueType.TASK_QUEUE_TYPE_ACTIVITY}
    for queue in task_queues:
        for kind, queue_type in kinds.items():
            response = await client.workflow_service.describe_task_queue(
                DescribeTaskQueueRequest(
                    namespace=client.namespace,
                    task_queue=TaskQueueRef(name=queue),
                    task_queue_type=queue_type,
                    report_stats=True,
                )
            )
            stats = response.stats
            sample.put(
                "carecycle_task_queue_backlog", stats.approximate_backlog_count, task_queue=queue, task_type=kind
            )
            sample.put(
                "carecycle_task_queue_backlog_age_seconds",
                stats.approximate_backlog_age.seconds,
                task_queue=queue,
                task_type=kind,
            )


class AppMetrics:
    """Publishes samples to a meter: a label set that disappears from the store is set back to 0."""

    def __init__(self, meter: MetricMeter) -> None:
        self._gauges: dict[str, MetricGauge] = {
            name: meter.create_gauge(name, description, unit or None) for name, (description, unit) in GAUGES.items()
        }
        self._seen: dict[str, set[Labels]] = {name: set() for name in GAUGES}

    def publish(self, sample: Sample, names: Iterable[str] = GAUGES) -> None:
        """Set the gauges ``names`` (those the sample read) to the sample's values."""
        for name in names:
            gauge = self._gauges[name]
            values: Mapping[Labels, int] = sample.values.get(name, {})
            for labels in self._seen[name] - set(values):
                gauge.set(0, dict(labels))
            for labels, value in values.items():
                gauge.set(value, dict(labels))
            self._seen[name] |= set(values)


async def run_sampler(
    metrics: AppMetrics,
    session_factory: sessionmaker[Session],
    client: Client,
    task_queues: Iterable[str],
    interval_seconds: float,
    stop: asyncio.Event,
) -> None:
    """Sample and publish until ``stop`` is set; a failed sample is logged and the next one tried.

    The store and Temporal are sampled by loops of their own, each reading bounded by a timeout: with Temporal
    away (the client retries a lost server for a long time) the store's gauges still move, and the other way round.
    """
    queues = list(task_queues)
    store_gauges = [name for name in GAUGES if name in STORE_GAUGES]
    temporal_gauges = [name for name in GAUGES if name not in STORE_GAUGES]
    timeout = max(10.0, 5 * interval_seconds)

    async def read_store(sample: Sample) -> None:
        await asyncio.to_thread(sample_store, session_factory, sample)

    async def read_temporal(sample: Sample) -> None:
        await sample_temporal(client, queues, sample)

    async def loop(source: str, gauges: list[str], read: Callable[[Sample], Awaitable[None]]) -> None:
        while not stop.is_set():
            sample = Sample()
            try:
                await asyncio.wait_for(read(sample), timeout=timeout)
            except Exception as exc:  # TimeoutError included: the next reading is tried
                log.warning("application metrics from the %s not sampled (%s)", source, type(exc).__name__)
            else:
                metrics.publish(sample, gauges)
            try:
                await asyncio.wait_for(stop.wait(), timeout=interval_seconds)
            except TimeoutError:
                pass

    await asyncio.gather(loop("store", store_gauges, read_store), loop("temporal", temporal_gauges, read_temporal))
