"""The sandbox payer portal (FastAPI + Jinja2): sign-in with password and one-time code, eligibility,
claim status and EOB downloads, for each portal payer in its own page layout, plus an admin API to load it.

Pages live under ``/<variant>/`` (``/cascade/...``, ``/harbor/...``); the admin API under ``/admin/``.
Page requests may stall or fail with a 503 page, deterministically from the seed (see ``Faults``).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import Response

from sandbox.portal import admin, cascade, harbor
from sandbox.portal.admin import AdminError
from sandbox.portal.pages import base, current, portal_of, revision
from sandbox.portal.state import DEFAULT_PAYERS, Faults, PortalPayer, PortalState

# EOB downloads, both variants.
downloads = APIRouter()


@downloads.get("/{variant}/eob/{eob_id}.pdf")
async def eob_pdf(variant: str, eob_id: str, request: Request) -> Response:
    portal = portal_of(request)
    payer_id = portal.by_variant.get(variant)
    if payer_id is None:
        return Response(status_code=404)
    if current(portal, request, payer_id) is None:
        return Response("sign in first", status_code=401)
    eob = portal.payer(payer_id).eobs.get(eob_id)
    if eob is None:
        return Response(status_code=404)
    return Response(
        eob.pdf,
        media_type="application/pdf",
        headers={"Content-Disposition": f'attachment; filename="{variant}-{eob.trace_number}.pdf"'},
    )


def create_app(
    state: PortalState | None = None,
    *,
    payers: tuple[PortalPayer, ...] = DEFAULT_PAYERS,
    seed: int = 0,
    session_ttl_seconds: float = 900.0,
    faults: Faults | None = None,
    admin_token: str | None = None,
) -> FastAPI:
    """The portal as an ASGI app; pass ``state`` to load it in-process, or use the admin API."""
    portal = state or PortalState(payers, seed=seed, session_ttl_seconds=session_ttl_seconds, faults=faults)
    app = FastAPI(title="carecycle sandbox payer portal", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.portal = portal
    app.state.admin_token = admin_token

    @app.middleware("http")
    async def layout_revision(request: Request, call_next: Any) -> Response:
        root = str(request.scope.get("root_path", "")).rstrip("/")
        base.set(root)
        path = request.url.path[len(root) :] if root and request.url.path.startswith(root) else request.url.path
        variant = path.strip("/").split("/", 1)[0]
        revision.set(portal.layout_revision.get(variant, 1))
        response: Response = await call_next(request)
        return response

    app.include_router(cascade.router)
    app.include_router(harbor.router)
    app.include_router(downloads)
    app.add_exception_handler(AdminError, admin.admin_error)
    app.include_router(admin.router)
    return app
