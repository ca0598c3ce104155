"""The sandbox payer portal (FastAPI + Jinja2): sign-in with password and one-time code, eligibility,
claim status and EOB downloads, for each portal payer in its own page layout, plus an admin API to load it.

Pages live under ``/<variant>/`` (``/cascade/...``, ``/harbor/...``); the admin API under ``/admin/``.
Page requests may stall or fail with a 503 page, deterministically from the seed (see ``Faults``).
"""

from __future__ import annotations

import asyncio
import json
from contextvars import ContextVar
from datetime import date
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape

from domain.cob import PriorLine
from sandbox.portal.state import (
    DEFAULT_PAYERS,
    Account,
    ClaimLineIn,
    Faults,
    Member,
    PortalClaim,
    PortalPayer,
    PortalState,
    PriorPayer,
    Session,
)

COOKIE = "portal_session"
_TEMPLATES = Environment(
    loader=FileSystemLoader(Path(__file__).parent / "templates"),
    autoescape=select_autoescape(["html"]),
)


def _money(cents: int | None) -> str:
    if cents is None:
        return "-"
    sign = "-" if cents < 0 else ""
    return f"{sign}${abs(cents) // 100:,}.{abs(cents) % 100:02d}"


_TEMPLATES.filters["money"] = _money


def _page(template: str, status: int = 200, **context: Any) -> HTMLResponse:
    html = _TEMPLATES.get_template(template).render(rev=_revision.get(), base=_base.get(), **context)
    return HTMLResponse(html, status_code=status)


def _redirect(path: str) -> RedirectResponse:
    return RedirectResponse(_base.get() + path, status_code=303)


_revision: ContextVar[int] = ContextVar("layout_revision", default=1)
# Where the portal is mounted (e.g. "/portal" inside the sandbox server): links and redirects start there.
_base: ContextVar[str] = ContextVar("root_path", default="")


async def _form(request: Request) -> dict[str, str]:
    body = (await request.body()).decode("utf-8", errors="replace")
    return {key: values[0] for key, values in parse_qs(body, keep_blank_values=True).items()}


def _date(text: str | None) -> date | None:
    try:
        return date.fromisoformat(text) if text else None
    except ValueError:
        return None


