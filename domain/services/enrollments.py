"""Recording and listing payer enrollments (``carecycle staff enroll`` / ``staff enrollments``).

A staff member enrolls through the provider record behind them (``providers.staff_id``); the change is checked
by ``domain.enrollment.enrollment_change`` before anything is written, and audited in the same transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from domain import audit
from domain import models as m
from domain.enrollment import (
    ENROLLMENT_CHANGED,
    ENROLLMENT_RECORDED,
    TERMINATED,
    Enrollment,
    enrollment_change,
    enrollment_state,
)
from domain.errors import NotFound, UnknownPayer


@dataclass(frozen=True)
class EnrollmentRow:
    enrollment_id: str
    staff_id: str
    provider_id: str
    provider_npi: str
    payer_id: str  # the payer's clearinghouse id
    status: str
    state: str  # what it means today (domain.enrollment.enrollment_state)
    effective_from: date | None
    effective_to: date | None
    number: str


def provider_of(session: Session, staff_id: str) -> m.Provider:
    if session.get(m.Staff, staff_id) is None:
        raise NotFound(f"no staff member {staff_id}")
    provider = session.execute(
        select(m.Provider).where(m.Provider.staff_id == staff_id).order_by(m.Provider.id).limit(1)
    ).scalar_one_or_none()
    if provider is None:
        raise NotFound(f"staff member {staff_id} has no provider record: only providers enroll with payers")
    return provider


def payer_by_code(session: Session, payer_code: str) -> m.Payer:
    payer = session.execute(select(m.Payer).where(m.Payer.payer_id == payer_code.strip())).scalar_one_or_none()
    if payer is None:
        raise UnknownPayer(f"unknown payer {payer_code.strip()!r}")
    return payer


def _value(row: m.PayerEnrollment, payer_code: str) -> Enrollment:
    return Enrollment(payer_code, row.status, row.effective_from, row.effective_to, row.number or "")


def _row(row: m.PayerEnrollment, provider: m.Provider, payer_code: str, today: date) -> EnrollmentRow:
    return EnrollmentRow(
        enrollment_id=row.id,
        staff_id=provider.staff_id or "",
        provider_id=provider.id,
        provider_npi=provider.npi,
        payer_id=payer_code,
        status=row.status,
        state=enrollment_state(_value(row, payer_code), today),
        effective_from=row.effective_from,
        effective_to=row.effective_to,
        number=row.number or "",
    )


def record_enrollment(
    session: Session,
    *,
    staff_id: str,
    payer_code: str,
    status: str,
    effective_from: date | None,
    effective_to: date | None,
    number: str | None,
    actor: str,
    today: date,
) -> EnrollmentRow:
    """Record a new enrollment or move the current one (pending -> active -> terminated); the caller commits."""
    provider = provider_of(session, staff_id)
    payer = payer_by_code(session, payer_code)
    rows = session.execute(
        select(m.PayerEnrollment)
        .where(m.PayerEnrollment.provider_id == provider.id, m.PayerEnrollment.payer_id == payer.id)
        .order_by(m.PayerEnrollment.created_at, m.PayerEnrollment.id)
    ).scalars()
    current = next((row for row in reversed(list(rows)) if row.status != TERMINATED), None)
    change = enrollment_change(
        _value(current, payer.payer_id) if current is not None else None,
        payer_id=payer.payer_id,
        status=status,
        effective_from=effective_from,
        effective_to=effective_to,
        number=number,
    )
    wanted = change.enrollment
    previous = current.status if current is not None else ""
    if change.new_row or current is None:
        current = m.PayerEnrollment(provider_id=provider.id, payer_id=payer.id)
        session.add(current)
    current.status = wanted.status
    current.effective_from = wanted.effective_from
    current.effective_to = wanted.effective_to
    current.number = wanted.number or None
    current.updated_at = datetime.now(UTC)
    session.flush()
    audit.record(
        session,
        actor=actor[:60],
        action=ENROLLMENT_RECORDED if change.new_row else ENROLLMENT_CHANGED,
        entity_type="payer_enrollment",
        entity_id=current.id,
        details={
            "provider_id": provider.id,
            "payer_id": payer.payer_id,
            "previous_status": previous,
            "status": wanted.status,
            "effective_from": wanted.effective_from.isoformat() if wanted.effective_from else None,
            "effective_to": wanted.effective_to.isoformat() if wanted.effective_to else None,
        },
    )
    return _row(current, provider, payer.payer_id, today)


def list_enrollments(
    session: Session, *, today: date, staff_id: str | None = None, payer_code: str | None = None
) -> list[EnrollmentRow]:
    query = (
        select(m.PayerEnrollment, m.Provider, m.Payer.payer_id)
        .join(m.Provider, m.Provider.id == m.PayerEnrollment.provider_id)
        .join(m.Payer, m.Payer.id == m.PayerEnrollment.payer_id)
        .order_by(m.Provider.npi, m.Payer.payer_id, m.PayerEnrollment.created_at, m.PayerEnrollment.id)
    )
    if staff_id is not None:
        query = query.where(m.PayerEnrollment.provider_id == provider_of(session, staff_id).id)
    if payer_code is not None:
        query = query.where(m.PayerEnrollment.payer_id == payer_by_code(session, payer_code).id)
    return [_row(row, provider, code, today) for row, provider, code in session.execute(query).all()]


__all__ = ["EnrollmentRow", "list_enrollments", "payer_by_code", "provider_of", "record_enrollment"]
