"""FHIR references, identifiers and codings read from request JSON (plain dicts validated by the models)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, date, datetime
from typing import Any, Protocol

from api.outcome import FhirError
from intake.commands import BusinessId, Ref

NPI_SYSTEM = "http://hl7.org/fhir/sid/us-npi"
PAYER_SYSTEM = "urn:carecycle:payer-id"
LOCATION_SYSTEM = "urn:carecycle:location-id"
ACCOUNT_NUMBER_SYSTEM = "urn:carecycle:account-number"
ICD10_SYSTEM = "http://hl7.org/fhir/sid/icd-10-cm"
CPT_SYSTEM = "http://www.ama-assn.org/go/cpt"
HCPCS_SYSTEMS = (
    CPT_SYSTEM,
    "urn:oid:2.16.840.1.113883.6.285",
    "https://www.cms.gov/Medicare/Coding/HCPCSReleaseCodeSets",
)
MODIFIER_SYSTEM = "urn:carecycle:procedure-modifier"
MODIFIER_EXTENSION = "urn:carecycle:fhir:modifier"
TELEHEALTH_EXTENSION = "urn:carecycle:fhir:telehealth"
PLACE_OF_SERVICE_EXTENSION = "urn:carecycle:fhir:place-of-service"
OURS = (ACCOUNT_NUMBER_SYSTEM,)

_LITERAL = re.compile(
    r"^(?:[A-Za-z][A-Za-z0-9+.-]*://[^ ]+/)?([A-Z][A-Za-z]+)/([A-Za-z0-9\-.]{1,64})(?:/_history/.*)?$"
)


class Resolver(Protocol):
    """References inside a Bundle: what an entry's ``fullUrl`` became (our id once processed) and its type."""

    def ref(self, full_url: str) -> Ref | None: ...

    def type_of(self, full_url: str) -> str | None: ...


def text(data: dict[str, Any], key: str) -> str:
    value = data.get(key)
    return value.strip() if isinstance(value, str) else ""


def items(data: dict[str, Any], key: str) -> list[dict[str, Any]]:
    value = data.get(key)
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []


def identifier(value: dict[str, Any]) -> BusinessId | None:
    system, code = text(value, "system"), text(value, "value")
    return BusinessId(system, code) if system and code else None


def business_identifiers(resource: dict[str, Any]) -> list[BusinessId]:
    """The sender's identifiers (ours, like the account number we hand out, are not the sender's)."""
    found = [identifier(v) for v in items(resource, "identifier")]
    return [i for i in found if i is not None and i.system not in OURS]


def required_identifier(resource: dict[str, Any], kind: str, prefer_type: str | None = None) -> BusinessId:
    """The identifier a record is keyed by: the one typed ``prefer_type`` (e.g. MR), else the first."""
    for value in items(resource, "identifier"):
        found = identifier(value)
        if found is None or found.system in OURS:
            continue
        codes = [c.get("code") for c in items(value.get("type") or {}, "coding")]
        if prefer_type is not None and prefer_type in codes:
            return found
    candidates = business_identifiers(resource)
    if not candidates:
        raise FhirError(
            422,
            f"{kind}.identifier with a system and a value is required (the sender's business id)",
            expression=f"{kind}.identifier",
        )
    return candidates[0]


def codings(concept: Any) -> Iterator[tuple[str, str]]:
    if isinstance(concept, dict):
        for coding in items(concept, "coding"):
            system, code = text(coding, "system"), text(coding, "code")
            if code:
                yield system, code


def extension(resource: dict[str, Any], url: str) -> list[dict[str, Any]]:
    return [e for e in items(resource, "extension") if e.get("url") == url]


