"""What every page of the sandbox portal shares: the templates, the session cookie, the page layout revision and
mount point of the request, the deterministic faults, and the signed-in check."""

from __future__ import annotations

import asyncio
from contextvars import ContextVar
from datetime import date
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape

from sandbox.portal.state import PortalState, Session

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

# The page layout revision of the request's variant, set by the app's middleware for every request.
revision: ContextVar[int] = ContextVar("layout_revision", default=1)
# Where the portal is mounted (e.g. "/portal" inside the sandbox server): links and redirects start there.
base: ContextVar[str] = ContextVar("root_path", default="")


def page(template: str, status: int = 200, **context: Any) -> HTMLResponse:
    html = _TEMPLATES.get_template(template).render(rev=revision.get(), base=base.get(), **context)
    return HTMLResponse(html, status_code=status)


def redirect(path: str) -> RedirectResponse:
    return RedirectResponse(base.get() + path, status_code=303)


async def read_form(request: Request) -> dict[str, str]:
    body = (await request.body()).decode("utf-8", errors="replace")
    return {key: values[0] for key, values in parse_qs(body, keep_blank_values=True).items()}


def parse_date(text: str | None) -> date | None:
    try:
        return date.fromisoformat(text) if text else None
    except ValueError:
        return None


def portal_of(request: Request) -> PortalState:
    portal: PortalState = request.app.state.portal
    return portal


async def faulty(portal: PortalState) -> Response | None:
    """The next of the seeded faults: a stall, a 503 page, or nothing."""
    error, stall = portal.next_fault()
    if stall:
        await asyncio.sleep(stall)
    if error:
        return page("error.html", 503)
    return None


def current(portal: PortalState, request: Request, payer_id: str) -> Session | None:
    session = portal.session(request.cookies.get(COOKIE), payer_id)
    return session if session is not None and session.authenticated else None


def expired(variant: str) -> Response:
    return redirect("/cascade/login?expired=1" if variant == "cascade" else "/harbor/signin?timeout=1")
