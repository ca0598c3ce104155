"""The resource types the API serves: how each is read, searched and written. The CapabilityStatement
(``api.metadata``) is built from this registry, so it lists exactly what is implemented."""

from __future__ import annotations

import builtins
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Select, func, or_, select
from sqlalchemy.orm import Session

from api.fhir import financial, views
from api.outcome import FhirError
from domain import models as m
from domain.enums import WorkItemState
from intake.outcomes import Kind

Row = Any
Clause = Callable[[Select[Any], str], Select[Any]]


@dataclass(frozen=True)
class SearchParam:
    name: str
    type: str  # FHIR search param type: token, reference, string, date
    documentation: str
    apply: Clause


@dataclass(frozen=True)
class ResourceDef:
    type: str
    model: builtins.type[m.Base]
    view: Callable[[Session, Row], dict[str, Any]]
    base: Callable[[], Select[Any]]
    params: tuple[SearchParam, ...]
    writable: bool = False
    kind: Kind | None = None  # intake's kind, for identifiers and versions
    profile: str | None = None
    documentation: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def interactions(self) -> tuple[str, ...]:
        return ("read", "search-type", "create", "update") if self.writable else ("read", "search-type")

    def read(self, session: Session, resource_id: str) -> dict[str, Any] | None:
        row = session.execute(self.base().where(self.model.id == resource_id)).scalar_one_or_none()  # type: ignore[attr-defined]
        return self.view(session, row) if row is not None else None

    def search(
        self, session: Session, params: Sequence[tuple[str, str]], count: int, offset: int
    ) -> tuple[int, list[dict[str, Any]]]:
        query = self.base()
        known = {p.name: p for p in self.params}
        for name, value in params:
            param = known.get(name)
            if param is None:
                supported = ", ".join(sorted(["_count", "_offset", *known]))
                raise FhirError(400, f"{self.type} cannot be searched by {name!r} (supported: {supported})")
            if not value:
                raise FhirError(400, f"the search parameter {name} needs a value")
            query = param.apply(query, value)
        total = session.execute(select(func.count()).select_from(query.order_by(None).subquery())).scalar_one()
        rows = session.execute(query.order_by(self.model.id).limit(count).offset(offset)).scalars().all()  # type: ignore[attr-defined]
        return int(total), [self.view(session, row) for row in rows]


def _ref_id(value: str, expected: str) -> str:
    """``Patient/<id>`` or ``<id>``."""
    if "/" in value:
        kind, _, rest = value.partition("/")
        if kind != expected or not rest:
            raise FhirError(400, f"a reference to a {expected} is expected")
        return rest
    return value


def _by_id(model: type[m.Base]) -> SearchParam:
    return SearchParam("_id", "token", "the resource id", lambda q, v: q.where(model.id.in_(v.split(","))))  # type: ignore[attr-defined]


def _by_identifier(kind: Kind, model: type[m.Base]) -> SearchParam:
    def apply(query: Select[Any], value: str) -> Select[Any]:
        system, sep, code = value.partition("|")
        condition = [m.ExternalIdentifier.kind == kind.value]
        if sep:
            condition += [m.ExternalIdentifier.system == system, m.ExternalIdentifier.value == code]
        else:
            condition.append(m.ExternalIdentifier.value == value)
        matching = select(m.ExternalIdentifier.entity_id).where(*condition)
        return query.where(model.id.in_(matching))  # type: ignore[attr-defined]

    return SearchParam("identifier", "token", "the sender's identifier, system|value or value", apply)


def _patient_column(name: str, column: Any, documentation: str = "the patient") -> SearchParam:
    return SearchParam(name, "reference", documentation, lambda q, v: q.where(column == _ref_id(v, "Patient")))


def _string(column: Any) -> Clause:
    return lambda q, v: q.where(func.lower(column).like(v.strip().lower().replace("%", "") + "%"))


def _patient_name(query: Select[Any], value: str) -> Select[Any]:
    prefix = value.strip().lower().replace("%", "") + "%"
    return query.where(or_(func.lower(m.Patient.last_name).like(prefix), func.lower(m.Patient.first_name).like(prefix)))


