"""The collections policy in the store: versions, the one in force, a change.

``current_policy`` is what the ``collections.policy`` activity returns to a running PatientCollections workflow at
each step and what ``carecycle policy show`` prints; ``set_policy`` (``carecycle policy set``) writes a new version
and records who changed what in the audit trail. With no version stored, the defaults are in force (version 0).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from domain import audit
from domain import models as m
from domain.collections_policy import CollectionsPolicy, changed_policy, policy_from_settings, policy_settings
from domain.errors import ConcurrencyConflict, ValidationError


@dataclass(frozen=True)
class StoredPolicy:
    version: int  # 0: the defaults, nothing stored yet
    policy: CollectionsPolicy
    created_at: datetime | None
    created_by: str
    note: str

    def as_dict(self) -> dict[str, object]:
        return {
            "version": self.version,
            "created_at": self.created_at.isoformat() if self.created_at else None,
            "created_by": self.created_by,
            "note": self.note,
            "settings": policy_settings(self.policy),
        }


def current_policy(session: Session) -> StoredPolicy:
    row = session.execute(
        select(m.CollectionsPolicyVersion).order_by(m.CollectionsPolicyVersion.version.desc()).limit(1)
    ).scalar_one_or_none()
    if row is None:
        return StoredPolicy(0, CollectionsPolicy(), None, "defaults", "")
    return StoredPolicy(row.version, policy_from_settings(row.settings), row.created_at, row.created_by, row.note)


def policy_history(session: Session) -> list[StoredPolicy]:
    rows = session.execute(select(m.CollectionsPolicyVersion).order_by(m.CollectionsPolicyVersion.version)).scalars()
    return [StoredPolicy(r.version, policy_from_settings(r.settings), r.created_at, r.created_by, r.note) for r in rows]


def set_policy(session: Session, assignments: Mapping[str, str], *, actor: str, note: str = "") -> StoredPolicy:
    """A new version with the settings changed (checked by the policy's own rules); the same settings again write
    nothing and return the version in force. Flushes; the caller commits."""
    if not actor.strip():
        raise ValidationError("a policy change must say who made it (--by)")
    if not assignments:
        raise ValidationError("name at least one setting to change (name=value)")
    current = current_policy(session)
    policy = changed_policy(current.policy, assignments)
    if policy == current.policy:
        return current
    version = int(session.execute(select(func.coalesce(func.max(m.CollectionsPolicyVersion.version), 0))).scalar_one())
    row = m.CollectionsPolicyVersion(
        version=version + 1, settings=policy_settings(policy), created_by=actor.strip()[:60], note=note.strip()[:200]
    )
    session.add(row)
    try:
        session.flush()
    except IntegrityError:
        raise ConcurrencyConflict("someone else changed the collections policy at the same time: try again") from None
    changed = {k: v for k, v in policy_settings(policy).items() if v != policy_settings(current.policy)[k]}
    audit.record(
        session,
        actor=actor.strip()[:60],
        action="collections_policy.changed",
        entity_type="collections_policy",
        entity_id=str(row.version),
        details={"from_version": current.version, "changed": changed},
    )
    return StoredPolicy(row.version, policy, row.created_at, row.created_by, row.note)
