"""A worker process's /health, /ready and /metrics, for real: `carecycle worker` against a dev server and a
PostgreSQL store. /metrics carries the Temporal SDK's metrics and the application metrics; /ready names the part
that does not answer (the store, once connections to it are refused) while /health stays alive. Plus the JSON log
lines' trace ids, and the parts in isolation."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import os
import subprocess
import sys
import uuid
from pathlib import Path

import httpx
import pytest
from sqlalchemy import text

from domain import models as m
from domain.store.engine import make_engine, make_session_factory
from flows.workitems import StandaloneWorkItemInput, StandaloneWorkItemWorkflow
from tests.support.dev_stack import env_for, stack_settings
from workers.observability.metrics import AppMetrics, Sample, sample_store
from workers.observability.probes import Check, readiness
from workers.temporal import embedded_stack

CARECYCLE = str(Path(sys.executable).parent / "carecycle")


async def _eventually(read: object, tries: int = 200) -> object:
    for _ in range(tries):
        value = await read()  # type: ignore[operator]
        if value:
            return value
        await asyncio.sleep(0.25)
    raise AssertionError("never happened")


@pytest.mark.temporal
@pytest.mark.postgres
async def test_a_worker_serves_metrics_and_goes_not_ready_without_its_store(
    tmp_path: Path, pg_server: object, _pg_template: str | None
) -> None:
    from tests.conftest import _fresh_url

    database_url = _fresh_url("postgres", tmp_path, tmp_path / "unused.db", pg_server, _pg_template)  # type: ignore[arg-type]
    database = make_engine(database_url).url.database
    settings = stack_settings(tmp_path / "home", database_url)
    env = {**env_for(settings), "CARECYCLE_METRICS_INTERVAL_SECONDS": "1"}
    base = f"http://127.0.0.1:{settings.metrics_port}"
    admin = make_engine(pg_server.admin_url, isolation_level="AUTOCOMMIT")  # type: ignore[attr-defined]
    async with embedded_stack(settings, ui=False) as temporal:
        log = tmp_path / "worker.log"
        with log.open("w") as errors:
            worker = subprocess.Popen(
                [CARECYCLE, "worker", "--queue", "revenue"], env=env, stdout=errors, stderr=errors
            )
        try:
            async with httpx.AsyncClient(timeout=10) as web:

                async def answers() -> bool:
                    try:
                        return (await web.get(f"{base}/ready")).status_code == 200
                    except httpx.TransportError:
                        return False

                await _eventually(answers, tries=400)
                entity = str(uuid.uuid4())
                handle = await temporal.client.start_workflow(
                    StandaloneWorkItemWorkflow.run,
                    StandaloneWorkItemInput(
                        reason="manual_task", entity_type="claim", entity_id=entity, summary="m", sla_seconds=1
                    ),
                    id=f"workitem-claim-{entity}",
                    task_queue="revenue",
                )
                await _eventually(lambda: handle.query(StandaloneWorkItemWorkflow.open_work_items))

                async def metrics_with_the_item() -> str | None:
                    body = (await web.get(f"{base}/metrics")).text
                    wanted = (
                        "carecycle_work_items{",
                        "carecycle_journeys{",
                        'carecycle_work_items_overdue{queue="general"',
                    )
                    return body if all(w in body for w in wanted) else None

                body = str(await _eventually(metrics_with_the_item, tries=200))
                # The SDK's own metrics (the Runtime's exporter) and ours, through one endpoint.
                assert "temporal_workflow_task_execution_latency" in body or "temporal_request" in body
                assert 'carecycle_work_items{queue="general",service_name="temporal-core-sdk",state="open"} 1' in body
                # its SLA was a second: past it (the predicate waited for it), and sampled from the store
                assert 'carecycle_journeys{service_name="temporal-core-sdk",stage="work_item",workflow_type=' in body
                assert "carecycle_task_queue_backlog{" in body and 'task_queue="revenue"' in body
                assert (await web.get(f"{base}/health")).json() == {"status": "ok"}

                # The store refuses connections: not ready, naming the store; still alive.
                with admin.connect() as connection:
                    connection.execute(text(f'ALTER DATABASE "{database}" WITH ALLOW_CONNECTIONS false'))
                    connection.execute(
                        text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :db"),
                        {"db": database},
                    )

                async def not_ready() -> dict[str, object] | None:
                    response = await web.get(f"{base}/ready")
                    return response.json() if response.status_code == 503 else None

                refused = await _eventually(not_ready, tries=80)
                assert refused["status"] == "not ready"  # type: ignore[index]
                assert refused["checks"]["temporal"] == "ok"  # type: ignore[index]
                assert refused["checks"]["store"].startswith("unavailable (")  # type: ignore[index]
                assert (await web.get(f"{base}/health")).status_code == 200
                with admin.connect() as connection:
                    connection.execute(text(f'ALTER DATABASE "{database}" WITH ALLOW_CONNECTIONS true'))
                await _eventually(answers, tries=80)
        finally:
            worker.terminate()
            await asyncio.to_thread(worker.wait, 60)
            admin.dispose()
    lines = [json.loads(line) for line in log.read_text().splitlines() if line.startswith("{")]
    traced = [line for line in lines if "trace_id" in line]
    assert traced, "activity log lines carry the trace id of their span"
    assert all(len(line["trace_id"]) == 32 and len(line["span_id"]) == 16 for line in traced)


async def test_readiness_names_the_part_that_does_not_answer() -> None:
    async def fine() -> None:
        return None

    async def broken() -> None:
        raise ConnectionRefusedError("postgresql://u:secret@db/x refused")

    async def hangs() -> None:
        await asyncio.sleep(60)

    ok, states = await readiness([Check("store", fine), Check("temporal", fine)])
    assert ok and states == {"store": "ok", "temporal": "ok"}
    from workers.observability import probes

    saved = probes.CHECK_TIMEOUT_SECONDS
    probes.CHECK_TIMEOUT_SECONDS = 0.2
    try:
        ok, states = await readiness([Check("store", broken), Check("temporal", hangs)])
    finally:
        probes.CHECK_TIMEOUT_SECONDS = saved
    assert not ok
    assert states["store"] == "unavailable (ConnectionRefusedError)"  # never the exception's text (a URL)
    assert states["temporal"].startswith("no answer within")


def test_application_metrics_come_from_the_store_and_drop_to_zero(sqlite_url: str) -> None:
    from temporalio.common import MetricMeter

    engine = make_engine(sqlite_url)
    sessions = make_session_factory(engine)
    sample = Sample()
    sample_store(sessions, sample)
    assert sample.values == {}  # an empty store: no label sets at all

    recorded: list[tuple[str, int, dict[str, str]]] = []

    class Gauge:
        def __init__(self, name: str) -> None:
            self.name = name

        def set(self, value: int, attributes: dict[str, str]) -> None:
            recorded.append((self.name, value, attributes))

    class Meter:
        def create_gauge(self, name: str, description: str, unit: str | None) -> Gauge:
            return Gauge(name)

    metrics = AppMetrics(Meter())  # type: ignore[arg-type]
    first = Sample()
    first.put("carecycle_claims", 3, status="paid")
    metrics.publish(first, ["carecycle_claims"])
    metrics.publish(Sample(), ["carecycle_claims"])  # the paid claims are gone: back to 0, not left at 3
    assert recorded == [("carecycle_claims", 3, {"status": "paid"}), ("carecycle_claims", 0, {"status": "paid"})]
    assert isinstance(MetricMeter.noop, MetricMeter)
    with sessions() as session:
        assert session.query(m.Claim).count() == 0
    engine.dispose()


async def test_store_gauges_keep_moving_while_temporal_does_not_answer(sqlite_url: str) -> None:
    """A Temporal server gone (the client retries it for minutes) must not freeze the store's gauges."""
    from workers.observability.metrics import run_sampler

    engine = make_engine(sqlite_url)
    sessions = make_session_factory(engine)
    published: list[str] = []

    class Metrics:
        def publish(self, sample: Sample, names: list[str]) -> None:
            published.extend(names)

    class Hanging:  # list_workflows never answers
        namespace = "default"

        def list_workflows(self, *args: object, **kwargs: object) -> object:
            class Never:
                def __aiter__(self) -> Never:
                    return self

                async def __anext__(self) -> object:
                    await asyncio.Event().wait()
                    raise StopAsyncIteration

            return Never()

    stop = asyncio.Event()
    task = asyncio.create_task(run_sampler(Metrics(), sessions, Hanging(), [], 0.05, stop))  # type: ignore[arg-type]
    await asyncio.sleep(1.0)
    stop.set()
    await asyncio.wait_for(task, timeout=15)
    assert published.count("carecycle_claims") >= 3  # the store sampled again and again
    assert "carecycle_journeys" not in published
    engine.dispose()


