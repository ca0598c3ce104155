"""Recording who did what: AuditEvent rows are append-only (the database refuses UPDATE and DELETE)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from domain.models import AuditEvent

# A claim-status inquiry (276/277 or a portal search) and what the payer answered: route, category, status.
STATUS_INQUIRY_ACTION = "claim.status_inquiry"


def record(
    session: Session,
    *,
    actor: str,
    action: str,
    entity_type: str,
    entity_id: str,
    workflow_id: str | None = None,
    details: dict[str, Any] | None = None,
) -> AuditEvent:
    """Add an audit event to the current transaction. Details hold codes, ids and amounts, never PHI."""
    event = AuditEvent(
        actor=actor,
        action=action,
        entity_type=entity_type,
        entity_id=entity_id,
        workflow_id=workflow_id,
        details=details or {},
    )
    session.add(event)
    return event
