"""The "harbor" payer's portal: one sign-in page in steps, POST forms, cards and definition lists."""

from __future__ import annotations

from datetime import date

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from sandbox.portal.pages import COOKIE, current, expired, faulty, page, parse_date, portal_of, read_form, redirect

router = APIRouter()


@router.get("/harbor/signin", response_class=HTMLResponse)
async def harbor_signin(request: Request) -> Response:
    return page("harbor/signin.html", step="password", timeout=request.query_params.get("timeout") == "1")


@router.post("/harbor/signin")
async def harbor_signin_post(request: Request) -> Response:
    portal = portal_of(request)
    payer_id = portal.by_variant["harbor"]
    form = await read_form(request)
    if "verification" in form:
        session = portal.session(request.cookies.get(COOKIE), payer_id)
        if session is None:
            return expired("harbor")
        if not portal.verify_code(payer_id, session, form["verification"]):
            return page("harbor/signin.html", step="code", problem="Verification failed.")
        return redirect("/harbor/dashboard")
    account = portal.check_password(payer_id, form.get("user_id", ""), form.get("passphrase", ""))
    if account is None:
        return page("harbor/signin.html", step="password", problem="We could not sign you in.")
    session = portal.start_session(payer_id, account)
    response = page("harbor/signin.html", step="code", sms=account.otp == "sms")
    response.set_cookie(COOKIE, session.token, httponly=True, samesite="strict")
    return response


async def _guard(request: Request) -> Response | None:
    portal = portal_of(request)
    if (fault := await faulty(portal)) is not None:
        return fault
    if current(portal, request, portal.by_variant["harbor"]) is None:
        return expired("harbor")
    return None


@router.get("/harbor/dashboard", response_class=HTMLResponse)
async def harbor_dashboard(request: Request) -> Response:
    return await _guard(request) or page("harbor/dashboard.html")


@router.get("/harbor/coverage", response_class=HTMLResponse)
async def harbor_coverage(request: Request) -> Response:
    return await _guard(request) or page("harbor/coverage.html", years=range(date.today().year, 1899, -1))


@router.post("/harbor/coverage", response_class=HTMLResponse)
async def harbor_coverage_post(request: Request) -> Response:
    portal = portal_of(request)
    if (blocked := await _guard(request)) is not None:
        return blocked
    form = await read_form(request)
    try:
        birth: date | None = date(int(form["dob_year"]), int(form["dob_month"]), int(form["dob_day"]))
    except (KeyError, ValueError):
        birth = None
    member = portal.payer(portal.by_variant["harbor"]).members.get(form.get("subscriber", "").strip())
    if member is None or birth is None or member.birth_date != birth:
        member = None
    return page(
        "harbor/coverage.html",
        years=range(date.today().year, 1899, -1),
        searched=True,
        member=member,
        active=member is not None and member.active_on(date.today()),
    )


@router.get("/harbor/claims", response_class=HTMLResponse)
async def harbor_claims(request: Request) -> Response:
    return await _guard(request) or page("harbor/claims.html")


@router.post("/harbor/claims", response_class=HTMLResponse)
async def harbor_claims_post(request: Request) -> Response:
    portal = portal_of(request)
    if (blocked := await _guard(request)) is not None:
        return blocked
    form = await read_form(request)
    member_id = form.get("member", "").strip()
    start, end = parse_date(form.get("from")), parse_date(form.get("to"))
    found = [
        c
        for c in portal.payer(portal.by_variant["harbor"]).claims.values()
        if c.member_id == member_id
        and (start is None or c.service_date >= start)
        and (end is None or c.service_date <= end)
    ]
    return page("harbor/claims.html", searched=True, claims=sorted(found, key=lambda c: c.service_date))


@router.get("/harbor/remits", response_class=HTMLResponse)
async def harbor_remits(request: Request) -> Response:
    portal = portal_of(request)
    if (blocked := await _guard(request)) is not None:
        return blocked
    eobs = sorted(portal.payer(portal.by_variant["harbor"]).eobs.values(), key=lambda e: e.eob_id)
    return page("harbor/remits.html", eobs=eobs)


@router.get("/harbor/signout")
async def harbor_signout(request: Request) -> Response:
    portal = portal_of(request)
    portal.sessions.pop(request.cookies.get(COOKIE, ""), None)
    return redirect("/harbor/signin")
