"""Connecting to Temporal: always with the encrypting data converter, and TLS or an API key when configured."""

from __future__ import annotations

import logging
from pathlib import Path

from temporalio.client import Client, Interceptor
from temporalio.contrib.opentelemetry import TracingInterceptor
from temporalio.runtime import (
    LogForwardingConfig,
    LoggingConfig,
    OpenTelemetryConfig,
    PrometheusConfig,
    Runtime,
    TelemetryConfig,
    TelemetryFilter,
)
from temporalio.service import TLSConfig

from workers.security.actor_headers import ActorSigningInterceptor
from workers.security.actors import ActorKeyError, load_actor_keys
from workers.security.codec import encrypted_data_converter
from workers.security.keys import CodecKeys, load_keys
from workers.settings import Settings


def _pem(value: str | None) -> bytes | None:
    """A setting holds either PEM text or the path of a PEM file."""
    if value is None:
        return None
    if value.lstrip().startswith("-----BEGIN"):
        return value.encode()
    return Path(value).read_bytes()


def tls_config(settings: Settings) -> TLSConfig | bool:
    if settings.temporal_tls_cert or settings.temporal_tls_key or settings.temporal_tls_ca:
        return TLSConfig(
            server_root_ca_cert=_pem(settings.temporal_tls_ca),
            client_cert=_pem(settings.temporal_tls_cert),
            client_private_key=_pem(settings.temporal_tls_key),
        )
    return settings.temporal_api_key is not None  # Temporal Cloud API keys need TLS


_runtime: Runtime | None = None


def runtime_installed() -> bool:
    return _runtime is not None


def install_runtime(*, prometheus_bind: str | None = None, otlp_metrics_url: str | None = None) -> Runtime:
    """The process's Temporal Runtime: the SDK core's own logs (which default to stdout) routed into Python
    logging, i.e. our JSON lines on stderr, so a command's stdout stays the command's output; and, for service
    processes, its metrics exported (a Prometheus endpoint at ``prometheus_bind``, or OTLP/HTTP to
    ``otlp_metrics_url``). Call before the first client or worker; later calls return the installed one."""
    global _runtime
    if _runtime is not None:
        return _runtime
    metrics: PrometheusConfig | OpenTelemetryConfig | None = None
    if otlp_metrics_url:
        metrics = OpenTelemetryConfig(url=otlp_metrics_url, http=True, durations_as_seconds=True)
    elif prometheus_bind:
        metrics = PrometheusConfig(bind_address=prometheus_bind, durations_as_seconds=True)
    runtime = Runtime(
        telemetry=TelemetryConfig(
            logging=LoggingConfig(
                filter=TelemetryFilter(core_level="WARN", other_level="ERROR"),
                forwarding=LogForwardingConfig(logger=logging.getLogger("temporal.core")),
            ),
            metrics=metrics,
        )
    )
    Runtime.set_default(runtime, error_if_already_set=False)
    _runtime = runtime
    return runtime


class TemporalUnavailable(Exception):
    """The Temporal server cannot be reached (the message names the address, never credentials)."""


def actor_signing(settings: Settings) -> ActorSigningInterceptor | None:
    """What signs who acts (``domain.actors.acting_as``) into every start, signal and Update this client sends;
    None where this process holds no actor keys (its Updates are then refused by the workers)."""
    try:
        return ActorSigningInterceptor(load_actor_keys(settings))
    except ActorKeyError:
        return None


async def connect(
    settings: Settings, *, keys: CodecKeys | None = None, target: str | None = None, lazy: bool = False
) -> Client:
    """A client whose payloads and failure attributes are encrypted with the configured codec keys.

    ``lazy``: connect on first use, so a service (the integration API) starts while Temporal is down."""
    install_runtime()
    codec_keys = keys or load_keys(settings, create_if_missing=settings.embedded_temporal)
    address = target or settings.temporal_target
    interceptors: list[Interceptor] = [
        # Spans for starting workflows and running them and their activities, with the trace context
        # carried in Temporal headers (a no-op until workers.observability installs a tracer provider).
        TracingInterceptor()
    ]
    signing = actor_signing(settings)
    if signing is not None:
        interceptors.append(signing)
    try:
        return await Client.connect(
            address,
            namespace=settings.temporal_namespace,
            data_converter=encrypted_data_converter(codec_keys),
            tls=tls_config(settings),
            api_key=settings.temporal_api_key,
            lazy=lazy,
            interceptors=interceptors,
        )
    except RuntimeError as exc:
        raise TemporalUnavailable(
            f"cannot reach Temporal at {address} (is `carecycle up` running, or TEMPORAL_ADDRESS right?)"
        ) from exc
