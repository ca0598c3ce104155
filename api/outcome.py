"""FHIR OperationOutcome errors: every refusal names its status, an issue code and the element it is about.

Diagnostics carry codes, ids and element paths only: never a value from the request (a name, a birth date, a
member id), since refusals are logged and shown to the calling system's operators.
"""

from __future__ import annotations

import math
from typing import Any

from domain.errors import (
    ConcurrencyConflict,
    DomainError,
    DuplicatePatient,
    IllegalTransition,
    NotFound,
)

# Issue codes (http://hl7.org/fhir/issue-type) by HTTP status.
_ISSUE_CODE = {
    400: "structure",
    401: "login",
    403: "forbidden",
    404: "not-found",
    405: "not-supported",
    409: "conflict",
    412: "conflict",
    413: "too-costly",
    415: "not-supported",
    422: "processing",
    429: "throttled",
    503: "transient",
}


class FhirError(Exception):
    """A refusal the API answers with an OperationOutcome and ``status``."""

    def __init__(
        self,
        status: int,
        diagnostics: str,
        *,
        expression: str | None = None,
        code: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(diagnostics)
        self.status = status
        self.diagnostics = diagnostics
        self.expression = expression
        self.code = code or _ISSUE_CODE.get(status, "exception")
        self.headers = headers or {}

    def at(self, prefix: str) -> FhirError:
        """The same error located under ``prefix`` (e.g. ``Bundle.entry[2].resource``)."""
        inner = self.expression
        where = prefix if not inner else f"{prefix}.{inner.split('.', 1)[1]}" if "." in inner else prefix
        return FhirError(self.status, self.diagnostics, expression=where, code=self.code, headers=self.headers)


def throttled(status: int, diagnostics: str, wait_seconds: float) -> FhirError:
    """A refusal to come back later: ``429`` (this client's rate or queue), ``503`` (every client's: the store, the
    asynchronous queue as a whole), with ``Retry-After`` in whole seconds (at least 1). Issue code ``throttled``
    (429) or ``transient`` (503). The one shape of every such refusal the API answers."""
    assert status in (429, 503)
    return FhirError(status, diagnostics, headers={"Retry-After": str(max(1, math.ceil(wait_seconds)))})


def operation_outcome(
    diagnostics: str, *, code: str = "processing", expression: str | None = None, severity: str = "error"
) -> dict[str, Any]:
    issue: dict[str, Any] = {"severity": severity, "code": code, "diagnostics": diagnostics}
    if expression:
        issue["expression"] = [expression]
    return {"resourceType": "OperationOutcome", "issue": [issue]}


def outcome_of(error: FhirError) -> dict[str, Any]:
    return operation_outcome(error.diagnostics, code=error.code, expression=error.expression)


def from_domain(error: DomainError, expression: str | None = None) -> FhirError:
    """A domain or intake refusal as the API's status: 404 unknown id, 409/412 conflicts, 422 rules."""
    code = getattr(error, "code", "")
    if code == "version_conflict":
        return FhirError(412, error.message, expression=expression)
    if code in ("identifier_conflict", "busy") or isinstance(error, ConcurrencyConflict):
        return FhirError(409, error.message, expression=expression)
    if isinstance(error, DuplicatePatient):
        return FhirError(422, error.message, expression=expression, code="duplicate")
    if isinstance(error, NotFound):
        return FhirError(422, error.message, expression=expression, code="not-found")
    if isinstance(error, IllegalTransition):
        return FhirError(422, error.message, expression=expression, code="business-rule")
    if code == "already_billed":
        return FhirError(422, error.message, expression=expression, code="business-rule")
    return FhirError(
        422, error.message, expression=expression, code="business-rule" if code == "domain_error" else "invalid"
    )
