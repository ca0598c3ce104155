"""What a person needs in front of them to act on a work item, read from the store when the item is opened.

Workflows pass opaque ids and codes only (their payloads and logs must stay free of PHI); the ``workitems.open``
activity adds, from the store, the facts a biller looks up otherwise: the visit type, the provider, the place of
service in words, the dates, the amounts in dollars, the payer, the claim's status, and the reason in words. The
context lives in the ``work_items`` row only (shown by ``carecycle tasks show`` and the console), never in a
search attribute or a log line. A workflow's own context keys win over these.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from domain import models as m
from domain.catalog import PROCEDURES_BY_CODE
from domain.codes import PLACES_OF_SERVICE
from domain.ledger.store import guarantor_balance
from domain.money import format_dollars
from domain.workitems import REASONS, parse_reason

VISIT_TYPES = {"in_person": "in person", "telehealth": "telehealth"}


def _day(value: date | datetime | None) -> str:
    if value is None:
        return ""
    return value.date().isoformat() if isinstance(value, datetime) else value.isoformat()


def _place(code: str | None) -> str:
    if not code:
        return ""
    return f"{code} ({PLACES_OF_SERVICE[code]})" if code in PLACES_OF_SERVICE else code


def _provider(session: Session, provider_id: str | None) -> str:
    provider = session.get(m.Provider, provider_id) if provider_id else None
    if provider is None:
        return ""
    return f"{provider.first_name} {provider.last_name}, {provider.credential} (NPI {provider.npi})"


def _payer(session: Session, payer_row_id: str | None) -> str:
    payer = session.get(m.Payer, payer_row_id) if payer_row_id else None
    return f"{payer.name} ({payer.payer_id})" if payer else ""


def _visit(session: Session, encounter: m.Encounter | None, appointment_id: str | None) -> dict[str, str]:
    appointment = session.get(m.Appointment, appointment_id) if appointment_id else None
    facts: dict[str, str] = {}
    kind = VISIT_TYPES.get(str(appointment.kind), str(appointment.kind)) if appointment else ""
    if encounter is not None:
        if encounter.place_of_service in ("02", "10"):
            kind = "telehealth"
        main = next((line for line in encounter.service_lines), None)
        procedure = PROCEDURES_BY_CODE.get(main.procedure_code) if main else None
        if procedure is not None:
            kind = f"{kind or 'visit'}: {procedure.description} ({procedure.code})"
        facts["place_of_service"] = _place(encounter.place_of_service)
        facts["date_of_service"] = _day(encounter.date_of_service)
        facts["provider"] = _provider(session, encounter.provider_id)
    elif appointment is not None:
        facts["date_of_service"] = _day(appointment.starts_at)
        facts["provider"] = _provider(session, appointment.provider_id)
    if kind:
        facts["visit_type"] = kind
    return facts


def _claim(session: Session, claim_id: str) -> dict[str, str]:
    claim = session.get(m.Claim, claim_id)
    if claim is None:
        return {}
    encounter = session.get(m.Encounter, claim.encounter_id)
    facts = _visit(session, encounter, encounter.appointment_id if encounter else None)
    patient = session.get(m.Patient, claim.patient_id)
    lines = [
        f"{line.line_number}: {line.procedure_code}"
        + (f"-{'-'.join(line.modifiers)}" if line.modifiers else "")
        + f" x{line.units} {format_dollars(line.charge_cents)} on {_day(line.date_of_service)}"
        for line in claim.lines
    ]
    facts.update(
        {
            "provider": _provider(session, claim.billing_provider_id),  # the claim's rendering provider
            "payer": _payer(session, claim.payer_id),
            "claim_status": str(claim.status),
            "frequency_code": claim.frequency_code,
            "charge": format_dollars(claim.total_charge_cents),
            "paid": format_dollars(claim.paid_cents),
            "patient_responsibility": format_dollars(claim.patient_responsibility_cents),
            "diagnoses": ", ".join(encounter.diagnosis_codes or ()) if encounter else "",
            "lines": "; ".join(lines),
            "submitted_on": _day(claim.submitted_at),
            "payer_claim_number": claim.payer_claim_control_number or "",
            "patient_account": patient.account_number if patient else "",
        }
    )
    return facts


def _encounter(session: Session, encounter_id: str) -> dict[str, str]:
    encounter = session.get(m.Encounter, encounter_id)
    if encounter is None:
        return {}
    facts = _visit(session, encounter, encounter.appointment_id)
    patient = session.get(m.Patient, encounter.patient_id)
    facts["patient_account"] = patient.account_number if patient else ""
    return facts


def _appointment(session: Session, appointment_id: str) -> dict[str, str]:
    appointment = session.get(m.Appointment, appointment_id)
    if appointment is None:
        return {}
    encounter = session.execute(select(m.Encounter).where(m.Encounter.appointment_id == appointment_id)).scalar()
    return _visit(session, encounter, appointment_id)


def _coverage(session: Session, coverage_id: str) -> dict[str, str]:
    coverage = session.get(m.Coverage, coverage_id)
    if coverage is None:
        return {}
    patient = session.get(m.Patient, coverage.patient_id)
    return {
        "payer": _payer(session, coverage.payer_id),
        "coverage_rank": str(coverage.rank),
        "effective": f"{_day(coverage.effective_from)} to {_day(coverage.effective_to) or 'open'}",
        "eligibility_status": coverage.eligibility_status,
        "eligibility_checked_on": _day(coverage.eligibility_checked_at),
        "patient_account": patient.account_number if patient else "",
    }


def _guarantor(session: Session, guarantor_id: str) -> dict[str, str]:
    guarantor = session.get(m.Guarantor, guarantor_id)
    if guarantor is None:
        return {}
    last = session.execute(
        select(m.Statement).where(m.Statement.guarantor_id == guarantor_id).order_by(m.Statement.statement_date.desc())
    ).scalar()
    facts = {
        "guarantor_account": guarantor.account_number,
        "balance": format_dollars(guarantor_balance(session, guarantor_id)),
    }
    if last is not None:
        facts["last_statement"] = f"{last.kind} of {_day(last.statement_date)}, due {_day(last.due_date)}"
    return facts


def _remittance(session: Session, remittance_key: str) -> dict[str, str]:
    remittance = (
        session.execute(
            select(m.Remittance).where(
                (m.Remittance.id == remittance_key) | (m.Remittance.document_key.startswith(remittance_key))
            )
        )
        .scalars()
        .first()
    )
    if remittance is None:
        return {}
    return {
        "payer": _payer(session, remittance.payer_id),
        "trace_number": remittance.trace_number,
        "payment": format_dollars(remittance.payment_amount_cents),
        "payment_date": _day(remittance.payment_date),
    }


_BY_ENTITY: Mapping[str, Callable[[Session, str], dict[str, str]]] = {
    "claim": _claim,
    "encounter": _encounter,
    "appointment": _appointment,
    "coverage": _coverage,
    "guarantor": _guarantor,
    "remittance": _remittance,
}


def _dollars(context: Mapping[str, Any]) -> dict[str, str]:
    """Every ``<name>_cents`` a workflow passed, also as dollars under ``<name>`` (people read dollars)."""
    shown: dict[str, str] = {}
    for key, value in context.items():
        text = str(value)
        if key.endswith("_cents") and text.lstrip("-").isascii() and text.lstrip("-").isdigit() and len(text) < 16:
            shown[key.removesuffix("_cents")] = format_dollars(int(text))
    return shown


def describe(
    session: Session, reason: str, entity_type: str, entity_id: str, context: Mapping[str, str]
) -> dict[str, str]:
    """The context to store with a new work item: the workflow's own, the store's facts, the reason in words."""
    found = _BY_ENTITY.get(entity_type)
    facts = found(session, entity_id) if found else {}
    try:
        words = REASONS[parse_reason(reason)].description
    except Exception:
        words = ""
    combined = {"reason_in_words": words, **{k: v for k, v in facts.items() if v}, **_dollars(context)}
    combined.update(context)
    return {key: value for key, value in combined.items() if value != ""}
