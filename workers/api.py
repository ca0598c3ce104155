"""The integration API wired: the store, intake with its Temporal starter, the settings' limits.

``carecycle up`` serves it beside the console; ``carecycle api`` serves it alone (against ``TEMPORAL_ADDRESS`` or
the embedded stack's dev server, connecting lazily: writes are accepted while Temporal is away and their
processes start once it answers).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

from temporalio.client import Client

from workers.composition import Container
from workers.settings import Settings

if TYPE_CHECKING:
    from fastapi import FastAPI

    from activities.contracts.revenue import RevenuePolicy
    from intake import Intake, VisitHook


def build_intake(
    container: Container, client: Client, policy: RevenuePolicy | None = None, visits: VisitHook | None = None
) -> Intake:
    """The one intake every door of this process shares (API, HL7 listener, CSV import, console, demo)."""
    from intake import Intake, TemporalStarter
    from workers.clock import revenue_policy
    from workers.visits import visit_hook

    # The home's business day (workers.clock): compressed only when `up --time-scale` said so.
    day = policy or revenue_policy(container.settings)
    # The visit seam: each booked appointment's Visit or VirtualVisit (intake.visit_processes) on the same day.
    starter = TemporalStarter(client, day, visits=visits or visit_hook(container, day))
    return Intake(container.session_factory, starter)


def build_api_app(settings: Settings, container: Container, intake: Intake) -> FastAPI:
    from api import create_app
    from workers.hl7 import sealed_documents

    return create_app(
        container.session_factory,
        intake,
        rate_per_minute=settings.api_rate_per_minute,
        max_body_bytes=settings.api_max_body_bytes,
        async_queue_per_client=settings.api_async_queue_per_client,
        async_queue_overall=settings.api_async_queue_overall,
        sealer=sealed_documents(container),  # Bundles sent with Prefer: respond-async, until applied
    )


def api_url(settings: Settings) -> str:
    return f"http://{settings.bind_host}:{settings.api_port}/fhir"


@asynccontextmanager
async def serve_api(
    settings: Settings, container: Container, client: Client, policy: RevenuePolicy | None = None
) -> AsyncIterator[str]:
    """Serve the API on ``settings.api_port`` until the block ends; yields its FHIR base URL."""
    from workers.observability import store_check, temporal_check
    from workers.observability.probes import add_probe_routes
    from workers.stack import serve_asgi

    app = build_api_app(settings, container, build_intake(container, client, policy))
    add_probe_routes(app, [store_check(container.engine), temporal_check(client)])  # /health, /ready
    async with serve_asgi(app, settings.bind_host, settings.api_port, name="integration API"):
        yield api_url(settings)
