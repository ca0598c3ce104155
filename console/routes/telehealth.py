"""For the telehealth coordinator: the day's virtual visits by state, with the CLI's actions on each.

The board is ``domain.services.visit_board.telehealth_board`` (the one ``carecycle telehealth list`` prints):
opaque ids, states, times, no names. The actions (cancel, resend the invite, reassign to a licensed provider) go
through the same desk as ``carecycle telehealth cancel|resend-invite|reassign``: the composition root hands it
over (:class:`console.web.TelehealthDesk`, built on ``workers.visit_desk.VisitDesk``), so a cancel goes through
intake and a reassignment is the VirtualVisit's validated Update, which has the last word (a provider with no
active license in the patient's state, or booked then, is refused with the reason). Each action is an audit
event naming the signed-in user (``telehealth.cancel``, ``telehealth.resend_invite``, ``telehealth.reassign``),
refusals included.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from typing import Any

from fastapi import Depends, FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from console.accounts import ConsoleUserView, Permission
from console.web import BadRequest, Console
from domain.errors import DomainError
from domain.services.visit_board import BOARD_STATES, telehealth_board
from domain.visits import CANCEL_REASONS

APPOINTMENT = re.compile(r"^[A-Za-z0-9_.:-]{1,64}$")
ACTIONS = ("start", "cancel", "resend-invite", "reassign")


def _day(value: str | None, today: date) -> date:
    if not value:
        return today
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise BadRequest("a day is YYYY-MM-DD") from None


def register(app: FastAPI, console: Console) -> None:
    coordinator = Depends(console.require(Permission.TELEHEALTH))

    def page(request: Request, day: date, *, status_code: int = 200, **extra: Any) -> HTMLResponse:
        with console.session_factory() as db:
            board = telehealth_board(db, day)
        return console.render(
            request,
            "telehealth.html",
            status_code=status_code,
            day=day,
            board=board,
            states=[str(s) for s in BOARD_STATES],
            counts={state: len(lines) for state, lines in board.items()},
            reasons=sorted(CANCEL_REASONS),
            actions_enabled=console.options.telehealth is not None,
            **extra,
        )

    @app.get("/telehealth", response_class=HTMLResponse)
    async def telehealth(
        request: Request, user: ConsoleUserView = coordinator, day: str | None = None, done: str | None = None
    ) -> HTMLResponse:
        shown = _day(day, console.now().astimezone(UTC).date())
        return page(request, shown, done=done if done in ACTIONS else None)

    @app.post("/telehealth/{appointment_id}/{action}", response_model=None)
    async def act(request: Request, appointment_id: str, action: str, user: ConsoleUserView = coordinator) -> Response:
        form = await console.form(request)
        if not console.csrf_ok(request, form):
            return console.error(request, "the form has expired; reload the page", 403)
        if action not in ACTIONS or not APPOINTMENT.match(appointment_id):
            return console.error(request, "there is no such action", 404)
        day = _day(form.get("day"), console.now().astimezone(UTC).date())
        desk = console.options.telehealth
        if desk is None:
            return console.error(request, "this console runs without the visit desk", 404)
        details: dict[str, Any] = {"via": "console"}
        try:
            result: object
            if action == "start":
                result = await desk.start(user.username, appointment_id)
            elif action == "cancel":
                details["reason"] = form.get("reason", "")
                result = await desk.cancel(user.username, appointment_id, details["reason"])
            elif action == "resend-invite":
                result = await desk.resend_invite(user.username, appointment_id)
            else:
                details["provider_id"] = form.get("provider_id", "").strip()
                result = await desk.reassign(user.username, appointment_id, details["provider_id"])
        except DomainError as exc:
            _audit(console, user, action, appointment_id, {**details, "refused": str(exc)[:200]})
            return page(request, day, status_code=422, error=f"{action} {appointment_id}: {exc}")
        _audit(console, user, action, appointment_id, {**details, "result": str(result)[:80]})
        return RedirectResponse(f"/telehealth?day={day.isoformat()}&done={action}", status_code=303)


def _audit(console: Console, user: ConsoleUserView, action: str, appointment_id: str, details: dict[str, Any]) -> None:
    console.audit(
        user.username,
        f"telehealth.{action.replace('-', '_')}",
        entity_type="appointment",
        entity_id=appointment_id,
        details={**details, "at": datetime.now(UTC).isoformat()},
    )
