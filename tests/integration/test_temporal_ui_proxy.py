"""The Web UI's proxy over real HTTP: nothing without a console grant, a grant works once and briefly, the
browser credential expires server-side (idle, lifetime) whatever the cookie says, decoding goes through the
real codec server with its token (never the browser's), and the codec server still refuses anyone without one.
The UI behind it is a stand-in page; the real UI in a real Chromium is in test_console_browser.py."""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import pytest
from fastapi import FastAPI, Request
from temporalio.api.common.v1 import Payload

from tests.support.dev_stack import free_port
from workers.security.codec import AesGcmCodec
from workers.security.keys import new_key_entry, parse_keys
from workers.security.server import create_codec_app
from workers.security.ui_proxy import IDLE_SECONDS, Credentials, Grants, create_ui_proxy
from workers.stack import serve_asgi

TOKEN = "the-codec-server-token"


@dataclass
class Clock:
    now: float = 1_000_000.0

    def __call__(self) -> float:
        return self.now


@dataclass
class Proxy:
    url: str
    codec_url: str
    grants: Grants
    clock: Clock
    seen: list[dict[str, str]]
    body: str


def _upstream(seen: list[dict[str, str]]) -> FastAPI:
    app = FastAPI()

    @app.api_route("/{path:path}", methods=["GET", "POST"])
    async def page(request: Request, path: str) -> dict[str, str]:
        seen.append(dict(request.headers))
        return {"ui": path}

    return app


@pytest.fixture
async def proxy() -> AsyncIterator[Proxy]:
    codec = AesGcmCodec(parse_keys(new_key_entry("k1")))
    sealed = codec.encode_one(Payload(metadata={"encoding": b"json/plain"}, data=json.dumps("decoded!").encode()))
    body = json.dumps(
        {
            "payloads": [
                {
                    "metadata": {k: base64.b64encode(v).decode() for k, v in sealed.metadata.items()},
                    "data": base64.b64encode(sealed.data).decode(),
                }
            ]
        }
    )
    seen: list[dict[str, str]] = []
    clock = Clock()
    grants = Grants(clock=clock)
    ports = free_port(), free_port(), free_port()
    ui, codec_url, public = (f"http://127.0.0.1:{p}" for p in ports)
    app = create_ui_proxy(
        upstream=ui,
        codec_upstream=codec_url,
        codec_token=TOKEN,
        console_url="http://console.test",
        grants=grants,
        credentials=Credentials(clock=clock),
    )
    async with (
        serve_asgi(_upstream(seen), "127.0.0.1", ports[0]),
        serve_asgi(create_codec_app(codec, tokens=[TOKEN]), "127.0.0.1", ports[1]),
        serve_asgi(app, "127.0.0.1", ports[2]),
    ):
        yield Proxy(public, codec_url, grants, clock, seen, body)


async def test_nothing_gets_through_without_a_console_grant(proxy: Proxy) -> None:
    async with httpx.AsyncClient(base_url=proxy.url) as browser:
        page = await browser.get("/namespaces/default/workflows", headers={"accept": "text/html"})
        assert page.status_code == 303
        assert page.headers["location"].startswith("http://console.test/temporal-ui?next=%2Fnamespaces")
        assert (await browser.get("/api/v1/settings")).status_code == 401
        assert (await browser.post("/codec/decode", content=proxy.body)).status_code == 401
        forged = await browser.get("/_carecycle/authorize", params={"grant": "eyJ1IjoiYSJ9.AAAA"})
        assert forged.status_code == 303 and forged.headers["location"] == "http://console.test/temporal-ui"
    assert proxy.seen == []
    async with httpx.AsyncClient() as anyone:  # the codec server itself: a token or nothing
        assert (await anyone.post(f"{proxy.codec_url}/decode", content=proxy.body)).status_code == 401


async def test_a_grant_lets_a_browser_in_once_and_decoding_works(proxy: Proxy) -> None:
    grant = proxy.grants.mint("otto", "/namespaces/default/workflows")
    async with httpx.AsyncClient(base_url=proxy.url) as browser, httpx.AsyncClient(base_url=proxy.url) as other:
        entered = await browser.get("/_carecycle/authorize", params={"grant": grant})
        assert entered.status_code == 303 and entered.headers["location"] == "/namespaces/default/workflows"
        assert "httponly" in entered.headers["set-cookie"].lower()
        browser.cookies.set("carecycle_console_session", "never-forwarded")
        browser.cookies.set("_csrf", "the-ui-s-own")
        page = await browser.get("/api/v1/settings")
        assert page.status_code == 200 and page.json() == {"ui": "api/v1/settings"}
        forwarded = proxy.seen[-1]
        assert "carecycle" not in forwarded.get("cookie", "") and "_csrf=the-ui-s-own" in forwarded["cookie"]
        assert "authorization" not in forwarded
        decoded = await browser.post("/codec/decode", content=proxy.body, headers={"content-type": "application/json"})
        assert decoded.status_code == 200
        [payload] = decoded.json()["payloads"]
        assert json.loads(base64.b64decode(payload["data"])) == "decoded!"
        again = await other.get("/_carecycle/authorize", params={"grant": grant})  # a grant works once
        assert again.headers["location"] == "http://console.test/temporal-ui"
        assert (await other.get("/api/v1/settings")).status_code == 401
        late = proxy.grants.mint("otto")
        proxy.clock.now += 61
        assert (
            (await other.get("/_carecycle/authorize", params={"grant": late}))
            .headers["location"]
            .startswith("http://console.test")
        )


async def test_the_browser_credential_expires_server_side(proxy: Proxy) -> None:
    async with httpx.AsyncClient(base_url=proxy.url) as browser:
        await browser.get("/_carecycle/authorize", params={"grant": proxy.grants.mint("aud")})
        assert (await browser.get("/api/v1/settings")).status_code == 200
        proxy.clock.now += IDLE_SECONDS - 5
        assert (await browser.get("/api/v1/settings")).status_code == 200  # in use: still good
        proxy.clock.now += IDLE_SECONDS + 1
        assert browser.cookies.get("carecycle_temporal_ui")  # the browser still holds it...
        assert (await browser.get("/api/v1/settings")).status_code == 401  # ...and it is worth nothing
        assert (await browser.post("/codec/decode", content=proxy.body)).status_code == 401
