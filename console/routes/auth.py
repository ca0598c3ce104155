"""Sign-in, sign-out and the signed-in user's own password.

A sign-in is refused alike for a wrong password, an unknown name and a disabled account (401), and throttled
alike for known and unknown names (429, console.throttle); a throttled address waits even with the right
password. A success starts a server-side session (console.sessions) and marks the browser as a known device of
that user. Sign-out ends the session in the store, so the cookie is worthless afterwards, wherever it was copied.
"""

from __future__ import annotations

import logging
import secrets
from datetime import datetime

from fastapi import Depends, FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from console.accounts import ConsoleUserView, Permission, SignInRefused, authenticate, change_own_password
from console.passwords import MAX_LENGTH, PasswordRefused
from console.sessions import COOKIE, DEVICE_COOKIE, DEVICE_LIFETIME, LOGIN_COOKIE, end_session, start_session
from console.web import Console

log = logging.getLogger("carecycle.console")

REFUSED = "wrong user name or password"
THROTTLED = "too many failed sign-ins; try again later"


def safe_next(target: str) -> str:
    """Only a path on this console: never another host (``//evil``, ``/\\evil``) after signing in."""
    if (
        target.startswith("/")
        and not target.startswith(("//", "/\\"))
        and not any(ch in target for ch in "\r\n\\")
        and len(target) < 2000
    ):
        return target
    return "/dashboard"


def register(app: FastAPI, console: Console) -> None:
    _register_sign_in(app, console)
    _register_sign_out(app, console)
    _register_account(app, console)


# --- sign-in -------------------------------------------------------------------------------------------------


def _register_sign_in(app: FastAPI, console: Console) -> None:
    @app.get("/login", response_class=HTMLResponse)
    async def login_form(request: Request, next: str = "/dashboard") -> HTMLResponse:
        return _login_page(console, request, next=safe_next(next))

    @app.post("/login", response_model=None)
    async def login(request: Request) -> Response:
        return await _sign_in(console, request)


def _login_page(
    console: Console,
    request: Request,
    *,
    next: str,
    username: str = "",
    error: str | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    from console.app import IDLE_MESSAGES

    nonce = request.cookies.get(LOGIN_COOKIE) or secrets.token_urlsafe(16)
    notice = IDLE_MESSAGES.get(request.query_params.get("reason", ""))
    page = console.render(
        request,
        "login.html",
        status_code=status_code,
        error=error,
        notice=None if error else notice,
        next=next,
        username=username,
        csrf=console.signer.login_token(nonce),
    )
    page.set_cookie(
        LOGIN_COOKIE, nonce, max_age=3600, httponly=True, samesite="lax", secure=console.options.secure_cookies
    )
    return page


async def _sign_in(console: Console, request: Request) -> Response:
    """The posted sign-in: throttled, then the password checked, then a session started (see the module doc)."""
    form = await console.form(request)
    username = form.get("username", "").strip().lower()[:200]
    password = form.get("password", "")
    target = safe_next(form.get("next", "/dashboard"))

    def refused(message: str, status_code: int) -> HTMLResponse:
        return _login_page(
            console, request, next=target, username=username[:60], error=message, status_code=status_code
        )

    if not console.signer.login_ok(request.cookies.get(LOGIN_COOKIE), form.get("csrf", "")):
        return refused("the sign-in form has expired; please sign in again", 403)
    now, address = console.now(), console.address(request)
    device = console.signer.device_of(request.cookies.get(DEVICE_COOKIE), username, now=now)
    keys = console.throttle.keys(address=address, username=username, device=device)
    with console.session_factory() as db:
        if console.throttle.locked_until(db, keys, now) is not None:
            log.warning("console sign-in throttled")
            return refused(THROTTLED, 429)
        try:
            if len(password) > MAX_LENGTH:
                raise SignInRefused(REFUSED)
            user = authenticate(db, username, password, now=now)
        except SignInRefused:
            tripped = console.throttle.failed(db, keys, now)
            db.commit()
            # not the typed name: people type passwords into the name field
            log.warning("console sign-in failed%s", f" (now throttled: {', '.join(tripped)})" if tripped else "")
            return refused(REFUSED, 401)
        console.throttle.succeeded(db, keys)
        token, _ = start_session(db, user.id, policy=console.options.sessions, now=now, client_address=address)
        db.commit()
    log.info("console sign-in: %s (%s)", user.username, user.role.value)
    return _signed_in(console, target, token, user, known_device=device is not None, now=now)


def _signed_in(
    console: Console, target: str, token: str, user: ConsoleUserView, *, known_device: bool, now: datetime
) -> Response:
    """The redirect after a sign-in: the session cookie, and a device cookie for a browser not yet known."""
    response = RedirectResponse(target, status_code=303)
    response.delete_cookie(LOGIN_COOKIE)
    secure = console.options.secure_cookies
    # No max-age: the cookie dies with the browser; the server ends the session anyway (idle, lifetime).
    response.set_cookie(COOKIE, token, httponly=True, samesite="strict", secure=secure)
    if not known_device:
        response.set_cookie(
            DEVICE_COOKIE,
            console.signer.device_cookie(user.username, now=now),
            max_age=int(DEVICE_LIFETIME.total_seconds()),
            httponly=True,
            samesite="strict",
            secure=secure,
        )
    return response


# --- sign-out ------------------------------------------------------------------------------------------------


def _register_sign_out(app: FastAPI, console: Console) -> None:
    anyone = Depends(console.signed_in)

    @app.post("/logout", response_model=None)
    async def logout(request: Request, user: ConsoleUserView = anyone) -> Response:
        form = await console.form(request)
        if not console.csrf_ok(request, form):
            return console.error(request, "the form has expired; reload the page", 403)
        with console.session_factory() as db:
            end_session(db, request.state.session.id, reason="signed_out", now=console.now())
            db.commit()
        log.info("console sign-out: %s", user.username)
        response = RedirectResponse("/login", status_code=303)
        response.delete_cookie(COOKIE)
        return response


# --- the signed-in user's own account ------------------------------------------------------------------------


def _register_account(app: FastAPI, console: Console) -> None:
    viewer = Depends(console.require(Permission.VIEW))

    @app.get("/account", response_class=HTMLResponse)
    async def account(request: Request, user: ConsoleUserView = viewer) -> HTMLResponse:
        return console.render(request, "account.html", error=None)

    @app.post("/account/password", response_model=None)
    async def change_password(request: Request, user: ConsoleUserView = viewer) -> Response:
        form = await console.form(request)
        if not console.csrf_ok(request, form):
            return console.error(request, "the form has expired; reload the page", 403)
        if form.get("new", "") != form.get("repeat", ""):
            return console.render(request, "account.html", status_code=422, error="the two new passwords differ")
        with console.session_factory() as db:
            try:
                change_own_password(db, user.username, form.get("current", ""), form.get("new", ""), now=console.now())
            except (SignInRefused, PasswordRefused) as exc:
                db.commit()  # a wrong current password is an audit event
                return console.render(request, "account.html", status_code=422, error=str(exc))
            db.commit()
        response = RedirectResponse("/login?reason=password", status_code=303)
        response.delete_cookie(COOKIE)
        return response
