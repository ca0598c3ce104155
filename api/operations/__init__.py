"""FHIR operations (``$name``), one module each with its test beside it (after Medplum's ``operations/``).

``OPERATIONS`` registers them: the routes include their routers, the CapabilityStatement lists them.
"""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import APIRouter


@dataclass(frozen=True)
class Operation:
    name: str
    types: tuple[str, ...]
    definition: str
    router: APIRouter


def _registered() -> tuple[Operation, ...]:
    from api.operations import validate

    return (validate.OPERATION,)


OPERATIONS: tuple[Operation, ...] = _registered()
