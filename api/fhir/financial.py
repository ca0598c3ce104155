"""The revenue cycle read as FHIR: Claim (the 837P), ClaimResponse (999/277CA and the payer's answer),
ExplanationOfBenefit (each posted 835 claim payment or EOB PDF), CoverageEligibilityResponse (the 271),
Account (the patient's balance) and Task (open work items). Read-only; ids are our row ids.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from api.fhir.refs import CPT_SYSTEM, ICD10_SYSTEM, MODIFIER_SYSTEM, NPI_SYSTEM, PAYER_SYSTEM
from api.fhir.views import clean, instant, money
from domain import models as m
from domain.claim_status import ClaimStatus
from domain.enums import WorkItemState
from domain.ledger.store import guarantor_balance, patient_ar_balance

CARC = "https://x12.org/codes/claim-adjustment-reason-codes"
RARC = "https://x12.org/codes/remittance-advice-remark-codes"
ADJUDICATION = "http://terminology.hl7.org/CodeSystem/adjudication"
GROUP_CODES = "https://x12.org/codes/claim-adjustment-group-codes"
CLAIM_TYPE = {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/claim-type", "code": "professional"}]}
STATUS_EXTENSION = "urn:carecycle:fhir:claim-status"

_WAITING = {
    ClaimStatus.DRAFT,
    ClaimStatus.READY,
    ClaimStatus.SUBMITTED,
    ClaimStatus.ACKNOWLEDGED,
    ClaimStatus.ACCEPTED,
    ClaimStatus.APPEALED,
}


def _payer(session: Session, payer_row_id: str) -> dict[str, Any]:
    payer = session.get(m.Payer, payer_row_id)
    assert payer is not None
    return {"identifier": {"system": PAYER_SYSTEM, "value": payer.payer_id}, "display": payer.name}


def _provider(session: Session, provider_id: str) -> dict[str, Any]:
    provider = session.get(m.Provider, provider_id)
    assert provider is not None
    return {"type": "Practitioner", "identifier": {"system": NPI_SYSTEM, "value": provider.npi}}


def _lines(claim: m.Claim) -> list[dict[str, Any]]:
    return [
        {
            "sequence": line.line_number,
            "diagnosisSequence": list(line.diagnosis_pointers or []),
            "productOrService": {"coding": [{"system": CPT_SYSTEM, "code": line.procedure_code}]},
            "modifier": [{"coding": [{"system": MODIFIER_SYSTEM, "code": x}]} for x in line.modifiers or []],
            "servicedDate": line.date_of_service.isoformat(),
            "quantity": {"value": line.units},
            "net": money(line.charge_cents),
        }
        for line in claim.lines
    ]


def claim(session: Session, row: m.Claim) -> dict[str, Any]:
    encounter = session.get(m.Encounter, row.encounter_id)
    diagnoses = list(encounter.diagnosis_codes or []) if encounter else []
    status = ClaimStatus(row.status)
    insurance: dict[str, Any] = {"sequence": 1, "focal": True}
    insurance["coverage"] = (
        {"reference": f"Coverage/{row.coverage_id}"} if row.coverage_id else {"display": "no coverage on file"}
    )
    return clean(
        {
            "resourceType": "Claim",
            "id": row.id,
            "meta": {"versionId": str(row.version_id), "lastUpdated": instant(row.submitted_at or row.created_at)},
            "extension": [{"url": STATUS_EXTENSION, "valueCode": status.value}],
            "identifier": [{"system": "urn:carecycle:claim-id", "value": row.id}],
            "status": "cancelled"
            if status is ClaimStatus.VOID
            else ("draft" if status is ClaimStatus.DRAFT else "active"),
            "type": CLAIM_TYPE,
            "use": "claim",
            "patient": {"reference": f"Patient/{row.patient_id}"},
            "created": instant(row.created_at),
            "insurer": _payer(session, row.payer_id),
            "provider": _provider(session, row.billing_provider_id),
            "priority": {
                "coding": [{"system": "http://terminology.hl7.org/CodeSystem/processpriority", "code": "normal"}]
            },
            "related": [{"claim": {"reference": f"Claim/{row.original_claim_id}"}}] if row.original_claim_id else [],
            "diagnosis": [
                {"sequence": n, "diagnosisCodeableConcept": {"coding": [{"system": ICD10_SYSTEM, "code": code}]}}
                for n, code in enumerate(diagnoses, start=1)
            ],
            "insurance": [insurance],
            "item": _lines(row),
            "total": money(row.total_charge_cents),
        }
    )


def claim_response(session: Session, row: m.Claim) -> dict[str, Any]:
    """The payer's and the clearinghouse's answer to a claim so far: queued while in process, an error when
    rejected (999/277CA codes), complete or partial once adjudicated (the 835's payment)."""
    status = ClaimStatus(row.status)
    outcome = "queued" if status in _WAITING else "error" if status is ClaimStatus.REJECTED else "complete"
    if status is ClaimStatus.PARTIALLY_PAID:
        outcome = "partial"
    remittance = session.execute(
        select(m.RemittanceClaim, m.Remittance)
        .join(m.Remittance, m.Remittance.id == m.RemittanceClaim.remittance_id)
        .where(m.RemittanceClaim.claim_id == row.id)
        .order_by(m.Remittance.received_at.desc(), m.RemittanceClaim.id.desc())
        .limit(1)
    ).first()
    resource: dict[str, Any] = {
        "resourceType": "ClaimResponse",
        "id": row.id,
        "meta": {
            "versionId": str(row.version_id),
            "lastUpdated": instant(row.adjudicated_at or row.submitted_at or row.created_at),
        },
        "extension": [{"url": STATUS_EXTENSION, "valueCode": status.value}],
        "status": "active",
        "type": CLAIM_TYPE,
        "use": "claim",
        "patient": {"reference": f"Patient/{row.patient_id}"},
        "created": instant(row.adjudicated_at or row.submitted_at or row.created_at),
        "insurer": _payer(session, row.payer_id),
        "request": {"reference": f"Claim/{row.id}"},
        "outcome": outcome,
        "disposition": status.value.replace("_", " "),
        "preAuthRef": None,
    }
    if row.payer_claim_control_number:
        resource["identifier"] = [
            {"system": "urn:carecycle:payer-claim-control-number", "value": row.payer_claim_control_number}
        ]
    if status is ClaimStatus.REJECTED:
        resource["error"] = [
            {"code": {"coding": [{"system": "urn:carecycle:rejection", "code": code}]}}
            for code in _rejection_codes(session, row.id)
        ] or [{"code": {"text": "rejected"}}]
    if remittance is not None:
        paid, remit = remittance
        resource["payment"] = {
            "amount": money(paid.paid_cents),
            "date": remit.payment_date.isoformat() if remit.payment_date else None,
        }
        resource["total"] = [
            {
                "category": {"coding": [{"system": ADJUDICATION, "code": "submitted"}]},
                "amount": money(paid.charge_cents),
            },
            {"category": {"coding": [{"system": ADJUDICATION, "code": "benefit"}]}, "amount": money(paid.paid_cents)},
        ]
    return clean(resource)


def _rejection_codes(session: Session, claim_id: str) -> list[str]:
    items = session.execute(
        select(m.WorkItem.context).where(m.WorkItem.entity_id == claim_id, m.WorkItem.reason_code == "claim_rejected")
    ).scalars()
    codes: list[str] = []
    for context in items:
        codes += [c for c in str((context or {}).get("codes", "")).split(",") if c]
    return codes


def explanation_of_benefit(session: Session, paid: m.RemittanceClaim) -> dict[str, Any]:
    """One posted claim payment (an 835 CLP loop, or an EOB PDF read like one), with CARC/RARC adjustments."""
    remittance = session.get(m.Remittance, paid.remittance_id)
    assert remittance is not None
    claim_row = session.get(m.Claim, paid.claim_id) if paid.claim_id else None
    adjustments = list(paid.adjustments)
    claim_level = [a for a in adjustments if a.remittance_service_line_id is None]
    resource: dict[str, Any] = {
        "resourceType": "ExplanationOfBenefit",
        "id": paid.id,
        "meta": {"versionId": "1", "lastUpdated": instant(remittance.received_at)},
        "identifier": [
            {"system": f"urn:carecycle:remittance-trace:{remittance.source}", "value": remittance.trace_number},
            *(
                [{"system": "urn:carecycle:payer-claim-control-number", "value": paid.payer_claim_control_number}]
                if paid.payer_claim_control_number
                else []
            ),
        ],
        "extension": [{"url": "urn:carecycle:fhir:remittance-source", "valueCode": remittance.source}],
        "status": "active",
        "type": CLAIM_TYPE,
        "use": "claim",
        "patient": {"reference": f"Patient/{claim_row.patient_id}"} if claim_row else {"display": "unmatched"},
        "created": instant(remittance.received_at),
        "insurer": _payer(session, remittance.payer_id),
        "provider": _provider(session, claim_row.billing_provider_id) if claim_row else {"display": "unmatched"},
        "claim": {"reference": f"Claim/{paid.claim_id}"} if paid.claim_id else None,
        "outcome": "complete",
        "insurance": [{"focal": True, "coverage": {"reference": f"Coverage/{claim_row.coverage_id}"}}]
        if claim_row and claim_row.coverage_id
        else [{"focal": True, "coverage": {"display": "coverage not on file"}}],
        "item": _eob_items(paid, adjustments),
        "adjudication": [*(_adjustment(a) for a in claim_level), *(_remark(c) for c in paid.remark_codes or [])],
        "total": _eob_totals(paid),
        "payment": {
            "amount": money(paid.paid_cents),
            "date": remittance.payment_date.isoformat() if remittance.payment_date else None,
            "identifier": {"system": "urn:carecycle:payment-trace", "value": remittance.trace_number},
        },
    }
    return clean(resource)


def _eob_items(paid: m.RemittanceClaim, adjustments: list[m.RemittanceAdjustment]) -> list[dict[str, Any]]:
    """The paid service lines, each with its charge, its payment, its own CARC adjustments and RARC remarks."""
    items = []
    for number, line in enumerate(paid.service_lines, start=1):
        own = [a for a in adjustments if a.remittance_service_line_id == line.id]
        items.append(
            {
                "sequence": number,
                "productOrService": {"coding": [{"system": CPT_SYSTEM, "code": line.procedure_code}]},
                "modifier": [{"coding": [{"system": MODIFIER_SYSTEM, "code": x}]} for x in line.modifiers or []],
                "adjudication": [
                    _amount("submitted", line.charge_cents),
                    _amount("benefit", line.paid_cents),
                    *(_adjustment(a) for a in own),
                    *(_remark(code) for code in line.remark_codes or []),
                ],
            }
        )
    return items


def _eob_totals(paid: m.RemittanceClaim) -> list[dict[str, Any]]:
    totals = [_amount("submitted", paid.charge_cents), _amount("benefit", paid.paid_cents)]
    if paid.patient_responsibility_cents:
        totals.append(
            {
                "category": {"coding": [{"system": "urn:carecycle:adjudication", "code": "patient-responsibility"}]},
                "amount": money(paid.patient_responsibility_cents),
            }
        )
    return totals


def _amount(category: str, cents: int) -> dict[str, Any]:
    return {"category": {"coding": [{"system": ADJUDICATION, "code": category}]}, "amount": money(cents)}


def _adjustment(row: m.RemittanceAdjustment) -> dict[str, Any]:
    return {
        "category": {"coding": [{"system": GROUP_CODES, "code": row.group_code}]},
        "reason": {"coding": [{"system": CARC, "code": row.reason_code}]},
        "amount": money(row.amount_cents),
        **({"value": row.quantity} if row.quantity else {}),
    }


def _remark(code: str) -> dict[str, Any]:
    return {
        "category": {"coding": [{"system": "urn:carecycle:adjudication", "code": "remark"}]},
        "reason": {"coding": [{"system": RARC, "code": code}]},
    }


def eligibility_response(session: Session, row: m.Coverage) -> dict[str, Any]:
    """The latest eligibility answer kept on a coverage (271 or the payer's portal): in force or not, copay and
    deductible left. Its id is the coverage's."""
    benefits = []
    if row.copay_cents is not None:
        benefits.append(
            {
                "type": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/benefit-type", "code": "copay"}]},
                "usedMoney": None,
                "allowedMoney": money(row.copay_cents),
            }
        )
    if row.deductible_remaining_cents is not None:
        benefits.append(
            {
                "type": {
                    "coding": [{"system": "http://terminology.hl7.org/CodeSystem/benefit-type", "code": "deductible"}]
                },
                "allowedMoney": money(row.deductible_remaining_cents),
            }
        )
    return clean(
        {
            "resourceType": "CoverageEligibilityResponse",
            "id": row.id,
            "meta": {"versionId": "1", "lastUpdated": instant(row.eligibility_checked_at)},
            "extension": [{"url": "urn:carecycle:fhir:eligibility-status", "valueCode": row.eligibility_status}],
            "status": "active",
            "purpose": ["benefits"],
            "patient": {"reference": f"Patient/{row.patient_id}"},
            "created": instant(row.eligibility_checked_at),
            "request": {"identifier": {"system": "urn:carecycle:eligibility-inquiry", "value": row.id}},
            "outcome": "complete" if row.eligibility_status in ("active", "inactive") else "queued",
            "insurer": _payer(session, row.payer_id),
            "insurance": [
                {
                    "coverage": {"reference": f"Coverage/{row.id}"},
                    "inforce": row.eligibility_status == "active",
                    "item": [
                        {
                            "category": {
                                "coding": [
                                    {"system": "http://terminology.hl7.org/CodeSystem/ex-benefitcategory", "code": "30"}
                                ]
                            },
                            "benefit": benefits,
                        }
                    ]
                    if benefits
                    else [],
                }
            ],
        }
    )


def account(session: Session, patient: m.Patient) -> dict[str, Any]:
    """The patient's balance on the ledger (patient AR) and their guarantor's; id is the patient's."""
    return clean(
        {
            "resourceType": "Account",
            "id": patient.id,
            "meta": {"versionId": "1", "lastUpdated": instant(None)},
            "extension": [
                {
                    "url": "urn:carecycle:fhir:patient-balance",
                    "valueMoney": money(patient_ar_balance(session, patient.id)),
                },
                {
                    "url": "urn:carecycle:fhir:guarantor-balance",
                    "valueMoney": money(guarantor_balance(session, patient.guarantor_id)),
                },
            ],
            "identifier": [{"system": "urn:carecycle:guarantor-account", "value": patient.guarantor_id}],
            "status": "active",
            "type": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "PBILLACCT"}]},
            "subject": [{"reference": f"Patient/{patient.id}"}],
        }
    )


