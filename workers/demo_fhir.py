"""The demo's practice through the front door: its patients, coverages and yesterday's visits as FHIR transaction
Bundles sent to the integration API over HTTP, the way a practice's EHR would send them.

Only the practice's set-up (practice, locations, providers, payers, staff, credentials, enrollments, training) is
seeded straight into the store; every patient, coverage, appointment and encounter comes in through the API and
intake, which start the patients' processes. The payers' own knowledge of their members (the sandbox clearinghouse
roster and the sandbox portal) is built from the same synthetic practice, as an outside system would hold it.

Each visit is a ``DemoVisit`` and each patient a ``DemoPatient``, so another door (the HL7 feed) can take some of
them over: ``bundle(patient)`` is one patient's transaction Bundle.
"""

from __future__ import annotations

import asyncio
import random
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import TYPE_CHECKING, Any

import httpx
from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from domain import models as m
from domain.catalog import ANCILLARY, DIAGNOSES, EVALUATION_AND_MANAGEMENT
from domain.enums import PayerRouting
from workers.synthetic import SyntheticPractice

if TYPE_CHECKING:
    from workers.composition import Container

MRN_SYSTEM = "urn:oid:2.16.840.1.113883.3.9999.1"  # the synthetic EHR's MRN namespace
APPOINTMENT_SYSTEM = "urn:oid:2.16.840.1.113883.3.9999.2"
ENCOUNTER_SYSTEM = "urn:oid:2.16.840.1.113883.3.9999.3"
CHARGE_SYSTEM = "urn:oid:2.16.840.1.113883.3.9999.4"
NPI = "http://hl7.org/fhir/sid/us-npi"
ICD10 = "http://hl7.org/fhir/sid/icd-10-cm"
CPT = "http://www.ama-assn.org/go/cpt"
HL7_CS = "http://terminology.hl7.org/CodeSystem"
# What a practice's own rows are (everything else the generator makes is a patient's and comes through the API).
PATIENT_TABLES = frozenset(
    {
        "guarantors",
        "patients",
        "coverages",
        "prior_authorizations",
        "appointments",
        "encounters",
        "service_lines",
        "claims",
        "claim_lines",
    }
)


@dataclass(frozen=True)
class DemoVisit:
    """Yesterday's visit: finished, coded at checkout (or left for the coders when ``lines`` is empty)."""

    starts_at: datetime
    provider_npi: str
    location_id: str
    telehealth: bool
    diagnoses: tuple[str, ...]
    lines: tuple[tuple[str, tuple[str, ...], tuple[str, ...]], ...]  # (code, modifiers, reason diagnoses)


@dataclass(frozen=True)
class DemoPatient:
    index: int
    mrn: str
    patient: dict[str, Any]
    coverages: tuple[dict[str, Any], ...]  # generator rows, with "payer_code" added
    visit: DemoVisit


@dataclass
class DemoPractice:
    patients: list[DemoPatient] = field(default_factory=list)
    day: date = field(default_factory=lambda: datetime.now(UTC).date() - timedelta(days=1))


def seed_practice_setup(session: Session, practice: SyntheticPractice) -> dict[str, int]:
    """Insert the practice's set-up rows only (no patient, coverage, visit or claim)."""
    counts: dict[str, int] = {}
    for table, rows in practice.tables():
        if table.name in PATIENT_TABLES:
            continue
        session.execute(insert(table), rows)
        counts[table.name] = len(rows)
    return counts


def _dotted(code: str) -> str:
    return code if len(code) <= 3 else f"{code[:3]}.{code[3:]}"


