"""What the claim page and the patient account page show, read from the store in one session each.

Plain dictionaries for the templates; amounts stay cents here and become dollars in the template (``dollars``).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from domain import models as m
from domain.ledger.store import claim_insurance_balances, guarantor_balance, patient_ar_balance
from domain.services.denials import explain


def claim_view(db: Session, claim: m.Claim) -> dict[str, Any]:
    payer = db.get(m.Payer, claim.payer_id)
    patient = db.get(m.Patient, claim.patient_id)
    provider = db.get(m.Provider, claim.billing_provider_id)
    encounter = db.get(m.Encounter, claim.encounter_id)
    diagnoses = list(encounter.diagnosis_codes or []) if encounter else []
    items = db.execute(
        select(m.WorkItem).where(m.WorkItem.entity_type == "claim", m.WorkItem.entity_id == claim.id)
        .order_by(m.WorkItem.created_at)
    ).scalars().all()  # fmt: skip
    timeline = db.execute(
        select(m.AuditEvent).where(m.AuditEvent.entity_type == "claim", m.AuditEvent.entity_id == claim.id)
        .order_by(m.AuditEvent.seq)
    ).scalars().all()  # fmt: skip
    remits = []
    for rc in db.execute(select(m.RemittanceClaim).where(m.RemittanceClaim.claim_id == claim.id)).scalars():
        remittance = rc.remittance
        adjustments = [(a.group_code, a.reason_code, a.amount_cents) for a in rc.adjustments]
        remits.append(
            {
                "trace": remittance.trace_number,
                "date": remittance.payment_date or remittance.received_at,
                "source": remittance.source,
                "status_code": rc.status_code,
                "charge_cents": rc.charge_cents,
                "paid_cents": rc.paid_cents,
                "patient_cents": rc.patient_responsibility_cents,
                "adjustments": adjustments,
                "explained": explain(tuple(f"{g}-{r}" for g, r, _ in adjustments), tuple(rc.remark_codes or ())),
                "document": _document_by_key(db, remittance.document_key),
            }
        )
    documents = db.execute(
        select(m.Document).where(m.Document.entity_type == "claim", m.Document.entity_id == claim.id)
        .order_by(m.Document.created_at)
    ).scalars().all()  # fmt: skip
    return {
        "claim": claim,
        "payer": payer,
        "patient": patient,
        "provider": provider,
        "diagnoses": diagnoses,
        "lines": list(claim.lines),
        "items": list(items),
        "timeline": list(timeline),
        "remits": remits,
        "documents": list(documents),
        "ledger": _ledger(db, m.JournalEntry.claim_id == claim.id),
        "insurance_balance": claim_insurance_balances(db, [claim.id]).get(claim.id, 0),
    }


def _document_by_key(db: Session, key: str | None) -> m.Document | None:
    if not key:
        return None
    return db.execute(select(m.Document).where(m.Document.key == key)).scalar_one_or_none()


def _ledger(db: Session, condition: Any) -> list[dict[str, Any]]:
    entries = db.execute(
        select(m.JournalEntry).where(condition).order_by(m.JournalEntry.occurred_at, m.JournalEntry.id)
    ).scalars().all()  # fmt: skip
    names = {a.id: a.name for a in db.execute(select(m.Account)).scalars()} if entries else {}
    return [
        {
            "at": e.occurred_at,
            "kind": e.kind,
            "memo": e.memo,
            "lines": [(names.get(line.account_id, "?"), line.debit_cents, line.credit_cents) for line in e.lines],
        }
        for e in entries
    ]


def patient_view(db: Session, patient: m.Patient) -> dict[str, Any]:
    guarantor = db.get(m.Guarantor, patient.guarantor_id)
    claims = db.execute(
        select(m.Claim).where(m.Claim.patient_id == patient.id).order_by(m.Claim.date_of_service.desc())
    ).scalars().all()  # fmt: skip
    balances = claim_insurance_balances(db, [c.id for c in claims]) if claims else {}
    payers = {p.id: p for p in db.execute(select(m.Payer)).scalars()}
    statements = db.execute(
        select(m.Statement).where(m.Statement.patient_id == patient.id).order_by(m.Statement.statement_date)
    ).scalars().all()  # fmt: skip
    plans = db.execute(
        select(m.PaymentPlan).where(m.PaymentPlan.patient_id == patient.id).order_by(m.PaymentPlan.start_date)
    ).scalars().all()  # fmt: skip
    payments = db.execute(
        select(m.PatientPayment).where(m.PatientPayment.patient_id == patient.id)
        .order_by(m.PatientPayment.received_at)
    ).scalars().all()  # fmt: skip
    return {
        "patient": patient,
        "guarantor": guarantor,
        "coverages": [(c, payers.get(c.payer_id)) for c in patient.coverages],
        "claims": [(c, payers.get(c.payer_id), balances.get(c.id, 0)) for c in claims],
        "balance": patient_ar_balance(db, patient.id),
        "guarantor_balance": guarantor_balance(db, guarantor.id) if guarantor else 0,
        "statements": [(s, _document_by_key(db, s.document_key)) for s in statements],
        "plans": list(plans),
        "payments": list(payments),
        "ledger": _ledger(db, m.JournalEntry.patient_id == patient.id),
    }
