"""The rendering provider's standing for one claim: its exclusion-list matches and its enrollments with the claim's
payer, as the claim edits read them (``ScrubContext.provider``).

One loader for every scrub (the Claim workflow's ``claims.scrub`` activity and ``carecycle claims scrub``), so both
refuse the same claims with ``PROVIDER_EXCLUDED`` and ``PROVIDER_NOT_ENROLLED``.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from domain import models as m
from domain.claim_edits import ProviderStanding
from domain.enrollment import Enrollment
from domain.enums import PayerKind
from domain.exclusions import ExclusionPeriod


def exclusion_periods(session: Session, staff_id: str | None) -> tuple[ExclusionPeriod, ...]:
    if not staff_id:
        return ()
    rows = session.execute(select(m.ExclusionMatch).where(m.ExclusionMatch.staff_id == staff_id)).scalars()
    return tuple(
        ExclusionPeriod(
            source=row.source,
            basis=row.basis,
            status=row.status,
            excluded_on=row.excluded_on,
            reinstated_on=row.reinstated_on,
        )
        for row in rows
    )


def enrollments_with(session: Session, provider_id: str, payer: m.Payer) -> tuple[Enrollment, ...]:
    rows = session.execute(
        select(m.PayerEnrollment).where(
            m.PayerEnrollment.provider_id == provider_id, m.PayerEnrollment.payer_id == payer.id
        )
    ).scalars()
    return tuple(
        Enrollment(
            payer_id=payer.payer_id,
            status=row.status,
            effective_from=row.effective_from,
            effective_to=row.effective_to,
            number=row.number or "",
        )
        for row in rows
    )


def provider_standing(session: Session, claim: m.Claim) -> ProviderStanding:
    provider = session.get(m.Provider, claim.billing_provider_id)
    payer = session.get(m.Payer, claim.payer_id)
    if provider is None or payer is None:
        return ProviderStanding()  # the claim cannot be loaded either; its load error says why
    return ProviderStanding(
        exclusions=exclusion_periods(session, provider.staff_id),
        enrollments=enrollments_with(session, provider.id, payer),
        enrollment_required=payer.kind != PayerKind.SELF_PAY,
    )


__all__ = ["enrollments_with", "exclusion_periods", "provider_standing"]
