"""Temporal plumbing: the embedded dev server, the client factory, search-attribute registration.

``embedded_stack(settings)`` is what the demo, the bench and the tests use to get a connected client::

    async with embedded_stack(settings) as stack:      # a dev server if TEMPORAL_ADDRESS is unset
        client = stack.client                           # encrypted payloads (workers.temporal.client.connect)
        stack.ui_url                                    # Web UI, None when remote or headless
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from temporalio.client import Client

from workers.security.keys import load_keys
from workers.settings import LOOPBACK, Settings
from workers.temporal.client import connect
from workers.temporal.dev_server import DevServer, DevServerError
from workers.temporal.search_attributes import ensure_search_attributes


@dataclass
class EmbeddedTemporal:
    client: Client
    target: str
    ui_url: str | None
    server: DevServer | None  # None: an external cluster (TEMPORAL_ADDRESS)


def dev_server_for(
    settings: Settings, *, ui: bool = True, codec_endpoint: str | None = None, ui_port: int | None = None
) -> DevServer:
    """The embedded dev server: frontend and Web UI on loopback only (``ui_port`` overrides the UI's port, for
    the stack's proxy that puts the UI behind the console's sign-in: workers.security.ui_proxy)."""
    return DevServer(
        db_file=settings.home / "temporal.db",
        host=LOOPBACK,
        port=settings.temporal_port,
        ui_port=(ui_port or settings.temporal_ui_port) if ui else None,
        codec_endpoint=codec_endpoint,
        log_file=settings.logs_dir / "temporal.log",
        namespace=settings.temporal_namespace,
        pid_file=settings.home / "run" / "temporal-dev-server.json",
    )


@asynccontextmanager
async def embedded_stack(
    settings: Settings, *, ui: bool = True, codec_endpoint: str | None = None, ui_port: int | None = None
) -> AsyncIterator[EmbeddedTemporal]:
    """Start (embedded) or reach (TEMPORAL_ADDRESS) Temporal and yield a connected, encrypting client."""
    keys = load_keys(settings, create_if_missing=settings.embedded_temporal)
    if not settings.embedded_temporal:
        client = await connect(settings, keys=keys)
        yield EmbeddedTemporal(client=client, target=settings.temporal_target, ui_url=None, server=None)
        return
    async with dev_server_for(settings, ui=ui, codec_endpoint=codec_endpoint, ui_port=ui_port) as server:
        client = await connect(settings, keys=keys, target=server.target)
        await ensure_search_attributes(client, settings.temporal_namespace)  # a db file from an older version
        yield EmbeddedTemporal(client=client, target=server.target, ui_url=server.ui_url, server=server)


__all__ = ["DevServer", "DevServerError", "EmbeddedTemporal", "connect", "dev_server_for", "embedded_stack"]
