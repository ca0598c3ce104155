"""The portal's admin API (``/admin/...``): accounts, members, claims and EOBs loaded by the sandbox loader
(activities/portals/sandbox_loader.py), the one-time codes it sent, the page layout and the faults."""

from __future__ import annotations

import json
from datetime import date
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from domain.cob import PriorLine
from sandbox.portal.pages import parse_date, portal_of
from sandbox.portal.state import Account, ClaimLineIn, Faults, Member, PortalClaim, PriorPayer

router = APIRouter()


class AdminError(Exception):
    pass


async def admin_error(request: Request, exc: Exception) -> Response:
    return JSONResponse({"error": str(exc)}, status_code=403)


def _admin(request: Request) -> None:
    token = request.app.state.admin_token
    if token is not None and request.headers.get("x-sandbox-admin") != token:
        raise AdminError("admin token missing or wrong")


async def _body(request: Request) -> Any:
    try:
        return json.loads(await request.body())
    except ValueError:
        return None


def _bad(message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=400)


def _prior_payer(data: Any) -> PriorPayer | None:
    """A secondary claim's prior payer as the admin API takes it (see activities/portals/sandbox_loader.py)."""
    if data is None:
        return None
    return PriorPayer(
        str(data["payer_id"]),
        int(data["paid_cents"]),
        int(data.get("patient_responsibility_cents", 0)),
        tuple(
            None
            if line is None
            else PriorLine(
                int(line["paid_cents"]),
                int(line.get("patient_responsibility_cents", 0)),
                int(line["allowed_cents"]) if line.get("allowed_cents") is not None else None,
            )
            for line in data.get("lines", ())
        ),
    )


@router.get("/admin/health")
async def health(request: Request) -> dict[str, Any]:
    portal = portal_of(request)
    return {"ok": True, "payers": sorted(portal.payers)}


@router.post("/admin/payers/{payer_id}/accounts")
async def add_account(payer_id: str, request: Request) -> Response:
    portal = portal_of(request)
    _admin(request)
    data = await _body(request)
    try:
        portal.add_account(
            payer_id,
            Account(data["username"], data["password"], data.get("otp", "totp"), data.get("totp_secret")),
        )
    except (KeyError, TypeError, ValueError) as exc:
        return _bad(f"bad account: {exc}")
    return JSONResponse({"ok": True})


@router.post("/admin/payers/{payer_id}/members")
async def load_members(payer_id: str, request: Request) -> Response:
    portal = portal_of(request)
    _admin(request)
    data = await _body(request)
    try:
        members = [
            Member(
                str(item["member_id"]),
                date.fromisoformat(item["birth_date"]),
                str(item.get("plan", "PPO")),
                date.fromisoformat(item["active_from"]),
                date.fromisoformat(item["active_to"]) if item.get("active_to") else None,
                int(item.get("copay_cents", 2500)),
                int(item.get("deductible_remaining_cents", 0)),
            )
            for item in data
        ]
        count = portal.load_members(payer_id, members)
    except (KeyError, TypeError, ValueError) as exc:
        return _bad(f"bad roster: {exc}")
    return JSONResponse({"loaded": count})


@router.post("/admin/payers/{payer_id}/claims")
async def load_claims(payer_id: str, request: Request) -> Response:
    portal = portal_of(request)
    _admin(request)
    data = await _body(request)
    try:
        claims = [
            PortalClaim(
                str(item["claim_number"]),
                str(item["member_id"]),
                date.fromisoformat(item["service_date"]),
                tuple(
                    ClaimLineIn(
                        str(line["procedure"]),
                        int(line["charge_cents"]),
                        int(line.get("units", 1)),
                        tuple(line.get("modifiers", ())),
                    )
                    for line in item["lines"]
                ),
                date.fromisoformat(item.get("received_on") or date.today().isoformat()),
                prior_payer=_prior_payer(item.get("prior_payer")),
            )
            for item in data
        ]
        count = portal.load_claims(payer_id, claims)
    except (KeyError, TypeError, ValueError) as exc:
        return _bad(f"bad claims: {exc}")
    return JSONResponse({"loaded": count})


@router.post("/admin/payers/{payer_id}/eobs")
async def issue_eob(payer_id: str, request: Request) -> Response:
    portal = portal_of(request)
    _admin(request)
    data = await _body(request) or {}
    try:
        eob = portal.issue_eob(
            payer_id,
            data.get("claim_numbers"),
            payment_date=parse_date(data.get("payment_date")),
            trace_number=data.get("trace_number"),
        )
    except (KeyError, TypeError, ValueError) as exc:
        return _bad(f"cannot issue an EOB: {exc}")
    if eob is None:
        return JSONResponse({"issued": False})
    return JSONResponse(
        {"issued": True, "eob_id": eob.eob_id, "trace_number": eob.trace_number, "amount_cents": eob.amount_cents}
    )


@router.get("/admin/payers/{payer_id}/outbox/{username}")
async def outbox(payer_id: str, username: str, request: Request) -> Response:
    portal = portal_of(request)
    _admin(request)
    code = portal.payer(payer_id).outbox.get(username) if payer_id in portal.payers else None
    if code is None:
        return JSONResponse({"error": "no code sent"}, status_code=404)
    return JSONResponse({"code": code})


@router.post("/admin/layout/{variant}")
async def set_layout(variant: str, request: Request) -> Response:
    portal = portal_of(request)
    _admin(request)
    data = await _body(request) or {}
    if variant not in portal.layout_revision:
        return _bad(f"unknown variant {variant}")
    portal.layout_revision[variant] = int(data.get("revision", 1))
    return JSONResponse({"ok": True})


@router.post("/admin/faults")
async def set_faults(request: Request) -> Response:
    portal = portal_of(request)
    _admin(request)
    data = await _body(request) or {}
    portal.faults = Faults(
        float(data.get("error_rate", 0)), float(data.get("slow_rate", 0)), float(data.get("slow_seconds", 0))
    )
    return JSONResponse({"ok": True})
