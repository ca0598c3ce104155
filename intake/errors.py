"""Intake's typed errors: each says what is wrong with the event in codes and ids, never with PHI.

All are ``DomainError``s, so every door turns them into its own refusal (FHIR OperationOutcome, HL7 ACK AE/AR,
a CSV row report, one line on stderr) and nothing of the event is written.
"""

from __future__ import annotations

from domain.errors import ConcurrencyConflict, DomainError, NotFound, ValidationError


class UnknownReference(NotFound):
    """The event names a record (patient, appointment, encounter, provider, location) that does not exist."""

    code = "unknown_reference"


class VersionConflict(ConcurrencyConflict):
    """The sender updated a version that is no longer the current one (If-Match)."""

    code = "version_conflict"


class IdentifierConflict(DomainError):
    """A create named an identifier that already names a different record, or an update moved an identifier."""

    code = "identifier_conflict"


class AlreadyBilled(DomainError):
    """The encounter was closed for billing: changing or cancelling it goes through the claim (void/replace)."""

    code = "already_billed"


class InvalidEvent(ValidationError):
    """The event is incomplete or inconsistent (a missing identifier, a charge without a price...)."""

    code = "invalid_event"
