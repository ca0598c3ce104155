"""The embedded stack behind ``carecycle up``: everything on one machine, stopped cleanly by Ctrl-C.

Embedded (no TEMPORAL_ADDRESS): the store is upgraded, a codec key file, the codec server's access token,
the console's session key and (with no console user yet) a first ``admin`` are created under
CARECYCLE_HOME/secrets on first start (workers.security.stack_secrets, workers.security.actors), file modes are made
owner-only (workers.security.files), then the codec server, the Temporal dev server (SQLite file, WAL, loopback
only), its Web UI behind the console's sign-in (workers.security.ui_proxy), the workers of every task queue, the
sandbox services, the console and the integration API (FHIR R4, ``workers.api``) start; beside them a long-lived
Prefect server and ``carecycle batch serve`` (child processes: the batch plane, workers.batch_plane). The workers
run as a version of the worker deployment (workers.versioning), promoted at once, with their metrics, health and
readiness on ``settings.metrics_port`` (workers.observability). Stopping drains the workers first, then the web
servers, then the dev server, then the batch plane; starting again resumes in-flight workflows from
``$CARECYCLE_HOME/temporal.db``.

Remote (TEMPORAL_ADDRESS set): only the workers start, against that cluster and the configured store
(its schema must already be upgraded: migrations in production are a deliberate step).

With workers, once everything is up (workers.stack_chores): the portal payers' EOB schedules are applied
(workers.temporal.schedules), every active staff member's credentialing and training workflows are started
(workers.staff), RemittanceIntake polls the clearinghouse mailbox for 835s (workers.remittances: every remittance is
posted by PaymentPosting, which tells the waiting Claim workflows), and posting's orphaned work items get their
workflows.

Sandbox hook: when no external clearinghouse is configured and the module ``sandbox.server`` defines
``create_app(state_dir: pathlib.Path, *, seed: int, time_scale: float)`` returning an ASGI app, it is
served on ``settings.sandbox_port`` (state under ``$CARECYCLE_HOME/sandbox``), which is where the
clearinghouse adapter connects by default (``settings.clearinghouse_endpoint``).
The console is ``console.app.create_app(client, session_factory, session_secret=..., replay=..., options=...,
actor_keys=...)``, wired by workers.console_wiring.
The HL7 v2 listener (``workers.hl7``) listens on ``settings.hl7_port`` (2575; 0: not started).
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import logging
import socket
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import uvicorn

from workers.composition import Container
from workers.console_wiring import (
    ApiClientsForConsole,
    console_app_factory,
    console_options,
    replay_for_console,
    ui_grant,
)
from workers.observability import (
    Telemetry,
    configure_telemetry,
    serve_worker_observability,
    store_check,
    temporal_check,
)
from workers.observability.probes import add_probe_routes
from workers.prefect_server import BatchServeProcess, LocalPrefectServer, PrefectServerError
from workers.registry import build_workers
from workers.runtime import run_workers_until
from workers.sandbox_accounts import accounts_file
from workers.security.actors import load_actor_keys
from workers.security.codec import AesGcmCodec
from workers.security.files import harden_home, private_umask
from workers.security.keys import load_keys
from workers.security.server import create_codec_app
from workers.security.stack_secrets import (
    codec_server_tokens,
    codec_token_file,
    console_session_secret,
    ensure_first_admin,
)
from workers.security.ui_proxy import Grants, create_ui_proxy
from workers.settings import Settings
from workers.stack_chores import start_after_workers
from workers.temporal import EmbeddedTemporal, embedded_stack

log = logging.getLogger("carecycle.stack")


@dataclass
class StackInfo:
    temporal_target: str
    urls: dict[str, str] = field(default_factory=dict)  # name -> URL of each UI/endpoint
    temporal: EmbeddedTemporal | None = None
    notes: list[str] = field(default_factory=list)  # where the user finds secrets (paths, never the secrets)


class _QuietServer(uvicorn.Server):
    """Uvicorn without its own signal handling: the stack owns Ctrl-C and stops servers in order."""

    @contextlib.contextmanager
    def capture_signals(self) -> Any:
        yield


class ServerStartError(Exception):
    """A web server of the stack could not start (its port is taken, most often)."""


@asynccontextmanager
async def serve_asgi(app: Any, host: str, port: int, *, name: str = "web server") -> AsyncIterator[_QuietServer]:
    # proxy_headers off: uvicorn would otherwise take X-Forwarded-For from any local peer as the client's address;
    # the console decides whom to believe itself (CARECYCLE_TRUSTED_PROXIES, console.throttle).
    config = uvicorn.Config(
        app, host=host, port=port, log_config=None, access_log=False, lifespan="on", proxy_headers=False
    )
    server = _QuietServer(config)
    failure = ServerStartError(f"the {name} could not listen on {host}:{port} (is the port in use?)")

    async def serve() -> None:
        try:
            await server.serve()
        except SystemExit:  # uvicorn calls sys.exit on a bind error; inside a task that would end the loop
            raise failure from None

    task = asyncio.create_task(serve())
    while not server.started:
        if task.done():
            task.result()
            raise failure
        await asyncio.sleep(0.05)
    try:
        yield server
    finally:
        server.should_exit = True
        await task


def sandbox_app_factory() -> Callable[..., Any] | None:
    try:
        module = importlib.import_module("sandbox.server")
    except ModuleNotFoundError as exc:
        if exc.name in ("sandbox.server",):
            return None
        raise
    factory = getattr(module, "create_app", None)
    return factory if callable(factory) else None


def free_tcp_port() -> int:
    """A free loopback port for the dev server's own Web UI, which only the proxy reaches."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def codec_allowed_origins(settings: Settings) -> list[str]:
    """The Web UI origins that may call the codec server from a browser: configured (CARECYCLE_CODEC_CORS_ORIGINS),
    else the embedded Web UI's."""
    if settings.codec_cors_origins:
        return [o.strip().rstrip("/") for o in settings.codec_cors_origins.split(",") if o.strip()]
    host, port = settings.bind_host, settings.temporal_ui_port
    return [f"http://{host}:{port}", f"http://localhost:{port}"]


