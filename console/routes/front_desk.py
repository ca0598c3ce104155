"""The front desk: register a patient with a coverage, book a visit. The console's door into intake.

Both forms go through the composition root's :class:`console.desk.FrontDesk` (``workers.front_desk``), which
hands intake the same commands the FHIR API, the HL7 listener and the CSV import send, acting as
``console:<user>``: the duplicate-patient rule and the booking rules (a future slot, no double booking, a virtual
visit needs a phone or an e-mail) are intake's, and a refusal is one form error with nothing stored. A
registration starts PatientRegistration; a booking starts the Visit (or the VirtualVisit). Each submission is an
audit event naming the signed-in user (``front_desk.register``, ``front_desk.book``), refusals included, with
ids and error codes only: the form's values (PHI) are never logged or audited.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from typing import Any
from urllib.parse import urlencode

from fastapi import Depends, FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import select

from console.accounts import ConsoleUserView, Permission
from console.desk import DeskResult, NewBooking, NewPatient
from console.web import Console
from domain import models as m
from domain.errors import DomainError
from domain.visits import VISIT_TYPES

SEXES = ("F", "M", "U")
DONE = ("registered", "booked")
OPAQUE = re.compile(r"^[A-Za-z0-9_.:-]{1,120}$")  # our ids and workflow ids, as the redirect carries them
LIMITS = {"first_name": 60, "last_name": 60, "phone": 20, "email": 120, "address_line": 120, "city": 60}


class FormError(ValueError):
    """The form's shape is wrong (a missing field, a date that is not one): said before intake is asked."""


def _text(form: dict[str, str], name: str, label: str, *, required: bool = True) -> str:
    value = form.get(name, "").strip()
    if required and not value:
        raise FormError(f"{label} is required")
    if len(value) > LIMITS.get(name, 64):
        raise FormError(f"{label} is too long")
    return value


def parse_patient(form: dict[str, str]) -> NewPatient:
    try:
        birth = date.fromisoformat(form.get("birth_date", ""))
    except ValueError:
        raise FormError("the birth date is YYYY-MM-DD") from None
    sex = form.get("sex", "")
    if sex not in SEXES:
        raise FormError("choose the sex")
    return NewPatient(
        first_name=_text(form, "first_name", "the first name"),
        last_name=_text(form, "last_name", "the last name"),
        birth_date=birth,
        sex=sex,
        phone=_text(form, "phone", "the phone", required=False),
        email=_text(form, "email", "the e-mail", required=False) or None,
        address_line=_text(form, "address_line", "the address", required=False),
        city=_text(form, "city", "the city", required=False),
        state=_text(form, "state", "the state").upper(),
        postal_code=_text(form, "postal_code", "the ZIP code", required=False),
        payer_code=_text(form, "payer", "the payer"),
        member_id=_text(form, "member_id", "the member id"),
        mrn=_text(form, "mrn", "the MRN", required=False) or None,
    )


def parse_booking(form: dict[str, str]) -> NewBooking:
    try:
        starts = datetime.fromisoformat(form.get("starts_at", ""))
    except ValueError:
        raise FormError("the start is a date and a time") from None
    where = form.get("where", "")
    if where != "virtual" and not where.startswith("location:"):
        raise FormError("choose a location or a virtual visit")
    try:
        minutes = int(form.get("duration_minutes", "20") or "20")
    except ValueError:
        raise FormError("the duration is a number of minutes") from None
    return NewBooking(
        patient=_text(form, "patient", "the patient (id or MRN)"),
        provider_id=_text(form, "provider_id", "the provider"),
        starts_at=starts if starts.tzinfo else starts.replace(tzinfo=UTC),
        virtual=where == "virtual",
        visit_type=_text(form, "visit_type", "the visit type"),
        location_id=None if where == "virtual" else where.removeprefix("location:"),
        duration_minutes=minutes,
    )


def _choices(console: Console) -> dict[str, Any]:
    with console.session_factory() as db:
        payers = [(p.payer_id, p.name) for p in db.execute(select(m.Payer).order_by(m.Payer.name)).scalars()]
        providers = [
            (p.id, f"{p.last_name}, {p.first_name} {p.credential}")
            for p in db.execute(select(m.Provider).order_by(m.Provider.last_name, m.Provider.first_name)).scalars()
        ]
        locations = [(loc.id, loc.name) for loc in db.execute(select(m.Location).order_by(m.Location.name)).scalars()]
    return {
        "payers": payers,
        "providers": providers,
        "locations": locations,
        "visit_types": sorted(VISIT_TYPES),
        "sexes": SEXES,
    }


def _dispatched(console: Console, record: str) -> bool:
    """Whether intake's outbox (``process_starts``) has started every process it queued for the record."""
    with console.session_factory() as db:
        rows = db.execute(select(m.ProcessStart.started_at).where(m.ProcessStart.entity_id == record)).all()
        return bool(rows) and all(started is not None for (started,) in rows)


def register(app: FastAPI, console: Console) -> None:
    desk_user = Depends(console.require(Permission.FRONT_DESK))

    def page(request: Request, *, status_code: int = 200, **extra: Any) -> HTMLResponse:
        return console.render(
            request,
            "front_desk.html",
            status_code=status_code,
            enabled=console.options.front_desk is not None,
            **_choices(console),
            **extra,
        )

    @app.get("/front-desk", response_class=HTMLResponse)
    async def front_desk(
        request: Request,
        user: ConsoleUserView = desk_user,
        done: str | None = None,
        record: str | None = None,
        started: str = "",
    ) -> HTMLResponse:
        shown = done if done in DONE and record and OPAQUE.match(record) else None
        workflows = [w for w in started.split(",") if OPAQUE.match(w)][:5] if shown else []
        return page(
            request,
            done=shown,
            record=record if shown else None,
            started=workflows,
            dispatched=bool(shown and record and _dispatched(console, record)),
        )

    @app.post("/front-desk/{action}", response_model=None)
    async def act(request: Request, action: str, user: ConsoleUserView = desk_user) -> Response:
        form = await console.form(request)
        if not console.csrf_ok(request, form):
            return console.error(request, "the form has expired; reload the page", 403)
        if action not in ("register", "book"):
            return console.error(request, "there is no such action", 404)
        desk = console.options.front_desk
        if desk is None:
            return console.error(request, "this console runs without the front desk", 404)
        try:
            if action == "register":
                result: DeskResult = await desk.register(user.username, parse_patient(form))
            else:
                result = await desk.book(user.username, parse_booking(form))
        except (FormError, DomainError) as exc:
            code = getattr(exc, "code", "form")
            _audit(console, user, action, None, {"refused": str(code)})
            kept = {k: v for k, v in form.items() if k != "csrf"}
            return page(request, status_code=422, error=str(exc), failed=action, kept=kept)
        _audit(console, user, action, result.id, {"started": list(result.starts)})
        done = "registered" if action == "register" else "booked"
        query = urlencode({"done": done, "record": result.id, "started": ",".join(result.starts)})
        return RedirectResponse(f"/front-desk?{query}", status_code=303)


def _audit(console: Console, user: ConsoleUserView, action: str, record: str | None, details: dict[str, Any]) -> None:
    console.audit(
        user.username,
        f"front_desk.{action}",
        entity_type="patient" if action == "register" else "appointment",
        entity_id=record or "-",
        details={"via": "console", **details, "at": datetime.now(UTC).isoformat()},
    )
