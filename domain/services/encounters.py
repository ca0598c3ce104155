"""Coding an encounter and turning it into a claim: every code checked (:mod:`domain.coding`) before anything is
written."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from domain import audit
from domain import models as m
from domain.claim_status import ClaimStatus
from domain.codes import validate_hcpcs, validate_modifier, validate_npi
from domain.coding import ServiceLineInput, validate_coding, with_telehealth_modifier
from domain.enums import CoverageRank, PayerKind
from domain.errors import NotFound, UnknownPayer, ValidationError


@dataclass(frozen=True)
class EncounterInput:
    patient_id: str
    provider_id: str
    location_id: str
    date_of_service: date
    place_of_service: str
    diagnosis_codes: tuple[str, ...]
    service_lines: tuple[ServiceLineInput, ...]
    appointment_id: str | None = None


def record_encounter(session: Session, data: EncounterInput, *, actor: str) -> str:
    """Create a coded encounter with its service lines; returns its id."""
    diagnoses = validate_coding(data.diagnosis_codes, data.service_lines, data.place_of_service)
    provider = session.get(m.Provider, data.provider_id)
    if provider is None:
        raise NotFound(f"unknown provider {data.provider_id}")
    validate_npi(provider.npi)
    if session.get(m.Patient, data.patient_id) is None:
        raise NotFound(f"unknown patient {data.patient_id}")
    encounter = m.Encounter(
        appointment_id=data.appointment_id,
        patient_id=data.patient_id,
        provider_id=data.provider_id,
        location_id=data.location_id,
        date_of_service=data.date_of_service,
        place_of_service=data.place_of_service,
        diagnosis_codes=diagnoses,
        coded=True,
    )
    encounter.service_lines = [
        m.ServiceLine(
            line_number=number,
            procedure_code=validate_hcpcs(line.procedure_code),
            modifiers=[validate_modifier(x) for x in line.modifiers],
            units=line.units,
            charge_cents=line.charge_cents,
            diagnosis_pointers=list(line.diagnosis_pointers),
        )
        for number, line in enumerate(data.service_lines, start=1)
    ]
    session.add(encounter)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="encounter.coded",
        entity_type="encounter",
        entity_id=encounter.id,
        details={"lines": len(data.service_lines), "diagnoses": len(diagnoses)},
    )
    return encounter.id


def coverage_for(session: Session, patient_id: str, day: date, rank: CoverageRank) -> m.Coverage | None:
    coverages = session.execute(
        select(m.Coverage).where(m.Coverage.patient_id == patient_id, m.Coverage.rank == rank)
    ).scalars()
    return next((c for c in coverages if c.is_active_on(day)), None)


def create_claim(
    session: Session,
    encounter_id: str,
    *,
    actor: str,
    rank: CoverageRank = CoverageRank.PRIMARY,
    payer_code: str | None = None,
) -> str:
    """Create a draft claim from a coded encounter to the patient's coverage of ``rank`` (or a named payer)."""
    encounter = session.get(m.Encounter, encounter_id)
    if encounter is None:
        raise NotFound(f"unknown encounter {encounter_id}")
    if not encounter.coded or not encounter.service_lines:
        raise ValidationError(f"encounter {encounter_id} is not coded yet")
    coverage = coverage_for(session, encounter.patient_id, encounter.date_of_service, rank)
    if payer_code is not None:
        payer = session.execute(select(m.Payer).where(m.Payer.payer_id == payer_code)).scalar_one_or_none()
        if payer is None:
            raise UnknownPayer(f"unknown payer {payer_code!r}")
    elif coverage is not None:
        payer = session.get(m.Payer, coverage.payer_id)
    else:
        raise ValidationError(f"no active {rank.value} coverage on the date of service: bill the patient instead")
    if payer is None or payer.kind == PayerKind.SELF_PAY:
        raise ValidationError("a claim needs an insurance payer, not self-pay")
    claim = m.Claim(
        encounter_id=encounter.id,
        patient_id=encounter.patient_id,
        payer_id=payer.id,
        coverage_id=coverage.id if coverage else None,
        billing_provider_id=encounter.provider_id,
        rank=rank,
        status=ClaimStatus.DRAFT,
        date_of_service=encounter.date_of_service,
        total_charge_cents=sum(line.charge_cents * 1 for line in encounter.service_lines),
    )
    claim.lines = [
        m.ClaimLine(
            service_line_id=line.id,
            line_number=line.line_number,
            procedure_code=line.procedure_code,
            modifiers=list(line.modifiers),
            units=line.units,
            charge_cents=line.charge_cents,
            diagnosis_pointers=list(line.diagnosis_pointers),
            date_of_service=encounter.date_of_service,
        )
        for line in encounter.service_lines
    ]
    session.add(claim)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="claim.created",
        entity_type="claim",
        entity_id=claim.id,
        details={"payer": payer.payer_id, "charge_cents": claim.total_charge_cents},
    )
    return claim.id


def transition_claim(
    session: Session, claim_id: str, target: ClaimStatus, *, actor: str, workflow_id: str | None = None
) -> ClaimStatus:
    """Move a claim through its lifecycle (illegal moves raise IllegalTransition and change nothing)."""
    claim = session.get(m.Claim, claim_id)
    if claim is None:
        raise NotFound(f"unknown claim {claim_id}")
    previous = ClaimStatus(claim.status)
    claim.transition(target)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="claim.status",
        entity_type="claim",
        entity_id=claim_id,
        workflow_id=workflow_id,
        details={"from": previous.value, "to": target.value},
    )
    return target


__all__ = [
    "EncounterInput",
    "ServiceLineInput",
    "coverage_for",
    "create_claim",
    "record_encounter",
    "transition_claim",
    "validate_coding",
    "with_telehealth_modifier",
]
