"""FHIR resources in, intake commands out: the mapping tables of docs/integration.md, in code.

Each function takes a validated resource (as JSON) and names the element of anything it refuses (422). The
rules themselves (codes, duplicates, coverage dates) are the domain's, applied by intake.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from api.fhir.refs import (
    HCPCS_SYSTEMS,
    ICD10_SYSTEM,
    LOCATION_SYSTEM,
    MODIFIER_EXTENSION,
    MODIFIER_SYSTEM,
    NPI_SYSTEM,
    PAYER_SYSTEM,
    PLACE_OF_SERVICE_EXTENSION,
    TELEHEALTH_EXTENSION,
    Resolver,
    business_identifiers,
    codings,
    extension,
    full_date,
    identifier,
    instant,
    items,
    literal_id,
    logical_identifier,
    reference,
    required_identifier,
    text,
    type_of,
)
from api.outcome import FhirError
from domain.enums import AppointmentKind, AppointmentStatus, CoverageRank, SubscriberRelationship
from domain.errors import InvalidAmount
from domain.money import to_cents
from intake.commands import (
    BusinessId,
    CoverageData,
    CoverageEntry,
    EncounterStatus,
    IfExists,
    PatientData,
    RecordCharge,
    RecordCondition,
    RecordCoverage,
    RecordEncounter,
    RegisterPatient,
    ScheduleAppointment,
)


@dataclass(frozen=True)
class Write:
    """How a resource is written: upsert, If-None-Exist (keep) or a plain create (refuse); our id; If-Match."""

    if_exists: IfExists = IfExists.UPDATE
    target: str | None = None
    expected_version: int | None = None


# --- Patient and Coverage ---------------------------------------------------------------------------------

_SEX = {"female": "F", "male": "M", "other": "U", "unknown": "U"}


def patient(resource: dict[str, Any], write: Write, coverages: tuple[CoverageEntry, ...] = ()) -> RegisterPatient:
    names = items(resource, "name")
    name = next((n for n in names if n.get("use") == "official"), names[0] if names else {})
    given = [g for g in name.get("given") or [] if isinstance(g, str) and g.strip()]
    if not text(name, "family") or not given:
        raise FhirError(422, "a family name and a given name are required", expression="Patient.name")
    birth = full_date(resource.get("birthDate"), "Patient.birthDate")
    addresses = items(resource, "address")
    address = next((a for a in addresses if a.get("use") == "home"), addresses[0] if addresses else {})
    state = text(address, "state").upper()
    if len(state) != 2 or not state.isalpha():
        raise FhirError(422, "the address needs a two-letter state", expression="Patient.address.state")
    telecom = items(resource, "telecom")
    phone = next((text(t, "value") for t in telecom if t.get("system") == "phone"), "")
    email = next((text(t, "value") for t in telecom if t.get("system") == "email"), "") or None
    lines = [line.strip() for line in address.get("line") or [] if isinstance(line, str) and line.strip()]
    data = PatientData(
        first_name=given[0].strip(),
        last_name=text(name, "family"),
        birth_date=birth,
        sex=_SEX.get(text(resource, "gender"), "U"),
        address_line=", ".join(lines),
        city=text(address, "city"),
        state=state,
        postal_code=text(address, "postalCode"),
        phone=phone,
        email=email,
    )
    mrn = required_identifier(resource, "Patient", prefer_type="MR")
    return RegisterPatient(mrn, data, coverages, write.if_exists, write.target, write.expected_version)


_RANK = {1: CoverageRank.PRIMARY, 2: CoverageRank.SECONDARY, 3: CoverageRank.TERTIARY}
_RELATIONSHIP = {
    "self": SubscriberRelationship.SELF,
    "spouse": SubscriberRelationship.SPOUSE,
    "common": SubscriberRelationship.SPOUSE,
    "child": SubscriberRelationship.CHILD,
}


def coverage_data(resource: dict[str, Any]) -> tuple[CoverageData, BusinessId | None]:
    payors = resource.get("payor") or []
    payer = logical_identifier(payors[0] if payors else None, PAYER_SYSTEM, "Coverage.payor[0]", "the payer")
    member = text(resource, "subscriberId") or next(
        (text(i, "value") for i in items(resource, "identifier") if "MB" in _type_codes(i)), ""
    )
    if not member:
        raise FhirError(422, "the member id is required (subscriberId)", expression="Coverage.subscriberId")
    order = resource.get("order", 1)
    if order not in _RANK:
        raise FhirError(422, "order must be 1, 2 or 3 (primary, secondary, tertiary)", expression="Coverage.order")
    codes = [code for _, code in codings(resource.get("relationship"))]
    relationship = _RELATIONSHIP.get(codes[0], SubscriberRelationship.OTHER) if codes else SubscriberRelationship.SELF
    subscriber = _subscriber(resource) if relationship is not SubscriberRelationship.SELF else {}
    period = resource.get("period") or {}
    group = next(
        (text(c, "value") for c in items(resource, "class") if "group" in [code for _, code in codings(c.get("type"))]),
        None,
    )
    data = CoverageData(
        payer_code=payer,
        member_id=member,
        rank=_RANK[order],
        relationship=relationship,
        group_number=group,
        effective_from=full_date(period["start"], "Coverage.period.start") if period.get("start") else None,
        effective_to=full_date(period["end"], "Coverage.period.end") if period.get("end") else None,
        subscriber_first_name=subscriber.get("first"),
        subscriber_last_name=subscriber.get("last"),
        subscriber_birth_date=subscriber.get("birth"),
        active=text(resource, "status") not in ("cancelled", "entered-in-error"),
    )
    ids = [i for i in business_identifiers(resource) if "MB" not in _type_codes_of(resource, i)]
    return data, (ids[0] if ids else None)


def _type_codes(value: dict[str, Any]) -> list[str]:
    return [code for _, code in codings(value.get("type"))]


def _type_codes_of(resource: dict[str, Any], wanted: BusinessId) -> list[str]:
    for value in items(resource, "identifier"):
        if text(value, "system") == wanted.system and text(value, "value") == wanted.value:
            return _type_codes(value)
    return []


def _subscriber(resource: dict[str, Any]) -> dict[str, Any]:
    """The subscriber when it is not the patient: a contained RelatedPerson with a name and a birth date."""
    literal = text(resource.get("subscriber") or {}, "reference")
    contained = {text(c, "id"): c for c in items(resource, "contained")}
    person = contained.get(literal.removeprefix("#")) if literal.startswith("#") else None
    if person is None or person.get("resourceType") != "RelatedPerson":
        raise FhirError(
            422,
            "the subscriber (a contained RelatedPerson) is required when the patient is not the subscriber",
            expression="Coverage.subscriber",
        )
    names = items(person, "name")
    given = [g for g in (names[0].get("given") if names else None) or [] if isinstance(g, str)]
    if not names or not text(names[0], "family") or not given:
        raise FhirError(422, "the subscriber's name is required", expression="Coverage.contained.name")
    return {
        "first": given[0].strip(),
        "last": text(names[0], "family"),
        "birth": full_date(person.get("birthDate"), "Coverage.contained.birthDate"),
    }


def coverage(resource: dict[str, Any], write: Write, resolve: Resolver | None) -> RecordCoverage:
    data, business_id = coverage_data(resource)
    who = reference(resource.get("beneficiary"), "Coverage.beneficiary", resolve, "Patient")
    return RecordCoverage(who, data, business_id, write.if_exists, write.target, write.expected_version)


# --- Appointment and Encounter ----------------------------------------------------------------------------

_APPOINTMENT_STATUS = {
    "proposed": AppointmentStatus.SCHEDULED,
    "pending": AppointmentStatus.SCHEDULED,
    "booked": AppointmentStatus.SCHEDULED,
    "waitlist": AppointmentStatus.SCHEDULED,
    "arrived": AppointmentStatus.CHECKED_IN,
    "checked-in": AppointmentStatus.CHECKED_IN,
    "fulfilled": AppointmentStatus.COMPLETED,
    "cancelled": AppointmentStatus.CANCELLED,
    "entered-in-error": AppointmentStatus.CANCELLED,
    "noshow": AppointmentStatus.NO_SHOW,
}


def _participant(
    resource: dict[str, Any], key: str, kind: str, resolve: Resolver | None
) -> list[tuple[int, dict[str, Any]]]:
    """The participants (index, actor) whose actor is a ``kind``."""
    found = []
    for index, participant in enumerate(items(resource, "participant")):
        actor = participant.get(key)
        if isinstance(actor, dict) and type_of(actor, resolve) == kind:
            found.append((index, actor))
    return found


def _npi(resource: dict[str, Any], key: str, type_name: str) -> str:
    for index, actor in _participant(resource, key, "Practitioner", None):
        return logical_identifier(actor, NPI_SYSTEM, f"{type_name}.participant[{index}].{key}", "the practitioner")
    raise FhirError(
        422,
        "a participant practitioner referenced by NPI (identifier.system us-npi) is required",
        expression=f"{type_name}.participant",
    )


def _location(value: Any, where: str) -> str | None:
    if not isinstance(value, dict):
        return None
    found = literal_id(value, "Location")
    if found is not None:
        return found
    logical = identifier(value.get("identifier") or {})
    if logical is not None and logical.system == LOCATION_SYSTEM:
        return logical.value
    raise FhirError(422, f"a location is Location/<id> or identifier.system {LOCATION_SYSTEM}", expression=where)


def appointment(resource: dict[str, Any], write: Write, resolve: Resolver | None) -> ScheduleAppointment:
    business_id = required_identifier(resource, "Appointment")
    status = _APPOINTMENT_STATUS.get(text(resource, "status"))
    if status is None:
        raise FhirError(422, "this appointment status is not accepted", expression="Appointment.status")
    starts = instant(resource.get("start"), "Appointment.start")
    minutes = resource.get("minutesDuration")
    if minutes is None and resource.get("end"):
        minutes = int((instant(resource["end"], "Appointment.end") - starts).total_seconds() // 60)
    patients = _participant(resource, "actor", "Patient", resolve)
    if not patients:
        raise FhirError(422, "a participant Patient is required", expression="Appointment.participant")
    index, actor = patients[0]
    who = reference(actor, f"Appointment.participant[{index}].actor", resolve, "Patient")
    locations = _participant(resource, "actor", "Location", resolve)
    location_id = _location(locations[0][1], "Appointment.participant.actor") if locations else None
    virtual = any(e.get("valueBoolean") is True for e in extension(resource, TELEHEALTH_EXTENSION)) or (
        "VR" in [code for _, code in codings(resource.get("appointmentType"))]
    )
    return ScheduleAppointment(
        identifier=business_id,
        patient=who,
        provider_npi=_npi(resource, "actor", "Appointment"),
        starts_at=starts,
        status=status,
        kind=AppointmentKind.TELEHEALTH if virtual else AppointmentKind.IN_PERSON,
        duration_minutes=int(minutes) if minutes is not None else 20,
        location_id=location_id,
        if_exists=write.if_exists,
        target=write.target,
        expected_version=write.expected_version,
    )


_ENCOUNTER_STATUS = {
    "planned": EncounterStatus.OPEN,
    "arrived": EncounterStatus.OPEN,
    "triaged": EncounterStatus.OPEN,
    "in-progress": EncounterStatus.OPEN,
    "onleave": EncounterStatus.OPEN,
    "finished": EncounterStatus.FINISHED,
    "cancelled": EncounterStatus.CANCELLED,
    "entered-in-error": EncounterStatus.CANCELLED,
}

# The ICD-10-CM code of the Condition a diagnosis points at (in the Bundle or stored); raises FhirError.
ConditionCode = Callable[[Any, str], str]


def encounter(
    resource: dict[str, Any], write: Write, resolve: Resolver | None, condition_code: ConditionCode
) -> RecordEncounter:
    business_id = required_identifier(resource, "Encounter")
    status = _ENCOUNTER_STATUS.get(text(resource, "status"))
    if status is None:
        raise FhirError(422, "this encounter status is not accepted", expression="Encounter.status")
    who = reference(resource.get("subject"), "Encounter.subject", resolve, "Patient")
    period = resource.get("period") or {}
    day = full_date(period.get("start"), "Encounter.period.start")
    diagnoses = sorted(
        enumerate(items(resource, "diagnosis")), key=lambda pair: (pair[1].get("rank") or 10**6, pair[0])
    )
    codes = tuple(
        condition_code(entry.get("condition"), f"Encounter.diagnosis[{index}].condition") for index, entry in diagnoses
    )
    appointments = items(resource, "appointment")
    appointment_ref = (
        reference(appointments[0], "Encounter.appointment[0]", resolve, "Appointment") if appointments else None
    )
    locations = items(resource, "location")
    location_id = _location(locations[0].get("location"), "Encounter.location[0].location") if locations else None
    pos = next((text(e, "valueCode") for e in extension(resource, PLACE_OF_SERVICE_EXTENSION)), None) or None
    klass = resource.get("class") or {}
    return RecordEncounter(
        identifier=business_id,
        patient=who,
        provider_npi=_npi(resource, "individual", "Encounter"),
        date_of_service=day,
        status=status,
        diagnosis_codes=codes,
        appointment=appointment_ref,
        location_id=location_id,
        place_of_service=pos,
        telehealth=isinstance(klass, dict) and text(klass, "code") == "VR",
        if_exists=write.if_exists,
        target=write.target,
        expected_version=write.expected_version,
    )


# --- Condition and ChargeItem -----------------------------------------------------------------------------


def icd10(resource: dict[str, Any], where: str) -> str:
    code = next((code for system, code in codings(resource.get("code")) if system == ICD10_SYSTEM), None)
    if code is None:
        raise FhirError(422, f"an ICD-10-CM coding ({ICD10_SYSTEM}) is required", expression=where)
    return code


def condition(resource: dict[str, Any], write: Write, resolve: Resolver | None) -> RecordCondition:
    who = reference(resource.get("subject"), "Condition.subject", resolve, "Patient")
    visit = resource.get("encounter")
    encounter_ref = reference(visit, "Condition.encounter", resolve, "Encounter") if visit else None
    verification = [code for _, code in codings(resource.get("verificationStatus"))]
    ids = business_identifiers(resource)
    return RecordCondition(
        patient=who,
        code=icd10(resource, "Condition.code"),
        encounter=encounter_ref,
        identifier=ids[0] if ids else None,
        active=not ({"entered-in-error", "refuted"} & set(verification)),
        if_exists=write.if_exists,
        target=write.target,
        expected_version=write.expected_version,
    )


def charge_item(resource: dict[str, Any], write: Write, resolve: Resolver | None) -> RecordCharge:
    who = reference(resource.get("subject"), "ChargeItem.subject", resolve, "Patient")
    visit = reference(resource.get("context"), "ChargeItem.context", resolve, "Encounter")
    procedure: str | None = None
    modifiers: list[str] = []
    for system, code in codings(resource.get("code")):
        if system in HCPCS_SYSTEMS and len(code) >= 4 and procedure is None:
            procedure = code
        elif (system in HCPCS_SYSTEMS and len(code) == 2) or system == MODIFIER_SYSTEM:
            modifiers.append(code)
    if procedure is None:
        raise FhirError(422, "a CPT/HCPCS coding is required", expression="ChargeItem.code")
    modifiers += [text(e, "valueCode") for e in extension(resource, MODIFIER_EXTENSION) if text(e, "valueCode")]
    quantity = (resource.get("quantity") or {}).get("value", 1)
    if not isinstance(quantity, int | Decimal) or quantity != int(quantity) or not 1 <= int(quantity) <= 999:
        raise FhirError(422, "quantity must be a whole number from 1 to 999", expression="ChargeItem.quantity.value")
    price = _price(resource.get("priceOverride"))
    reasons = tuple(
        code for concept in resource.get("reason") or [] for system, code in codings(concept) if system == ICD10_SYSTEM
    )
    ids = business_identifiers(resource)
    return RecordCharge(
        patient=who,
        encounter=visit,
        code=procedure,
        quantity=int(quantity),
        modifiers=tuple(modifiers),
        price_cents=price,
        reason_codes=reasons,
        identifier=ids[0] if ids else None,
        active=text(resource, "status") not in ("not-billable", "aborted", "entered-in-error"),
        if_exists=write.if_exists,
        target=write.target,
        expected_version=write.expected_version,
    )


def _price(money: Any) -> int | None:
    if not isinstance(money, dict) or money.get("value") is None:
        return None
    if text(money, "currency") not in ("", "USD"):
        raise FhirError(422, "prices are in USD", expression="ChargeItem.priceOverride.currency")
    try:
        cents = to_cents(money["value"])
    except InvalidAmount:
        raise FhirError(422, "the price has fractions of a cent", expression="ChargeItem.priceOverride.value") from None
    if cents < 0:
        raise FhirError(422, "the price must not be negative", expression="ChargeItem.priceOverride.value")
    return cents
