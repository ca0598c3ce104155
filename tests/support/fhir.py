"""Sample FHIR content for the API tests, the end-to-end tests and the benchmark (synthetic people only)."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

NPI = "http://hl7.org/fhir/sid/us-npi"
MRN = "urn:test:ehr:mrn"


def transaction(
    npi: str,
    *,
    mrn: str = "M1",
    payer: str = "SBXBM",
    member: str = "BM100200300",
    day: str | None = None,
    codes: tuple[str, ...] = ("99213",),
    diagnoses: tuple[str, ...] = ("I10",),
    family: str = "Testcase",
    given: str = "Ada",
    birth: str = "1980-05-17",
    status: str = "finished",
) -> dict[str, Any]:
    """A transaction Bundle: patient, coverage, appointment, and an encounter with diagnoses and charges (the visit
    was yesterday unless ``day`` says otherwise)."""
    day = day or (date.today() - timedelta(days=1)).isoformat()
    conditions = [
        {
            "fullUrl": f"urn:uuid:{mrn}-dx-{n}",
            "resource": {
                "resourceType": "Condition",
                "code": {"coding": [{"system": "http://hl7.org/fhir/sid/icd-10-cm", "code": code}]},
                "subject": {"reference": f"urn:uuid:{mrn}-patient"},
                "encounter": {"reference": f"urn:uuid:{mrn}-encounter"},
            },
            "request": {"method": "POST", "url": "Condition"},
        }
        for n, code in enumerate(diagnoses)
    ]
    charges = [
        {
            "fullUrl": f"urn:uuid:{mrn}-charge-{n}",
            "resource": {
                "resourceType": "ChargeItem",
                "identifier": [{"system": "urn:test:ehr:charge", "value": f"{mrn}-{day}-{n}"}],
                "status": "billable",
                "code": {"coding": [{"system": "http://www.ama-assn.org/go/cpt", "code": code}]},
                "subject": {"reference": f"urn:uuid:{mrn}-patient"},
                "context": {"reference": f"urn:uuid:{mrn}-encounter"},
                "quantity": {"value": 1},
            },
            "request": {"method": "POST", "url": "ChargeItem"},
        }
        for n, code in enumerate(codes)
    ]
    return {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [
            {
                "fullUrl": f"urn:uuid:{mrn}-patient",
                "resource": {
                    "resourceType": "Patient",
                    "identifier": [{"system": MRN, "value": mrn}],
                    "name": [{"family": family, "given": [given]}],
                    "gender": "female",
                    "birthDate": birth,
                    "address": [{"line": ["1 Test Way"], "city": "Springfield", "state": "OR", "postalCode": "97477"}],
                    "telecom": [{"system": "phone", "value": "5415550100"}],
                },
                "request": {"method": "PUT", "url": f"Patient?identifier={MRN}|{mrn}"},
            },
            {
                "fullUrl": f"urn:uuid:{mrn}-coverage",
                "resource": {
                    "resourceType": "Coverage",
                    "status": "active",
                    "beneficiary": {"reference": f"urn:uuid:{mrn}-patient"},
                    "payor": [{"identifier": {"system": "urn:carecycle:payer-id", "value": payer}}],
                    "subscriberId": member,
                    "relationship": {"coding": [{"code": "self"}]},
                    "period": {"start": "2025-01-01"},
                },
                "request": {"method": "POST", "url": "Coverage"},
            },
            {
                "fullUrl": f"urn:uuid:{mrn}-appointment",
                "resource": {
                    "resourceType": "Appointment",
                    "identifier": [{"system": "urn:test:ehr:appointment", "value": f"{mrn}-{day}"}],
                    "status": "fulfilled" if status == "finished" else "booked",
                    "start": f"{day}T15:00:00Z",
                    "minutesDuration": 20,
                    "participant": [
                        {"actor": {"reference": f"urn:uuid:{mrn}-patient"}, "status": "accepted"},
                        {"actor": {"identifier": {"system": NPI, "value": npi}}, "status": "accepted"},
                    ],
                },
                "request": {"method": "PUT", "url": f"Appointment?identifier=urn:test:ehr:appointment|{mrn}-{day}"},
            },
            {
                "fullUrl": f"urn:uuid:{mrn}-encounter",
                "resource": {
                    "resourceType": "Encounter",
                    "identifier": [{"system": "urn:test:ehr:encounter", "value": f"{mrn}-{day}"}],
                    "status": status,
                    "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "AMB"},
                    "subject": {"reference": f"urn:uuid:{mrn}-patient"},
                    "participant": [{"individual": {"identifier": {"system": NPI, "value": npi}}}],
                    "appointment": [{"reference": f"urn:uuid:{mrn}-appointment"}],
                    "period": {"start": day},
                    "diagnosis": [
                        {"condition": {"reference": f"urn:uuid:{mrn}-dx-{n}"}, "rank": n + 1}
                        for n in range(len(diagnoses))
                    ],
                },
                "request": {"method": "PUT", "url": f"Encounter?identifier=urn:test:ehr:encounter|{mrn}-{day}"},
            },
            *conditions,
            *charges,
        ],
    }


def bad_bundles(npi: str) -> list[tuple[str, Any, int, str | None]]:
    """Bundles the API refuses whole, each with its name, status and where its OperationOutcome points."""
    dangling = transaction(npi)
    dangling["entry"][1]["resource"]["beneficiary"]["reference"] = "urn:uuid:nobody"
    unknown_payer = transaction(npi, payer="NOPE")
    bad_code = transaction(npi, codes=("99213", "9921X"))
    wrong_type = transaction(npi)
    wrong_type["entry"][0]["resource"]["resourceType"] = "Practitioner"
    too_long = transaction(npi, family="x" * 61)
    half = transaction(npi)
    half["entry"][3]["resource"]["participant"][0]["individual"]["identifier"]["value"] = "1234567893"
    misspelled = transaction(npi)
    misspelled["entry"][5]["resource"]["resourceType"] = "Encountr"
    unnamed_contained = transaction(npi)
    unnamed_contained["entry"][0]["resource"]["contained"] = [{"resourceType": ""}]
    return [
        ("a type FHIR does not have", misspelled, 400, "Bundle.entry[5].resource.resourceType"),
        ("a contained resource without a type", unnamed_contained, 400, "Bundle.entry[0].resource.contained[0]"),
        ("dangling reference", dangling, 422, "Bundle.entry[1].resource.beneficiary.reference"),
        ("unknown payer", unknown_payer, 422, "Bundle.entry[0]"),
        ("malformed CPT", bad_code, 422, "Bundle.entry[6]"),
        ("wrong resource type", wrong_type, 422, "Bundle.entry[0].resource"),
        ("unknown provider", half, 422, "Bundle.entry[3]"),
        ("a name longer than its column", too_long, 422, "Bundle.entry[0]"),
        ("not a transaction", {**transaction(npi), "type": "batch"}, 400, "Bundle.type"),
        ("not a Bundle", {"resourceType": "Patient"}, 400, "resourceType"),
    ]