def _birthdate(query: Select[Any], value: str) -> Select[Any]:
    from datetime import date

    try:
        day = date.fromisoformat(value.removeprefix("eq"))
    except ValueError:
        raise FhirError(400, "birthdate must be a date like 1980-05-17") from None
    return query.where(m.Patient.birth_date == day)


def _entries(kind: str) -> Callable[[], Select[Any]]:
    return lambda: select(m.ClinicalEntry).where(m.ClinicalEntry.kind == kind)


def _task_status(query: Select[Any], value: str) -> Select[Any]:
    wanted = {
        "requested": WorkItemState.OPEN,
        "in-progress": WorkItemState.CLAIMED,
        "completed": WorkItemState.RESOLVED,
        "cancelled": WorkItemState.CANCELLED,
    }
    states = [wanted[v] for v in value.split(",") if v in wanted]
    if not states:
        raise FhirError(400, "Task status is requested, in-progress, completed or cancelled")
    return query.where(m.WorkItem.state.in_(states))


def _focus(query: Select[Any], value: str) -> Select[Any]:
    return query.where(m.WorkItem.entity_id == value.rpartition("/")[2])


REGISTRY: tuple[ResourceDef, ...] = (
    ResourceDef(
        "Patient",
        m.Patient,
        views.patient,
        lambda: select(m.Patient),
        (
            _by_id(m.Patient),
            _by_identifier(Kind.PATIENT, m.Patient),
            SearchParam("name", "string", "family or given name, starts with", _patient_name),
            SearchParam("family", "string", "family name, starts with", _string(m.Patient.last_name)),
            SearchParam("given", "string", "given name, starts with", _string(m.Patient.first_name)),
            SearchParam("birthdate", "date", "the birth date (eq)", _birthdate),
        ),
        writable=True,
        kind=Kind.PATIENT,
        profile="us-core-patient",
        documentation="Keyed by the EHR's MRN (Patient.identifier, any system). "
        "A new or changed patient starts PatientRegistration (a new patient whose visit the same transaction "
        "closes: that visit's Encounter runs the registration).",
    ),
    ResourceDef(
        "Coverage",
        m.Coverage,
        views.coverage,
        lambda: select(m.Coverage),
        (
            _by_id(m.Coverage),
            _by_identifier(Kind.COVERAGE, m.Coverage),
            _patient_column("patient", m.Coverage.patient_id),
            _patient_column("beneficiary", m.Coverage.patient_id),
        ),
        writable=True,
        kind=Kind.COVERAGE,
        profile="us-core-coverage",
        documentation="Coverage.payor is a logical reference with identifier.system urn:carecycle:payer-id "
        "(the X12 payer id).",
    ),
    ResourceDef(
        "Appointment",
        m.Appointment,
        views.appointment,
        lambda: select(m.Appointment),
        (
            _by_id(m.Appointment),
            _by_identifier(Kind.APPOINTMENT, m.Appointment),
            _patient_column("patient", m.Appointment.patient_id),
        ),
        writable=True,
        kind=Kind.APPOINTMENT,
        documentation="Keyed by the scheduling system's appointment id; the practitioner by NPI.",
    ),
    ResourceDef(
        "Encounter",
        m.Encounter,
        views.encounter,
        lambda: select(m.Encounter),
        (
            _by_id(m.Encounter),
            _by_identifier(Kind.ENCOUNTER, m.Encounter),
            _patient_column("patient", m.Encounter.patient_id),
            _patient_column("subject", m.Encounter.patient_id),
        ),
        writable=True,
        kind=Kind.ENCOUNTER,
        documentation="status finished with its diagnoses (Condition) and ChargeItems bills: Encounter -> Claim.",
    ),
    ResourceDef(
        "Condition",
        m.ClinicalEntry,
        views.condition,
        _entries("condition"),
        (
            _by_id(m.ClinicalEntry),
            _by_identifier(Kind.CONDITION, m.ClinicalEntry),
            _patient_column("patient", m.ClinicalEntry.patient_id),
            _patient_column("subject", m.ClinicalEntry.patient_id),
            SearchParam(
                "encounter",
                "reference",
                "the encounter",
                lambda q, v: q.where(m.ClinicalEntry.encounter_id == _ref_id(v, "Encounter")),
            ),
        ),
        writable=True,
        kind=Kind.CONDITION,
        profile="us-core-condition-encounter-diagnosis",
        documentation="A diagnosis in ICD-10-CM (http://hl7.org/fhir/sid/icd-10-cm).",
    ),
    ResourceDef(
        "ChargeItem",
        m.ClinicalEntry,
        views.charge_item,
        _entries("charge"),
        (
            _by_id(m.ClinicalEntry),
            _by_identifier(Kind.CHARGE, m.ClinicalEntry),
            _patient_column("patient", m.ClinicalEntry.patient_id),
            _patient_column("subject", m.ClinicalEntry.patient_id),
            SearchParam(
                "context",
                "reference",
                "the encounter",
                lambda q, v: q.where(m.ClinicalEntry.encounter_id == _ref_id(v, "Encounter")),
            ),
        ),
        writable=True,
        kind=Kind.CHARGE,
        documentation="A billable service: CPT/HCPCS in code, modifiers as a second coding or extension, "
        "quantity, context = the Encounter.",
    ),
    ResourceDef(
        "CoverageEligibilityResponse",
        m.Coverage,
        financial.eligibility_response,
        lambda: select(m.Coverage).where(m.Coverage.eligibility_checked_at.is_not(None)),
        (_by_id(m.Coverage), _patient_column("patient", m.Coverage.patient_id)),
        documentation="The latest 271 (or portal) answer kept on each coverage; its id is the coverage's.",
    ),
    ResourceDef(
        "Claim",
        m.Claim,
        financial.claim,
        lambda: select(m.Claim),
        (_by_id(m.Claim), _patient_column("patient", m.Claim.patient_id)),
        documentation="The 837P claims; extension urn:carecycle:fhir:claim-status carries the lifecycle status.",
    ),
    ResourceDef(
        "ClaimResponse",
        m.Claim,
        financial.claim_response,
        lambda: select(m.Claim),
        (
            _by_id(m.Claim),
            _patient_column("patient", m.Claim.patient_id),
            SearchParam("request", "reference", "the claim", lambda q, v: q.where(m.Claim.id == _ref_id(v, "Claim"))),
        ),
        documentation="999/277CA and adjudication outcome of each claim; its id is the claim's.",
    ),
    ResourceDef(
        "ExplanationOfBenefit",
        m.RemittanceClaim,
        financial.explanation_of_benefit,
        lambda: select(m.RemittanceClaim),
        (
            _by_id(m.RemittanceClaim),
            SearchParam(
                "patient",
                "reference",
                "the patient",
                lambda q, v: q.where(
                    m.RemittanceClaim.claim_id.in_(
                        select(m.Claim.id).where(m.Claim.patient_id == _ref_id(v, "Patient"))
                    )
                ),
            ),
            SearchParam(
                "claim",
                "reference",
                "the claim",
                lambda q, v: q.where(m.RemittanceClaim.claim_id == _ref_id(v, "Claim")),
            ),
        ),
        documentation="Each posted 835 claim payment or EOB PDF, with CARC/RARC adjudications.",
    ),
    ResourceDef(
        "Account",
        m.Patient,
        financial.account,
        lambda: select(m.Patient),
        (_by_id(m.Patient), _patient_column("patient", m.Patient.id), _patient_column("subject", m.Patient.id)),
        documentation="A patient's balance (extension urn:carecycle:fhir:patient-balance); its id is the patient's.",
    ),
    ResourceDef(
        "Task",
        m.WorkItem,
        lambda session, row: financial.task(row),
        lambda: select(m.WorkItem),
        (
            _by_id(m.WorkItem),
            SearchParam("status", "token", "requested, in-progress, completed, cancelled", _task_status),
            SearchParam(
                "code",
                "token",
                "the work item's reason code",
                lambda q, v: q.where(m.WorkItem.reason_code == v.rpartition("|")[2]),
            ),
            SearchParam("focus", "reference", "the record the item is about", _focus),
        ),
        documentation="Work items waiting for a person (queue in businessStatus, reason in code).",
    ),
)

BY_TYPE = {definition.type: definition for definition in REGISTRY}


def definition(resource_type: str) -> ResourceDef:
    found = BY_TYPE.get(resource_type)
    if found is None:
        raise FhirError(404, f"this server has no resource type {resource_type!r}", code="not-supported")
    return found
