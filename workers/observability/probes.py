"""Liveness and readiness for every carecycle service.

``/health`` answers 200 while the process serves at all (a load balancer or orchestrator restarts it when it
does not). ``/ready`` answers 200 only when what the service depends on answers (the store, Temporal) and 503
naming the part that does not, so traffic goes elsewhere until it does. Each check has a short timeout: a
hanging dependency makes the service not ready, never makes the probe hang.

Worker processes, which serve no HTTP otherwise, get a small server on ``CARECYCLE_METRICS_PORT`` that also
serves ``/metrics`` (the Temporal Runtime's Prometheus text, application metrics included).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

import httpx
from fastapi import FastAPI
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from sqlalchemy import Engine, text
from temporalio.client import Client

log = logging.getLogger("carecycle.probes")

CHECK_TIMEOUT_SECONDS = 3.0


@dataclass(frozen=True)
class Check:
    name: str
    probe: Callable[[], Awaitable[None]]  # raises when the part is not usable


def store_check(engine: Engine) -> Check:
    def ping() -> None:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))

    async def probe() -> None:
        await asyncio.to_thread(ping)

    return Check("store", probe)


def temporal_check(client: Client) -> Check:
    async def probe() -> None:
        await client.service_client.check_health()

    return Check("temporal", probe)


async def readiness(checks: Sequence[Check]) -> tuple[bool, dict[str, str]]:
    """Every check at once; each "ok" or the reason (an exception type, never its text) it is not."""

    async def one(check: Check) -> str:
        try:
            await asyncio.wait_for(check.probe(), timeout=CHECK_TIMEOUT_SECONDS)
        except TimeoutError:
            return f"no answer within {CHECK_TIMEOUT_SECONDS:.0f} s"
        except Exception as exc:  # any failure means "not ready"; the text may quote a URL with a password
            return f"unavailable ({type(exc).__name__})"
        return "ok"

    results = await asyncio.gather(*(one(check) for check in checks))
    states = {check.name: result for check, result in zip(checks, results, strict=True)}
    return all(state == "ok" for state in states.values()), states


def add_probe_routes(app: FastAPI, checks: Sequence[Check]) -> None:
    """``/ready`` on a service's own app, and ``/health`` when the app has none yet."""
    paths = {getattr(route, "path", None) for route in app.router.routes}

    if "/health" not in paths:

        @app.get("/health")
        async def health() -> dict[str, str]:
            return {"status": "ok"}

    @app.get("/ready", response_model=None)
    async def ready() -> Response:
        ok, states = await readiness(checks)
        return JSONResponse(
            {"status": "ready" if ok else "not ready", "checks": states}, status_code=200 if ok else 503
        )


def probe_app(checks: Sequence[Check], sdk_metrics_url: str | None) -> FastAPI:
    """A worker process's own little server: /health, /ready and /metrics."""
    app = FastAPI(title="carecycle worker", docs_url=None, redoc_url=None, openapi_url=None)
    add_probe_routes(app, checks)

    @app.get("/metrics", response_model=None)
    async def metrics() -> Response:
        if sdk_metrics_url is None:
            return PlainTextResponse("no metrics here (or they go to CARECYCLE_OTLP_ENDPOINT)\n", status_code=404)
        async with httpx.AsyncClient(timeout=CHECK_TIMEOUT_SECONDS) as web:
            upstream = await web.get(sdk_metrics_url)
        headers: dict[str, Any] = {"content-type": upstream.headers.get("content-type", "text/plain; version=0.0.4")}
        return Response(upstream.content, status_code=upstream.status_code, headers=headers)

    return app
