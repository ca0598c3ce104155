"""An audit event for every CLI command that prints PHI (``phi.view``), naming the operating-system user."""

from __future__ import annotations

from typing import Any

from workers.composition import Container


def record_phi_view(
    container: Container,
    command: str,
    entity_type: str,
    entity_id: str,
    *,
    workflow_id: str | None = None,
    **details: Any,
) -> None:
    """In a transaction of its own, before the command prints anything."""
    from domain.audit import PHI_VIEW_ACTION, record
    from workers.security.actors import os_user

    with container.uow() as uow:
        record(
            uow.session,
            actor=f"cli:{os_user()}",
            action=PHI_VIEW_ACTION,
            entity_type=entity_type,
            entity_id=entity_id,
            workflow_id=workflow_id,
            details={"via": "cli", "command": command, **details},
        )
        uow.commit()
