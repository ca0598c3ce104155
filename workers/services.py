"""The web services as processes of their own: ``carecycle console`` and ``carecycle codec-server``.

Each serves until SIGTERM/SIGINT on ``CARECYCLE_BIND_HOST`` and its port, with ``/health`` (alive) and ``/ready``
(what it needs answers). They are what the production deployment runs (infra/terraform: one ECS service each);
``carecycle up`` serves the same apps inside the embedded stack.

Outside the embedded stack (TEMPORAL_ADDRESS set) the secrets that several instances must share come from the
environment, never from a file generated per task: the console's session key (CARECYCLE_CONSOLE_SESSION_SECRET)
and the codec server's tokens (CARECYCLE_CODEC_SERVER_TOKEN).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from contextlib import AsyncExitStack

from workers.composition import Container
from workers.observability import configure_telemetry, store_check, temporal_check
from workers.observability.probes import add_probe_routes
from workers.settings import Settings, SettingsError


class ServiceUnavailable(Exception):
    """The service cannot be built in this installation (the message says what is missing)."""


def _require_shared_secret(settings: Settings, value: str | None, name: str) -> None:
    if not settings.embedded_temporal and not value:
        raise SettingsError(f"{name} must be set: every instance of this service must use the same one")


async def run_console(settings: Settings, stop: asyncio.Event, on_ready: Callable[[str], None]) -> None:
    """Serve the operations console until ``stop``; ``on_ready`` gets its URL once it listens."""
    from workers.console_wiring import ApiClientsForConsole, console_app_factory, console_options, replay_for_console
    from workers.security.actors import load_actor_keys
    from workers.security.stack_secrets import console_session_secret
    from workers.stack import serve_asgi
    from workers.temporal.client import connect

    _require_shared_secret(settings, settings.console_session_secret, "CARECYCLE_CONSOLE_SESSION_SECRET")
    factory = console_app_factory()
    if factory is None:
        raise ServiceUnavailable("this installation has no console (console.app)")
    configure_telemetry(settings, "console")
    container = Container(settings)
    async with AsyncExitStack() as stack:
        stack.callback(container.close)
        container.require_schema()
        client = await connect(settings)
        from workers.front_desk import FrontDeskForConsole
        from workers.visit_desk import TelehealthDeskForConsole

        app = factory(
            client,
            container.session_factory,
            session_secret=console_session_secret(settings),
            replay=replay_for_console(client),
            options=console_options(
                settings,
                read_document=container.documents.get,
                api_clients=ApiClientsForConsole(),
                telehealth=TelehealthDeskForConsole(container, client),
                front_desk=FrontDeskForConsole(container, client),
            ),
            actor_keys=load_actor_keys(settings),
        )
        add_probe_routes(app, [store_check(container.engine), temporal_check(client)])
        await stack.enter_async_context(serve_asgi(app, settings.bind_host, settings.console_port, name="console"))
        on_ready(f"http://{settings.bind_host}:{settings.console_port}")
        await stop.wait()


async def run_codec_server(settings: Settings, stop: asyncio.Event, on_ready: Callable[[str], None]) -> None:
    """Serve the payload codec server until ``stop``. It needs neither the store nor Temporal: ready once its keys
    are loaded, which happens before it listens."""
    from workers.security.codec import AesGcmCodec
    from workers.security.keys import load_keys
    from workers.security.server import create_codec_app
    from workers.security.stack_secrets import codec_server_tokens
    from workers.stack import codec_allowed_origins, serve_asgi

    _require_shared_secret(settings, settings.codec_server_token, "CARECYCLE_CODEC_SERVER_TOKEN")
    app = create_codec_app(
        AesGcmCodec(load_keys(settings, create_if_missing=settings.embedded_temporal)),
        tokens=codec_server_tokens(settings),
        allowed_origins=codec_allowed_origins(settings),
    )
    add_probe_routes(app, [])
    async with serve_asgi(app, settings.bind_host, settings.codec_server_port, name="codec server"):
        on_ready(f"http://{settings.bind_host}:{settings.codec_server_port}")
        await stop.wait()