def demo_practice(session: Session, generated: SyntheticPractice, seed: int) -> DemoPractice:
    """The generated patients with yesterday's visit each, against the store's providers and locations."""
    out = DemoPractice()
    rng = random.Random(f"visits|{seed}")
    providers = list(session.execute(select(m.Provider.npi).order_by(m.Provider.npi)).scalars())
    locations = list(session.execute(select(m.Location.id).order_by(m.Location.name)).scalars())
    payer_codes = {row["id"]: row["payer_id"] for row in generated.rows.get(m.Payer.__table__, [])}  # type: ignore[call-overload]
    rows = generated.rows.get(m.Patient.__table__, [])  # type: ignore[call-overload]
    coverages = generated.rows.get(m.Coverage.__table__, [])  # type: ignore[call-overload]
    for index, patient in enumerate(sorted(rows, key=lambda r: r["account_number"])):
        own = tuple(
            {**c, "payer_code": payer_codes[c["payer_id"]]} for c in coverages if c["patient_id"] == patient["id"]
        )
        telehealth = rng.random() < 0.2
        provider, location = rng.choice(providers), rng.choice(locations)
        starts = datetime.combine(out.day, time(8 + index % 9, 20 * (index % 3)), tzinfo=UTC)
        visit = DemoVisit(starts, provider, location, telehealth, (), ())
        if rng.random() >= 0.1:  # one in ten is left for the coders: the Encounter workflow opens a coding item
            visit = _coded(rng, visit)
        out.patients.append(DemoPatient(index, f"RB{index + 1:06d}", patient, own, visit))
    return out


def _coded(rng: random.Random, visit: DemoVisit) -> DemoVisit:
    """Checkout coding, with the mistakes a real front desk makes now and then (the claim edits and payers catch
    them: a wellness diagnosis first on a problem visit, a lab bundled with venipuncture, a forgotten modifier)."""
    diagnoses = tuple(rng.sample(sorted(set(DIAGNOSES) - {"Z0000"}), k=rng.choice([1, 1, 2])))
    codes = [rng.choice(EVALUATION_AND_MANAGEMENT)]
    roll = rng.random()
    if roll < 0.12:
        diagnoses = ("Z0000", *diagnoses[:1])
    elif roll < 0.24 and not visit.telehealth:
        codes += ["36415", "85025"]
    elif not visit.telehealth:
        codes += rng.sample(ANCILLARY, k=rng.choice([0, 1, 1]))
    telehealth_modifier: tuple[str, ...] = ("95",) if rng.random() < 0.6 else ()
    lines = tuple(
        (
            code,
            telehealth_modifier if visit.telehealth else (("25",) if number == 1 and len(codes) > 1 else ()),
            diagnoses[:4] if number == 1 else diagnoses[:1],
        )
        for number, code in enumerate(codes, start=1)
    )
    return DemoVisit(visit.starts_at, visit.provider_npi, visit.location_id, visit.telehealth, diagnoses, lines)


# --- the Bundle -------------------------------------------------------------------------------------------


def _patient_resource(demo: DemoPatient) -> dict[str, Any]:
    row = demo.patient
    telecom = [{"system": "phone", "value": row["phone"]}]
    if row.get("email"):
        telecom.append({"system": "email", "value": row["email"]})
    return {
        "resourceType": "Patient",
        "identifier": [
            {
                "type": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0203", "code": "MR"}]},
                "system": MRN_SYSTEM,
                "value": demo.mrn,
            }
        ],
        "name": [{"use": "official", "family": row["last_name"], "given": [row["first_name"]]}],
        "gender": {"F": "female", "M": "male"}.get(row["sex"], "unknown"),
        "birthDate": row["birth_date"].isoformat(),
        "address": [
            {
                "use": "home",
                "line": [row["address_line"]],
                "city": row["city"],
                "state": row["state"],
                "postalCode": row["postal_code"],
            }
        ],
        "telecom": telecom,
    }


