"""Observability of the carecycle processes: metrics, traces, health and readiness.

``configure_telemetry(settings, component)`` is the first thing a service process does (before any Temporal
client): it installs the Temporal Runtime with its metrics exporter (a Prometheus endpoint on loopback that the
process's ``/metrics`` serves, or OTLP when ``CARECYCLE_OTLP_ENDPOINT`` names a collector) and an OpenTelemetry
tracer provider (spans from the tracing interceptor every client carries; exported over OTLP when configured,
otherwise only their ids, which the JSON log lines carry). One-shot CLI commands configure none of this.
"""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import AsyncIterator, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass

from temporalio.client import Client
from temporalio.common import MetricMeter

from workers.composition import Container
from workers.observability.metrics import AppMetrics, run_sampler
from workers.observability.probes import Check, probe_app, store_check, temporal_check
from workers.settings import Settings

log = logging.getLogger("carecycle.observability")

__all__ = [
    "Check",
    "Telemetry",
    "configure_telemetry",
    "serve_probes",
    "serve_worker_observability",
    "store_check",
    "temporal_check",
]


@dataclass(frozen=True)
class Telemetry:
    meter: MetricMeter
    sdk_metrics_url: str | None  # the Runtime's own Prometheus text (loopback); None when metrics go to OTLP


_configured: Telemetry | None = None


def _free_loopback_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def configure_telemetry(settings: Settings, component: str) -> Telemetry:
    """Once per process, before the first Temporal client."""
    global _configured
    if _configured is not None:
        return _configured
    from workers.temporal.client import install_runtime, runtime_installed

    _install_tracer_provider(settings, component)
    sdk_metrics_url = None
    if runtime_installed():  # a client came first (an in-process test): its Runtime exports nothing
        runtime = install_runtime()
    elif settings.otlp_endpoint:
        runtime = install_runtime(otlp_metrics_url=f"{settings.otlp_endpoint.rstrip('/')}/v1/metrics")
    elif settings.metrics_port:
        # The Runtime's exporter serves only /metrics and only its own text: it listens on loopback, and the
        # process's probe server (CARECYCLE_METRICS_PORT) relays it beside /health and /ready.
        internal = f"127.0.0.1:{_free_loopback_port()}"
        runtime = install_runtime(prometheus_bind=internal)
        sdk_metrics_url = f"http://{internal}/metrics"
    else:
        runtime = install_runtime()
    _configured = Telemetry(meter=runtime.metric_meter, sdk_metrics_url=sdk_metrics_url)
    return _configured


def _install_tracer_provider(settings: Settings, component: str) -> None:
    from opentelemetry import trace
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    provider = TracerProvider(resource=Resource.create({"service.name": f"carecycle-{component}"}))
    if settings.otlp_endpoint:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        endpoint = f"{settings.otlp_endpoint.rstrip('/')}/v1/traces"
        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=endpoint)))
    trace.set_tracer_provider(provider)


@asynccontextmanager
async def serve_worker_observability(
    settings: Settings,
    telemetry: Telemetry,
    client: Client,
    container: Container,
    task_queues: Sequence[str],
    *,
    extra_checks: Sequence[Check] = (),
) -> AsyncIterator[str | None]:
    """The probe server (/health, /ready, /metrics) on CARECYCLE_METRICS_PORT and the application-metrics
    sampler, for as long as the workers run; yields the /metrics URL (None when the port is 0)."""
    checks = [store_check(container.engine), temporal_check(client), *extra_checks]
    async with AsyncExitStack() as stack:
        stop = asyncio.Event()
        sampler = asyncio.create_task(
            run_sampler(
                AppMetrics(telemetry.meter),
                container.session_factory,
                client,
                task_queues,
                settings.metrics_interval_seconds,
                stop,
            )
        )

        async def stop_sampler() -> None:
            stop.set()
            await sampler

        stack.push_async_callback(stop_sampler)
        served = await stack.enter_async_context(serve_probes(settings, checks, telemetry.sdk_metrics_url))
        yield f"{served}/metrics" if served else None


@asynccontextmanager
async def serve_probes(
    settings: Settings, checks: Sequence[Check], sdk_metrics_url: str | None = None
) -> AsyncIterator[str | None]:
    """/health, /ready (and /metrics, relayed from the Runtime) on CARECYCLE_METRICS_PORT, for a process that serves
    no HTTP of its own (workers, the HL7 listener, the batch plane); yields its base URL (None: port 0, or taken)."""
    from workers.stack import ServerStartError, serve_asgi

    if not settings.metrics_port:
        yield None
        return
    host = settings.bind_host
    async with AsyncExitStack() as stack:
        url: str | None = f"http://{host}:{settings.metrics_port}"
        try:
            app = probe_app(checks, sdk_metrics_url)
            await stack.enter_async_context(serve_asgi(app, host, settings.metrics_port, name="metrics endpoint"))
        except ServerStartError as exc:
            # The process serves all the same; a deployment notices the missing endpoint (its health check).
            log.warning("%s: this process runs without /health, /ready and /metrics", exc)
            url = None
        yield url
