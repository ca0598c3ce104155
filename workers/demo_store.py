"""The demo's store: the practice's set-up seeded, the payers' rosters loaded, the patients' payments, and
the summary and progress the demo prints (reads of the store, retried by the caller while SQLite is busy)."""

from __future__ import annotations

import json
import logging
import urllib.request
from collections import Counter
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from domain import models as m
from domain.audit import STATUS_INQUIRY_ACTION
from domain.claim_status import ClaimStatus
from domain.enums import PayerRouting, WorkItemState
from workers.composition import Container
from workers.demo_fhir import DemoPractice

log = logging.getLogger("carecycle.demo")


def prepare_store(container: Container, patients: int, seed: int) -> tuple[DemoPractice, bool]:
    """Migrate, and seed the practice's set-up (never a patient) if the store is empty; returns the synthetic
    practice's patients with yesterday's visits (to send through the API) and whether the set-up was seeded."""
    from domain.store.migrate import upgrade
    from workers.demo_fhir import demo_practice, seed_practice_setup
    from workers.synthetic import SyntheticPractice

    upgrade(container.engine)
    generated = SyntheticPractice(seed).generate(patients)
    with container.uow() as uow:
        session = uow.session
        seeded = False
        if session.execute(select(func.count()).select_from(m.Practice)).scalar_one() == 0:
            seed_practice_setup(session, generated)
            uow.commit()
            seeded = True
        practice = demo_practice(session, generated, seed)
    return practice, seeded


def payer_routings(container: Container) -> dict[str, PayerRouting]:
    with container.uow() as uow:
        rows = uow.session.execute(select(m.Payer.payer_id, m.Payer.routing)).all()
    return {code: PayerRouting(routing) for code, routing in rows}


def demo_api_token(container: Container) -> str:
    """An API client of the demo's own (a new one per run: a token is shown only when it is made)."""
    from api.clients import add_client

    with container.uow() as uow:
        token = add_client(
            uow.session, f"carecycle-demo-{datetime.now(UTC):%Y%m%d%H%M%S%f}", ("intake", "read"), actor="demo"
        )
        uow.commit()
    return token


