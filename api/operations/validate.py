"""``POST /fhir/{type}/$validate``: would this resource be accepted? Every check a create makes (FHIR structure,
the mapping, references, codes, the duplicate-patient rule) runs through intake in a dry run: nothing is written,
nothing starts. The answer is an OperationOutcome (200 when valid; 400 or 422 naming the element otherwise)."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from api.fhir import parse
from api.fhir.inbound import Write
from api.operations import Operation
from api.outcome import operation_outcome
from intake.commands import IfExists

router = APIRouter(prefix="/fhir")


@router.post("/{resource_type}/$validate", summary="Validate a resource as a create would, writing nothing")
async def validate(request: Request, resource_type: str) -> Response:
    from api.app import fhir_response, state_of
    from api.routes import actor_of, audited, read_body
    from api.writes import command_for

    state = state_of(request)

    async def handle(who: Any) -> tuple[Response, str | None, dict[str, Any]]:
        data = await read_body(request, state.max_body_bytes)
        parse.validate(resource_type, data, expected=resource_type)

        def work(unit: Any) -> None:
            unit.handle(command_for(resource_type, data, Write(IfExists.UPDATE), None, unit.session))

        await asyncio.to_thread(state.intake.run, actor_of(who), work, dry_run=True)
        body = operation_outcome("the resource is valid", code="informational", severity="information")
        return fhir_response(body), None, {"valid": True}

    return await audited(request, "intake", "validate", resource_type, handle)


OPERATION = Operation(
    name="validate",
    types=("Patient", "Coverage", "Appointment", "Encounter", "Condition", "ChargeItem"),
    definition="http://hl7.org/fhir/OperationDefinition/Resource-validate",
    router=router,
)
