"""The way into the Temporal Web UI: for operations, auditors and admins, through the console's sign-in.

The embedded stack serves the Web UI behind a proxy that lets in only browsers the console vouched for
(workers.security.ui_proxy); this page checks the role, writes an audit event (the UI shows decoded payloads)
and sends the browser to the proxy with a one-time grant.
"""

from __future__ import annotations

from fastapi import Depends, FastAPI, Request
from fastapi.responses import RedirectResponse, Response

from console.accounts import ConsoleUserView, Permission
from console.web import Console


def register(app: FastAPI, console: Console) -> None:
    allowed = Depends(console.require(Permission.TEMPORAL_UI))

    @app.get("/temporal-ui", response_model=None)
    async def temporal_ui(request: Request, next: str = "/", user: ConsoleUserView = allowed) -> Response:
        grant = console.options.codec_grant
        if grant is None:
            return console.error(request, "this console runs without an embedded Temporal Web UI", 404)
        target = next if next.startswith("/") and not next.startswith("//") and "\\" not in next else "/"
        console.audit(
            user.username,
            "temporal_ui.open",
            entity_type="temporal_ui",
            entity_id="web-ui",
            details={"via": "console"},
        )
        return RedirectResponse(grant(user.username, target[:500]), status_code=303)
