"""Patient statements: what a guarantor owes, rendered as a PDF (reportlab), stored and sent.

The PDF carries the guarantor's name and address (it is the letter to them); its document key and the
outbox file name carry only opaque ids. :class:`StatementSender` is idempotent by cycle key: the
``statements`` row is unique per guarantor and cycle key, so a retried activity sends one statement.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any, Protocol

from reportlab.lib.pagesizes import LETTER
from reportlab.lib.units import inch
from reportlab.pdfgen.canvas import Canvas
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from activities.documents.records import record_document
from activities.documents.store import StoredDocument
from activities.patient_collections.messaging import Message, OutboxMessenger
from domain import audit
from domain import models as m
from domain.errors import NotFound
from domain.ledger import accounts as acc
from domain.money import format_cents
from domain.store.uow import UnitOfWork


class DocumentSink(Protocol):
    """Any document store: ``put`` stores the bytes under ``key`` (its return value is not needed)."""

    def put(self, key: str, data: bytes, content_type: str) -> Any: ...


@dataclass(frozen=True)
class StatementLine:
    day: date
    description: str  # codes and kinds only: "visit 2026-03-02", "insurance paid", "payment"
    amount_cents: int  # positive: owed, negative: paid or adjusted


@dataclass(frozen=True)
class StatementData:
    practice_name: str
    practice_address: tuple[str, ...]
    practice_phone: str
    guarantor_name: str
    guarantor_address: tuple[str, ...]
    account_number: str
    kind: str  # first, reminder, final
    statement_date: date
    due_date: date
    lines: tuple[StatementLine, ...]
    balance_cents: int


_TITLES = {
    "first": "Statement",
    "reminder": "Reminder: balance due",
    "final": "Final notice",
    "plan_reminder": "Payment plan: installment missed",
}
_DESCRIPTIONS = {
    "transfer_to_patient": "your share after insurance",
    "patient_charge": "self-pay visit",
    "rebill_to_patient": "balance not covered by insurance",
    "patient_payment": "payment received, thank you",
    "patient_write_off": "adjustment",
    "refund": "refund of credit",
    "reversal": "insurance correction",
}


class StatementRenderer:
    """One statement as PDF bytes (letter size)."""

    def render(self, data: StatementData) -> bytes:
        buffer = io.BytesIO()
        canvas = Canvas(buffer, pagesize=LETTER, invariant=True)
        canvas.setTitle(f"{_TITLES.get(data.kind, 'Statement')} {data.account_number}")
        width, height = LETTER
        y = height - 0.75 * inch
        canvas.setFont("Helvetica-Bold", 14)
        canvas.drawString(0.75 * inch, y, data.practice_name)
        canvas.setFont("Helvetica", 9)
        for text in (*data.practice_address, data.practice_phone):
            y -= 12
            canvas.drawString(0.75 * inch, y, text)
        canvas.setFont("Helvetica-Bold", 16)
        canvas.drawRightString(width - 0.75 * inch, height - 0.75 * inch, _TITLES.get(data.kind, "Statement"))
        canvas.setFont("Helvetica", 9)
        canvas.drawRightString(width - 0.75 * inch, height - 0.75 * inch - 14, f"Account {data.account_number}")
        canvas.drawRightString(
            width - 0.75 * inch, height - 0.75 * inch - 26, f"Statement date {data.statement_date.isoformat()}"
        )
        y -= 36
        canvas.setFont("Helvetica", 10)
        for text in (data.guarantor_name, *data.guarantor_address):
            canvas.drawString(0.75 * inch, y, text)
            y -= 13
        y -= 20
        canvas.setFont("Helvetica-Bold", 10)
        canvas.drawString(0.75 * inch, y, "Date")
        canvas.drawString(1.9 * inch, y, "Description")
        canvas.drawRightString(width - 0.75 * inch, y, "Amount")
        canvas.setFont("Helvetica", 10)
        for line in data.lines:
            y -= 14
            if y < 1.5 * inch:
                canvas.showPage()
                canvas.setFont("Helvetica", 10)
                y = height - 0.75 * inch
            canvas.drawString(0.75 * inch, y, line.day.isoformat())
            canvas.drawString(1.9 * inch, y, line.description[:70])
            canvas.drawRightString(width - 0.75 * inch, y, format_cents(line.amount_cents))
        y -= 28
        canvas.setFont("Helvetica-Bold", 12)
        canvas.drawString(0.75 * inch, y, "Amount due")
        canvas.drawRightString(width - 0.75 * inch, y, format_cents(data.balance_cents))
        y -= 16
        canvas.setFont("Helvetica", 10)
        canvas.drawString(0.75 * inch, y, f"Please pay by {data.due_date.isoformat()}.")
        if data.kind == "final":
            y -= 14
            canvas.drawString(
                0.75 * inch, y, "This is the final notice: unpaid balances may be referred to a collection agency."
            )
        canvas.showPage()
        canvas.save()
        return buffer.getvalue()


def statement_data(
    session: Session, guarantor_id: str, kind: str, statement_date: date, due_date: date
) -> StatementData:
    """The guarantor's statement from the ledger: every entry on their patient AR account."""
    guarantor = session.get(m.Guarantor, guarantor_id)
    if guarantor is None:
        raise NotFound(f"unknown guarantor {guarantor_id}")
    practice = session.execute(select(m.Practice).limit(1)).scalar_one_or_none()
    if practice is None:
        raise NotFound("the store holds no practice")
    rows = session.execute(
        select(
            m.JournalEntry.kind,
            m.JournalEntry.occurred_at,
            m.Claim.date_of_service,
            m.JournalLine.debit_cents,
            m.JournalLine.credit_cents,
        )
        .join(m.JournalLine, m.JournalLine.entry_id == m.JournalEntry.id)
        .join(m.Account, m.Account.id == m.JournalLine.account_id)
        .outerjoin(m.Claim, m.Claim.id == m.JournalEntry.claim_id)
        .where(m.Account.code == acc.patient_ar(guarantor_id).code)
        .order_by(m.JournalEntry.occurred_at)
    ).all()
    lines = []
    for kind_of_entry, occurred_at, service_date, debit, credit in rows:
        description = _DESCRIPTIONS.get(kind_of_entry, kind_of_entry.replace("_", " "))
        if service_date is not None:
            description = f"visit {service_date.isoformat()}: {description}"
        lines.append(StatementLine(occurred_at.date(), description, int(debit) - int(credit)))
    return StatementData(
        practice_name=practice.name,
        practice_address=(practice.address_line, f"{practice.city}, {practice.state} {practice.postal_code}"),
        practice_phone=practice.phone,
        guarantor_name=f"{guarantor.first_name} {guarantor.last_name}",
        guarantor_address=(guarantor.address_line, f"{guarantor.city}, {guarantor.state} {guarantor.postal_code}"),
        account_number=guarantor.account_number,
        kind=kind,
        statement_date=statement_date,
        due_date=due_date,
        lines=tuple(lines),
        balance_cents=sum(line.amount_cents for line in lines),
    )