def _coverage_resource(row: dict[str, Any], patient_url: str) -> dict[str, Any]:
    relationship = row["relationship_to_subscriber"]
    resource: dict[str, Any] = {
        "resourceType": "Coverage",
        "status": "active",
        "beneficiary": {"reference": patient_url},
        "payor": [{"identifier": {"system": "urn:carecycle:payer-id", "value": row["payer_code"]}}],
        "subscriberId": row["member_id"],
        "relationship": {
            "coding": [
                {"system": "http://terminology.hl7.org/CodeSystem/subscriber-relationship", "code": relationship}
            ]
        },
        "order": {"primary": 1, "secondary": 2, "tertiary": 3}[row["rank"]],
        "period": {"start": row["effective_from"].isoformat()},
    }
    if row["effective_to"] is not None:
        resource["period"]["end"] = row["effective_to"].isoformat()
    if row["group_number"]:
        group = {"system": "http://terminology.hl7.org/CodeSystem/coverage-class", "code": "group"}
        resource["class"] = [{"type": {"coding": [group]}, "value": row["group_number"]}]
    if relationship == "self":
        resource["subscriber"] = {"reference": patient_url}
    else:
        resource["contained"] = [
            {
                "resourceType": "RelatedPerson",
                "id": "subscriber",
                "patient": {"reference": patient_url},
                "name": [{"family": row["subscriber_last_name"], "given": [row["subscriber_first_name"]]}],
                "birthDate": row["subscriber_birth_date"].isoformat(),
            }
        ]
        resource["subscriber"] = {"reference": "#subscriber"}
    return resource


def bundle(demo: DemoPatient, day: date, *, with_visit: bool = True) -> dict[str, Any]:
    """One patient's transaction: the patient, their coverages, yesterday's appointment and its finished encounter
    with diagnoses (Condition) and charges (ChargeItem). Conditional writes: sending it again changes nothing.
    ``with_visit`` False: the patient and coverages only (the visit comes another way: HL7, workers.demo_hl7)."""
    key = f"{demo.mrn}-{day.isoformat()}"
    patient_url, appointment_url, encounter_url = (f"urn:uuid:{demo.mrn}-{x}" for x in ("p", "a", "e"))
    visit = demo.visit
    entries: list[dict[str, Any]] = [
        _entry(patient_url, _patient_resource(demo), "PUT", f"Patient?identifier={MRN_SYSTEM}|{demo.mrn}"),
        *(
            _entry(f"urn:uuid:{demo.mrn}-c{n}", _coverage_resource(row, patient_url), "POST", "Coverage")
            for n, row in enumerate(demo.coverages)
        ),
    ]
    if not with_visit:
        return {"resourceType": "Bundle", "type": "transaction", "entry": entries}
    appointment = _appointment_resource(visit, key, patient_url)
    entries.append(_entry(appointment_url, appointment, "PUT", f"Appointment?identifier={APPOINTMENT_SYSTEM}|{key}"))
    conditions = [f"urn:uuid:{demo.mrn}-d{n}" for n in range(len(visit.diagnoses))]
    encounter = _encounter_resource(visit, key, patient_url, appointment_url, conditions)
    entries.append(_entry(encounter_url, encounter, "PUT", f"Encounter?identifier={ENCOUNTER_SYSTEM}|{key}"))
    for url, code in zip(conditions, visit.diagnoses, strict=True):
        entries.append(_entry(url, _condition_resource(code, patient_url, encounter_url), "POST", "Condition"))
    for n, line in enumerate(visit.lines):
        charge = _charge_resource(line, f"{key}-{n + 1}", patient_url, encounter_url)
        entries.append(_entry(f"urn:uuid:{demo.mrn}-l{n}", charge, "POST", "ChargeItem"))
    return {"resourceType": "Bundle", "type": "transaction", "entry": entries}


def _appointment_resource(visit: DemoVisit, key: str, patient_url: str) -> dict[str, Any]:
    appointment: dict[str, Any] = {
        "resourceType": "Appointment",
        "identifier": [{"system": APPOINTMENT_SYSTEM, "value": key}],
        "status": "fulfilled",
        "start": visit.starts_at.isoformat(),
        "minutesDuration": 20,
        "participant": [
            {"actor": {"reference": patient_url}, "status": "accepted"},
            {"actor": {"identifier": {"system": NPI, "value": visit.provider_npi}}, "status": "accepted"},
            {"actor": {"reference": f"Location/{visit.location_id}"}, "status": "accepted"},
        ],
    }
    if visit.telehealth:
        appointment["extension"] = [{"url": "urn:carecycle:fhir:telehealth", "valueBoolean": True}]
    return appointment


