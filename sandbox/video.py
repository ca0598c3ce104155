"""A sandbox video vendor speaking Daily's REST API (mounted at ``/daily``; the API under ``/daily/v1``).

``POST /v1/rooms`` (name, privacy, properties.exp), ``GET|POST|DELETE /v1/rooms/{name}``, ``POST /v1/meeting-tokens``
(properties.room_name, user_id, is_owner, exp) returning a signed token, ``GET /v1/meeting-tokens/{token}`` to
validate one, ``POST /v1/webhooks`` (url, hmac, eventTypes). Authorization: ``Bearer <api key>``. Errors are
Daily's ``{"error": ..., "info": ...}``. Webhooks (participant.joined, participant.left, meeting.ended) are
signed like Daily's: ``X-Webhook-Signature`` = base64 HMAC-SHA256 of ``<X-Webhook-Timestamp>.<body>``.

Where Daily has its browser SDK, the sandbox has the participant's side as plain HTTP: the room's page
``GET /daily/{room}?t=<token>`` and ``POST /daily/_sandbox/join`` (token) / ``/_sandbox/leave`` (session id).
A token opens only its own room while that room exists and the token has not expired: deleting a room revokes
every token issued for it (the join is refused with 403).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from html import escape
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse

from domain.webhook_signatures import daily_signature
from sandbox.webhooks import WebhookQueue, parse_form

SANDBOX_DAILY_KEY = "sandbox-daily-api-key"  # the sandbox's own, documented


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass
class Session:
    session_id: str
    room: str
    user_id: str
    joined_at: float


@dataclass
class DailyState:
    api_key: str
    rooms: dict[str, dict[str, Any]] = field(default_factory=dict)
    deleted: set[str] = field(default_factory=set)
    webhooks: list[dict[str, str]] = field(default_factory=list)
    sessions: dict[str, Session] = field(default_factory=dict)
    started: dict[str, float] = field(default_factory=dict)  # room -> when its meeting started
    lock: threading.Lock = field(default_factory=threading.Lock)

    def sign(self, claims: dict[str, Any]) -> str:
        head = _b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
        body = _b64(json.dumps(claims, separators=(",", ":")).encode())
        mac = hmac.new(self.api_key.encode(), f"{head}.{body}".encode(), hashlib.sha256).digest()
        return f"{head}.{body}.{_b64(mac)}"

    def claims(self, token: str) -> dict[str, Any] | None:
        try:
            head, body, mac = token.split(".")
            expected = hmac.new(self.api_key.encode(), f"{head}.{body}".encode(), hashlib.sha256).digest()
            if not hmac.compare_digest(expected, _unb64(mac)):
                return None
            claims = json.loads(_unb64(body))
        except ValueError:
            return None
        return claims if isinstance(claims, dict) else None


def _error(status: int, error: str, info: str) -> JSONResponse:
    return JSONResponse({"error": error, "info": info}, status_code=status)


def create_daily_app(queue: WebhookQueue, api_key: str = SANDBOX_DAILY_KEY) -> FastAPI:
    state = DailyState(api_key)
    app = FastAPI(title="sandbox daily", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.daily = state
    vendor = _Vendor(state, queue)
    _add_room_routes(app, vendor)
    _add_room_change_routes(app, vendor)
    _add_token_and_webhook_routes(app, vendor)
    _add_participant_routes(app, vendor)
    return app


@dataclass
class _Vendor:
    """What every route of the sandbox Daily shares: its state, and the queue its signed webhooks leave through."""

    state: DailyState
    queue: WebhookQueue

    def authorized(self, request: Request) -> bool:
        return hmac.compare_digest(request.headers.get("authorization", ""), f"Bearer {self.state.api_key}")

    def emit(self, kind: str, payload: dict[str, Any]) -> None:
        body = json.dumps(
            {"version": "1.0.0", "type": kind, "id": str(uuid.uuid4()), "payload": payload, "event_ts": time.time()}
        ).encode()
        for hook in list(self.state.webhooks):
            stamp = str(int(time.time()))
            self.queue.enqueue(
                hook["url"],
                body,
                {
                    "Content-Type": "application/json",
                    "X-Webhook-Timestamp": stamp,
                    "X-Webhook-Signature": daily_signature(hook["hmac"], stamp, body),
                },
            )


def _room_view(request: Request, room: dict[str, Any]) -> dict[str, Any]:
    base = str(request.url).split("?")[0].split("/v1/", 1)[0]  # the vendor's root, wherever it is mounted
    return {**room, "url": f"{base}/{room['name']}"}


def _unauthorized() -> JSONResponse:
    return _error(401, "authentication-error", "Unauthorized")


def _add_room_routes(app: FastAPI, vendor: _Vendor) -> None:
    """``POST /v1/rooms`` and ``GET /v1/rooms/{name}``."""
    state = vendor.state

    @app.post("/v1/rooms")
    async def create_room(request: Request) -> JSONResponse:
        if not vendor.authorized(request):
            return _unauthorized()
        data = await request.json()
        name = str(data.get("name") or uuid.uuid4().hex[:20])
        if not name.replace("-", "").replace("_", "").isalnum() or len(name) > 128:
            return _error(400, "invalid-request-error", "name must be letters, digits, - and _")
        with state.lock:
            if name in state.rooms:
                return _error(400, "invalid-request-error", f"a room named {name} already exists")
            room = {
                "id": str(uuid.uuid4()),
                "name": name,
                "api_created": True,
                "privacy": data.get("privacy", "public"),
                "created_at": datetime.now(UTC).isoformat(),
                "config": dict(data.get("properties") or {}),
            }
            state.rooms[name] = room
            state.deleted.discard(name)
        return JSONResponse(_room_view(request, room))

    @app.get("/v1/rooms/{name}")
    def get_room(name: str, request: Request) -> JSONResponse:
        if not vendor.authorized(request):
            return _unauthorized()
        room = state.rooms.get(name)
        return JSONResponse(_room_view(request, room)) if room else _error(404, "not-found", f"room {name} not found")


def _add_room_change_routes(app: FastAPI, vendor: _Vendor) -> None:
    """``POST /v1/rooms/{name}`` (properties) and ``DELETE /v1/rooms/{name}``, which puts everyone in it out."""
    state = vendor.state

    @app.post("/v1/rooms/{name}")
    async def update_room(name: str, request: Request) -> JSONResponse:
        if not vendor.authorized(request):
            return _unauthorized()
        data = await request.json()
        with state.lock:
            room = state.rooms.get(name)
            if room is None:
                return _error(404, "not-found", f"room {name} not found")
            room["config"].update(data.get("properties") or {})
        return JSONResponse(_room_view(request, room))

    @app.delete("/v1/rooms/{name}")
    def delete_room(name: str, request: Request) -> JSONResponse:
        if not vendor.authorized(request):
            return _unauthorized()
        with state.lock:
            if state.rooms.pop(name, None) is None:
                return _error(404, "not-found", f"room {name} not found")
            state.deleted.add(name)
            gone = [s for s in state.sessions.values() if s.room == name]
            for session in gone:
                del state.sessions[session.session_id]
        for session in gone:  # everyone in it is put out
            vendor.emit("participant.left", _left(session))
        if gone:
            _end_meeting(state, name, vendor.emit)
        return JSONResponse({"deleted": True, "name": name})


def _add_token_and_webhook_routes(app: FastAPI, vendor: _Vendor) -> None:
    """``POST /v1/meeting-tokens``, ``GET /v1/meeting-tokens/{token}`` and ``POST /v1/webhooks``."""
    state = vendor.state

    @app.post("/v1/meeting-tokens")
    async def create_token(request: Request) -> JSONResponse:
        if not vendor.authorized(request):
            return _unauthorized()
        properties = (await request.json()).get("properties") or {}
        room = str(properties.get("room_name") or "")
        if room not in state.rooms:
            return _error(400, "invalid-request-error", f"room {room} not found")
        claims = {
            "r": room,
            "u": str(properties.get("user_id") or ""),
            "o": bool(properties.get("is_owner")),
            "exp": int(properties.get("exp") or time.time() + 3600),
            "j": uuid.uuid4().hex[:12],
        }
        return JSONResponse({"token": state.sign(claims)})

    @app.get("/v1/meeting-tokens/{token}")
    def check_token(token: str, request: Request) -> JSONResponse:
        if not vendor.authorized(request):
            return _unauthorized()
        claims, problem = _valid(state, token)
        if claims is None:
            return _error(400, "invalid-request-error", problem)
        return JSONResponse(
            {"room_name": claims["r"], "user_id": claims["u"], "is_owner": claims["o"], "exp": claims["exp"]}
        )

    @app.post("/v1/webhooks")
    async def add_webhook(request: Request) -> JSONResponse:
        if not vendor.authorized(request):
            return _unauthorized()
        data = await request.json()
        url = str(data.get("url") or "")
        if not url.startswith(("http://", "https://")):
            return _error(400, "invalid-request-error", "url must be http(s)")
        secret = str(data.get("hmac") or base64.b64encode(uuid.uuid4().bytes).decode())
        hook = {"uuid": str(uuid.uuid4()), "url": url, "hmac": secret, "state": "ACTIVE"}
        with state.lock:
            state.webhooks[:] = [h for h in state.webhooks if h["url"] != url] + [hook]
        return JSONResponse({**hook, "eventTypes": data.get("eventTypes", [])})


def _add_participant_routes(app: FastAPI, vendor: _Vendor) -> None:
    """The participant's side, where Daily has its browser SDK: join, leave, and the room's page (last: ``/{room}``)."""
    state = vendor.state

    @app.post("/_sandbox/join")
    async def join(request: Request) -> JSONResponse:
        form = request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded")
        data: dict[str, Any] = parse_form(await request.body()) if form else await request.json()
        claims, problem = _valid(state, str(data.get("token") or ""))
        if claims is None:
            return _error(403, "not-allowed", problem)
        session = Session(str(uuid.uuid4()), claims["r"], claims["u"], time.time())
        with state.lock:
            state.sessions[session.session_id] = session
            present = {s.user_id for s in state.sessions.values() if s.room == session.room}
            if len(present) >= 2 and session.room not in state.started:
                state.started[session.room] = session.joined_at
        vendor.emit("participant.joined", _joined(session, claims))
        return JSONResponse({"session_id": session.session_id, "room": session.room})

    @app.post("/_sandbox/leave")
    async def leave(request: Request) -> JSONResponse:
        data = await request.json()
        with state.lock:
            session = state.sessions.pop(str(data.get("session_id") or ""), None)
            empty = session is not None and not any(s.room == session.room for s in state.sessions.values())
        if session is None:
            return _error(404, "not-found", "no such session")
        vendor.emit("participant.left", _left(session))
        if empty:
            _end_meeting(state, session.room, vendor.emit)
        return JSONResponse({"left": True})

    @app.get("/{room}")
    def room_page(room: str, t: str = "") -> HTMLResponse:
        claims, problem = _valid(state, t)
        if claims is None or claims["r"] != room:
            return HTMLResponse(f"<h1>Cannot join</h1><p>{escape(problem or 'wrong room')}</p>", status_code=403)
        return HTMLResponse(
            f"<!doctype html><title>Video visit</title><h1>Waiting room</h1><p>Room {escape(room)}</p>"
            f"<form method=post action='_sandbox/join'><input type=hidden name=token value='{escape(t)}'>"
            "<button>Join</button></form>"
        )


def _joined(session: Session, claims: dict[str, Any]) -> dict[str, Any]:
    return {
        "room": session.room,
        "user_id": session.user_id,
        "user_name": "",
        "session_id": session.session_id,
        "joined_at": session.joined_at,
        "owner": claims["o"],
        "will_eject_at": claims["exp"],
    }


def _valid(state: DailyState, token: str) -> tuple[dict[str, Any] | None, str]:
    claims = state.claims(token)
    if claims is None:
        return None, "token invalid"
    if claims["r"] in state.deleted or claims["r"] not in state.rooms:
        return None, f"room {claims['r']} was deleted: its tokens no longer work"
    if claims["exp"] < time.time():
        return None, "token expired"
    return claims, ""


def _left(session: Session) -> dict[str, Any]:
    return {
        "room": session.room,
        "user_id": session.user_id,
        "session_id": session.session_id,
        "joined_at": session.joined_at,
        "duration": int(time.time() - session.joined_at),
    }


def _end_meeting(state: DailyState, room: str, emit: Any) -> None:
    started = state.started.pop(room, None)
    if started is not None:
        emit(
            "meeting.ended", {"room": room, "meeting_id": str(uuid.uuid4()), "start_ts": started, "end_ts": time.time()}
        )
