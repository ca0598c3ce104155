"""The store reads the CLI's reporting commands need, so that the CLI calls services and never builds a query.

Each returns ORM rows (read inside the caller's unit of work) or plain values; none writes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from domain import models as m
from domain.errors import NotFound


@dataclass(frozen=True)
class PatientPage:
    total: int
    patients: list[m.Patient]
    coverages: list[tuple[m.Coverage, str]]  # each coverage of the page's patients with its payer's payer_id


def patient_page(session: Session, limit: int, offset: int) -> PatientPage:
    """Patients by account number, one page, with their coverages."""
    total = session.execute(select(func.count()).select_from(m.Patient)).scalar_one()
    patients = list(
        session.execute(select(m.Patient).order_by(m.Patient.account_number).limit(limit).offset(offset))
        .scalars()
        .all()
    )
    coverages = session.execute(
        select(m.Coverage, m.Payer.payer_id)
        .join(m.Payer, m.Payer.id == m.Coverage.payer_id)
        .where(m.Coverage.patient_id.in_([p.id for p in patients]))
    ).all()
    return PatientPage(total, patients, [(coverage, payer_id) for coverage, payer_id in coverages])


def patient_id_for(session: Session, id_or_account_number: str) -> str | None:
    """The patient named by its id or its account number, if any."""
    return session.execute(
        select(m.Patient.id).where(
            or_(m.Patient.id == id_or_account_number, m.Patient.account_number == id_or_account_number)
        )
    ).scalar_one_or_none()


def claims_by_id(session: Session, ids: Sequence[str]) -> dict[str, m.Claim]:
    """The claims among ``ids`` that exist, by id."""
    return {c.id: c for c in session.execute(select(m.Claim).where(m.Claim.id.in_(ids))).scalars()}


def claims_in_status(session: Session, statuses: Sequence[str]) -> list[m.Claim]:
    """Every claim in one of ``statuses``, oldest first."""
    return list(
        session.execute(select(m.Claim).where(m.Claim.status.in_(statuses)).order_by(m.Claim.created_at, m.Claim.id))
        .scalars()
        .all()
    )


def claims_named_or_in_status(session: Session, ids: Sequence[str], statuses: Sequence[str]) -> list[m.Claim]:
    """The claims named by ``ids`` (each once, in the order given; ``NotFound`` names the first missing one), or
    with no ids every claim in one of ``statuses``, oldest first."""
    if not ids:
        return claims_in_status(session, statuses)
    found = claims_by_id(session, ids)
    missing = [i for i in ids if i not in found]
    if missing:
        raise NotFound(
            f"no claim with id {missing[0]}" + (f" (and {len(missing) - 1} more)" if len(missing) > 1 else "")
        )
    return [found[i] for i in dict.fromkeys(ids)]


def work_item_applied(session: Session, item_id: str) -> dict[str, Any] | None:
    """What carrying the work item's resolution out did, once its workflow recorded it (``resolution.applied``)."""
    item = session.get(m.WorkItem, item_id)
    applied = ((item.resolution or {}) if item is not None else {}).get("applied")
    return applied if isinstance(applied, dict) else None


def work_items_by_id_or_prefix(session: Session, ident: str, min_prefix: int = 6) -> list[m.WorkItem]:
    """The work item with id ``ident``; else up to two whose id starts with it (a prefix of ``min_prefix`` or
    more characters), so the caller can tell one match from an ambiguous prefix."""
    item = session.get(m.WorkItem, ident)
    if item is not None:
        return [item]
    if len(ident) < min_prefix:
        return []
    return list(session.execute(select(m.WorkItem).where(m.WorkItem.id.startswith(ident)).limit(2)).scalars().all())


def work_items(session: Session, *, include_closed: bool, queue: str | None) -> list[m.WorkItem]:
    """Work items by SLA due time: open and claimed ones only unless ``include_closed``; one queue if given."""
    query = select(m.WorkItem).order_by(m.WorkItem.sla_due_at, m.WorkItem.created_at)
    if not include_closed:
        query = query.where(m.WorkItem.state.in_(["open", "claimed"]))
    if queue:
        query = query.where(m.WorkItem.queue == queue)
    return list(session.execute(query).scalars())
