"""The remote codec server (Temporal's codec protocol) so the Web UI can show decrypted payloads.

``POST /encode`` and ``POST /decode`` take and return ``{"payloads": [...]}`` in protobuf JSON. Authorization
is always on: a caller presents ``Authorization: Bearer <token>`` (the ``temporal`` CLI's ``--codec-auth``, a
Web UI behind OIDC forwarding a token) or, from a browser, the cookie that ``/authorize`` sets once the user
typed the token there (the Web UI sends it when its codec setting "Include cross-origin credentials" is
on). The cookie holds an HMAC of the token, not the token. CORS admits the Web UI origins only.
See docs/operations.md.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence
from html import escape
from urllib.parse import parse_qs

from fastapi import FastAPI, Request, Response
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import HTMLResponse
from google.protobuf import json_format
from temporalio.api.common.v1 import Payloads

from workers.security.codec import AesGcmCodec, PayloadDecryptionError

COOKIE = "carecycle_codec_access"
COOKIE_MAX_AGE = 12 * 3600
_COOKIE_CONTEXT = b"carecycle codec browser access"


def browser_credential(token: str) -> str:
    """What the browser cookie carries for ``token``: proof of it, useless as a bearer token elsewhere."""
    return hmac.new(token.encode(), _COOKIE_CONTEXT, hashlib.sha256).hexdigest()


_AUTHORIZE_PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>carecycle codec access</title></head>
<body style="font-family: system-ui, sans-serif; margin: 2rem"><h1>Decode payloads in the Temporal Web UI</h1>
<p>{message}</p>
<form method="post" action="/authorize"><label>Codec server token
<input type="password" name="token" autocomplete="off" required></label> <button>Authorize this browser</button></form>
<p>The token is in <code>$CARECYCLE_HOME/secrets/codec-server-token</code> (or CARECYCLE_CODEC_SERVER_TOKEN).
Then, in the Web UI's codec server settings, turn on <em>Include cross-origin credentials</em>.</p></body></html>"""


def create_codec_app(codec: AesGcmCodec, *, tokens: Sequence[str], allowed_origins: Sequence[str] = ()) -> FastAPI:
    if not [t for t in tokens if t]:
        raise ValueError("the codec server needs at least one access token")
    valid_tokens = [t for t in tokens if t]
    cookie_values = [browser_credential(t) for t in valid_tokens]
    app = FastAPI(title="carecycle codec server", docs_url=None, redoc_url=None, openapi_url=None)
    app.add_middleware(
        CORSMiddleware,
        allow_origins=list(allowed_origins),
        allow_credentials=True,
        allow_methods=["POST", "OPTIONS"],
        allow_headers=["content-type", "x-namespace", "authorization"],
    )

    def matches(presented: str, candidates: Sequence[str]) -> bool:
        # compare with every candidate (no early exit) so timing does not tell which one matched
        hits = [hmac.compare_digest(presented.encode(), c.encode()) for c in candidates]
        return bool(presented) and any(hits)

    def authorized(request: Request) -> bool:
        scheme, _, presented = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() == "bearer" and matches(presented.strip(), valid_tokens):
            return True
        return matches(request.cookies.get(COOKIE, ""), cookie_values)

    async def transform(request: Request, decode: bool) -> Response:
        if not authorized(request):
            return Response(
                status_code=401,
                content='{"error": "unauthorized"}',
                media_type="application/json",
                headers={"WWW-Authenticate": "Bearer"},
            )
        try:
            payloads = json_format.Parse(await request.body(), Payloads())
        except json_format.ParseError:
            return Response(status_code=400, content='{"error": "bad payloads"}', media_type="application/json")
        try:
            if decode:
                result = await codec.decode(payloads.payloads)
            else:
                result = await codec.encode(payloads.payloads)
        except PayloadDecryptionError as exc:
            return Response(status_code=400, content=f'{{"error": "{exc}"}}', media_type="application/json")
        return Response(content=json_format.MessageToJson(Payloads(payloads=result)), media_type="application/json")

    @app.post("/encode")
    async def encode(request: Request) -> Response:
        return await transform(request, decode=False)

    @app.post("/decode")
    async def decode(request: Request) -> Response:
        return await transform(request, decode=True)

    @app.get("/authorize", response_class=HTMLResponse)
    async def authorize_form() -> HTMLResponse:
        return HTMLResponse(_AUTHORIZE_PAGE.format(message="Enter the codec server token to let this browser decode."))

    @app.post("/authorize", response_class=HTMLResponse)
    async def authorize(request: Request) -> HTMLResponse:
        posted = parse_qs((await request.body()).decode(errors="replace"))
        token = posted.get("token", [""])[0].strip()
        if not matches(token, valid_tokens):
            return HTMLResponse(_AUTHORIZE_PAGE.format(message="That token is not valid."), status_code=401)
        page = HTMLResponse(
            _AUTHORIZE_PAGE.format(message=escape("This browser may now decode payloads for 12 hours."))
        )
        page.set_cookie(COOKIE, browser_credential(token), max_age=COOKIE_MAX_AGE, httponly=True, samesite="lax")
        return page

    @app.get("/health")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    return app
