"""Request bodies in: size-limited, JSON, and validated against the FHIR models (fhir.resources).

Validation uses the library's R4B models: for the resources served here (Patient, Coverage, Appointment,
Encounter, Condition, ChargeItem, Bundle) R4B has the shapes of R4 (4.0.1). Numbers are read as ``Decimal`` so
that money stays exact. Errors name the element (a FHIRPath-like expression) and never echo a value.
"""

from __future__ import annotations

import json
from decimal import Decimal
from importlib import import_module
from typing import Any

from pydantic import ValidationError

from api.outcome import FhirError

# Every resource type the API reads from a request, and the module of its model.
WRITABLE = ("Patient", "Coverage", "Appointment", "Encounter", "Condition", "ChargeItem")
_MODELS = {name: name.lower() for name in (*WRITABLE, "Bundle")}
MAX_ENTRIES = 1000


def model_class(resource_type: str) -> Any:
    module = import_module(f"fhir.resources.R4B.{_MODELS[resource_type]}")
    return getattr(module, resource_type)


def load_json(body: bytes) -> dict[str, Any]:
    """The body as a JSON object (400 when it is not one)."""
    try:
        data = json.loads(body, parse_float=Decimal)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        where = f" at line {exc.lineno}, column {exc.colno}" if isinstance(exc, json.JSONDecodeError) else ""
        raise FhirError(400, f"the body is not valid JSON{where}") from None
    except RecursionError:
        raise FhirError(400, "the body nests too deeply") from None
    if not isinstance(data, dict):
        raise FhirError(400, "the body must be a JSON object (a FHIR resource)")
    return data


def _path(resource_type: str, loc: tuple[int | str, ...]) -> str:
    parts = [resource_type]
    for item in loc:
        if isinstance(item, int):
            parts[-1] = f"{parts[-1]}[{item}]"
        elif item not in ("function-after", "function-before", "function-wrap") and not str(item).startswith(
            ("tagged-union", "json-or-python")
        ):
            parts.append(str(item).removesuffix("__ext").replace("class_fhir", "class"))
    return ".".join(parts)


def validate(resource_type: str, data: dict[str, Any], *, expected: str | None = None) -> Any:
    """Validate ``data`` as ``resource_type`` (400 naming the first wrong element); returns the model."""
    given = data.get("resourceType")
    if not isinstance(given, str) or not given:
        raise FhirError(400, "resourceType is missing", expression="resourceType")
    if expected is not None and given != expected:
        raise FhirError(400, f"resourceType {given!r} where {expected} was expected", expression="resourceType")
    if given not in _MODELS:
        raise FhirError(400, f"resourceType {given!r} is not accepted here", expression="resourceType")
    if given == "Bundle" and isinstance(data.get("entry"), list) and len(data["entry"]) > MAX_ENTRIES:
        raise FhirError(413, f"a Bundle may carry at most {MAX_ENTRIES} entries", expression="Bundle.entry")
    try:
        return model_class(given).model_validate(data)
    except ValidationError as exc:
        errors = exc.errors(include_input=False, include_url=False, include_context=False)
        first = errors[0] if errors else {"loc": (), "msg": "invalid"}
        where = _path(given, tuple(first.get("loc", ())))
        message = str(first.get("msg", "invalid")).split("\n")[0][:200]
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        raise FhirError(400, f"{where}: {message}{more}", expression=where) from None
    except LookupError:  # the models look a nested resource's type up by name (Bundle.entry.resource, contained)
        where = _unknown_resource_type(given, data) or given
        raise FhirError(400, f"{where}: not a FHIR resource type", expression=where) from None
    except (ValueError, TypeError, RecursionError):
        raise FhirError(400, f"{given} is not a valid resource", expression=given) from None


def _unknown_resource_type(resource_type: str, data: dict[str, Any]) -> str | None:
    """Where the first nested resource names a type FHIR does not have, as ``Bundle.entry[5].resource.resourceType``
    (the value itself is never echoed); None when none does."""
    from fhir.resources.R4B import get_fhir_model_class

    stack: list[tuple[str, Any, bool]] = [(resource_type, data, True)]
    while stack:
        path, value, top = stack.pop()
        if isinstance(value, dict):
            named = value.get("resourceType")
            if not top and isinstance(named, str):
                try:
                    get_fhir_model_class(named)
                except (ValueError, LookupError):
                    return f"{path}.resourceType"
            stack.extend((f"{path}.{key}", item, False) for key, item in reversed(list(value.items())))
        elif isinstance(value, list):
            stack.extend((f"{path}[{index}]", item, False) for index, item in reversed(list(enumerate(value))))
    return None
