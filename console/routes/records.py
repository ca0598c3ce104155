"""For billers (and auditors): the claims list, a claim page and a patient account page, and the documents.

The list shows identifiers only (claim, account number, payer, status, amounts). A claim page, a patient page
and a document hold PHI: each view is an audit event (``phi.view``) naming who looked, before the page is shown.
Documents (837P batches, 835s, EOB PDFs, statements) are read through the function the composition root hands
over (the console does not import the document store).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

from fastapi import Depends, FastAPI, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import Select, func, select

from console.accounts import ConsoleUserView, Permission
from console.records import claim_view, patient_view
from console.routes.work import choice
from console.routes.workflows import _date
from console.web import BadRequest, Console
from domain import models as m
from domain.claim_status import ClaimStatus
from domain.ledger.store import claim_insurance_balances

PAGE_SIZE = 100
ID = re.compile(r"^[0-9a-fA-F-]{36}$")
SAFE_TYPES = {"application/edi-x12": "text/plain", "application/pdf": "application/pdf", "text/plain": "text/plain"}


def register(app: FastAPI, console: Console) -> None:
    _register_claims(app, console)
    _register_accounts(app, console)
    _register_documents(app, console)


# --- the claims list -----------------------------------------------------------------------------------------


def _register_claims(app: FastAPI, console: Console) -> None:
    reader = Depends(console.require(Permission.PHI))

    @app.get("/claims", response_class=HTMLResponse)
    async def claims(
        request: Request,
        user: ConsoleUserView = reader,
        status: str | None = None,
        payer: str | None = None,
        account: str | None = None,
        service_from: str | None = None,
        service_to: str | None = None,
        page: int = 1,
    ) -> HTMLResponse:
        status = choice(status, [s.value for s in ClaimStatus], "status")
        for name, value in (("payer", payer), ("account", account)):
            if value and not re.fullmatch(r"[A-Za-z0-9_-]{1,30}", value):
                raise BadRequest(f"{name} holds letters and digits only")
        since, until = _date(service_from, "service from"), _date(service_to, "service to")
        filters = _ClaimFilters(status, payer, account, since, until)
        return _claims_page(console, request, filters, page=max(1, min(page, 10_000)))


@dataclass(frozen=True)
class _ClaimFilters:
    """The claims list's filters, checked (empty or None: not given)."""

    status: str | None
    payer: str | None
    account: str | None
    since: date | None
    until: date | None


def _claims_page(console: Console, request: Request, filters: _ClaimFilters, *, page: int) -> HTMLResponse:
    with console.session_factory() as db:
        payers = {p.id: p for p in db.execute(select(m.Payer).order_by(m.Payer.payer_id)).scalars()}
        query = _claims_query(filters, [p.id for p in payers.values() if p.payer_id == filters.payer])
        total = db.execute(select(func.count()).select_from(query.subquery())).scalar_one()
        ordered = query.order_by(m.Claim.date_of_service.desc(), m.Claim.id)
        rows = db.execute(ordered.limit(PAGE_SIZE).offset((page - 1) * PAGE_SIZE)).all()
        balances = claim_insurance_balances(db, [c.id for c, _ in rows]) if rows else {}
    return console.render(
        request,
        "claims.html",
        rows=[(c, account_number, payers.get(c.payer_id), balances.get(c.id, 0)) for c, account_number in rows],
        total=total,
        page=page,
        pages=max(1, -(-total // PAGE_SIZE)),
        statuses=[s.value for s in ClaimStatus],
        payer_codes=sorted(p.payer_id for p in payers.values()),
        params={k: v for k, v in request.query_params.items()},
    )


def _claims_query(filters: _ClaimFilters, payer_ids: list[str]) -> Select[m.Claim, str]:
    """Claims with their patient's account number; ``payer_ids``: the store ids of the payer code filtered on."""
    query = select(m.Claim, m.Patient.account_number).join(m.Patient, m.Patient.id == m.Claim.patient_id)
    if filters.status:
        query = query.where(m.Claim.status == filters.status)
    if filters.payer:
        query = query.where(m.Claim.payer_id.in_(payer_ids))
    if filters.account:
        query = query.where(m.Patient.account_number == filters.account)
    if filters.since:
        query = query.where(m.Claim.date_of_service >= filters.since)
    if filters.until:
        query = query.where(m.Claim.date_of_service <= filters.until)
    return query


# --- a claim, a patient account ------------------------------------------------------------------------------


def _register_accounts(app: FastAPI, console: Console) -> None:
    reader = Depends(console.require(Permission.PHI))

    @app.get("/claims/{claim_id}", response_class=HTMLResponse)
    async def claim(request: Request, claim_id: str, user: ConsoleUserView = reader) -> HTMLResponse:
        if not ID.match(claim_id):
            return console.error(request, "there is no such claim", 404)
        with console.session_factory() as db:
            row = db.get(m.Claim, claim_id)
            if row is None:
                return console.error(request, "there is no such claim", 404)
            console.phi_view(user, "claim", "claim", claim_id)
            view = claim_view(db, row)
            return console.render(request, "claim.html", today=date.today(), **view)

    @app.get("/patients/{patient_id}", response_class=HTMLResponse)
    async def patient(request: Request, patient_id: str, user: ConsoleUserView = reader) -> HTMLResponse:
        if not ID.match(patient_id):
            return console.error(request, "there is no such patient", 404)
        with console.session_factory() as db:
            row = db.get(m.Patient, patient_id)
            if row is None:
                return console.error(request, "there is no such patient", 404)
            console.phi_view(user, "patient_account", "patient", patient_id)
            return console.render(request, "patient.html", **patient_view(db, row))


# --- documents -----------------------------------------------------------------------------------------------


def _register_documents(app: FastAPI, console: Console) -> None:
    reader = Depends(console.require(Permission.PHI))

    @app.get("/documents/{document_id}", response_model=None)
    async def document(request: Request, document_id: str, user: ConsoleUserView = reader) -> Response:
        if not ID.match(document_id) or console.options.read_document is None:
            return console.error(request, "there is no such document", 404)
        with console.session_factory() as db:
            row = db.get(m.Document, document_id)
            if row is None:
                return console.error(request, "there is no such document", 404)
            key, kind, content_type = row.key, row.kind, row.content_type
        console.phi_view(user, f"document:{kind}", "document", document_id)
        try:
            data = console.options.read_document(key)
        except Exception as exc:  # a document store error: say so, never a 500 with a stack
            return console.error(request, f"the document could not be read ({type(exc).__name__})", 503)
        media = SAFE_TYPES.get(content_type, "application/octet-stream")
        name = re.sub(r"[^A-Za-z0-9._-]", "_", key.rsplit("/", 1)[-1])
        disposition = "inline" if media in ("text/plain", "application/pdf") else "attachment"
        return Response(
            data,
            media_type=media,
            headers={"Content-Disposition": f'{disposition}; filename="{name}"', "X-Content-Type-Options": "nosniff"},
        )
