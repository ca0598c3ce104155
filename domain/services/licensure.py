"""A provider's state licenses from the store, and the interstate-licensure question asked of them.

The rule itself is ``domain.licensure.licensed_in``; these functions only load the rows it reads. A provider's
licenses are the ``state_license`` credentials of the staff member behind the provider record
(``providers.staff_id``): a provider with no staff record holds no license the practice knows of.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from domain import models as m
from domain.enums import CredentialKind
from domain.errors import NotFound
from domain.licensure import License, license_states, licensed_in


def staff_licenses(session: Session, staff_id: str) -> list[License]:
    """Every state license of a staff member (any status; the rule decides which count on a day)."""
    rows = session.execute(
        select(m.Credential).where(
            m.Credential.staff_id == staff_id, m.Credential.kind == CredentialKind.STATE_LICENSE.value
        )
    ).scalars()
    return [
        License(
            state=row.state or "",
            status=row.status,
            issued_on=row.issued_on,
            expires_on=row.expires_on,
            credential_id=row.id,
        )
        for row in rows
    ]


def provider_licenses(session: Session, provider_id: str) -> list[License]:
    provider = session.get(m.Provider, provider_id)
    if provider is None:
        raise NotFound(f"unknown provider {provider_id}")
    return staff_licenses(session, provider.staff_id) if provider.staff_id else []


def provider_licensed_in(session: Session, provider_id: str, state: str, day: date) -> bool:
    """Whether the provider holds a license of ``state`` that is active on ``day`` (telehealth licensure)."""
    return licensed_in(provider_licenses(session, provider_id), state, day)


def providers_licensed_in(session: Session, practice_id: str, state: str, day: date) -> list[str]:
    """The ids of the practice's providers licensed in ``state`` on ``day`` (whom a visit may be reassigned to)."""
    providers = session.execute(
        select(m.Provider.id, m.Provider.staff_id)
        .where(m.Provider.practice_id == practice_id, m.Provider.staff_id.is_not(None))
        .order_by(m.Provider.id)
    ).all()
    return [
        provider_id
        for provider_id, staff_id in providers
        if staff_id and licensed_in(staff_licenses(session, staff_id), state, day)
    ]


def provider_license_states(session: Session, provider_id: str, day: date) -> list[str]:
    return license_states(provider_licenses(session, provider_id), day)


__all__ = [
    "provider_license_states",
    "provider_licensed_in",
    "provider_licenses",
    "providers_licensed_in",
    "staff_licenses",
]