def test_log_lines_carry_the_trace_of_their_span() -> None:
    from opentelemetry.sdk.trace import TracerProvider

    from workers.logs import JsonFormatter

    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter("test"))
    logger = logging.getLogger("carecycle.test.trace")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        logger.warning("outside")
        with TracerProvider().get_tracer("t").start_as_current_span("span") as span:
            logger.warning("inside")
            expected = format(span.get_span_context().trace_id, "032x")
    finally:
        logger.removeHandler(handler)
    outside, inside = (json.loads(line) for line in stream.getvalue().splitlines())
    assert "trace_id" not in outside
    assert inside["trace_id"] == expected and len(inside["span_id"]) == 16


# The Temporal SDK (core) metrics the dashboard reads, as its Prometheus exporter names them (checked against a
# real worker's /metrics when this list was written; failures appear once something failed).
SDK_METRICS = {
    "temporal_workflow_task_schedule_to_start_latency",
    "temporal_activity_schedule_to_start_latency",
    "temporal_activity_execution_latency",
    "temporal_workflow_completed",
    "temporal_workflow_failed",
    "temporal_worker_task_slots_used",
    "temporal_request",
    "temporal_request_failure",
}


def test_the_grafana_dashboard_reads_metrics_that_exist() -> None:
    import re

    from workers.observability.metrics import GAUGES

    dashboard = json.loads((Path(__file__).resolve().parents[2] / "docs" / "grafana" / "carecycle.json").read_text())
    expressions = [t["expr"] for panel in dashboard["panels"] for t in panel["targets"]]
    assert len(expressions) >= 15
    used = {
        re.sub(r"_bucket$", "", name)
        for e in expressions
        for name in re.findall(r"\b(?:carecycle|temporal)_[a-z_]+", e)
    }
    assert {n for n in used if n.startswith("carecycle_")} <= set(GAUGES)
    assert {n for n in used if n.startswith("temporal_")} <= SDK_METRICS
    assert set(GAUGES) <= used, "every application metric has a panel"