@asynccontextmanager
async def serve_codec_server(settings: Settings) -> AsyncIterator[str]:
    """The codec server the embedded Web UI decodes through (a token always required); yields its URL."""
    host = settings.bind_host
    app = create_codec_app(
        AesGcmCodec(load_keys(settings, create_if_missing=True)),
        tokens=codec_server_tokens(settings),
        allowed_origins=codec_allowed_origins(settings),
    )
    add_probe_routes(app, [])
    async with serve_asgi(app, host, settings.codec_server_port, name="codec server"):
        yield f"http://{host}:{settings.codec_server_port}"


def codec_token_note(settings: Settings, codec_url: str) -> str | None:
    """Where the generated codec server token is (never the token). Browsers need none: the Web UI is opened
    from the console, which authorizes it (workers.security.ui_proxy)."""
    if settings.codec_server_token:
        return None
    return f"codec server token: {codec_token_file(settings)} (for `temporal --codec-auth 'Bearer <token>'`)"


def _sandbox_portal(settings: Settings) -> tuple[Settings, dict[str, dict[str, str]] | None, str | None]:
    """With the embedded sandbox serving the payer portal: its biller accounts (workers.sandbox_accounts) and
    settings whose portal credentials hold them, so the EOB schedules and status searches can log in."""
    if not settings.embedded_temporal or settings.clearinghouse_url is not None or settings.portal_url is not None:
        return settings, None, None
    if sandbox_app_factory() is None:
        return settings, None, None
    from workers.sandbox_accounts import sandbox_portal_secrets, with_sandbox_portal

    accounts, admin_token = sandbox_portal_secrets(settings)
    return with_sandbox_portal(settings, accounts), accounts, admin_token


async def _open_sandbox_portal(
    container: Container, portal_url: str, accounts: dict[str, dict[str, str]], admin_token: str
) -> None:
    """Open the accounts on the sandbox portal and give it the store's members and waiting claims."""
    from activities.portals.sandbox_loader import SandboxPortalError, load_sandbox_portal

    try:
        loaded = await asyncio.to_thread(
            load_sandbox_portal, container.session_factory, portal_url, admin_token=admin_token, accounts=accounts
        )
    except SandboxPortalError as exc:
        log.warning("sandbox payer portal not loaded: %s", exc)
        return
    log.info("sandbox payer portal loaded: %d payers with biller accounts", len(loaded))


