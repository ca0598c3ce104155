"""The "cascade" payer's portal: a classic multi-page site (login, a one-time code, then one page per task)."""

from __future__ import annotations

from datetime import date

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from sandbox.portal.pages import COOKIE, current, expired, faulty, page, parse_date, portal_of, read_form, redirect

router = APIRouter()


@router.get("/cascade/login", response_class=HTMLResponse)
async def cascade_login(request: Request) -> Response:
    return page("cascade/login.html", expired=request.query_params.get("expired") == "1")


@router.post("/cascade/login")
async def cascade_login_post(request: Request) -> Response:
    portal = portal_of(request)
    payer_id = portal.by_variant["cascade"]
    form = await read_form(request)
    account = portal.check_password(payer_id, form.get("username", ""), form.get("password", ""))
    if account is None:
        return page("cascade/login.html", 200, error="Invalid username or password.")
    session = portal.start_session(payer_id, account)
    response = redirect("/cascade/verify")
    response.set_cookie(COOKIE, session.token, httponly=True, samesite="lax")
    return response


@router.get("/cascade/verify", response_class=HTMLResponse)
async def cascade_verify(request: Request) -> Response:
    portal = portal_of(request)
    session = portal.session(request.cookies.get(COOKIE), portal.by_variant["cascade"])
    if session is None:
        return expired("cascade")
    account = portal.payer(portal.by_variant["cascade"]).accounts[session.username.split("/", 1)[1]]
    return page("cascade/verify.html", sms=account.otp == "sms")


@router.post("/cascade/verify")
async def cascade_verify_post(request: Request) -> Response:
    portal = portal_of(request)
    payer_id = portal.by_variant["cascade"]
    session = portal.session(request.cookies.get(COOKIE), payer_id)
    if session is None:
        return expired("cascade")
    form = await read_form(request)
    if not portal.verify_code(payer_id, session, form.get("code", "")):
        return page("cascade/verify.html", error="That code is not valid. Try again.")
    return redirect("/cascade/home")


@router.get("/cascade/home", response_class=HTMLResponse)
async def cascade_home(request: Request) -> Response:
    portal = portal_of(request)
    if (fault := await faulty(portal)) is not None:
        return fault
    if current(portal, request, portal.by_variant["cascade"]) is None:
        return expired("cascade")
    return page("cascade/home.html")


@router.get("/cascade/eligibility", response_class=HTMLResponse)
async def cascade_eligibility(request: Request) -> Response:
    portal = portal_of(request)
    payer_id = portal.by_variant["cascade"]
    if (fault := await faulty(portal)) is not None:
        return fault
    if current(portal, request, payer_id) is None:
        return expired("cascade")
    member_id = request.query_params.get("member_id")
    if member_id is None:
        return page("cascade/eligibility.html", searched=False)
    birth = parse_date(request.query_params.get("dob"))
    member = portal.payer(payer_id).members.get(member_id.strip())
    if member is None or birth is None or member.birth_date != birth:
        return page("cascade/eligibility.html", searched=True, member=None)
    return page("cascade/eligibility.html", searched=True, member=member, active=member.active_on(date.today()))


@router.get("/cascade/claims", response_class=HTMLResponse)
async def cascade_claims(request: Request) -> Response:
    portal = portal_of(request)
    payer_id = portal.by_variant["cascade"]
    if (fault := await faulty(portal)) is not None:
        return fault
    if current(portal, request, payer_id) is None:
        return expired("cascade")
    number = request.query_params.get("claim_number")
    if number is None:
        return page("cascade/claims.html", searched=False)
    claim = portal.payer(payer_id).claims.get(number.strip())
    if claim is not None and claim.member_id != request.query_params.get("member_id", "").strip():
        claim = None
    return page("cascade/claims.html", searched=True, claim=claim)


@router.get("/cascade/eobs", response_class=HTMLResponse)
async def cascade_eobs(request: Request) -> Response:
    portal = portal_of(request)
    payer_id = portal.by_variant["cascade"]
    if (fault := await faulty(portal)) is not None:
        return fault
    if current(portal, request, payer_id) is None:
        return expired("cascade")
    eobs = sorted(portal.payer(payer_id).eobs.values(), key=lambda e: e.eob_id, reverse=True)
    return page("cascade/eobs.html", eobs=eobs)


@router.post("/cascade/logout")
async def cascade_logout(request: Request) -> Response:
    portal = portal_of(request)
    portal.sessions.pop(request.cookies.get(COOKIE, ""), None)
    return redirect("/cascade/login")