def reference(value: Any, where: str, resolve: Resolver | None, expected: str) -> Ref:
    """A reference to one of our records: ``Type/id`` (ours), a Bundle ``urn:uuid:`` or a logical identifier."""
    if not isinstance(value, dict):
        raise FhirError(422, f"a reference to a {expected} is required", expression=where)
    literal = text(value, "reference")
    if literal.startswith(("urn:uuid:", "urn:oid:")):
        kind = resolve.type_of(literal) if resolve is not None else None
        resolved = resolve.ref(literal) if resolve is not None else None
        if kind is None or resolved is None:
            raise FhirError(422, "the reference points at no entry of this Bundle", expression=f"{where}.reference")
        if kind != expected:
            raise FhirError(422, f"the reference must point at a {expected}", expression=f"{where}.reference")
        return resolved
    if literal:
        match = _LITERAL.match(literal)
        if match is None or match.group(1) != expected:
            raise FhirError(422, f"the reference must point at a {expected}", expression=f"{where}.reference")
        return Ref.to(match.group(2))
    logical = identifier(value.get("identifier") or {})
    if logical is not None:
        if logical.system == ACCOUNT_NUMBER_SYSTEM:
            raise FhirError(422, "refer to the record by its id or the sender's identifier", expression=where)
        return Ref(identifier=logical)
    raise FhirError(422, f"the reference to a {expected} has neither a reference nor an identifier", expression=where)


def logical_identifier(value: Any, system: str, where: str, what: str) -> str:
    """A logical reference's identifier value in ``system`` (a payer id, a practitioner's NPI)."""
    found = identifier((value or {}).get("identifier") or {}) if isinstance(value, dict) else None
    if found is None or found.system != system:
        raise FhirError(
            422,
            f"{what}: a logical reference with identifier.system {system} is required",
            expression=f"{where}.identifier",
        )
    return found.value


def type_of(value: dict[str, Any], resolve: Resolver | None) -> str | None:
    """The resource type a reference points at, as far as it says (literal, Bundle entry, type, identifier)."""
    literal = text(value, "reference")
    if literal.startswith(("urn:uuid:", "urn:oid:")):
        return resolve.type_of(literal) if resolve is not None else None
    match = _LITERAL.match(literal)
    if match is not None:
        return match.group(1)
    if text(value, "type"):
        return text(value, "type")
    system = text(value.get("identifier") or {}, "system") if isinstance(value.get("identifier"), dict) else ""
    return {NPI_SYSTEM: "Practitioner", LOCATION_SYSTEM: "Location"}.get(system)


def literal_id(value: Any, expected: str) -> str | None:
    if not isinstance(value, dict):
        return None
    match = _LITERAL.match(text(value, "reference"))
    return match.group(2) if match and match.group(1) == expected else None


def full_date(value: Any, where: str) -> date:
    """A FHIR date or dateTime as a calendar date (the date the sender wrote, not shifted to UTC)."""
    if not isinstance(value, str) or len(value) < 10:
        raise FhirError(422, "a full date (YYYY-MM-DD) is required", expression=where)
    try:
        return date.fromisoformat(value[:10])
    except ValueError:
        raise FhirError(422, "a full date (YYYY-MM-DD) is required", expression=where) from None


def instant(value: Any, where: str) -> datetime:
    if not isinstance(value, str):
        raise FhirError(422, "a date and time with its offset is required", expression=where)
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise FhirError(422, "a date and time with its offset is required", expression=where) from None
    if moment.tzinfo is None:
        raise FhirError(422, "a date and time with its offset is required", expression=where)
    return moment.astimezone(UTC)


def condition_identifier_query(query: str, kind: str) -> BusinessId:
    """``identifier=system|value`` of a conditional create or update (400 when it is another search)."""
    from urllib.parse import parse_qsl

    pairs = parse_qsl(query.lstrip("?"), keep_blank_values=True)
    if len(pairs) != 1 or pairs[0][0] != "identifier" or "|" not in pairs[0][1]:
        raise FhirError(400, f"a conditional {kind} must be identifier=system|value")
    system, _, value = pairs[0][1].partition("|")
    if not system or not value:
        raise FhirError(400, f"a conditional {kind} must be identifier=system|value")
    return BusinessId(system, value)