def _encounter_resource(
    visit: DemoVisit, key: str, patient_url: str, appointment_url: str, conditions: list[str]
) -> dict[str, Any]:
    return {
        "resourceType": "Encounter",
        "identifier": [{"system": ENCOUNTER_SYSTEM, "value": key}],
        "status": "finished",
        "class": {
            "system": "http://terminology.hl7.org/CodeSystem/v3-ActCode",
            "code": "VR" if visit.telehealth else "AMB",
        },
        "subject": {"reference": patient_url},
        "participant": [{"individual": {"identifier": {"system": NPI, "value": visit.provider_npi}}}],
        "appointment": [{"reference": appointment_url}],
        "period": {"start": visit.starts_at.isoformat()},
        "location": [{"location": {"reference": f"Location/{visit.location_id}"}}],
        "diagnosis": [{"condition": {"reference": url}, "rank": n + 1} for n, url in enumerate(conditions)],
    }


def _condition_resource(code: str, patient_url: str, encounter_url: str) -> dict[str, Any]:
    category = {"system": "http://terminology.hl7.org/CodeSystem/condition-category", "code": "encounter-diagnosis"}
    return {
        "resourceType": "Condition",
        "category": [{"coding": [category]}],
        "code": {"coding": [{"system": ICD10, "code": _dotted(code)}]},
        "subject": {"reference": patient_url},
        "encounter": {"reference": encounter_url},
    }


def _charge_resource(
    line: tuple[str, tuple[str, ...], tuple[str, ...]], charge_id: str, patient_url: str, encounter_url: str
) -> dict[str, Any]:
    code, modifiers, reasons = line
    return {
        "resourceType": "ChargeItem",
        "identifier": [{"system": CHARGE_SYSTEM, "value": charge_id}],
        "status": "billable",
        "code": {
            "coding": [
                {"system": CPT, "code": code},
                *({"system": "urn:carecycle:procedure-modifier", "code": x} for x in modifiers),
            ]
        },
        "subject": {"reference": patient_url},
        "context": {"reference": encounter_url},
        "quantity": {"value": 1},
        "reason": [{"coding": [{"system": ICD10, "code": _dotted(r)}]} for r in reasons],
    }


def _entry(full_url: str, resource: dict[str, Any], method: str, url: str) -> dict[str, Any]:
    return {"fullUrl": full_url, "resource": resource, "request": {"method": method, "url": url}}


# --- sending ----------------------------------------------------------------------------------------------


@dataclass
class Sent:
    """What the API answered: each accepted patient's journey (its workflow ids), and the refusals (status only)."""

    journeys: list[tuple[str, ...]] = field(default_factory=list)
    patient_ids: list[str] = field(default_factory=list)
    refused: list[int] = field(default_factory=list)
    entries: int = 0
    created: int = 0
    journey_of_mrn: dict[str, int] = field(default_factory=dict)  # a patient's MRN -> its place in ``journeys``


def journey_of(answer: dict[str, Any]) -> tuple[str, tuple[str, ...]]:
    """(patient id, the journey's candidate workflow ids) from a transaction-response: the patient's registration
    and the visit's Encounter. Which of them intake started is the outbox's to say (``started_journeys``): a new
    patient whose visit the Bundle closed has no registration of its own (its Encounter ran it)."""
    locations = [e["response"]["location"].split("/") for e in answer["entry"]]
    patient = next(parts[1] for parts in locations if parts[0] == "Patient")
    appointment = next((parts[1] for parts in locations if parts[0] == "Appointment"), None)
    if appointment is None:  # the visit comes another way (HL7): its Encounter joins the journey then
        return patient, (f"registration-{patient}",)
    return patient, (f"registration-{patient}", f"encounter-{appointment}")


