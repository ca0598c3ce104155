"""The clearinghouse's HTTP API (FastAPI), mounted by sandbox.server under ``/clearinghouse``.

X12 goes in and out as the request or response body (``text/plain`` or ``application/edi-x12``); everything
else is JSON. Routes (relative to the mount point):

    POST /x12/837                 837P batch -> JSON receipt with the 999 (and the 277CA, also in the mailbox)
    POST /x12/270                 270 -> 271 (real time)
    POST /x12/276                 276 -> 277 (real time)
    GET  /mailbox?kind=277CA&kind=835[&limit=100][&include_delivered=true]  undelivered documents, oldest first
    GET  /mailbox/{id}            one document
    POST /mailbox/confirm         {"ids": [...]}: the client has stored them; they leave the mailbox
    GET  /health
    POST /admin/roster            {"members": [...], "replace": false}: load the payers' enrollment rosters
    POST /admin/advance           {"days": 14}: move sandbox time forward, releasing what is due
    POST /admin/release           release due 835s now
    POST /admin/claims/{claim_id}/follow-up   {"kind": "reversal"|"recoupment", "share_bp": 10500}
    GET  /admin/claims, /admin/status, /admin/fee-schedules

Errors are JSON ``{"error": code, "message": text}``: 400 for unreadable X12 or bad input, 404 for unknown ids,
413 for bodies over 20 MB. Messages name segment positions and codes, never PHI.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, FastAPI, Query, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from starlette.concurrency import run_in_threadpool

from domain.errors import DomainError, NotFound
from sandbox.clearinghouse.payers import PLANS, fee_schedule
from sandbox.clearinghouse.service import ClearinghouseService

MAX_BODY_BYTES = 20 * 1024 * 1024
X12_MEDIA_TYPE = "application/edi-x12"


class _BadRequest(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


async def _x12_body(request: Request) -> str:
    raw = await request.body()
    if len(raw) > MAX_BODY_BYTES:
        raise _BadRequest(413, "too_large", f"body is {len(raw)} bytes, the limit is {MAX_BODY_BYTES}")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise _BadRequest(400, "x12_invalid", "body is not UTF-8 text") from None


async def _json_body(request: Request) -> dict[str, Any]:
    try:
        data = await request.json()
    except ValueError:
        raise _BadRequest(400, "invalid", "body is not JSON") from None
    if not isinstance(data, dict):
        raise _BadRequest(400, "invalid", "body must be a JSON object")
    return data


def _error(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse({"error": code, "message": message}, status_code=status)


async def _guarded(call: Callable[[], Any]) -> Any:
    try:
        return await run_in_threadpool(call)
    except NotFound as error:
        raise _BadRequest(404, error.code, error.message) from None
    except DomainError as error:
        raise _BadRequest(400, error.code, error.message) from None


def clearinghouse_router(service: ClearinghouseService) -> APIRouter:
    router = APIRouter()
    _add_x12_routes(router, service)
    _add_mailbox_routes(router, service)
    _add_admin_routes(router, service)
    return router


def _add_x12_routes(router: APIRouter, service: ClearinghouseService) -> None:
    """``GET /health`` and the X12 exchanges: 837 (batch, answered with a receipt), 270 and 276 (real time)."""

    @router.get("/health")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    @router.post("/x12/837")
    async def submit_837(request: Request) -> Response:
        text = await _x12_body(request)
        receipt = await _guarded(lambda: service.submit_837(text, channel="http"))
        return JSONResponse(receipt.to_json())

    @router.post("/x12/270")
    async def eligibility(request: Request) -> Response:
        text = await _x12_body(request)
        return PlainTextResponse(await _guarded(lambda: service.eligibility(text)), media_type=X12_MEDIA_TYPE)

    @router.post("/x12/276")
    async def claim_status(request: Request) -> Response:
        text = await _x12_body(request)
        return PlainTextResponse(await _guarded(lambda: service.claim_status(text)), media_type=X12_MEDIA_TYPE)


def _add_mailbox_routes(router: APIRouter, service: ClearinghouseService) -> None:
    """The mailbox: list undelivered documents, read one, confirm what the client stored."""

    @router.get("/mailbox")
    async def mailbox(
        kind: list[str] = Query(default=["999", "277CA", "835"]),
        include_delivered: bool = False,
        limit: int = Query(default=100, ge=1, le=1000),
    ) -> Response:
        kinds = tuple(k.upper() for k in kind)
        documents = await _guarded(lambda: service.mailbox(kinds, include_delivered=include_delivered, limit=limit))
        return JSONResponse({"documents": [d.to_json() for d in documents]})

    @router.get("/mailbox/{document_id}")
    async def document(document_id: str) -> Response:
        return JSONResponse((await _guarded(lambda: service.document(document_id))).to_json())

    @router.post("/mailbox/confirm")
    async def confirm(request: Request) -> Response:
        data = await _json_body(request)
        ids = data.get("ids")
        if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
            raise _BadRequest(400, "invalid", "ids must be a list of document ids")
        return JSONResponse({"confirmed": await _guarded(lambda: service.confirm(ids))})


def _add_admin_routes(router: APIRouter, service: ClearinghouseService) -> None:
    """``/admin``: rosters, sandbox time, releases and follow-ups, and what the sandbox holds."""

    @router.post("/admin/roster")
    async def roster(request: Request) -> Response:
        data = await _json_body(request)
        members = data.get("members")
        if not isinstance(members, list) or not all(isinstance(m, dict) for m in members):
            raise _BadRequest(400, "invalid", "members must be a list of objects")
        loaded = await _guarded(lambda: service.load_roster(members, replace_payers=bool(data.get("replace"))))
        return JSONResponse({"loaded": loaded})

    @router.post("/admin/advance")
    async def advance(request: Request) -> Response:
        data = await _json_body(request)
        days = data.get("days")
        if not isinstance(days, int | float) or isinstance(days, bool):
            raise _BadRequest(400, "invalid", "days must be a number")
        now = await _guarded(lambda: service.advance(float(days)))
        return JSONResponse({"now": now.isoformat()})

    @router.post("/admin/release")
    async def release() -> Response:
        return JSONResponse({"documents": await _guarded(service.release_due)})

    @router.post("/admin/claims/{claim_id}/follow-up")
    async def follow_up(claim_id: str, request: Request) -> Response:
        data = await _json_body(request)
        share = data.get("share_bp")
        if share is not None and (not isinstance(share, int) or isinstance(share, bool)):
            raise _BadRequest(400, "invalid", "share_bp must be an integer")
        await _guarded(lambda: service.schedule_follow_up(claim_id, str(data.get("kind", "")), share))
        return JSONResponse({"scheduled": claim_id})

    @router.get("/admin/claims")
    async def claims() -> Response:
        return JSONResponse({"claims": await _guarded(service.claims_overview)})

    @router.get("/admin/status")
    async def status() -> Response:
        return JSONResponse(await _guarded(service.status))

    @router.get("/admin/fee-schedules")
    async def fee_schedules() -> Response:
        return JSONResponse({payer: fee_schedule(plan) for payer, plan in sorted(PLANS.items())})


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(_BadRequest)
    async def bad_request(request: Request, error: _BadRequest) -> Response:
        return _error(error.status, error.code, error.message)


def create_clearinghouse_app(service: ClearinghouseService) -> FastAPI:
    """The clearinghouse alone (no scheduler): the tests and the server mount this."""
    app = FastAPI(title="carecycle sandbox clearinghouse", docs_url=None, redoc_url=None, openapi_url=None)
    install_error_handlers(app)
    app.include_router(clearinghouse_router(service))
    app.state.clearinghouse = service
    return app