class AdminError(Exception):
    pass


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

    @app.middleware("http")
    async def layout_revision(request: Request, call_next: Any) -> Response:
        root = str(request.scope.get("root_path", "")).rstrip("/")
        _base.set(root)
        path = request.url.path[len(root) :] if root and request.url.path.startswith(root) else request.url.path
        variant = path.strip("/").split("/", 1)[0]
        _revision.set(portal.layout_revision.get(variant, 1))
        response: Response = await call_next(request)
        return response

    def payer_for(variant: str) -> str | None:
        return portal.by_variant.get(variant)

    async def faulty() -> Response | None:
        error, stall = portal.next_fault()
        if stall:
            await asyncio.sleep(stall)
        if error:
            return _page("error.html", 503)
        return None

    def current(request: Request, payer_id: str) -> Session | None:
        session = portal.session(request.cookies.get(COOKIE), payer_id)
        return session if session is not None and session.authenticated else None

    def expired(variant: str) -> Response:
        return _redirect("/cascade/login?expired=1" if variant == "cascade" else "/harbor/signin?timeout=1")

    # --- cascade: classic multi-page portal ---------------------------------------------------------------

    @app.get("/cascade/login", response_class=HTMLResponse)
    async def cascade_login(request: Request) -> Response:
        return _page("cascade/login.html", expired=request.query_params.get("expired") == "1")

    @app.post("/cascade/login")
    async def cascade_login_post(request: Request) -> Response:
        payer_id = portal.by_variant["cascade"]
        form = await _form(request)
        account = portal.check_password(payer_id, form.get("username", ""), form.get("password", ""))
        if account is None:
            return _page("cascade/login.html", 200, error="Invalid username or password.")
        session = portal.start_session(payer_id, account)
        response = _redirect("/cascade/verify")
        response.set_cookie(COOKIE, session.token, httponly=True, samesite="lax")
        return response

    @app.get("/cascade/verify", response_class=HTMLResponse)
    async def cascade_verify(request: Request) -> Response:
        session = portal.session(request.cookies.get(COOKIE), portal.by_variant["cascade"])
        if session is None:
            return expired("cascade")
        account = portal.payer(portal.by_variant["cascade"]).accounts[session.username.split("/", 1)[1]]
        return _page("cascade/verify.html", sms=account.otp == "sms")

    @app.post("/cascade/verify")
    async def cascade_verify_post(request: Request) -> Response:
        payer_id = portal.by_variant["cascade"]
        session = portal.session(request.cookies.get(COOKIE), payer_id)
        if session is None:
            return expired("cascade")
        form = await _form(request)
        if not portal.verify_code(payer_id, session, form.get("code", "")):
            return _page("cascade/verify.html", error="That code is not valid. Try again.")
        return _redirect("/cascade/home")

    @app.get("/cascade/home", response_class=HTMLResponse)
    async def cascade_home(request: Request) -> Response:
        if (fault := await faulty()) is not None:
            return fault
        if current(request, portal.by_variant["cascade"]) is None:
            return expired("cascade")
        return _page("cascade/home.html")

    @app.get("/cascade/eligibility", response_class=HTMLResponse)
    async def cascade_eligibility(request: Request) -> Response:
        payer_id = portal.by_variant["cascade"]
        if (fault := await faulty()) is not None:
            return fault
        if current(request, payer_id) is None:
            return expired("cascade")
        member_id = request.query_params.get("member_id")
        if member_id is None:
            return _page("cascade/eligibility.html", searched=False)
        birth = _date(request.query_params.get("dob"))
        member = portal.payer(payer_id).members.get(member_id.strip())
        if member is None or birth is None or member.birth_date != birth:
            return _page("cascade/eligibility.html", searched=True, member=None)
        return _page("cascade/eligibility.html", searched=True, member=member, active=member.active_on(date.today()))

    @app.get("/cascade/claims", response_class=HTMLResponse)
    async def cascade_claims(request: Request) -> Response:
        payer_id = portal.by_variant["cascade"]
        if (fault := await faulty()) is not None:
            return fault
        if current(request, payer_id) is None:
            return expired("cascade")
        number = request.query_params.get("claim_number")
        if number is None:
            return _page("cascade/claims.html", searched=False)
        claim = portal.payer(payer_id).claims.get(number.strip())
        if claim is not None and claim.member_id != request.query_params.get("member_id", "").strip():
            claim = None
        return _page("cascade/claims.html", searched=True, claim=claim)

    @app.get("/cascade/eobs", response_class=HTMLResponse)
    async def cascade_eobs(request: Request) -> Response:
        payer_id = portal.by_variant["cascade"]
        if (fault := await faulty()) is not None:
            return fault
        if current(request, payer_id) is None:
            return expired("cascade")
        eobs = sorted(portal.payer(payer_id).eobs.values(), key=lambda e: e.eob_id, reverse=True)
        return _page("cascade/eobs.html", eobs=eobs)

    @app.post("/cascade/logout")
    async def cascade_logout(request: Request) -> Response:
        portal.sessions.pop(request.cookies.get(COOKIE, ""), None)
        return _redirect("/cascade/login")

    # --- harbor: single sign-in page in steps, POST forms, cards and definition lists --------------------

    @app.get("/harbor/signin", response_class=HTMLResponse)
    async def harbor_signin(request: Request) -> Response:
        return _page("harbor/signin.html", step="password", timeout=request.query_params.get("timeout") == "1")

    @app.post("/harbor/signin")
    async def harbor_signin_post(request: Request) -> Response:
        payer_id = portal.by_variant["harbor"]
        form = await _form(request)
        if "verification" in form:
            session = portal.session(request.cookies.get(COOKIE), payer_id)
            if session is None:
                return expired("harbor")
            if not portal.verify_code(payer_id, session, form["verification"]):
                return _page("harbor/signin.html", step="code", problem="Verification failed.")
            return _redirect("/harbor/dashboard")
        account = portal.check_password(payer_id, form.get("user_id", ""), form.get("passphrase", ""))
        if account is None:
            return _page("harbor/signin.html", step="password", problem="We could not sign you in.")
        session = portal.start_session(payer_id, account)
        response = _page("harbor/signin.html", step="code", sms=account.otp == "sms")
        response.set_cookie(COOKIE, session.token, httponly=True, samesite="strict")
        return response

    async def harbor_guard(request: Request) -> Response | None:
        if (fault := await faulty()) is not None:
            return fault
        if current(request, portal.by_variant["harbor"]) is None:
            return expired("harbor")
        return None

    @app.get("/harbor/dashboard", response_class=HTMLResponse)
    async def harbor_dashboard(request: Request) -> Response:
        return await harbor_guard(request) or _page("harbor/dashboard.html")

    @app.get("/harbor/coverage", response_class=HTMLResponse)
    async def harbor_coverage(request: Request) -> Response:
        return await harbor_guard(request) or _page("harbor/coverage.html", years=range(date.today().year, 1899, -1))

    @app.post("/harbor/coverage", response_class=HTMLResponse)
    async def harbor_coverage_post(request: Request) -> Response:
        if (blocked := await harbor_guard(request)) is not None:
            return blocked
        form = await _form(request)
        try:
            birth: date | None = date(int(form["dob_year"]), int(form["dob_month"]), int(form["dob_day"]))
        except (KeyError, ValueError):
            birth = None
        member = portal.payer(portal.by_variant["harbor"]).members.get(form.get("subscriber", "").strip())
        if member is None or birth is None or member.birth_date != birth:
            member = None
        return _page(
            "harbor/coverage.html",
            years=range(date.today().year, 1899, -1),
            searched=True,
            member=member,
            active=member is not None and member.active_on(date.today()),
        )

    @app.get("/harbor/claims", response_class=HTMLResponse)
    async def harbor_claims(request: Request) -> Response:
        return await harbor_guard(request) or _page("harbor/claims.html")

    @app.post("/harbor/claims", response_class=HTMLResponse)
    async def harbor_claims_post(request: Request) -> Response:
        if (blocked := await harbor_guard(request)) is not None:
            return blocked
        form = await _form(request)
        member_id = form.get("member", "").strip()
        start, end = _date(form.get("from")), _date(form.get("to"))
        found = [
            c
            for c in portal.payer(portal.by_variant["harbor"]).claims.values()
            if c.member_id == member_id
            and (start is None or c.service_date >= start)
            and (end is None or c.service_date <= end)
        ]
        return _page("harbor/claims.html", searched=True, claims=sorted(found, key=lambda c: c.service_date))

    @app.get("/harbor/remits", response_class=HTMLResponse)
    async def harbor_remits(request: Request) -> Response:
        if (blocked := await harbor_guard(request)) is not None:
            return blocked
        eobs = sorted(portal.payer(portal.by_variant["harbor"]).eobs.values(), key=lambda e: e.eob_id)
        return _page("harbor/remits.html", eobs=eobs)

    @app.get("/harbor/signout")
    async def harbor_signout(request: Request) -> Response:
        portal.sessions.pop(request.cookies.get(COOKIE, ""), None)
        return _redirect("/harbor/signin")

    # --- EOB downloads, both variants ------------------------------------------------------------------

    @app.get("/{variant}/eob/{eob_id}.pdf")
    async def eob_pdf(variant: str, eob_id: str, request: Request) -> Response:
        payer_id = payer_for(variant)
        if payer_id is None:
            return Response(status_code=404)
        if current(request, payer_id) is None:
            return Response("sign in first", status_code=401)
        eob = portal.payer(payer_id).eobs.get(eob_id)
        if eob is None:
            return Response(status_code=404)
        return Response(
            eob.pdf,
            media_type="application/pdf",
            headers={"Content-Disposition": f'attachment; filename="{variant}-{eob.trace_number}.pdf"'},
        )

    # --- admin API ----------------------------------------------------------------------------------------

    def admin(request: Request) -> None:
        if admin_token is not None and request.headers.get("x-sandbox-admin") != admin_token:
            raise AdminError("admin token missing or wrong")

    @app.exception_handler(AdminError)
    async def admin_error(request: Request, exc: AdminError) -> JSONResponse:
        return JSONResponse({"error": str(exc)}, status_code=403)

    async def body(request: Request) -> Any:
        try:
            return json.loads(await request.body())
        except ValueError:
            return None

    def bad(message: str) -> JSONResponse:
        return JSONResponse({"error": message}, status_code=400)

    @app.get("/admin/health")
    async def health() -> dict[str, Any]:
        return {"ok": True, "payers": sorted(portal.payers)}

    @app.post("/admin/payers/{payer_id}/accounts")
    async def add_account(payer_id: str, request: Request) -> Response:
        admin(request)
        data = await body(request)
        try:
            portal.add_account(
                payer_id,
                Account(data["username"], data["password"], data.get("otp", "totp"), data.get("totp_secret")),
            )
        except (KeyError, TypeError, ValueError) as exc:
            return bad(f"bad account: {exc}")
        return JSONResponse({"ok": True})

    @app.post("/admin/payers/{payer_id}/members")
    async def load_members(payer_id: str, request: Request) -> Response:
        admin(request)
        data = await body(request)
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
            return bad(f"bad roster: {exc}")
        return JSONResponse({"loaded": count})

    @app.post("/admin/payers/{payer_id}/claims")
    async def load_claims(payer_id: str, request: Request) -> Response:
        admin(request)
        data = await body(request)
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
            return bad(f"bad claims: {exc}")
        return JSONResponse({"loaded": count})

    @app.post("/admin/payers/{payer_id}/eobs")
    async def issue_eob(payer_id: str, request: Request) -> Response:
        admin(request)
        data = await body(request) or {}
        try:
            eob = portal.issue_eob(
                payer_id,
                data.get("claim_numbers"),
                payment_date=_date(data.get("payment_date")),
                trace_number=data.get("trace_number"),
            )
        except (KeyError, TypeError, ValueError) as exc:
            return bad(f"cannot issue an EOB: {exc}")
        if eob is None:
            return JSONResponse({"issued": False})
        return JSONResponse(
            {"issued": True, "eob_id": eob.eob_id, "trace_number": eob.trace_number, "amount_cents": eob.amount_cents}
        )

    @app.get("/admin/payers/{payer_id}/outbox/{username}")
    async def outbox(payer_id: str, username: str, request: Request) -> Response:
        admin(request)
        code = portal.payer(payer_id).outbox.get(username) if payer_id in portal.payers else None
        if code is None:
            return JSONResponse({"error": "no code sent"}, status_code=404)
        return JSONResponse({"code": code})

    @app.post("/admin/layout/{variant}")
    async def set_layout(variant: str, request: Request) -> Response:
        admin(request)
        data = await body(request) or {}
        if variant not in portal.layout_revision:
            return bad(f"unknown variant {variant}")
        portal.layout_revision[variant] = int(data.get("revision", 1))
        return JSONResponse({"ok": True})

    @app.post("/admin/faults")
    async def set_faults(request: Request) -> Response:
        admin(request)
        data = await body(request) or {}
        portal.faults = Faults(
            float(data.get("error_rate", 0)), float(data.get("slow_rate", 0)), float(data.get("slow_seconds", 0))
        )
        return JSONResponse({"ok": True})

    return app