def started_journeys(container: Container, journeys: list[tuple[str, ...]]) -> list[tuple[str, ...]]:
    """Each journey's workflows that intake queued (``process_starts``, this run's or an earlier one's in the same
    home): a new patient's registration folded into its visit's Encounter is not among them."""
    wanted = {workflow_id for journey in journeys for workflow_id in journey}
    with container.session_factory() as session:
        queued = set(
            session.execute(
                select(m.ProcessStart.workflow_id).where(m.ProcessStart.workflow_id.in_(list(wanted)))
            ).scalars()
        )
    return [tuple(workflow_id for workflow_id in journey if workflow_id in queued) for journey in journeys]


async def send_practice(
    api_url: str,
    token: str,
    practice: DemoPractice,
    *,
    concurrency: int = 4,
    visits_elsewhere: frozenset[int] = frozenset(),
) -> Sent:
    """POST each patient's Bundle to ``api_url`` (the FHIR base), a few at a time, in patient order; the patients
    whose index is in ``visits_elsewhere`` go without their visit (it is sent as HL7)."""
    sent = Sent()
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/fhir+json"}
    gate = asyncio.Semaphore(concurrency)
    async with httpx.AsyncClient(timeout=120) as client:

        async def one(demo: DemoPatient) -> httpx.Response:
            async with gate:
                content = bundle(demo, practice.day, with_visit=demo.index not in visits_elsewhere)
                return await client.post(api_url, json=content, headers=headers)

        answers = await asyncio.gather(*(one(demo) for demo in practice.patients))
    for demo, answer in zip(practice.patients, answers, strict=True):
        if answer.status_code != 200:
            sent.refused.append(answer.status_code)
            continue
        body = answer.json()
        patient_id, journey = journey_of(body)
        sent.patient_ids.append(patient_id)
        sent.journey_of_mrn[demo.mrn] = len(sent.journeys)
        sent.journeys.append(journey)
        sent.entries += len(body["entry"])
        sent.created += sum(e["response"]["status"].startswith("201") for e in body["entry"])
    return sent


# --- what the payers know about their members ----------------------------------------------------------------


def roster_entries(practice: DemoPractice, routings: dict[str, PayerRouting]) -> list[dict[str, Any]]:
    """The clearinghouse payers' and portal payers' enrollment, as the sandbox clearinghouse loads it."""
    entries: list[dict[str, Any]] = []
    for demo in practice.patients:
        for coverage in demo.coverages:
            if routings.get(coverage["payer_code"]) not in (PayerRouting.CLEARINGHOUSE, PayerRouting.PORTAL):
                continue
            is_self = coverage["relationship_to_subscriber"] == "self"
            birth = demo.patient["birth_date"] if is_self else coverage["subscriber_birth_date"]
            entries.append(
                {
                    "payer_id": coverage["payer_code"],
                    "member_id": coverage["member_id"],
                    "birth_date": birth.isoformat(),
                    "effective_from": coverage["effective_from"].isoformat(),
                    "effective_to": coverage["effective_to"].isoformat() if coverage["effective_to"] else None,
                    "group_number": coverage["group_number"],
                    "last_name": demo.patient["last_name"] if is_self else coverage["subscriber_last_name"],
                    "first_name": demo.patient["first_name"] if is_self else coverage["subscriber_first_name"],
                }
            )
    return entries


def portal_members(practice: DemoPractice, portal_payers: set[str]) -> dict[str, list[dict[str, Any]]]:
    """Each portal payer's members, as its sandbox portal's admin API takes them."""
    members: dict[str, dict[str, dict[str, Any]]] = {payer: {} for payer in portal_payers}
    for demo in practice.patients:
        for coverage in demo.coverages:
            payer = coverage["payer_code"]
            if payer not in portal_payers:
                continue
            birth = coverage["subscriber_birth_date"] or demo.patient["birth_date"]
            members[payer][coverage["member_id"]] = {
                "member_id": coverage["member_id"],
                "birth_date": birth.isoformat(),
                "plan": "Sandbox PPO" if coverage["group_number"] else "Sandbox Individual",
                "active_from": coverage["effective_from"].isoformat(),
                "active_to": coverage["effective_to"].isoformat() if coverage["effective_to"] else None,
                "copay_cents": 2500,
                "deductible_remaining_cents": 0,
            }
    return {payer: list(found.values()) for payer, found in members.items()}
