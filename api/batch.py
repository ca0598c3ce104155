"""Transaction Bundles (``POST /fhir``), apart from the single-resource routes (after Medplum's batch.ts).

A transaction is one intake unit: every entry is written, or none is. Entries are processed in dependency order
(Patient, Coverage, Appointment, Encounter, Condition, ChargeItem) whatever their order in the Bundle; a
``urn:uuid:`` reference resolves to what its entry became; a Coverage whose beneficiary is a Patient of the same
Bundle is registered with that patient (so the duplicate-patient rule sees its member id). An encounter sent
finished is coded when all its charges are in. The answer is a ``transaction-response`` Bundle.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session

from api.app import audit_call
from api.clients import Principal
from api.fhir.inbound import Write, coverage_data
from api.fhir.parse import WRITABLE
from api.fhir.refs import business_identifiers, items, text
from api.outcome import FhirError, from_domain
from api.writes import command_for, kind_of, location, status_line, write_mode
from domain.errors import DomainError
from intake import Actor, Intake
from intake.commands import CoverageEntry, Ref
from intake.outcomes import Outcome
from intake.service import Applied, IntakeUnit

ORDER = {name: index for index, name in enumerate(WRITABLE)}


@dataclass
class Entry:
    index: int
    resource: dict[str, Any]
    type: str
    method: str
    target: str | None
    query: str | None
    if_none_exist: str | None
    if_match: str | None
    full_url: str | None

    @property
    def where(self) -> str:
        return f"Bundle.entry[{self.index}]"


@dataclass
class BundleRefs:
    """What each ``fullUrl`` of the Bundle is (its type) and became (our id, once its entry is processed)."""

    types: dict[str, str] = field(default_factory=dict)
    bound: dict[str, Ref] = field(default_factory=dict)

    def ref(self, full_url: str) -> Ref | None:
        return self.bound.get(full_url)

    def type_of(self, full_url: str) -> str | None:
        return self.types.get(full_url)


def entries_of(bundle: dict[str, Any]) -> list[Entry]:
    if bundle.get("type") != "transaction":
        raise FhirError(400, "POST /fhir takes a Bundle of type transaction", expression="Bundle.type")
    out = []
    full_urls: set[str] = set()
    for index, raw in enumerate(items(bundle, "entry")):
        where = f"Bundle.entry[{index}]"
        resource = raw.get("resource")
        request = raw.get("request") or {}
        if not isinstance(resource, dict) or not request:
            raise FhirError(400, "each entry needs a resource and a request", expression=where)
        resource_type = text(resource, "resourceType")
        if resource_type not in ORDER:
            raise FhirError(422, f"a transaction here carries {', '.join(WRITABLE)}", expression=f"{where}.resource")
        method = text(request, "method")
        url = text(request, "url")
        path, _, query = url.partition("?")
        kind, _, target = path.partition("/")
        if method not in ("POST", "PUT") or kind != resource_type:
            raise FhirError(
                400,
                f"the request must be POST {resource_type} or PUT {resource_type}[/id|?identifier=]",
                expression=f"{where}.request",
            )
        full_url = text(raw, "fullUrl") or None
        if full_url is not None:
            if full_url in full_urls:
                raise FhirError(400, "two entries have the same fullUrl", expression=f"{where}.fullUrl")
            full_urls.add(full_url)
        out.append(
            Entry(
                index,
                resource,
                resource_type,
                method,
                target or None,
                query or None,
                text(request, "ifNoneExist") or None,
                text(request, "ifMatch") or None,
                full_url,
            )
        )
    if not out:
        raise FhirError(400, "the transaction has no entries", expression="Bundle.entry")
    check_references(out, full_urls)
    return out


def _references(value: Any, path: str) -> Iterator[tuple[str, str]]:
    if isinstance(value, dict):
        for key, inner in value.items():
            if key == "reference" and isinstance(inner, str):
                yield f"{path}.reference", inner
            elif key != "contained":
                yield from _references(inner, f"{path}.{key}")
    elif isinstance(value, list):
        for number, inner in enumerate(value):
            yield from _references(inner, f"{path}[{number}]")


def check_references(entries: list[Entry], full_urls: set[str]) -> None:
    """Every ``urn:`` reference must name an entry of the Bundle (a dangling one is refused before any write)."""
    for entry in entries:
        for path, reference in _references(entry.resource, f"{entry.where}.resource"):
            if reference.startswith(("urn:uuid:", "urn:oid:")) and reference not in full_urls:
                raise FhirError(422, "the reference points at no entry of this Bundle", expression=path)


def run_transaction(
    intake: Intake,
    who: Principal,
    entries: list[Entry],
    *,
    request_id: str | None = None,
    before: Callable[[Session], None] | None = None,
    after: Callable[[Session, dict[int, Outcome]], None] | None = None,
) -> Applied[dict[int, Outcome]]:
    """The one path of a transaction Bundle, answered at once (``POST /fhir``) or applied later (``Prefer:
    respond-async``, ``api.asynchronous``): one intake unit with every entry and the call's audit event; ``before``
    and ``after`` run in the same transaction (the async journal row claimed, then marked done with the answer),
    so a Bundle is applied and its row finished together, or neither."""

    def work(unit: IntakeUnit) -> dict[int, Outcome]:
        if before is not None:
            before(unit.session)
        results = process(unit, entries)
        details: dict[str, Any] = {"entries": len(entries), "changed": sum(o.changed for o in results.values())}
        audit_call(unit.session, who, "transaction", "Bundle", request_id, 200, details)
        if after is not None:
            after(unit.session, results)
        return results

    return intake.run(Actor("api", who.name), work)


def process(unit: IntakeUnit, entries: list[Entry]) -> dict[int, Outcome]:
    """Write every entry through the unit (the caller's ``Intake.run``); returns each entry's outcome."""
    refs = BundleRefs(types={e.full_url: e.type for e in entries if e.full_url})
    unit.prefetch((kind_of(e.type), i) for e in entries for i in business_identifiers(e.resource))
    conditions = {e.full_url: e.resource for e in entries if e.full_url and e.type == "Condition"}
    grouped = _coverages_by_patient(entries)
    results: dict[int, Outcome] = {}
    for entry in sorted(entries, key=lambda e: (ORDER[e.type], e.index)):
        if entry.index in results:
            continue
        with located(entry):
            write, keyed_by = write_mode(
                entry.method, entry.target, entry.if_none_exist, entry.if_match, entry.query, entry.type
            )
            covered = grouped.get(entry.full_url or "", [])
            coverages = tuple(_coverage_entry(c) for c in covered) if entry.type == "Patient" else ()
            command = command_for(
                entry.type,
                entry.resource,
                write,
                refs,
                unit.session,
                conditions=conditions,
                coverages=coverages,
                keyed_by=keyed_by,
            )
            outcome = unit.handle(command)
        results[entry.index] = outcome
        if entry.full_url:
            refs.bound[entry.full_url] = Ref.to(outcome.id)
        if entry.type == "Patient" and covered and len(outcome.related) == len(covered):
            for coverage_entry, related in zip(covered, outcome.related, strict=True):
                results[coverage_entry.index] = related
                if coverage_entry.full_url:
                    refs.bound[coverage_entry.full_url] = Ref.to(related.id)
    for entry in entries:  # encounters sent finished are coded now that all their charges are in
        if entry.type == "Encounter" and results[entry.index].id in unit.closing:
            with located(entry):
                unit.close(results[entry.index].id)
    return results


class located:
    """Errors of one entry, located at it (``Bundle.entry[i]...``)."""

    def __init__(self, entry: Entry) -> None:
        self.entry = entry

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: object, error: BaseException | None, tb: object) -> None:
        if isinstance(error, FhirError):
            raise error.at(f"{self.entry.where}.resource") from None
        if isinstance(error, DomainError):
            raise from_domain(error, self.entry.where) from None


def _coverages_by_patient(entries: list[Entry]) -> dict[str, list[Entry]]:
    """Coverage entries created with a Patient entry of the same Bundle (beneficiary is its fullUrl)."""
    patients = {e.full_url for e in entries if e.type == "Patient" and e.full_url}
    grouped: dict[str, list[Entry]] = {}
    for entry in entries:
        if entry.type != "Coverage" or entry.method != "POST" or entry.if_none_exist:
            continue
        beneficiary = text(entry.resource.get("beneficiary") or {}, "reference")
        if beneficiary in patients:
            grouped.setdefault(beneficiary, []).append(entry)
    return grouped


def _coverage_entry(entry: Entry) -> CoverageEntry:
    with located(entry):
        data, business_id = coverage_data(entry.resource)
    return CoverageEntry(data, business_id)


def response(entries: list[Entry], results: dict[int, Outcome], base_url: str) -> dict[str, Any]:
    answer = []
    for entry in entries:
        outcome = results[entry.index]
        _, line = status_line(outcome)
        answer.append(
            {
                "fullUrl": f"{base_url}/{entry.type}/{outcome.id}",
                "response": {
                    "status": line,
                    "location": location(entry.type, outcome),
                    "etag": f'W/"{outcome.version}"',
                    "outcome": {
                        "resourceType": "OperationOutcome",
                        "issue": [
                            {"severity": "information", "code": "informational", "diagnostics": outcome.change.value}
                        ],
                    },
                },
            }
        )
    return {"resourceType": "Bundle", "type": "transaction-response", "entry": answer}


__all__ = ["Entry", "Write", "business_identifiers", "entries_of", "process", "response", "run_transaction"]
