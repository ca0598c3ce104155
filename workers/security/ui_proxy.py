"""The embedded Temporal Web UI behind the console's sign-in, decoding payloads out of the box.

The dev server's own Web UI listens on loopback on an internal port; this small proxy serves it on the public
UI port. Every request needs a browser credential that only the console hands out: a signed-in operations,
auditor or admin user opens ``/temporal-ui`` on the console, which mints a one-time grant (HMAC under a key the
stack makes at start, valid 60 seconds) and sends the browser here (``/_carecycle/authorize``); the proxy keeps
a random credential server-side (idle 15 minutes, at most 8 hours) and sets only its id in a cookie. A browser
without one is sent to the console.

The UI is started with its codec endpoint on this same origin (``/codec``), so the browser sends its cookie
there like to any page and no setting has to be changed in the UI; the proxy forwards those calls to the codec
server with the codec server's bearer token, which never reaches the browser. The codec server itself stays
token-protected for everyone else (``temporal --codec-auth``).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from urllib.parse import quote

import httpx
from fastapi import FastAPI, Request
from fastapi.responses import RedirectResponse, Response

COOKIE = "carecycle_temporal_ui"
GRANT_SECONDS = 60
IDLE_SECONDS = 15 * 60
LIFETIME_SECONDS = 8 * 3600
HOP_BY_HOP = {
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailers",
    "transfer-encoding",
    "upgrade",
    "content-length",
    "content-encoding",
    "host",
    "cookie",
}


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class Grants:
    """One-time grants the console mints and the proxy redeems (same process, shared key)."""

    def __init__(self, key: bytes | None = None, clock: Callable[[], float] = time.time) -> None:
        self._key = key or secrets.token_bytes(32)
        self._clock = clock
        self._used: dict[str, float] = {}

    def mint(self, username: str, next_path: str = "/") -> str:
        body = _b64(
            json.dumps(
                {"u": username, "n": secrets.token_urlsafe(12), "e": self._clock() + GRANT_SECONDS, "p": next_path}
            ).encode()
        )
        return f"{body}.{_b64(hmac.new(self._key, body.encode(), hashlib.sha256).digest())}"

    def redeem(self, grant: str) -> tuple[str, str] | None:
        """(user name, next path) of a good, fresh, unused grant; None otherwise."""
        body, _, mac = grant.partition(".")
        try:
            if not hmac.compare_digest(_unb64(mac), hmac.new(self._key, body.encode(), hashlib.sha256).digest()):
                return None
            fields = json.loads(_unb64(body))
            nonce, expires = str(fields["n"]), float(fields["e"])
        except (ValueError, KeyError, TypeError):
            return None
        now = self._clock()
        self._used = {n: e for n, e in self._used.items() if e > now}
        if expires <= now or nonce in self._used:
            return None
        self._used[nonce] = expires
        path = str(fields.get("p") or "/")
        return str(fields["u"]), path if path.startswith("/") and not path.startswith("//") else "/"


@dataclass
class _Credential:
    username: str
    created: float
    last_seen: float


class Credentials:
    """Browser credentials, kept here: an expired one is refused whatever the cookie says."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._live: dict[str, _Credential] = {}

    def issue(self, username: str) -> str:
        now = self._clock()
        token = secrets.token_urlsafe(32)
        self._live[hashlib.sha256(token.encode()).hexdigest()] = _Credential(username, now, now)
        return token

    def check(self, token: str | None) -> str | None:
        if not token:
            return None
        key = hashlib.sha256(token.encode()).hexdigest()
        found = self._live.get(key)
        now = self._clock()
        if found is None:
            return None
        if now - found.last_seen > IDLE_SECONDS or now - found.created > LIFETIME_SECONDS:
            del self._live[key]
            return None
        found.last_seen = now
        return found.username


def create_ui_proxy(
    *,
    upstream: str,
    codec_upstream: str,
    codec_token: str,
    console_url: str,
    grants: Grants,
    credentials: Credentials | None = None,
) -> FastAPI:
    proxy = _UiProxy(upstream, codec_upstream, codec_token, console_url, grants, credentials or Credentials())

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        await proxy.client.aclose()

    app = FastAPI(title="carecycle Temporal Web UI", docs_url=None, redoc_url=None, openapi_url=None, lifespan=lifespan)
    app.add_api_route("/_carecycle/authorize", proxy.authorize, methods=["GET"], response_model=None)
    app.add_api_route("/codec/{operation}", proxy.codec, methods=["POST", "OPTIONS"], response_model=None)
    app.add_api_route(
        "/{path:path}", proxy.ui, methods=["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"], response_model=None
    )
    return app


class _UiProxy:
    """The proxy's routes: redeem a console grant for a credential, then forward the UI and its codec calls."""

    def __init__(
        self, upstream: str, codec_upstream: str, codec_token: str, console_url: str, grants: Grants, live: Credentials
    ) -> None:
        self.upstream = upstream
        self.codec_upstream = codec_upstream
        self.codec_token = codec_token
        self.console_url = console_url
        self.grants = grants
        self.live = live
        self.client = httpx.AsyncClient(timeout=60)

    async def authorize(self, grant: str = "") -> Response:
        redeemed = self.grants.redeem(grant)
        if redeemed is None:
            return RedirectResponse(f"{self.console_url}/temporal-ui", status_code=303)
        username, next_path = redeemed
        response = RedirectResponse(next_path, status_code=303)
        response.set_cookie(COOKIE, self.live.issue(username), httponly=True, samesite="strict")
        return response

    async def codec(self, request: Request, operation: str) -> Response:
        if self.live.check(request.cookies.get(COOKIE)) is None:
            return self.refused(request)
        if operation not in ("encode", "decode") or request.method != "POST":
            return Response(status_code=404)
        target = f"{self.codec_upstream}/{operation}" + (f"?{request.url.query}" if request.url.query else "")
        return await self.forward(request, target, {"authorization": f"Bearer {self.codec_token}"})

    async def ui(self, request: Request, path: str) -> Response:
        if self.live.check(request.cookies.get(COOKIE)) is None:
            return self.refused(request)
        target = f"{self.upstream}/{path}" + (f"?{request.url.query}" if request.url.query else "")
        return await self.forward(request, target, {})

    def refused(self, request: Request) -> Response:
        if request.method == "GET" and "text/html" in request.headers.get("accept", ""):
            target = quote(request.url.path + (f"?{request.url.query}" if request.url.query else ""), safe="")
            return RedirectResponse(f"{self.console_url}/temporal-ui?next={target}", status_code=303)
        return Response('{"error": "sign in through the carecycle console"}', 401, media_type="application/json")

    async def forward(self, request: Request, url: str, extra: dict[str, str]) -> Response:
        headers = {k: v for k, v in request.headers.items() if k.lower() not in HOP_BY_HOP}
        # The UI's own cookies (its CSRF cookie) go through; carecycle's (this credential, the console's session:
        # cookies are per host, not per port) never leave this process.
        theirs = "; ".join(f"{k}={v}" for k, v in request.cookies.items() if not k.startswith("carecycle_"))
        if theirs:
            headers["cookie"] = theirs
        headers.update(extra)
        answer = await self.client.request(request.method, url, content=await request.body(), headers=headers)
        response = Response(answer.content, status_code=answer.status_code)
        for name, value in answer.headers.multi_items():
            if name.lower() not in HOP_BY_HOP:
                response.raw_headers.append((name.lower().encode(), value.encode()))
        return response
