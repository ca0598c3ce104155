"""The remote codec server (Temporal's codec protocol) so the Web UI can show decrypted payloads.

``POST /encode`` and ``POST /decode`` take and return ``{"payloads": [...]}`` in protobuf JSON. Only
callers presenting ``Authorization: Bearer <token>`` with a configured token may use it; CORS admits the
Web UI origins only. Without a configured token (the embedded default) the server listens on the
loopback address and relies on that: see docs/operations.md.
"""

from __future__ import annotations

import hmac
from collections.abc import Sequence

from fastapi import FastAPI, Request, Response
from fastapi.middleware.cors import CORSMiddleware
from google.protobuf import json_format
from temporalio.api.common.v1 import Payloads

from workers.security.codec import AesGcmCodec, PayloadDecryptionError


def create_codec_app(codec: AesGcmCodec, *, tokens: Sequence[str] = (), allowed_origins: Sequence[str] = ()) -> FastAPI:
    app = FastAPI(title="carecycle codec server", docs_url=None, redoc_url=None, openapi_url=None)
    app.add_middleware(
        CORSMiddleware,
        allow_origins=list(allowed_origins),
        allow_credentials=True,
        allow_methods=["POST", "OPTIONS"],
        allow_headers=["content-type", "x-namespace", "authorization"],
    )

    def authorized(request: Request) -> bool:
        if not tokens:
            return True
        header = request.headers.get("authorization", "")
        scheme, _, presented = header.partition(" ")
        return scheme.lower() == "bearer" and any(
            hmac.compare_digest(presented.encode(), token.encode()) for token in tokens
        )

    async def transform(request: Request, decode: bool) -> Response:
        if not authorized(request):
            return Response(status_code=401, content='{"error": "unauthorized"}', media_type="application/json")
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

    @app.get("/health")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    return app
