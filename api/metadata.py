"""``GET /fhir/metadata``: the CapabilityStatement, built from the registry of served resource types and the
registered operations, so it lists exactly what is implemented (after Medplum's metadata.ts)."""

from __future__ import annotations

from typing import Any

from api.fhir.resources import REGISTRY
from api.fhir.views import US_CORE
from api.operations import OPERATIONS

FHIR_VERSION = "4.0.1"


def capability_statement(base_url: str) -> dict[str, Any]:
    resources = []
    for spec in REGISTRY:
        entry: dict[str, Any] = {
            "type": spec.type,
            "documentation": spec.documentation,
            "interaction": [{"code": code} for code in spec.interactions],
            "versioning": "versioned-update" if spec.writable else "no-version",
            "readHistory": False,
            "updateCreate": spec.writable,
            "searchParam": [{"name": p.name, "type": p.type, "documentation": p.documentation} for p in spec.params],
        }
        if spec.writable:
            entry["conditionalCreate"] = True
            entry["conditionalUpdate"] = True
            entry["conditionalDelete"] = "not-supported"
        if spec.profile:
            entry["supportedProfile"] = [US_CORE + spec.profile]
        operations = [op for op in OPERATIONS if spec.type in op.types]
        if operations:
            entry["operation"] = [{"name": op.name, "definition": op.definition} for op in operations]
        resources.append(entry)
    return {
        "resourceType": "CapabilityStatement",
        "status": "active",
        "date": "2026-01-01",
        "kind": "instance",
        "software": {"name": "carecycle"},
        "implementation": {"description": "carecycle integration API", "url": base_url},
        "fhirVersion": FHIR_VERSION,
        "format": ["application/fhir+json", "json"],
        "rest": [
            {
                "mode": "server",
                "documentation": "Payers by X12 payer id (urn:carecycle:payer-id), practitioners by NPI "
                "(http://hl7.org/fhir/sid/us-npi), patients by the EHR's MRN. An Encounter with status finished and "
                "its ChargeItems bills. See docs/integration.md.",
                "security": {
                    "service": [
                        {
                            "coding": [
                                {
                                    "system": "http://terminology.hl7.org/CodeSystem/restful-security-service",
                                    "code": "Bearer",
                                }
                            ]
                        }
                    ],
                    "description": "Bearer tokens from `carecycle api-clients add NAME --scopes intake,read`: scope "
                    "intake writes, scope read reads. Rate-limited per client.",
                },
                "resource": resources,
                "interaction": [{"code": "transaction"}],
            }
        ],
    }
