"""The remote codec server (Temporal's codec protocol) so the Web UI can show decrypted payloads.

``POST /encode`` and ``POST /decode`` take and return ``{"payloads": [...]}`` in protobuf JSON. Authorization
is always on: a caller presents ``Authorization: Bearer <token>`` (the ``temporal`` CLI's ``--codec-auth``, a
Web UI behind OIDC forwarding a token) or, from a browser, the cookie that ``/authorize`` sets once the user
typed the token there (the Web UI sends it when its codec setting "Include cross-origin credentials" is
on). The cookie holds a random credential kept here, which expires here (idle 15 minutes, at most 8 hours),
whatever the browser does with the cookie. CORS admits the Web UI origins only. The embedded stack's Web UI
needs none of this: it decodes through its proxy (workers.security.ui_proxy). See docs/operations.md.
"""

from __future__ import annotations

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
from workers.security.ui_proxy import Credentials

COOKIE = "carecycle_codec_access"


_AUTHORIZE_PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>carecycle codec access</title></head>
<body style="font-family: system-ui, sans-serif; margin: 2rem"><h1>Decode payloads in the Temporal Web UI</h1>
<p>{message}</p>
<form method="post" action="/authorize"><label>Codec server token
<input type="password" name="token" autocomplete="off" required></label> <button>Authorize this browser</button></form>
<p>The token is in <code>$CARECYCLE_HOME/secrets/codec-server-token</code> (or CARECYCLE_CODEC_SERVER_TOKEN).
Then, in the Web UI's codec server settings, turn on <em>Include cross-origin credentials</em>.</p></body></html>"""


def create_codec_app(
    codec: AesGcmCodec,
    *,
    tokens: Sequence[str],
    allowed_origins: Sequence[str] = (),
    credentials: Credentials | None = None,
) -> FastAPI:
    if not [t for t in tokens if t]:
        raise ValueError("the codec server needs at least one access token")
    server = _CodecServer(codec, [t for t in tokens if t], credentials or Credentials())
    app = FastAPI(title="carecycle codec server", docs_url=None, redoc_url=None, openapi_url=None)
    app.add_middleware(
        CORSMiddleware,
        allow_origins=list(allowed_origins),
        allow_credentials=True,
        allow_methods=["POST", "OPTIONS"],
        allow_headers=["content-type", "x-namespace", "authorization"],
    )
    app.add_api_route("/encode", server.encode, methods=["POST"])
    app.add_api_route("/decode", server.decode, methods=["POST"])
    app.add_api_route("/authorize", server.authorize_form, methods=["GET"], response_class=HTMLResponse)
    app.add_api_route("/authorize", server.authorize, methods=["POST"], response_class=HTMLResponse)
    app.add_api_route("/health", _health, methods=["GET"])
    return app


def _matches(presented: str, candidates: Sequence[str]) -> bool:
    # compare with every candidate (no early exit) so timing does not tell which one matched
    hits = [hmac.compare_digest(presented.encode(), c.encode()) for c in candidates]
    return bool(presented) and any(hits)


class _CodecServer:
    """The codec server's routes over its codec, its tokens and the browsers' credentials."""

    def __init__(self, codec: AesGcmCodec, tokens: Sequence[str], browsers: Credentials) -> None:
        self.codec = codec
        self.tokens = tokens
        self.browsers = browsers

    def authorized(self, request: Request) -> bool:
        scheme, _, presented = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() == "bearer" and _matches(presented.strip(), self.tokens):
            return True
        return self.browsers.check(request.cookies.get(COOKIE)) is not None

    async def encode(self, request: Request) -> Response:
        return await self.transform(request, decode=False)

    async def decode(self, request: Request) -> Response:
        return await self.transform(request, decode=True)

    async def transform(self, request: Request, decode: bool) -> Response:
        if not self.authorized(request):
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
                result = await self.codec.decode(payloads.payloads)
            else:
                result = await self.codec.encode(payloads.payloads)
        except PayloadDecryptionError as exc:
            return Response(status_code=400, content=f'{{"error": "{exc}"}}', media_type="application/json")
        return Response(content=json_format.MessageToJson(Payloads(payloads=result)), media_type="application/json")

    async def authorize_form(self) -> HTMLResponse:
        return HTMLResponse(_AUTHORIZE_PAGE.format(message="Enter the codec server token to let this browser decode."))

    async def authorize(self, request: Request) -> HTMLResponse:
        posted = parse_qs((await request.body()).decode(errors="replace"))
        token = posted.get("token", [""])[0].strip()
        if not _matches(token, self.tokens):
            return HTMLResponse(_AUTHORIZE_PAGE.format(message="That token is not valid."), status_code=401)
        page = HTMLResponse(
            _AUTHORIZE_PAGE.format(
                message=escape("This browser may now decode payloads (until 15 minutes idle, at most 8 hours).")
            )
        )
        page.set_cookie(COOKIE, self.browsers.issue("codec-token"), httponly=True, samesite="lax")
        return page


async def _health() -> dict[str, str]:
    return {"status": "ok"}
