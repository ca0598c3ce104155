"""Signed resolutions for tests that send the ``resolve`` Update themselves, as the console would."""

from __future__ import annotations

from domain.actors import resolve_scope, sign_actor
from domain.workitems import ResolveRequest
from workers.security.actors import load_actor_keys
from workers.settings import Settings


def signed_resolve(
    settings: Settings,
    workflow_id: str,
    work_item_id: str,
    action: str,
    *,
    user: str = "ann",
    fields: dict[str, str] | None = None,
    note: str = "",
) -> ResolveRequest:
    """A ResolveRequest from console user ``user``, signed with the stack's actor key."""
    values = dict(fields or {})
    actor = sign_actor(
        load_actor_keys(settings),
        "console",
        user,
        scope=resolve_scope(workflow_id, work_item_id, action, values, note),
    )
    return ResolveRequest(work_item_id, action, actor.label, values, note, actor=actor)
