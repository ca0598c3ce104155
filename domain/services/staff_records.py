"""What `carecycle staff list|show` shows: each staff member's credentials with their state (active, expiring,
expired, pending, revoked), exclusion-list matches, payer enrollments and the states they may practise in.

Reads only. States come from the domain's rules (``domain.staff.credential_state``, ``domain.enrollment``,
``domain.licensure``), so the CLI shows what the workflows and the claim edits act on.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from domain import models as m
from domain.enums import CredentialKind, WorkItemState
from domain.errors import NotFound
from domain.exclusions import MATCH_OPEN
from domain.licensure import License, license_states
from domain.services.enrollments import EnrollmentRow, list_enrollments
from domain.staff import credential_lead_days, credential_state


@dataclass(frozen=True)
class LeadDays:
    """How long before expiry a credential counts as expiring (the workflows' policy)."""

    credential: int = 90
    caqh: int = 30


@dataclass(frozen=True)
class CredentialRow:
    credential_id: str
    kind: str
    issuer: str
    number: str
    state_code: str  # a license's state
    issued_on: date
    expires_on: date | None
    verified_on: date | None
    status: str  # as stored
    state: str  # what it means today: active, expiring, expired, pending, revoked
    days_left: int | None
    current: bool  # the newest of its kind from its issuer (an older one was superseded by a renewal)


@dataclass(frozen=True)
class MatchRow:
    match_id: str
    source: str
    basis: str
    exclusion_type: str
    excluded_on: date
    reinstated_on: date | None
    status: str
    found_on: date
    decided_by: str


@dataclass(frozen=True)
class StaffSummary:
    staff_id: str
    first_name: str
    last_name: str
    role: str
    active: bool
    npi: str
    credentials: dict[str, int]  # state -> count of current credentials
    open_exclusion_matches: int
    open_items: int


@dataclass(frozen=True)
class StaffDetail:
    staff_id: str
    first_name: str
    last_name: str
    role: str
    active: bool
    hired_on: date
    birth_date: date | None
    npi: str
    provider_id: str
    licensed_states: list[str]
    credentials: list[CredentialRow] = field(default_factory=list)
    exclusion_matches: list[MatchRow] = field(default_factory=list)
    enrollments: list[EnrollmentRow] = field(default_factory=list)
    open_items: list[dict[str, str]] = field(default_factory=list)


def _credential_rows(rows: list[m.Credential], today: date, lead: LeadDays) -> list[CredentialRow]:
    newest: dict[tuple[str, str], m.Credential] = {}
    for row in rows:
        key = (str(row.kind), row.issuer)
        current = newest.get(key)
        if current is None or (row.expires_on or date.max, row.id) > (current.expires_on or date.max, current.id):
            newest[key] = row
    current_ids = {row.id for row in newest.values()}
    return [
        CredentialRow(
            credential_id=row.id,
            kind=str(row.kind),
            issuer=row.issuer,
            number=row.number,
            state_code=row.state or "",
            issued_on=row.issued_on,
            expires_on=row.expires_on,
            verified_on=row.verified_on,
            status=row.status,
            state=credential_state(
                row.status, row.expires_on, today, credential_lead_days(str(row.kind), lead.credential, lead.caqh)
            ),
            days_left=(row.expires_on - today).days if row.expires_on else None,
            current=row.id in current_ids,
        )
        for row in sorted(rows, key=lambda r: (str(r.kind), r.issuer, r.expires_on or date.max, r.id))
    ]


def _npis(session: Session) -> dict[str, tuple[str, str]]:
    """staff id -> (provider id, provider NPI)."""
    rows = session.execute(select(m.Provider.staff_id, m.Provider.id, m.Provider.npi).order_by(m.Provider.id))
    found: dict[str, tuple[str, str]] = {}
    for staff_id, provider_id, npi in rows:
        if staff_id and staff_id not in found:
            found[staff_id] = (provider_id, npi)
    return found


def _open_items(session: Session, staff_id: str, credential_ids: list[str]) -> list[m.WorkItem]:
    return list(
        session.execute(
            select(m.WorkItem)
            .where(
                m.WorkItem.queue == "credentialing",
                m.WorkItem.state.in_([WorkItemState.OPEN, WorkItemState.CLAIMED]),
                m.WorkItem.entity_id.in_([staff_id, *credential_ids]),
            )
            .order_by(m.WorkItem.sla_due_at, m.WorkItem.id)
        ).scalars()
    )


def staff_overview(session: Session, today: date, lead: LeadDays = LeadDays()) -> list[StaffSummary]:
    staff = session.execute(select(m.Staff).order_by(m.Staff.last_name, m.Staff.first_name, m.Staff.id)).scalars()
    credentials: dict[str, list[m.Credential]] = {}
    for row in session.execute(select(m.Credential)).scalars():
        credentials.setdefault(row.staff_id, []).append(row)
    matches = Counter(
        session.execute(select(m.ExclusionMatch.staff_id).where(m.ExclusionMatch.status == MATCH_OPEN)).scalars()
    )
    npis = _npis(session)
    summaries = []
    for person in staff:
        rows = credentials.get(person.id, [])
        states = Counter(row.state for row in _credential_rows(rows, today, lead) if row.current)
        summaries.append(
            StaffSummary(
                staff_id=person.id,
                first_name=person.first_name,
                last_name=person.last_name,
                role=person.role,
                active=person.active,
                npi=person.npi or npis.get(person.id, ("", ""))[1],
                credentials=dict(sorted(states.items())),
                open_exclusion_matches=matches.get(person.id, 0),
                open_items=len(_open_items(session, person.id, [row.id for row in rows])),
            )
        )
    return summaries


def staff_detail(session: Session, staff_id: str, today: date, lead: LeadDays = LeadDays()) -> StaffDetail:
    person = session.get(m.Staff, staff_id)
    if person is None:
        raise NotFound(f"no staff member {staff_id}")
    rows = list(session.execute(select(m.Credential).where(m.Credential.staff_id == staff_id)).scalars())
    provider_id, provider_npi = _npis(session).get(staff_id, ("", ""))
    licenses = [
        License(row.state or "", row.status, row.issued_on, row.expires_on, row.id)
        for row in rows
        if row.kind == CredentialKind.STATE_LICENSE.value
    ]
    matches = session.execute(
        select(m.ExclusionMatch)
        .where(m.ExclusionMatch.staff_id == staff_id)
        .order_by(m.ExclusionMatch.found_on, m.ExclusionMatch.id)
    ).scalars()
    return StaffDetail(
        staff_id=person.id,
        first_name=person.first_name,
        last_name=person.last_name,
        role=person.role,
        active=person.active,
        hired_on=person.hired_on,
        birth_date=person.birth_date,
        npi=person.npi or provider_npi,
        provider_id=provider_id,
        licensed_states=license_states(licenses, today),
        credentials=_credential_rows(rows, today, lead),
        exclusion_matches=[
            MatchRow(
                match_id=row.id,
                source=row.source,
                basis=row.basis,
                exclusion_type=row.exclusion_type,
                excluded_on=row.excluded_on,
                reinstated_on=row.reinstated_on,
                status=row.status,
                found_on=row.found_on,
                decided_by=row.decided_by or "",
            )
            for row in matches
        ],
        enrollments=list_enrollments(session, today=today, staff_id=staff_id) if provider_id else [],
        open_items=[
            {"work_item_id": item.id, "reason": item.reason_code, "summary": item.summary, "state": str(item.state)}
            for item in _open_items(session, staff_id, [row.id for row in rows])
        ],
    )


__all__ = ["CredentialRow", "LeadDays", "MatchRow", "StaffDetail", "StaffSummary", "staff_detail", "staff_overview"]
