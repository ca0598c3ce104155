"""The Web UI's way to the codec server, in a real Chromium: a page on the UI's origin fetches ``/decode``
with credentials (what the Temporal Web UI does when "Include cross-origin credentials" is on). It is refused
until the user authorized this browser on the codec server's ``/authorize`` page with the token; a page on
another origin is refused by CORS even then."""

from __future__ import annotations

import base64
import json
import shutil
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.responses import HTMLResponse
from temporalio.api.common.v1 import Payload

from tests.support.dev_stack import free_port
from workers.security.codec import AesGcmCodec
from workers.security.keys import new_key_entry, parse_keys
from workers.security.server import create_codec_app
from workers.stack import serve_asgi

pytestmark = pytest.mark.browser

CHROMIUM = "/usr/bin/chromium"
TOKEN = "browser-test-token"

FETCH = """async ([url, body]) => {
  try {
    const r = await fetch(url, {method: "POST", credentials: "include", body,
      headers: {"Content-Type": "application/json", "X-Namespace": "default"}});
    return {status: r.status, text: await r.text()};
  } catch (e) { return {status: 0, text: String(e)}; }
}"""


def _page_app() -> FastAPI:
    app = FastAPI()

    @app.get("/", response_class=HTMLResponse)
    async def home() -> str:
        return "<!doctype html><title>web ui</title><p>web ui"

    return app


@pytest.mark.skipif(shutil.which(CHROMIUM) is None, reason="Debian chromium is not installed")
async def test_browser_decodes_only_after_authorizing_with_the_token(tmp_path: Path) -> None:
    from playwright.async_api import async_playwright

    from activities.portals.session import CHROMIUM_ARGS

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
    codec_port, ui_port, other_port = free_port(), free_port(), free_port()
    ui, other = f"http://127.0.0.1:{ui_port}", f"http://127.0.0.1:{other_port}"
    decode = f"http://127.0.0.1:{codec_port}/decode?preserveStorageRefs=true"
    app = create_codec_app(codec, tokens=[TOKEN], allowed_origins=[ui])
    async with (
        serve_asgi(app, "127.0.0.1", codec_port),
        serve_asgi(_page_app(), "127.0.0.1", ui_port),
        serve_asgi(_page_app(), "127.0.0.1", other_port),
        async_playwright() as playwright,
    ):
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=list(CHROMIUM_ARGS), headless=True)
        try:
            context = await browser.new_context()
            web_ui = await context.new_page()
            await web_ui.goto(ui)
            before = await web_ui.evaluate(FETCH, [decode, body])
            assert before["status"] == 401

            authorize = await context.new_page()
            await authorize.goto(f"http://127.0.0.1:{codec_port}/authorize")
            await authorize.fill("input[name=token]", "not the token")
            await authorize.click("button")
            assert "not valid" in await authorize.content()
            await authorize.fill("input[name=token]", TOKEN)
            await authorize.click("button")
            assert "may now decode" in await authorize.content()

            after = await web_ui.evaluate(FETCH, [decode, body])
            assert after["status"] == 200
            [payload] = json.loads(after["text"])["payloads"]
            assert json.loads(base64.b64decode(payload["data"])) == "decoded!"

            foreign = await context.new_page()
            await foreign.goto(other)
            blocked = await foreign.evaluate(FETCH, [decode, body])
            assert blocked["status"] == 0  # the browser withholds the answer from an origin not allowed
        finally:
            await browser.close()
