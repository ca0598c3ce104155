"""The ``/fhir`` routes: metadata, transaction Bundles, create/update (plain and conditional), read, search,
and the operations (``api.operations``). Each call is authenticated, scoped, rate-limited and audited."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import parse_qsl, urlencode

from fastapi import APIRouter, Request
from fastapi.responses import Response

from api import asynchronous, batch
from api.app import ApiState, audit_call, fhir_response, principal, record_call, state_of
from api.clients import Principal
from api.fhir import parse
from api.fhir.resources import REGISTRY, definition
from api.metadata import capability_statement
from api.outcome import FhirError, from_domain
from api.writes import command_for, kind_of, location, status_line, write_mode
from domain.errors import DomainError
from domain.store.uow import UnitOfWork
from intake import Actor
from intake.outcomes import Outcome
from intake.service import IntakeUnit

router = APIRouter(prefix="/fhir")
MAX_COUNT = 200
Handler = Callable[[Principal], Awaitable[tuple[Response, str | None, dict[str, Any]]]]


async def audited(request: Request, scope: str, action: str, resource_type: str, handler: Handler) -> Response:
    state = state_of(request)
    who: Principal | None = None
    try:
        who = await principal(request, scope)
        response, resource_id, details = await handler(who)
    except FhirError as error:
        await record_call(state, who, action, resource_type, None, error.status, {"issue": error.code})
        raise
    except DomainError as error:
        converted = from_domain(error)
        await record_call(state, who, action, resource_type, None, converted.status, {"issue": converted.code})
        raise converted from None
    audited_in_unit = bool(details.pop("_audited", False))
    await record_call(
        state, who, action, resource_type, resource_id, response.status_code, details, audited=audited_in_unit
    )
    return response


async def read_body(request: Request, limit: int) -> dict[str, Any]:
    return parse.load_json(await read_raw(request, limit))


async def read_raw(request: Request, limit: int) -> bytes:
    """The request's body as sent (415 unless FHIR JSON, 413 beyond ``limit``)."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type not in ("application/fhir+json", "application/json"):
        raise FhirError(415, "send application/fhir+json")
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise FhirError(413, f"the body is larger than {limit} bytes")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise FhirError(413, f"the body is larger than {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def base_url(request: Request) -> str:
    return str(request.base_url).rstrip("/") + "/fhir"


def actor_of(who: Principal) -> Actor:
    return Actor("api", who.name)


# --- metadata and transactions ------------------------------------------------------------------------------


@router.get("/metadata", summary="CapabilityStatement: what this server implements (no token needed)")
async def metadata(request: Request) -> Response:
    return fhir_response(capability_statement(base_url(request)))


@router.post("", summary="A transaction Bundle of Patient, Coverage, Appointment, Encounter, Condition, ChargeItem")
async def transaction(request: Request) -> Response:
    state = state_of(request)

    async def handle(who: Principal) -> tuple[Response, str | None, dict[str, Any]]:
        raw = await read_raw(request, state.max_body_bytes)
        data = parse.load_json(raw)
        parse.validate("Bundle", data, expected="Bundle")
        entries = batch.entries_of(data)
        if asynchronous.wanted(request) and state.sealer is not None:  # journaled now, applied by the applier
            request_id = await asynchronous.accept(state, who, raw, len(entries), base_url(request))
            return asynchronous.accepted(base_url(request), request_id), request_id, {"_audited": True}
        applied = await asyncio.to_thread(batch.run_transaction, state.intake, who, entries)
        state.dispatch_soon(applied.starts, actor_of(who))
        body = batch.response(entries, applied.result, base_url(request))
        return fhir_response(body), None, {"_audited": True}

    return await audited(request, "intake", "transaction", "Bundle", handle)


@router.get(
    f"/{asynchronous.STATUS_PATH}/{{request_id}}",
    summary="The outcome of a Bundle sent with Prefer: respond-async (202 while queued)",
)
async def async_status(request: Request, request_id: str) -> Response:
    state = state_of(request)

    async def handle(who: Principal) -> tuple[Response, str | None, dict[str, Any]]:
        found = await asyncio.to_thread(asynchronous.status_of, state, who, request_id[:36])
        if found is None:
            raise FhirError(404, "no asynchronous request of this client with that id")
        return asynchronous.status_response(found), request_id[:36], {}

    return await audited(request, "intake", "transaction-async-status", "Bundle", handle)


@router.delete(f"/{asynchronous.STATUS_PATH}/{{request_id}}", summary="Cancel a queued Bundle (202)")
async def async_cancel(request: Request, request_id: str) -> Response:
    state = state_of(request)

    async def handle(who: Principal) -> tuple[Response, str | None, dict[str, Any]]:
        code = await asyncio.to_thread(asynchronous.cancel, state, who, request_id[:36])
        if code == 404:
            raise FhirError(404, "no asynchronous request of this client with that id")
        if code == 409:
            raise FhirError(409, "the request was applied already: nothing to cancel")
        return Response(status_code=202), request_id[:36], {"_audited": True}

    return await audited(request, "intake", "transaction-async-cancel", "Bundle", handle)


# --- create and update ----------------------------------------------------------------------------------------


async def _write(request: Request, resource_type: str, method: str, target: str | None) -> Response:
    state = state_of(request)
    spec = definition(resource_type)
    if not spec.writable:
        raise FhirError(405, f"{resource_type} is read-only here", code="not-supported")

    async def handle(who: Principal) -> tuple[Response, str | None, dict[str, Any]]:
        data = await read_body(request, state.max_body_bytes)
        parse.validate(resource_type, data, expected=resource_type)
        if target is not None and data.get("id") not in (None, target):
            raise FhirError(400, "the resource's id differs from the id in the URL", expression=f"{resource_type}.id")
        write, keyed_by = write_mode(
            method,
            target,
            request.headers.get("if-none-exist"),
            request.headers.get("if-match"),
            request.url.query or None,
            resource_type,
        )

        def work(unit: IntakeUnit) -> Outcome:
            command = command_for(resource_type, data, write, None, unit.session, keyed_by=keyed_by)
            outcome = unit.handle(command)
            code, _ = status_line(outcome)
            action = "create" if method == "POST" else "update"
            audit_call(unit.session, who, action, resource_type, outcome.id, code, {"change": outcome.change.value})
            return outcome

        applied = await asyncio.to_thread(state.intake.run, actor_of(who), work)
        state.dispatch_soon(applied.starts, actor_of(who))
        outcome = applied.result
        status, _ = status_line(outcome)
        headers = {
            "ETag": f'W/"{outcome.version}"',
            "Location": f"{base_url(request)}/{location(resource_type, outcome)}",
        }
        if "return=minimal" in request.headers.get("prefer", ""):
            return Response(status_code=status, headers=headers), outcome.id, {"_audited": True}
        body = await asyncio.to_thread(_read, state, resource_type, outcome.id)
        assert body is not None
        return fhir_response(body, status, headers), outcome.id, {"_audited": True}

    action = "create" if method == "POST" else "update"
    return await audited(request, "intake", action, resource_type, handle)


@router.post("/{resource_type}", summary="Create (If-None-Exist: identifier=system|value for a conditional create)")
async def create(request: Request, resource_type: str) -> Response:
    return await _write(request, resource_type, "POST", None)


@router.put("/{resource_type}", summary="Conditional update: PUT /fhir/{type}?identifier=system|value")
async def conditional_update(request: Request, resource_type: str) -> Response:
    return await _write(request, resource_type, "PUT", None)


@router.put("/{resource_type}/{resource_id}", summary='Update by id (If-Match: W/"version")')
async def update(request: Request, resource_type: str, resource_id: str) -> Response:
    return await _write(request, resource_type, "PUT", resource_id)


# --- read and search ------------------------------------------------------------------------------------------


def _read(state: ApiState, resource_type: str, resource_id: str) -> dict[str, Any] | None:
    with UnitOfWork(state.session_factory) as uow:
        return definition(resource_type).read(uow.session, resource_id)


@router.get("/{resource_type}/{resource_id}", summary="Read a resource (ETag: its version)")
async def read(request: Request, resource_type: str, resource_id: str) -> Response:
    state = state_of(request)
    spec = definition(resource_type)

    async def handle(who: Principal) -> tuple[Response, str | None, dict[str, Any]]:
        body = await asyncio.to_thread(_read, state, spec.type, resource_id)
        if body is None:
            raise FhirError(404, f"no {resource_type} with that id")
        headers = {"ETag": f'W/"{body["meta"]["versionId"]}"'}
        return fhir_response(body, 200, headers), resource_id, {}

    return await audited(request, "read", "read", resource_type, handle)


@router.get("/{resource_type}", summary="Search (see the CapabilityStatement for each type's parameters)")
async def search(request: Request, resource_type: str) -> Response:
    state = state_of(request)
    spec = definition(resource_type)

    async def handle(who: Principal) -> tuple[Response, str | None, dict[str, Any]]:
        pairs = parse_qsl(request.url.query, keep_blank_values=True)
        count, offset = _paging(pairs)
        criteria = [(k, v) for k, v in pairs if k not in ("_count", "_offset")]

        def run() -> tuple[int, list[dict[str, Any]]]:
            with UnitOfWork(state.session_factory) as uow:
                return spec.search(uow.session, criteria, count, offset)

        total, resources = await asyncio.to_thread(run)
        base = base_url(request)
        body: dict[str, Any] = {
            "resourceType": "Bundle",
            "type": "searchset",
            "total": total,
            "link": [{"relation": "self", "url": f"{base}/{resource_type}?{request.url.query}"}],
            "entry": [
                {"fullUrl": f"{base}/{resource_type}/{r['id']}", "resource": r, "search": {"mode": "match"}}
                for r in resources
            ],
        }
        if offset + count < total:
            following = urlencode([*criteria, ("_count", str(count)), ("_offset", str(offset + count))])
            body["link"].append({"relation": "next", "url": f"{base}/{resource_type}?{following}"})
        return fhir_response(body), None, {"matches": total}

    return await audited(request, "read", "search", resource_type, handle)


def _paging(pairs: list[tuple[str, str]]) -> tuple[int, int]:
    values = dict(pairs)
    try:
        count = int(values.get("_count", "50"))
        offset = int(values.get("_offset", "0"))
    except ValueError:
        raise FhirError(400, "_count and _offset are whole numbers") from None
    if not 0 <= count <= MAX_COUNT or offset < 0:
        raise FhirError(400, f"_count is 0 to {MAX_COUNT}, _offset not negative")
    return count, offset


__all__ = ["REGISTRY", "kind_of", "router"]
