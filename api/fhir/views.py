"""What the front door wrote, read back as FHIR: Patient, Coverage, Appointment, Encounter, Condition, ChargeItem.

``meta.versionId`` is the record's intake version (``intake_records``; 1 for a record intake never changed).
US Core shapes where they apply: Patient (identifier, name, gender, birthDate, address, telecom), Coverage
(status, type, subscriberId, beneficiary, relationship, period, payor, class group) and Condition (category
encounter-diagnosis, clinicalStatus, verificationStatus, code, subject, encounter).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from api.fhir.refs import (
    ACCOUNT_NUMBER_SYSTEM,
    CPT_SYSTEM,
    ICD10_SYSTEM,
    LOCATION_SYSTEM,
    MODIFIER_SYSTEM,
    NPI_SYSTEM,
    PAYER_SYSTEM,
)
from domain import models as m
from domain.codes import normalize_icd10
from domain.enums import AppointmentKind, AppointmentStatus, PayerKind
from domain.money import to_decimal
from intake.outcomes import Kind
from intake.records import identifiers_of, record_of

US_CORE = "http://hl7.org/fhir/us/core/StructureDefinition/"
_GENDER = {"F": "female", "M": "male", "U": "unknown"}


def instant(value: datetime | None) -> str | None:
    if value is None:
        return None
    moment = value if value.tzinfo else value.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def money(cents: int) -> dict[str, Any]:
    return {"value": to_decimal(cents), "currency": "USD"}


def meta(
    session: Session, kind: Kind, entity_id: str, fallback: datetime | None, profile: str | None = None
) -> dict[str, Any]:
    record = record_of(session, kind, entity_id)
    out: dict[str, Any] = {
        "versionId": str(record.version if record else 1),
        "lastUpdated": instant(record.updated_at if record else fallback) or instant(datetime.now(UTC)),
    }
    if profile:
        out["profile"] = [US_CORE + profile]
    return out


def version(session: Session, kind: Kind, entity_id: str) -> int:
    record = record_of(session, kind, entity_id)
    return record.version if record else 1


def _identifiers(session: Session, kind: Kind, entity_id: str) -> list[dict[str, Any]]:
    return [{"system": i.system, "value": i.value} for i in identifiers_of(session, kind, entity_id)]


def patient(session: Session, row: m.Patient) -> dict[str, Any]:
    identifiers = _identifiers(session, Kind.PATIENT, row.id)
    for found in identifiers[:1]:
        found["type"] = {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0203", "code": "MR"}]}
    identifiers.append({"system": ACCOUNT_NUMBER_SYSTEM, "value": row.account_number})
    telecom = [{"system": "phone", "value": row.phone}] if row.phone else []
    if row.email:
        telecom.append({"system": "email", "value": row.email})
    address = {
        "use": "home",
        "line": [row.address_line] if row.address_line else [],
        "city": row.city or None,
        "state": row.state or None,
        "postalCode": row.postal_code or None,
    }
    return clean(
        {
            "resourceType": "Patient",
            "id": row.id,
            "meta": meta(session, Kind.PATIENT, row.id, row.registered_at, "us-core-patient"),
            "identifier": identifiers,
            "name": [{"use": "official", "family": row.last_name, "given": [row.first_name]}],
            "gender": _GENDER.get(row.sex, "unknown"),
            "birthDate": row.birth_date.isoformat(),
            "address": [address],
            "telecom": telecom,
        }
    )


_PAYER_TYPE = {PayerKind.MEDICARE: ("1", "MEDICARE"), PayerKind.MEDICAID: ("2", "MEDICAID")}


def coverage(session: Session, row: m.Coverage) -> dict[str, Any]:
    payer = session.get(m.Payer, row.payer_id)
    assert payer is not None
    code, display = _PAYER_TYPE.get(PayerKind(payer.kind), ("5", "PRIVATE HEALTH INSURANCE"))
    today = datetime.now(UTC).date()
    relationship = str(row.relationship_to_subscriber)
    resource: dict[str, Any] = {
        "resourceType": "Coverage",
        "id": row.id,
        "meta": meta(session, Kind.COVERAGE, row.id, None, "us-core-coverage"),
        "identifier": [
            *_identifiers(session, Kind.COVERAGE, row.id),
            {
                "type": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0203", "code": "MB"}]},
                "system": f"urn:carecycle:member-id:{payer.payer_id}",
                "value": row.member_id,
            },
        ],
        "status": "active" if row.effective_to is None or row.effective_to >= today else "cancelled",
        "type": {"coding": [{"system": "https://nahdo.org/sopt", "code": code, "display": display}]},
        "subscriberId": row.member_id,
        "beneficiary": {"reference": f"Patient/{row.patient_id}"},
        "relationship": {
            "coding": [
                {"system": "http://terminology.hl7.org/CodeSystem/subscriber-relationship", "code": relationship}
            ]
        },
        "period": {
            "start": row.effective_from.isoformat(),
            "end": row.effective_to.isoformat() if row.effective_to else None,
        },
        "payor": [{"identifier": {"system": PAYER_SYSTEM, "value": payer.payer_id}, "display": payer.name}],
        "order": {"primary": 1, "secondary": 2, "tertiary": 3}[str(row.rank)],
    }
    if row.group_number:
        group = {"system": "http://terminology.hl7.org/CodeSystem/coverage-class", "code": "group"}
        resource["class"] = [{"type": {"coding": [group]}, "value": row.group_number}]
    if relationship != "self":
        resource["contained"] = [
            {
                "resourceType": "RelatedPerson",
                "id": "subscriber",
                "patient": {"reference": f"Patient/{row.patient_id}"},
                "name": [{"family": row.subscriber_last_name, "given": [row.subscriber_first_name]}],
                "birthDate": row.subscriber_birth_date.isoformat() if row.subscriber_birth_date else None,
            }
        ]
        resource["subscriber"] = {"reference": "#subscriber"}
    else:
        resource["subscriber"] = {"reference": f"Patient/{row.patient_id}"}
    return clean(resource)


_APPOINTMENT_STATUS = {
    AppointmentStatus.SCHEDULED: "booked",
    AppointmentStatus.CHECKED_IN: "checked-in",
    AppointmentStatus.COMPLETED: "fulfilled",
    AppointmentStatus.NO_SHOW: "noshow",
    AppointmentStatus.CANCELLED: "cancelled",
}


def _npi_of(session: Session, provider_id: str) -> dict[str, Any]:
    provider = session.get(m.Provider, provider_id)
    assert provider is not None
    return {"type": "Practitioner", "identifier": {"system": NPI_SYSTEM, "value": provider.npi}}


def appointment(session: Session, row: m.Appointment) -> dict[str, Any]:
    status = _APPOINTMENT_STATUS.get(AppointmentStatus(row.status), "booked")
    start = row.starts_at if row.starts_at.tzinfo else row.starts_at.replace(tzinfo=UTC)
    resource: dict[str, Any] = {
        "resourceType": "Appointment",
        "id": row.id,
        "meta": meta(session, Kind.APPOINTMENT, row.id, None),
        "identifier": _identifiers(session, Kind.APPOINTMENT, row.id),
        "status": status,
        "start": instant(start),
        "minutesDuration": row.duration_minutes,
        "participant": [
            {"actor": {"reference": f"Patient/{row.patient_id}"}, "status": "accepted"},
            {"actor": _npi_of(session, row.provider_id), "status": "accepted"},
            {
                "actor": {
                    "reference": f"Location/{row.location_id}",
                    "identifier": {"system": LOCATION_SYSTEM, "value": row.location_id},
                },
                "status": "accepted",
            },
        ],
    }
    if AppointmentKind(row.kind) is AppointmentKind.TELEHEALTH:
        resource["extension"] = [{"url": "urn:carecycle:fhir:telehealth", "valueBoolean": True}]
    return clean(resource)


def encounter(session: Session, row: m.Encounter) -> dict[str, Any]:
    record = record_of(session, Kind.ENCOUNTER, row.id)
    source = record.source_status if record else None
    status = {"finished": "finished", "cancelled": "cancelled", "open": "in-progress"}.get(source or "", "finished")
    telehealth = row.place_of_service in ("02", "10")
    conditions = {
        entry.code: entry.id
        for entry in session.execute(
            select(m.ClinicalEntry).where(m.ClinicalEntry.encounter_id == row.id, m.ClinicalEntry.kind == "condition")
        ).scalars()
    }
    diagnoses = []
    for rank, code in enumerate(row.diagnosis_codes or [], start=1):
        entry: dict[str, Any] = {"rank": rank}
        if code in conditions:
            entry["condition"] = {"reference": f"Condition/{conditions[code]}"}
        else:
            entry["condition"] = {"display": f"ICD-10-CM {code}"}
        diagnoses.append(entry)
    resource = {
        "resourceType": "Encounter",
        "id": row.id,
        "meta": meta(session, Kind.ENCOUNTER, row.id, None),
        "identifier": _identifiers(session, Kind.ENCOUNTER, row.id),
        "status": status,
        "class": {
            "system": "http://terminology.hl7.org/CodeSystem/v3-ActCode",
            "code": "VR" if telehealth else "AMB",
        },
        "subject": {"reference": f"Patient/{row.patient_id}"},
        "participant": [{"individual": _npi_of(session, row.provider_id)}],
        "appointment": [{"reference": f"Appointment/{row.appointment_id}"}] if row.appointment_id else [],
        "period": {"start": row.date_of_service.isoformat()},
        "diagnosis": diagnoses,
        "location": [{"location": {"reference": f"Location/{row.location_id}"}}],
        "extension": [{"url": "urn:carecycle:fhir:place-of-service", "valueCode": row.place_of_service}],
    }
    return clean(resource)


def condition(session: Session, row: m.ClinicalEntry) -> dict[str, Any]:
    return clean(
        {
            "resourceType": "Condition",
            "id": row.id,
            "meta": meta(session, Kind.CONDITION, row.id, row.created_at, "us-core-condition-encounter-diagnosis"),
            "identifier": _identifiers(session, Kind.CONDITION, row.id),
            "clinicalStatus": {
                "coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-clinical", "code": "active"}]
            },
            "verificationStatus": {
                "coding": [
                    {
                        "system": "http://terminology.hl7.org/CodeSystem/condition-ver-status",
                        "code": "confirmed" if row.status == "active" else "entered-in-error",
                    }
                ]
            },
            "category": [
                {
                    "coding": [
                        {
                            "system": "http://terminology.hl7.org/CodeSystem/condition-category",
                            "code": "encounter-diagnosis",
                        }
                    ]
                }
            ],
            "code": {"coding": [{"system": ICD10_SYSTEM, "code": _dotted(row.code)}]},
            "subject": {"reference": f"Patient/{row.patient_id}"},
            "encounter": {"reference": f"Encounter/{row.encounter_id}"} if row.encounter_id else None,
        }
    )


def _dotted(code: str) -> str:
    plain = normalize_icd10(code)
    return plain if len(plain) <= 3 else f"{plain[:3]}.{plain[3:]}"


def charge_item(session: Session, row: m.ClinicalEntry) -> dict[str, Any]:
    codings = [{"system": CPT_SYSTEM, "code": row.code}]
    codings += [{"system": MODIFIER_SYSTEM, "code": modifier} for modifier in row.modifiers or []]
    resource: dict[str, Any] = {
        "resourceType": "ChargeItem",
        "id": row.id,
        "meta": meta(session, Kind.CHARGE, row.id, row.created_at),
        "identifier": _identifiers(session, Kind.CHARGE, row.id),
        "status": "billable" if row.status == "active" else "not-billable",
        "code": {"coding": codings},
        "subject": {"reference": f"Patient/{row.patient_id}"},
        "context": {"reference": f"Encounter/{row.encounter_id}"} if row.encounter_id else None,
        "quantity": {"value": row.quantity},
        "reason": [{"coding": [{"system": ICD10_SYSTEM, "code": _dotted(code)}]} for code in row.reason_codes or []],
    }
    if row.price_cents is not None:
        resource["priceOverride"] = money(row.price_cents)
    return clean(resource)


def clean(resource: dict[str, Any]) -> dict[str, Any]:
    """The resource without empty elements (FHIR forbids nulls and empty arrays/objects)."""
    cleaned: dict[str, Any] = _clean(resource)
    return cleaned


def _clean(value: Any) -> Any:
    if isinstance(value, dict):
        cleaned = {k: _clean(v) for k, v in value.items()}
        return {k: v for k, v in cleaned.items() if v not in (None, [], {}, "")}
    if isinstance(value, list):
        cleaned_list = [_clean(v) for v in value]
        return [v for v in cleaned_list if v not in (None, [], {}, "")]
    return value
