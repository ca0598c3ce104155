"""The claims a posting changes, as plain values: read with a few Core queries, written back in bulk.

Posting 10,000 claims through ORM instances spent more time building and tracking them than the database spent
storing the result, so posting reads each claim and its lines into a small mutable record, changes that, and
writes the changed columns back in one bulk update per table (``domain.store.bulk``), keeping the optimistic
lock: a claim changed by someone else since it was read fails the posting with ConcurrencyConflict, and the
posting is tried again (``domain.posting.retry``).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session
from sqlalchemy.orm.util import identity_key

from domain import models as m
from domain.claim_status import ClaimStatus, check_transition
from domain.enums import CoverageRank
from domain.errors import ConcurrencyConflict
from domain.ledger.store import select_in
from domain.store.bulk import bulk_update


@dataclass(slots=True)
class LineState:
    id: str
    line_number: int
    procedure_code: str
    modifiers: tuple[str, ...]
    charge_cents: int
    date_of_service: date
    paid_cents: int
    units: int
    service_line_id: str | None
    diagnosis_pointers: tuple[int, ...]


@dataclass(slots=True)
class ClaimState:
    id: str
    encounter_id: str
    patient_id: str
    payer_id: str
    billing_provider_id: str
    rank: CoverageRank
    status: ClaimStatus
    primary_claim_id: str | None
    total_charge_cents: int
    paid_cents: int
    patient_responsibility_cents: int
    payer_claim_control_number: str | None
    date_of_service: date
    adjudicated_at: datetime | None
    version_id: int
    patient_account: str
    lines: list[LineState] = field(default_factory=list)

    def transition(self, target: ClaimStatus) -> None:
        """Move to ``target`` if the lifecycle allows it; raises IllegalTransition otherwise."""
        self.status = check_transition(self.status, target)


_CLAIM_COLUMNS = (
    m.Claim.id,
    m.Claim.encounter_id,
    m.Claim.patient_id,
    m.Claim.payer_id,
    m.Claim.billing_provider_id,
    m.Claim.rank,
    m.Claim.status,
    m.Claim.primary_claim_id,
    m.Claim.total_charge_cents,
    m.Claim.paid_cents,
    m.Claim.patient_responsibility_cents,
    m.Claim.payer_claim_control_number,
    m.Claim.date_of_service,
    m.Claim.adjudicated_at,
    m.Claim.version_id,
    m.Patient.account_number,
)
_LINE_COLUMNS = (
    m.ClaimLine.claim_id,
    m.ClaimLine.id,
    m.ClaimLine.line_number,
    m.ClaimLine.procedure_code,
    m.ClaimLine.modifiers,
    m.ClaimLine.charge_cents,
    m.ClaimLine.date_of_service,
    m.ClaimLine.paid_cents,
    m.ClaimLine.units,
    m.ClaimLine.service_line_id,
    m.ClaimLine.diagnosis_pointers,
)


def load_claims(session: Session, claim_ids: Iterable[str]) -> dict[str, ClaimState]:
    """Claim id -> the claim with its lines (in line-number order); unknown ids are left out."""
    claims: dict[str, ClaimState] = {}
    stmt = select(*_CLAIM_COLUMNS).join(m.Patient, m.Patient.id == m.Claim.patient_id)
    for row in select_in(session, m.Claim.id, claim_ids, stmt):
        claims[row[0]] = ClaimState(
            row[0], row[1], row[2], row[3], row[4], CoverageRank(row[5]), ClaimStatus(row[6]), *row[7:]
        )
    if not claims:
        return claims
    # select_in reads the claims in id order, chunk after chunk: ordered within each, the lines come in order.
    lines = select(*_LINE_COLUMNS).order_by(m.ClaimLine.claim_id, m.ClaimLine.line_number)
    for row in select_in(session, m.ClaimLine.claim_id, list(claims), lines):
        claims[row[0]].lines.append(
            LineState(
                row[1],
                row[2],
                row[3],
                tuple(row[4] or ()),
                row[5],
                row[6],
                row[7],
                row[8],
                row[9],
                tuple(row[10] or ()),
            )
        )
    return claims


def save_claims(session: Session, claims: Sequence[ClaimState]) -> None:
    """Write the claims' posted columns and their lines' paid amounts back, checking each claim's version."""
    if not claims:
        return
    claim_rows = [
        (
            c.id,
            c.version_id,
            c.status.value,
            c.paid_cents,
            c.patient_responsibility_cents,
            c.payer_claim_control_number,
            c.adjudicated_at,
            c.version_id + 1,
        )
        for c in claims
    ]
    values = ("status", "paid_cents", "patient_responsibility_cents", "payer_claim_control_number")
    updated = bulk_update(session, m.Claim, ("id", "version_id"), (*values, "adjudicated_at", "version_id"), claim_rows)
    if updated is not None and updated != len(claim_rows):
        raise ConcurrencyConflict("a claim was changed by someone else while posting; post the remittance again")
    line_rows = [(line.id, line.paid_cents) for c in claims for line in c.lines]
    bulk_update(session, m.ClaimLine, ("id",), ("paid_cents",), line_rows)
    for c in claims:
        c.version_id += 1
    _forget_loaded(session, m.Claim, [c.id for c in claims])
    _forget_loaded(session, m.ClaimLine, [line.id for c in claims for line in c.lines])


def _forget_loaded(session: Session, model: type[m.Base], ids: Sequence[str]) -> None:
    """ORM instances of these rows the session holds were read before the bulk update: reload them on access."""
    identity_map = session.identity_map
    if not len(identity_map):
        return
    for row_id in ids:
        loaded = identity_map.get(identity_key(model, row_id))
        if loaded is not None:
            session.expire(loaded)
