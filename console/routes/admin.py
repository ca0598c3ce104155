"""For admins: console users (add, role, disable and enable, reset the password, end their sessions).

Every change is an audit event naming the admin (console.accounts). A reset password is generated here and
shown once to the admin, never stored in clear or logged; the user's sessions end with it. An admin cannot
disable or demote themself (somebody must be left to sign in and undo a mistake).
"""

from __future__ import annotations

from fastapi import Depends, FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from console.accounts import (
    AccountError,
    ConsoleUserView,
    Permission,
    Role,
    add_user,
    find_user,
    generate_password,
    list_users,
    parse_role,
    revoke_sessions,
    set_disabled,
    set_password,
    set_role,
)
from console.passwords import PasswordRefused
from console.web import Console
from domain.errors import NotFound

ACTIONS = ("role", "disable", "enable", "reset", "revoke")


def register(app: FastAPI, console: Console) -> None:
    admin = Depends(console.require(Permission.ADMIN))

    @app.get("/admin/users", response_class=HTMLResponse)
    async def users(request: Request, user: ConsoleUserView = admin) -> HTMLResponse:
        return _page(console, request)

    @app.post("/admin/users", response_model=None)
    async def add(request: Request, user: ConsoleUserView = admin) -> Response:
        form = await console.form(request)
        if not console.csrf_ok(request, form):
            return console.error(request, "the form has expired; reload the page", 403)
        return _add(console, request, form, user)

    @app.post("/admin/users/{username}/{action}", response_model=None)
    async def change(request: Request, username: str, action: str, user: ConsoleUserView = admin) -> Response:
        form = await console.form(request)
        if not console.csrf_ok(request, form):
            return console.error(request, "the form has expired; reload the page", 403)
        if action not in ACTIONS:
            return console.error(request, "there is no such page", 404)
        if username == user.username and action in ("role", "disable"):
            return _page(
                console, request, error="you cannot disable or change the role of your own account", status_code=422
            )
        return _change(console, request, form, user, username, action)


def _page(
    console: Console,
    request: Request,
    *,
    error: str | None = None,
    done: str | None = None,
    status_code: int = 200,
    **extra: str,
) -> HTMLResponse:
    with console.session_factory() as db:
        users = list_users(db)
    return console.render(
        request,
        "users.html",
        status_code=status_code,
        users=users,
        roles=[r.value for r in Role],
        error=error,
        done=done,
        **extra,
    )


def _add(console: Console, request: Request, form: dict[str, str], user: ConsoleUserView) -> Response:
    """A new user; a password generated here (none typed) is shown once to the admin."""
    name = form.get("username", "").strip().lower()
    password = form.get("password", "") or generate_password()
    try:
        role = parse_role(form.get("role", ""))
        with console.session_factory() as db:
            add_user(db, name, role, password, actor=user.username)
            db.commit()
    except (AccountError, PasswordRefused) as exc:
        return _page(console, request, error=str(exc), status_code=422)
    shown = "" if form.get("password") else password
    return _page(console, request, done=f"added {name} ({role.value})", new_password=shown, new_password_for=name)


def _change(
    console: Console, request: Request, form: dict[str, str], user: ConsoleUserView, username: str, action: str
) -> Response:
    """One of ACTIONS on another user (or on oneself, but for a role change or a disable)."""
    password = ""
    try:
        with console.session_factory() as db:
            if find_user(db, username) is None:
                raise NotFound("there is no such user")
            if action == "role":
                set_role(db, username, parse_role(form.get("role", "")), actor=user.username)
            elif action in ("disable", "enable"):
                set_disabled(db, username, action == "disable", actor=user.username)
                if action == "enable":
                    console.throttle.clear_account(db, username)
            elif action == "reset":
                password = generate_password()
                set_password(db, username, password, actor=user.username)
                console.throttle.clear_account(db, username)
            else:
                revoke_sessions(db, username, actor=user.username)
            db.commit()
    except NotFound:
        return console.error(request, "there is no such user", 404)
    except (AccountError, PasswordRefused) as exc:
        return _page(console, request, error=str(exc), status_code=422)
    if action == "reset":
        return _page(
            console, request, done=f"new password for {username}", new_password=password, new_password_for=username
        )
    if username == user.username and action == "revoke":
        return RedirectResponse("/login?reason=revoked", status_code=303)
    return RedirectResponse(f"/admin/users?done={action}", status_code=303)