@asynccontextmanager
async def running_stack(settings: Settings, *, with_workers: bool = True) -> AsyncIterator[StackInfo]:
    """Start the whole stack; on exit stop it in reverse order. ``run_stack`` adds the wait for Ctrl-C."""
    private_umask()  # everything the stack creates from here on is owner-only (workers.security.files)
    telemetry = configure_telemetry(settings, "stack")
    settings, portal_accounts, portal_admin_token = _sandbox_portal(settings)
    container = Container(settings)
    async with AsyncExitStack() as stack:
        stack.callback(container.close)
        info: StackInfo
        if settings.embedded_temporal:
            harden_home(settings)
            prefect = _start_prefect_server(stack, settings)
            info = await _start_embedded(stack, settings, container, portal_accounts, portal_admin_token)
            if prefect is not None:
                info.urls["prefect_ui"] = prefect.ui_url
                await _start_batch_serve(stack, settings, prefect.api_url)
        else:
            container.require_schema()
            temporal = await stack.enter_async_context(embedded_stack(settings))
            info = StackInfo(temporal_target=temporal.target, temporal=temporal)
        if with_workers:
            await _start_workers(stack, settings, container, info, telemetry)
        yield info


async def _start_embedded(
    stack: AsyncExitStack,
    settings: Settings,
    container: Container,
    portal_accounts: dict[str, dict[str, str]] | None = None,
    portal_admin_token: str | None = None,
) -> StackInfo:
    """The store, the codec server, the dev server behind its proxy, the sandbox, the console and the front doors."""
    host = settings.bind_host
    if settings.database_url.startswith("sqlite"):
        from domain.store.migrate import upgrade

        await asyncio.to_thread(upgrade, container.engine)
    else:
        container.require_schema()
    codec_url = await stack.enter_async_context(serve_codec_server(settings))
    public_ui = f"http://{host}:{settings.temporal_ui_port}" if settings.temporal_ui_port else None
    temporal = await stack.enter_async_context(
        embedded_stack(
            settings,
            ui=public_ui is not None,
            codec_endpoint=f"{public_ui}/codec" if public_ui else codec_url,
            ui_port=free_tcp_port() if public_ui else None,
        )
    )
    harden_home(settings)  # the dev server's database and log, just created
    info = StackInfo(temporal_target=temporal.target, temporal=temporal)
    grants = Grants()
    if public_ui and temporal.ui_url:
        proxy = create_ui_proxy(
            upstream=temporal.ui_url,
            codec_upstream=codec_url,
            codec_token=codec_server_tokens(settings)[0],
            console_url=f"http://{host}:{settings.console_port}",
            grants=grants,
        )
        await stack.enter_async_context(serve_asgi(proxy, host, settings.temporal_ui_port, name="Temporal Web UI"))
        info.urls["temporal_ui"] = public_ui
    info.urls["codec_server"] = codec_url
    note = codec_token_note(settings, codec_url)
    if note:
        info.notes.append(note)
    await _serve_sandbox(stack, settings, container, info, portal_accounts, portal_admin_token)
    await _serve_console(stack, settings, container, info, codec_url, grants)
    from workers.api import serve_api

    info.urls["fhir_api"] = await stack.enter_async_context(serve_api(settings, container, temporal.client))
    info.notes.append("integration API tokens: `carecycle api-clients add NAME --scopes intake,read`")
    if settings.hl7_port > 0:
        from workers.hl7 import serve_hl7

        listener = await stack.enter_async_context(serve_hl7(container, temporal.client))
        info.urls["hl7"] = listener.address
    from workers.visits import serve_webhooks

    # The messaging and video vendors' webhooks (delivery receipts, STOP replies, who is in a video room).
    webhooks = serve_webhooks(settings, container, temporal.client)
    info.urls["webhooks"] = await stack.enter_async_context(webhooks)
    return info


async def _serve_sandbox(
    stack: AsyncExitStack,
    settings: Settings,
    container: Container,
    info: StackInfo,
    portal_accounts: dict[str, dict[str, str]] | None,
    portal_admin_token: str | None,
) -> None:
    """The sandbox clearinghouse, payers and payer portal, when no real clearinghouse is configured."""
    sandbox_factory = sandbox_app_factory()
    if sandbox_factory is None or settings.clearinghouse_url is not None:
        return
    data_dir = settings.home / "sandbox"
    data_dir.mkdir(parents=True, exist_ok=True)
    sandbox = sandbox_factory(
        data_dir,
        seed=settings.sandbox_seed,
        time_scale=settings.sandbox_time_scale,
        **({"portal_admin_token": portal_admin_token} if portal_admin_token else {}),
    )
    await stack.enter_async_context(serve_asgi(sandbox, settings.bind_host, settings.sandbox_port, name="sandbox"))
    info.urls["sandbox"] = f"http://{settings.bind_host}:{settings.sandbox_port}"
    if portal_accounts is not None and portal_admin_token is not None:
        await _open_sandbox_portal(container, container.portal_url, portal_accounts, portal_admin_token)
        info.notes.append(f"sandbox payer portal accounts: {accounts_file(settings)}")


