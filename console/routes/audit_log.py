"""The audit log for auditors: search (who, what, which record, which workflow, when), CSV export, chain check.

Sign-ins and failures, PHI views, resolutions, user and API-client changes and the processes' own events are all
rows of ``audit_events`` (domain.audit). The export is the same search as CSV, and is itself an audit event.
"""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, time, timedelta

from fastapi import Depends, FastAPI, Request
from fastapi.responses import HTMLResponse, Response

from console.accounts import ConsoleUserView, Permission
from console.routes.workflows import _date
from console.web import BadRequest, Console
from domain.audit import AuditFilter, event_row, search_events, verify_chain

PAGE_SIZE = 200
EXPORT_LIMIT = 100_000
FIELDS = ("actor", "action", "entity_type", "entity_id", "workflow_id")


def audit_filter(params: dict[str, str]) -> AuditFilter:
    for name in FIELDS:
        if len(params.get(name, "")) > 200:
            raise BadRequest(f"{name.replace('_', ' ')} is too long")
    since, until = _date(params.get("since"), "from"), _date(params.get("until"), "until")
    return AuditFilter(
        actor=params.get("actor") or None,
        action=params.get("action") or None,
        entity_type=params.get("entity_type") or None,
        entity_id=params.get("entity_id") or None,
        workflow_id=params.get("workflow_id") or None,
        since=datetime.combine(since, time.min, UTC) if since else None,
        until=datetime.combine(until, time.min, UTC) + timedelta(days=1) if until else None,
    )


def register(app: FastAPI, console: Console) -> None:
    auditor = Depends(console.require(Permission.AUDIT))

    def params_of(request: Request) -> dict[str, str]:
        return {k: v.strip() for k, v in request.query_params.items()}

    @app.get("/audit-log", response_class=HTMLResponse)
    async def audit_log(request: Request, page: int = 1, user: ConsoleUserView = auditor) -> HTMLResponse:
        params = params_of(request)
        where = audit_filter(params)
        page = max(1, min(page, 100_000))
        with console.session_factory() as db:
            events = search_events(db, where, limit=PAGE_SIZE + 1, offset=(page - 1) * PAGE_SIZE)
        rows = [event_row(e) for e in events[:PAGE_SIZE]]
        for row in rows:
            row["details_text"] = ", ".join(f"{k}={v}" for k, v in sorted(row["details"].items()))
        return console.render(
            request,
            "audit_log.html",
            rows=rows,
            params=params,
            page=page,
            more=len(events) > PAGE_SIZE,
            fields=FIELDS,
        )

    @app.get("/audit-log.csv", response_model=None)
    async def audit_log_csv(request: Request, user: ConsoleUserView = auditor) -> Response:
        params = params_of(request)
        where = audit_filter(params)
        with console.session_factory() as db:
            events = search_events(db, where, limit=EXPORT_LIMIT, newest_first=False)
            rows = [event_row(e) for e in events]
        console.audit(
            user.username,
            "audit_log.export",
            entity_type="audit_log",
            entity_id="csv",
            details={"rows": len(rows), **{k: v for k, v in params.items() if k in FIELDS and v}},
        )
        out = io.StringIO()
        writer = csv.writer(out)
        columns = ["seq", "occurred_at", "actor", "action", "entity_type", "entity_id", "workflow_id", "details"]
        writer.writerow([*columns, "row_hash"])
        for row in rows:
            row["details"] = json.dumps(row["details"], sort_keys=True)
            writer.writerow([_cell(str(row[c])) for c in columns] + [row["row_hash"]])
        stamp = console.now().strftime("%Y%m%dT%H%M%SZ")
        return Response(
            out.getvalue(),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="carecycle-audit-{stamp}.csv"'},
        )

    @app.get("/audit-log/verify", response_class=HTMLResponse)
    async def verify(request: Request, user: ConsoleUserView = auditor) -> HTMLResponse:
        with console.session_factory() as db:
            verdict = verify_chain(db)
        return console.render(request, "audit_verify.html", verdict=verdict)


def _cell(text: str) -> str:
    """No spreadsheet formulas from the trail (CSV injection): a leading = + - @ is quoted with an apostrophe."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text
