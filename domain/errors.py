"""Typed domain errors.

Every message here may reach a log or a terminal, so messages name codes, ids and amounts,
never a patient's name, birth date, member id or address.
"""

from __future__ import annotations


class DomainError(Exception):
    """A rule of the domain was broken; the caller's input or the data is at fault, not the code."""

    code = "domain_error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class ValidationError(DomainError):
    code = "invalid"


class InvalidNPI(ValidationError):
    code = "invalid_npi"


class InvalidCode(ValidationError):
    code = "invalid_code"


class InvalidAmount(ValidationError):
    code = "invalid_amount"


class NotFound(DomainError):
    code = "not_found"


class UnknownPayer(NotFound):
    code = "unknown_payer"


class IllegalTransition(DomainError):
    code = "illegal_transition"


class DuplicatePatient(DomainError):
    code = "duplicate_patient"


class ConcurrencyConflict(DomainError):
    """Someone else changed the row since it was read (optimistic locking)."""

    code = "concurrency_conflict"


class UnbalancedEntry(DomainError):
    code = "unbalanced_entry"


class InvalidResolution(ValidationError):
    code = "invalid_resolution"


class IdempotencyConflict(DomainError):
    """An idempotency key already names a different operation: the key was reused for other content."""

    code = "idempotency_conflict"
