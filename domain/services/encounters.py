"""Coding an encounter and turning it into a claim: every code checked before anything is written."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from domain import audit
from domain import models as m
from domain.claim_edits import TELEHEALTH_EM_MODIFIERS, is_evaluation_and_management
from domain.claim_status import ClaimStatus
from domain.codes import validate_hcpcs, validate_icd10, validate_modifier, validate_npi, validate_place_of_service
from domain.enums import CoverageRank, PayerKind
from domain.errors import InvalidAmount, NotFound, UnknownPayer, ValidationError


@dataclass(frozen=True)
class ServiceLineInput:
    procedure_code: str
    charge_cents: int
    units: int = 1
    modifiers: tuple[str, ...] = ()
    diagnosis_pointers: tuple[int, ...] = (1,)


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


def with_telehealth_modifier(
    procedure: str, modifiers: tuple[str, ...], telehealth_modifier: str | None
) -> tuple[str, ...]:
    """A virtual visit's E/M line carries the modifier of how it happened (95 video, 93 audio only): what the
    VirtualVisit recorded on the encounter replaces whichever telehealth modifier the coder typed."""
    if telehealth_modifier is None or not is_evaluation_and_management(procedure):
        return modifiers
    kept = tuple(mod for mod in modifiers if mod not in TELEHEALTH_EM_MODIFIERS)
    return (*kept, telehealth_modifier)[:4]


def validate_coding(
    diagnosis_codes: tuple[str, ...], lines: tuple[ServiceLineInput, ...], place_of_service: str
) -> list[str]:
    """Check every code and amount; returns the diagnoses normalised. Raises the first problem found."""
    validate_place_of_service(place_of_service)
    if not diagnosis_codes:
        raise ValidationError("an encounter needs at least one diagnosis")
    if len(diagnosis_codes) > 12:
        raise ValidationError("a professional claim carries at most 12 diagnoses")
    diagnoses = [validate_icd10(code) for code in diagnosis_codes]
    if not lines:
        raise ValidationError("an encounter needs at least one service line")
    for number, line in enumerate(lines, start=1):
        validate_hcpcs(line.procedure_code)
        for modifier in line.modifiers:
            validate_modifier(modifier)
        if len(line.modifiers) > 4:
            raise ValidationError(f"line {number}: at most four modifiers")
        if line.charge_cents < 0:
            raise InvalidAmount(f"line {number}: charge must not be negative")
        if line.units <= 0:
            raise ValidationError(f"line {number}: units must be positive")
        if not line.diagnosis_pointers or len(line.diagnosis_pointers) > 4:
            raise ValidationError(f"line {number}: one to four diagnosis pointers are required")
        for pointer in line.diagnosis_pointers:
            if not 1 <= pointer <= len(diagnoses):
                raise ValidationError(f"line {number}: diagnosis pointer {pointer} points at no diagnosis")
    return diagnoses


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