def test_with_an_otlp_collector_the_metrics_and_traces_go_there() -> None:
    """CARECYCLE_OTLP_ENDPOINT: the Runtime exports the SDK's and the application metrics over OTLP/HTTP, the tracer
    provider the spans; /metrics is then not relayed (sdk_metrics_url None). A stand-in collector records them."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    received: dict[str, bytes] = {}

    class Collector(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length") or 0))
            received[self.path] = received.get(self.path, b"") + body
            self.send_response(200)
            self.send_header("content-type", "application/x-protobuf")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Collector)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    script = (
        "import time\n"
        "from opentelemetry import trace\n"
        "from workers.observability import configure_telemetry\n"
        "from workers.observability.metrics import AppMetrics, Sample\n"
        "from workers.settings import load_settings\n"
        "telemetry = configure_telemetry(load_settings(), 'test')\n"
        "assert telemetry.sdk_metrics_url is None\n"
        "sample = Sample()\n"
        "sample.put('carecycle_claims', 2, status='paid')\n"
        "AppMetrics(telemetry.meter).publish(sample, ['carecycle_claims'])\n"
        "with trace.get_tracer('test').start_as_current_span('probe'):\n"
        "    pass\n"
        "time.sleep(4)\n"
        "trace.get_tracer_provider().force_flush()\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("CARECYCLE_")}
    env["CARECYCLE_OTLP_ENDPOINT"] = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=120)
    finally:
        server.shutdown()
        server.server_close()
    assert done.returncode == 0, done.stderr[-2000:]
    assert b"carecycle_claims" in received.get("/v1/metrics", b"")
    assert b"probe" in received.get("/v1/traces", b"")
