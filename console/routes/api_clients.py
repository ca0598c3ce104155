"""For admins: the integration API's clients (add with scopes, the token shown once; revoke at once).

The console may not import the API package: the composition root hands over the operations
(:class:`console.web.ApiClientAdmin`, built from ``api.clients``). Every change is an audit event naming the
admin (``api_client.added``, ``api_client.revoked``).
"""

from __future__ import annotations

from fastapi import Depends, FastAPI, Request
from fastapi.responses import HTMLResponse, Response

from console.accounts import ConsoleUserView, Permission
from console.web import Console
from domain.errors import DomainError


def register(app: FastAPI, console: Console) -> None:
    admin = Depends(console.require(Permission.ADMIN))

    def page(request: Request, *, status_code: int = 200, **extra: object) -> HTMLResponse:
        clients = console.options.api_clients
        if clients is None:
            return console.error(request, "this console runs without the integration API", 404)
        with console.session_factory() as db:
            rows = clients.list(db)
        return console.render(
            request, "api_clients.html", status_code=status_code, clients=rows, scopes=clients.scopes, **extra
        )

    @app.get("/admin/api-clients", response_class=HTMLResponse)
    async def api_clients(request: Request, user: ConsoleUserView = admin) -> HTMLResponse:
        return page(request)

    @app.post("/admin/api-clients", response_model=None)
    async def add(request: Request, user: ConsoleUserView = admin) -> Response:
        form = await console.form(request)
        clients = console.options.api_clients
        if not console.csrf_ok(request, form):
            return console.error(request, "the form has expired; reload the page", 403)
        if clients is None:
            return console.error(request, "this console runs without the integration API", 404)
        name = form.get("name", "").strip().lower()
        scopes = tuple(s for s in clients.scopes if form.get(f"scope.{s}"))
        try:
            with console.session_factory() as db:
                token = clients.add(db, name, scopes, actor=user.username)
                db.commit()
        except DomainError as exc:
            return page(request, status_code=422, error=str(exc))
        return page(request, done=f"added {name}", token=token, token_for=name)

    @app.post("/admin/api-clients/{name}/revoke", response_model=None)
    async def revoke(request: Request, name: str, user: ConsoleUserView = admin) -> Response:
        form = await console.form(request)
        clients = console.options.api_clients
        if not console.csrf_ok(request, form):
            return console.error(request, "the form has expired; reload the page", 403)
        if clients is None:
            return console.error(request, "this console runs without the integration API", 404)
        try:
            with console.session_factory() as db:
                clients.revoke(db, name, actor=user.username)
                db.commit()
        except DomainError as exc:
            return page(request, status_code=422, error=str(exc))
        return page(request, done=f"revoked {name}")