def load_rosters(clearinghouse_url: str, entries: list[dict[str, Any]]) -> int:
    request = urllib.request.Request(  # noqa: S310 - our own sandbox URL
        f"{clearinghouse_url.rstrip('/')}/admin/roster",
        data=json.dumps({"members": entries}).encode("utf-8"),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 - our own sandbox URL
        body = json.loads(response.read() or b"{}")
    return int(body.get("loaded", len(entries)))


def store_summary(container: Container, since: datetime) -> dict[str, Any]:
    """Claims, money and work items as the store sees them (codes, counts and cents only)."""
    from domain.ledger.checks import run_ledger_checks

    with container.uow() as uow:
        session = uow.session
        claims_by_status = _claims_by_status(session, since)
        paid, patient_ar, debits, credits = _money(session, since)
        report = run_ledger_checks(session)
        open_items, waiting_on = _open_work_items(session)
        statements = session.execute(
            select(func.count()).select_from(m.Statement).where(m.Statement.sent_at >= since)
        ).scalar_one()
        remittances = session.execute(
            select(func.count()).select_from(m.Remittance).where(m.Remittance.received_at >= since)
        ).scalar_one()
        portal = portal_summary(session, since)
    return {
        "claims_by_status": claims_by_status,
        "payments_posted_cents": paid,
        "patient_balance_cents": patient_ar,
        "open_work_items": open_items,
        "waiting_on": waiting_on,
        "ledger_balanced": debits == credits and report.ok,
        "ledger": {"debit_cents": debits, "credit_cents": credits, "checks_ok": report.ok},
        "statements_sent": int(statements),
        "remittances_posted": int(remittances),
        "portal": portal,
    }


def _claims_by_status(session: Session, since: datetime) -> dict[str, int]:
    """The claims this run touched (an audit event since ``since``), counted by status."""
    touched = select(m.AuditEvent.entity_id).where(
        m.AuditEvent.entity_type == "claim", m.AuditEvent.occurred_at >= since
    )
    statuses = session.execute(select(m.Claim.status).where(m.Claim.id.in_(touched))).scalars()
    return dict(sorted(Counter(str(ClaimStatus(s)) for s in statuses).items()))


def _money(session: Session, since: datetime) -> tuple[int, int, int, int]:
    """(paid by remittances since ``since``, patients' balance, the journal's debits, its credits), in cents."""
    paid = session.execute(
        select(func.coalesce(func.sum(m.RemittanceClaim.paid_cents), 0))
        .join(m.Remittance, m.Remittance.id == m.RemittanceClaim.remittance_id)
        .where(m.Remittance.received_at >= since)
    ).scalar_one()
    patient_ar = session.execute(
        select(func.coalesce(func.sum(m.JournalLine.debit_cents - m.JournalLine.credit_cents), 0))
        .join(m.Account, m.Account.id == m.JournalLine.account_id)
        .where(m.Account.code.like("patient_ar:%"))
    ).scalar_one()
    debits, credits = session.execute(
        select(
            func.coalesce(func.sum(m.JournalLine.debit_cents), 0),
            func.coalesce(func.sum(m.JournalLine.credit_cents), 0),
        )
    ).one()
    return int(paid), int(patient_ar), int(debits), int(credits)


def _open_work_items(session: Session) -> tuple[dict[str, int], list[dict[str, Any]]]:
    """Open work items counted by queue, and the oldest hundred with what waits on each."""
    open_states = [WorkItemState.OPEN, WorkItemState.CLAIMED]
    by_queue = session.execute(
        select(m.WorkItem.queue, func.count()).where(m.WorkItem.state.in_(open_states)).group_by(m.WorkItem.queue)
    ).all()
    waiting_on = [
        {"work_item_id": item_id, "queue": queue, "reason": reason, "workflow_id": workflow_id}
        for item_id, queue, reason, workflow_id in session.execute(
            select(m.WorkItem.id, m.WorkItem.queue, m.WorkItem.reason_code, m.WorkItem.workflow_id)
            .where(m.WorkItem.state.in_(open_states))
            .order_by(m.WorkItem.created_at)
            .limit(100)
        ).all()
    ]
    return {queue: int(count) for queue, count in sorted(by_queue)}, waiting_on


def portal_summary(session: Any, since: datetime) -> dict[str, int]:
    """What went through the payer portals in this run, as the store recorded it."""
    portal_payers = select(m.Payer.id).where(m.Payer.routing == PayerRouting.PORTAL)
    # Eligibility answers recorded from a portal session (the audit names the route the payer was asked by).
    recorded = session.execute(
        select(m.AuditEvent.details)
        .join(m.Coverage, m.Coverage.id == m.AuditEvent.entity_id)
        .where(
            m.AuditEvent.action == "coverage.eligibility",
            m.AuditEvent.occurred_at >= since,
            m.Coverage.payer_id.in_(portal_payers),
        )
    ).scalars()
    eligibility = sum(1 for details in recorded if (details or {}).get("route") == "portal")
    eobs = session.execute(
        select(func.count()).select_from(m.Document).where(m.Document.kind == "eob_pdf", m.Document.created_at >= since)
    ).scalar_one()
    posted = session.execute(
        select(func.count())
        .select_from(m.Remittance)
        .where(m.Remittance.source == "eob_pdf", m.Remittance.received_at >= since)
    ).scalar_one()
    # Claim-status searches on a portal (the Claim workflow's follow-up for a payer without a 276/277 route).
    inquiries = session.execute(
        select(m.AuditEvent.details).where(
            m.AuditEvent.action == STATUS_INQUIRY_ACTION, m.AuditEvent.occurred_at >= since
        )
    ).scalars()
    status_checks = sum(1 for details in inquiries if (details or {}).get("route") == "portal")
    return {
        "eligibility_checks": int(eligibility),
        "claim_status_checks": status_checks,
        "eobs_read": int(eobs),
        "eob_remittances_posted": int(posted),
    }


def patients_pay(container: Container, since: datetime) -> list[tuple[str, int]]:
    """The synthetic practice's patients: about two in three pay their balance in full after a statement.

    Deterministic (the guarantor id decides), idempotent (keyed by guarantor): returns (guarantor, cents) paid now.
    """
    from domain.ledger.payments import record_patient_payment
    from domain.ledger.store import guarantor_balance

    paid: list[tuple[str, int]] = []
    with container.uow() as uow:
        session = uow.session
        statements = session.execute(
            select(m.Statement.guarantor_id, m.Statement.patient_id).where(m.Statement.sent_at >= since).distinct()
        ).all()
        for guarantor_id, patient_id in statements:
            if int(guarantor_id.replace("-", ""), 16) % 3 == 0:
                continue  # this one does not pay: reminders, final notice, agency
            key = f"demo:{guarantor_id}"  # each paying guarantor pays once, whatever comes later
            if session.execute(
                select(m.JournalEntry.id).where(m.JournalEntry.idempotency_key == f"patient_payment:{key}")
            ).first():
                continue
            balance = guarantor_balance(session, guarantor_id)
            if balance <= 0:
                continue
            record_patient_payment(session, patient_id, balance, "card", recorded_by="demo:patient", key=key)
            paid.append((guarantor_id, balance))
        uow.commit()
    return paid


def store_progress(container: Container) -> tuple[dict[str, int], int]:
    with container.uow() as uow:
        open_items = {
            queue_name: int(count)
            for queue_name, count in uow.session.execute(
                select(m.WorkItem.queue, func.count())
                .where(m.WorkItem.state == WorkItemState.OPEN)
                .group_by(m.WorkItem.queue)
            ).all()
        }
        postings = int(uow.session.execute(select(func.count()).select_from(m.JournalEntry)).scalar_one())
    return open_items, postings