@dataclass(frozen=True)
class StatementResult:
    statement_id: str
    balance_cents: int
    document_key: str | None
    already_sent: bool


class StatementSender:
    """Render, store and send one statement; constructor-injected adapters so a worker wraps it as an activity."""

    def __init__(
        self,
        session_factory: sessionmaker[Session],
        documents: DocumentSink,
        messenger: OutboxMessenger,
        renderer: StatementRenderer | None = None,
        *,
        due_days: int = 30,
        today: Callable[[], date] | None = None,
    ) -> None:
        self._session_factory = session_factory
        self._documents = documents
        self._messenger = messenger
        self._renderer = renderer or StatementRenderer()
        self._due_days = due_days
        self._today = today or (lambda: datetime.now(UTC).date())

    def send(
        self,
        guarantor_id: str,
        kind: str,
        cycle_key: str,
        *,
        due_date: date | None = None,
        statement_date: date | None = None,
    ) -> StatementResult:
        """``due_date``: the collections policy's (the PatientCollections workflow passes it); otherwise
        ``due_days`` after the statement date."""
        cycle_key = cycle_key[:80]  # the column's length: the idempotency lookup must see what was stored
        with UnitOfWork(self._session_factory) as uow:
            session = uow.session
            existing = session.execute(
                select(m.Statement).where(m.Statement.guarantor_id == guarantor_id, m.Statement.cycle_key == cycle_key)
            ).scalar_one_or_none()
            if existing is not None and existing.sent_at is not None:
                return StatementResult(existing.id, existing.balance_cents, existing.document_key, True)
            today = statement_date or self._today()
            due = due_date or today + timedelta(days=self._due_days)
            data = statement_data(session, guarantor_id, kind, today, due)
            patient_id = _first_patient(session, guarantor_id)
            statement = existing or m.Statement(
                guarantor_id=guarantor_id,
                patient_id=patient_id,
                cycle_key=cycle_key,
                kind=kind,
                statement_date=data.statement_date,
                due_date=data.due_date,
                balance_cents=data.balance_cents,
            )
            session.add(statement)
            session.flush()
            key = f"statements/{statement.id}.pdf"  # opaque: no name, no account number
            stored = self._documents.put(key, self._renderer.render(data), "application/pdf")
            if isinstance(stored, StoredDocument):  # a document store: the Document row beside the bytes
                record_document(uow, stored, "statement", entity_type="guarantor", entity_id=guarantor_id)
            self._messenger.send(_statement_mail(statement.id, guarantor_id, kind, data, key))
            statement.document_key = key
            statement.sent_at = datetime.now(UTC)
            audit.record(
                session,
                actor="system:collections",
                action="statement.sent",
                entity_type="guarantor",
                entity_id=guarantor_id,
                details={"statement_id": statement.id, "kind": kind, "balance_cents": data.balance_cents},
            )
            uow.commit()
            return StatementResult(statement.id, data.balance_cents, key, False)


def _first_patient(session: Session, guarantor_id: str) -> str:
    """The patient a guarantor's statement is filed under (the first by id)."""
    patient_id = session.execute(
        select(m.Patient.id).where(m.Patient.guarantor_id == guarantor_id).order_by(m.Patient.id).limit(1)
    ).scalar_one_or_none()
    if patient_id is None:
        raise NotFound(f"guarantor {guarantor_id} has no patient")
    return patient_id


def _statement_mail(statement_id: str, guarantor_id: str, kind: str, data: StatementData, key: str) -> Message:
    """The statement's letter: its title, the balance and due date, the PDF attached (by its opaque key)."""
    return Message(
        key=f"statement:{statement_id}",
        channel="mail",
        recipient_type="guarantor",
        recipient_id=guarantor_id,
        subject=_TITLES.get(kind, "Statement"),
        body=f"Your balance of {format_cents(data.balance_cents)} is due by {data.due_date.isoformat()}.",
        attachment_key=key,
    )
