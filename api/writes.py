"""One resource written through intake (create, conditional create, update, conditional update), and the
pieces a transaction Bundle shares: the command for a resource, a diagnosis's code, the entry's answer."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from api.fhir import inbound
from api.fhir.inbound import Write
from api.fhir.refs import Resolver, business_identifiers, identifier, literal_id, text
from api.outcome import FhirError
from domain import models as m
from intake.commands import BusinessId, Command, CoverageEntry, IfExists
from intake.outcomes import Change, Kind, Outcome
from intake.records import find_identifier

# What a Bundle's Condition entries say (full URL -> resource), for the diagnoses of an Encounter in it.
BundleConditions = dict[str, dict[str, Any]]


def condition_code(session: Session, bundle: BundleConditions | None = None) -> Callable[[Any, str], str]:
    """The ICD-10-CM code of the Condition a diagnosis points at: an entry of the Bundle, or a stored one."""

    def code(reference: Any, where: str) -> str:
        if not isinstance(reference, dict):
            raise FhirError(422, "a diagnosis needs a condition reference", expression=where)
        literal = text(reference, "reference")
        if literal.startswith(("urn:uuid:", "urn:oid:")):
            resource = (bundle or {}).get(literal)
            if resource is None:
                raise FhirError(422, "the diagnosis points at no Condition of this Bundle", expression=where)
            return inbound.icd10(resource, f"{where}(Condition).code")
        entry_id = literal_id(reference, "Condition")
        logical = identifier(reference.get("identifier") or {})
        if entry_id is None and logical is not None:
            entry_id = find_identifier(session, Kind.CONDITION, logical)
        stored = (
            session.execute(
                select(m.ClinicalEntry.code).where(m.ClinicalEntry.id == entry_id, m.ClinicalEntry.kind == "condition")
            ).scalar_one_or_none()
            if entry_id
            else None
        )
        if stored is None:
            raise FhirError(422, "the diagnosis points at no known Condition", expression=where)
        return str(stored)

    return code


def command_for(
    resource_type: str,
    resource: dict[str, Any],
    write: Write,
    resolve: Resolver | None,
    session: Session,
    *,
    conditions: BundleConditions | None = None,
    coverages: tuple[CoverageEntry, ...] = (),
    keyed_by: BusinessId | None = None,
) -> Command:
    """The intake command for a resource; ``keyed_by`` is the identifier of a conditional create or update."""
    command: Command
    if resource_type == "Patient":
        command = inbound.patient(resource, write, coverages)
    elif resource_type == "Coverage":
        command = inbound.coverage(resource, write, resolve)
    elif resource_type == "Appointment":
        command = inbound.appointment(resource, write, resolve)
    elif resource_type == "Encounter":
        command = inbound.encounter(resource, write, resolve, condition_code(session, conditions))
    elif resource_type == "Condition":
        command = inbound.condition(resource, write, resolve)
    elif resource_type == "ChargeItem":
        command = inbound.charge_item(resource, write, resolve)
    else:
        raise FhirError(405, f"{resource_type} is read-only here", code="not-supported")
    if keyed_by is not None:
        if keyed_by not in business_identifiers(resource):
            raise FhirError(
                400, "the resource must carry the identifier of its condition", expression=f"{resource_type}.identifier"
            )
        command = dataclasses.replace(command, identifier=keyed_by)
    return command


def write_mode(
    method: str, target: str | None, if_none_exist: str | None, if_match: str | None, query: str | None, kind: str
) -> tuple[Write, BusinessId | None]:
    """The intake write mode of a create or update, and the identifier of a conditional one."""
    from api.fhir.refs import condition_identifier_query

    if method == "POST":
        if if_none_exist:
            return Write(IfExists.KEEP), condition_identifier_query(if_none_exist, "create")
        return Write(IfExists.REFUSE), None
    expected = parse_etag(if_match) if if_match else None
    if target is not None:
        return Write(IfExists.UPDATE, target=target, expected_version=expected), None
    if not query:
        raise FhirError(400, f"an update names the {kind}: PUT {kind}/<id> or PUT {kind}?identifier=system|value")
    return Write(IfExists.UPDATE, expected_version=expected), condition_identifier_query(query, "update")


def parse_etag(value: str) -> int:
    raw = value.strip().removeprefix("W/").strip('"')
    if not raw.isdigit():
        raise FhirError(400, 'If-Match must be a version ETag like W/"3"')
    return int(raw)


def status_line(outcome: Outcome) -> tuple[int, str]:
    if outcome.change is Change.CREATED:
        return 201, "201 Created"
    return 200, "200 OK"


def kind_of(resource_type: str) -> Kind:
    return {
        "Patient": Kind.PATIENT,
        "Coverage": Kind.COVERAGE,
        "Appointment": Kind.APPOINTMENT,
        "Encounter": Kind.ENCOUNTER,
        "Condition": Kind.CONDITION,
        "ChargeItem": Kind.CHARGE,
    }[resource_type]


def location(resource_type: str, outcome: Outcome) -> str:
    return f"{resource_type}/{outcome.id}/_history/{outcome.version}"
