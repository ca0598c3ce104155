"""A remittance whose payment is stored already: the same delivery again, or the same payment by another channel.

``post_remittance`` hands such a remittance here. The rule (:func:`domain.posting.channels.judge_arrival`) says
what it is; nothing is posted in any case. A delivery of another channel, or one that states the payment
differently, is recorded against the stored remittance (audit ``remittance.arrived_again``: the channel, the
document, the outcome); a difference opens one ``posting_exception`` work item (problem ``channel_mismatch``)
naming the claims and amounts that differ, for a person to check with the payer.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from domain import audit
from domain import models as m
from domain.posting.channels import Arrival, ArrivalVerdict, ClaimVerdict, StatedClaim, judge_arrival
from domain.posting.results import ClaimPosted, PostingResult
from domain.posting.work import WorkItemDraft, open_work_items
from domain.remittance import Remittance
from domain.workitems import Reason, WorkQueue

ARRIVED_AGAIN_ACTION = "remittance.arrived_again"
MAX_LISTED = 20  # claim differences listed in a work item's context


def arrived_again(
    session: Session,
    remittance: Remittance,
    stored: m.Remittance,
    plb_total: int,
    document_key: str | None,
    actor: str,
    at: datetime,
) -> PostingResult:
    """What the stored payment is to this arrival; records it and opens an item for a difference (see module)."""
    first = stored_claims(session, stored.id)
    verdict = judge_arrival(stored.source, stored.payment_amount_cents, first, remittance)
    item_id = ""
    opened: tuple[str, ...] = ()
    if verdict.outcome is Arrival.CHANNEL_MISMATCH:
        item_id, created = open_work_items(session, [_mismatch_item(remittance, stored, verdict)], now=at)[0]
        opened = (item_id,) if created else ()
    if verdict.outcome is not Arrival.ALREADY_POSTED:
        audit.record(
            session,
            actor=actor,
            action=ARRIVED_AGAIN_ACTION,
            entity_type="remittance",
            entity_id=stored.id,
            details={
                "outcome": verdict.outcome.value,
                "source": remittance.source,
                "first_source": stored.source,
                "document_key": document_key or "",
                "claims": len(remittance.claims),
                "claims_differing": len(verdict.disagreements),
                "work_item_id": item_id,
            },
        )
    outcomes = tuple(_claim_outcome(claim, verdict.outcome, item_id) for claim in verdict.claims)
    # What is posted is what the stored payment posted: its claims, as the first arrival stated them.
    posted = [c for c in first if c.claim_id]
    return PostingResult(
        payer_id=remittance.payer_id,
        trace_number=remittance.trace_number,
        already_posted=True,
        payer_known=True,
        remittance_id=stored.id,
        payment_amount_cents=stored.payment_amount_cents,
        provider_adjustment_cents=plb_total,
        paid_cents=sum(c.paid_cents for c in posted),
        unapplied_cents=sum(c.paid_cents for c in first if not c.claim_id),
        contractual_cents=0,
        patient_responsibility_cents=sum(c.patient_responsibility_cents for c in posted),
        entries_written=0,
        claims=outcomes,
        work_items_opened=opened,
        arrival=verdict.outcome.value,
        source=remittance.source,
        first_source=stored.source,
    )


def stored_claims(session: Session, remittance_id: str) -> list[StatedClaim]:
    rows = session.execute(
        select(
            m.RemittanceClaim.patient_control_number,
            m.RemittanceClaim.status_code,
            m.RemittanceClaim.charge_cents,
            m.RemittanceClaim.paid_cents,
            m.RemittanceClaim.patient_responsibility_cents,
            m.RemittanceClaim.payer_claim_control_number,
            m.RemittanceClaim.claim_id,
        ).where(m.RemittanceClaim.remittance_id == remittance_id)
    ).all()
    return [
        StatedClaim(
            patient_control_number=r.patient_control_number,
            status_code=r.status_code,
            charge_cents=r.charge_cents,
            paid_cents=r.paid_cents,
            patient_responsibility_cents=r.patient_responsibility_cents,
            payer_claim_control_number=r.payer_claim_control_number,
            claim_id=r.claim_id,
        )
        for r in rows
    ]


def _claim_outcome(claim: ClaimVerdict, arrival: Arrival, item_id: str) -> ClaimPosted:
    first = claim.first
    shown = first or claim.arriving
    if arrival is Arrival.CHANNEL_MISMATCH and not claim.agrees:
        outcome = Arrival.CHANNEL_MISMATCH.value
    elif arrival is Arrival.ALREADY_POSTED:
        outcome = Arrival.ALREADY_POSTED.value
    else:
        outcome = Arrival.SAME_PAYMENT.value
    return ClaimPosted(
        sequence=claim.sequence,
        patient_control_number=claim.arriving.patient_control_number,
        status_code=claim.arriving.status_code,
        outcome=outcome,
        claim_id=first.claim_id if first else None,
        paid_cents=shown.paid_cents,
        patient_responsibility_cents=shown.patient_responsibility_cents,
        contractual_cents=0,
        confidence=100 if first and first.claim_id else 0,
        rule="stored",
        problems=claim.differences,
        work_item_id=item_id if outcome == Arrival.CHANNEL_MISMATCH.value else None,
    )


def _mismatch_item(remittance: Remittance, stored: m.Remittance, verdict: ArrivalVerdict) -> WorkItemDraft:
    differing = verdict.disagreements
    return WorkItemDraft(
        WorkQueue.POSTING,
        Reason.POSTING_EXCEPTION,
        f"remittance {remittance.trace_number}: the {remittance.source} states the payment the {stored.source} "
        f"posted differently ({len(differing)} claim(s)); nothing posted again",
        "remittance",
        stored.id,
        f"posting:{remittance.payer_id}:{remittance.trace_number}:channel:{remittance.source}",
        {
            "problem": "channel_mismatch",
            "source": remittance.source,
            "first_source": stored.source,
            "trace_number": remittance.trace_number,
            "payment_differences": list(verdict.payment_differences),
            "claims": [
                {
                    "sequence": c.sequence,
                    "claim_id": c.first.claim_id if c.first else None,
                    "differences": list(c.differences),
                }
                for c in differing[:MAX_LISTED]
            ],
        },
    )
