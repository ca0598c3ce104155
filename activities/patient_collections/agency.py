"""The collection agency hand-off: a CSV placement file in the document store, and the balance written off
as bad debt at placement (recoveries post later as payments). Idempotent by the hand-off key."""

from __future__ import annotations

import csv
import hashlib
import io
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from activities.documents.records import record_document
from activities.documents.store import StoredDocument
from activities.patient_collections.statements import DocumentSink
from domain import audit
from domain import models as m
from domain.errors import NotFound
from domain.ledger.adjustments import write_off_patient_balance
from domain.ledger.store import existing_keys, guarantor_balance
from domain.money import format_cents
from domain.store.uow import UnitOfWork

AGENCY_COLUMNS = (
    "account_number",
    "first_name",
    "last_name",
    "birth_date",
    "address_line",
    "city",
    "state",
    "postal_code",
    "phone",
    "balance",
    "last_statement_date",
    "placed_on",
)


@dataclass(frozen=True)
class Placement:
    account_number: str
    first_name: str
    last_name: str
    birth_date: str
    address_line: str
    city: str
    state: str
    postal_code: str
    phone: str
    balance_cents: int
    last_statement_date: str
    placed_on: str


def agency_csv(placements: Sequence[Placement]) -> bytes:
    """The placement file the agency loads (one row per guarantor; amounts as dollars with two decimals)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(AGENCY_COLUMNS)
    for p in placements:
        writer.writerow(
            [
                p.account_number,
                p.first_name,
                p.last_name,
                p.birth_date,
                p.address_line,
                p.city,
                p.state,
                p.postal_code,
                p.phone,
                format_cents(p.balance_cents),
                p.last_statement_date,
                p.placed_on,
            ]
        )
    return buffer.getvalue().encode()


@dataclass(frozen=True)
class AgencyResult:
    guarantor_id: str
    amount_cents: int
    document_key: str | None
    already_placed: bool


class AgencyHandoff:
    def __init__(self, session_factory: sessionmaker[Session], documents: DocumentSink) -> None:
        self._session_factory = session_factory
        self._documents = documents

    def hand_off(self, guarantor_id: str, key: str, *, actor: str = "system:collections") -> AgencyResult:
        document_key = f"agency/{hashlib.sha256(key.encode()).hexdigest()[:32]}.csv"  # opaque
        with UnitOfWork(self._session_factory) as uow:
            session = uow.session
            if existing_keys(session, [f"patient_write_off:agency:{key}:0"]):
                return AgencyResult(guarantor_id, 0, document_key, True)
            guarantor = session.get(m.Guarantor, guarantor_id)
            if guarantor is None:
                raise NotFound(f"unknown guarantor {guarantor_id}")
            balance = guarantor_balance(session, guarantor_id)
            if balance <= 0:
                return AgencyResult(guarantor_id, 0, None, False)
            last_statement = session.execute(
                select(m.Statement.statement_date)
                .where(m.Statement.guarantor_id == guarantor_id)
                .order_by(m.Statement.statement_date.desc())
                .limit(1)
            ).scalar_one_or_none()
            placement = Placement(
                guarantor.account_number,
                guarantor.first_name,
                guarantor.last_name,
                guarantor.birth_date.isoformat(),
                guarantor.address_line,
                guarantor.city,
                guarantor.state,
                guarantor.postal_code,
                guarantor.phone,
                balance,
                last_statement.isoformat() if last_statement else "",
                datetime.now(UTC).date().isoformat(),
            )
            stored = self._documents.put(document_key, agency_csv([placement]), "text/csv")
            if isinstance(stored, StoredDocument):  # a document store: the Document row beside the bytes
                record_document(uow, stored, "agency_export", entity_type="guarantor", entity_id=guarantor_id)
            # Placed with the agency: the balance leaves the books as bad debt (a recovery posts as a payment).
            write_off_patient_balance(session, guarantor_id, balance, "bad_debt", key=f"agency:{key}", actor=actor)
            audit.record(
                session,
                actor=actor,
                action="collections.agency",
                entity_type="guarantor",
                entity_id=guarantor_id,
                details={"amount_cents": balance, "written_off": "bad_debt", "document": document_key},
            )
            uow.commit()
        return AgencyResult(guarantor_id, balance, document_key, False)