_TASK_STATUS = {
    WorkItemState.OPEN: "requested",
    WorkItemState.CLAIMED: "in-progress",
    WorkItemState.RESOLVED: "completed",
    WorkItemState.CANCELLED: "cancelled",
}
_FOCUS = {
    "claim": "Claim",
    "patient": "Patient",
    "coverage": "Coverage",
    "encounter": "Encounter",
    "appointment": "Appointment",
}


def task(row: m.WorkItem) -> dict[str, Any]:
    focus_type = _FOCUS.get(row.entity_type)
    return clean(
        {
            "resourceType": "Task",
            "id": row.id,
            "meta": {"versionId": str(row.version_id), "lastUpdated": instant(row.resolved_at or row.created_at)},
            "identifier": [{"system": "urn:carecycle:workflow-id", "value": row.workflow_id}]
            if row.workflow_id
            else [],
            "status": _TASK_STATUS.get(WorkItemState(row.state), "requested"),
            "businessStatus": {"coding": [{"system": "urn:carecycle:work-queue", "code": row.queue}]},
            "intent": "order",
            "code": {"coding": [{"system": "urn:carecycle:work-item-reason", "code": row.reason_code}]},
            "description": row.summary,
            "focus": {"reference": f"{focus_type}/{row.entity_id}"}
            if focus_type
            else {"display": f"{row.entity_type} {row.entity_id}"},
            "authoredOn": instant(row.created_at),
            "owner": {"display": row.assignee} if row.assignee else None,
            "restriction": {"period": {"end": instant(row.sla_due_at)}},
        }
    )