async def _serve_console(
    stack: AsyncExitStack, settings: Settings, container: Container, info: StackInfo, codec_url: str, grants: Grants
) -> None:
    """The console, its first admin on a new home, and its way into the Web UI."""
    console_factory = console_app_factory()
    if console_factory is None or info.temporal is None:
        return
    from workers.front_desk import FrontDeskForConsole
    from workers.visit_desk import TelehealthDeskForConsole

    client = info.temporal.client
    admin_file = await asyncio.to_thread(ensure_first_admin, settings, container.session_factory)
    app = console_factory(
        client,
        container.session_factory,
        session_secret=console_session_secret(settings),
        replay=replay_for_console(client),
        options=console_options(
            settings,
            temporal_ui_url=info.urls.get("temporal_ui"),
            codec_url=codec_url,
            read_document=container.documents.get,
            codec_grant=ui_grant(info.urls.get("temporal_ui"), grants),
            api_clients=ApiClientsForConsole(),
            telehealth=TelehealthDeskForConsole(container, client),
            front_desk=FrontDeskForConsole(container, client),
        ),
        actor_keys=load_actor_keys(settings),
    )
    add_probe_routes(app, [store_check(container.engine), temporal_check(client)])
    await stack.enter_async_context(serve_asgi(app, settings.bind_host, settings.console_port, name="console"))
    info.urls["console"] = f"http://{settings.bind_host}:{settings.console_port}"
    if admin_file is not None:
        info.notes.append(f"console user admin: password in {admin_file} (`carecycle users --help`)")


async def _start_workers(
    stack: AsyncExitStack, settings: Settings, container: Container, info: StackInfo, telemetry: Telemetry
) -> None:
    """Every task queue's workers (a version of the worker deployment), their metrics and probes, then the
    schedules and the staff workflows they serve."""
    from workers.versioning import deployment_config, promote

    assert info.temporal is not None
    client = info.temporal.client
    deployment = deployment_config(settings, embedded=settings.embedded_temporal)
    stop_workers = asyncio.Event()
    workers = build_workers(client, container, deployment=deployment)
    task = asyncio.create_task(run_workers_until(workers, stop_workers))

    async def drain() -> None:
        stop_workers.set()
        await task

    stack.push_async_callback(drain)
    queues = [w.task_queue for w in workers]
    metrics_url = await stack.enter_async_context(
        serve_worker_observability(settings, telemetry, client, container, queues)
    )
    if metrics_url:
        info.urls["metrics"] = metrics_url
    if deployment is not None and settings.embedded_temporal:
        # The embedded stack is one machine: its workers' version becomes current at once (a deployment
        # promotes deliberately: `carecycle deployment promote`).
        version = deployment.version
        await promote(client, version.deployment_name, version.build_id)
        info.notes.append(f"workers: deployment {version.deployment_name}, build {version.build_id}")
    await start_after_workers(client, container, settings)


def _start_prefect_server(stack: AsyncExitStack, settings: Settings) -> LocalPrefectServer | None:
    """The long-lived local Prefect server (UI and API), unless batch serving is off or an API is configured.
    Not waited for: it comes up while the rest of the stack does, and `batch serve` waits for it."""
    if not settings.batch_serve or settings.prefect_api_url:
        return None
    server = LocalPrefectServer(settings)
    try:
        server.start()
    except PrefectServerError as exc:  # another stack's Prefect on the port: the rest of this stack still runs
        log.warning("batch flows not served: %s (set CARECYCLE_PREFECT_PORT)", exc)
        return None
    stack.callback(server.stop)
    return server


async def _start_batch_serve(stack: AsyncExitStack, settings: Settings, api_url: str) -> None:
    """`carecycle batch serve` as a child process against the local server (its flow runs are processes too)."""
    process = BatchServeProcess(settings, api_url)
    process.start()
    stack.callback(process.stop)


async def run_stack(settings: Settings, stop: asyncio.Event, on_ready: Callable[[StackInfo], None]) -> None:
    async with running_stack(settings) as info:
        on_ready(info)
        await stop.wait()
        log.info("stopping the stack")
