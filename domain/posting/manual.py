"""A person applies a parked claim payment to the claim they chose; and the payer's latest word on a claim.

:func:`post_manually` is the resolution ``post_manually claim_id=...`` of an unmatched or ambiguous remittance
work item: the money moves from unapplied cash to the claim with the same entries and checks as automatic
posting. :func:`latest_adjudication` reads a claim's adjudication back as the payer sent it (COB: a secondary
claim carries its primary's).
"""

from __future__ import annotations

import hashlib
from datetime import UTC, date, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from domain import audit
from domain import models as m
from domain.errors import NotFound, ValidationError
from domain.ledger import accounts as acc
from domain.ledger.entries import EntryDraft
from domain.ledger.service import missing_charges
from domain.ledger.store import claim_insurance_balances
from domain.posting import rules
from domain.posting.adjudication import claim_problems, post_adjudication
from domain.posting.candidates import candidate_of
from domain.posting.claims import ClaimState, load_claims
from domain.posting.matching import ClaimMatch, match_lines
from domain.posting.results import ClaimPosted
from domain.posting.run import PostingRun
from domain.posting.secondary import secondary_setup
from domain.remittance import Adjustment, ClaimPayment, Remittance, ServiceLinePayment


def stored_payment(session: Session, row: m.RemittanceClaim) -> ClaimPayment:
    """The claim payment as stored with the remittance (what the 835 said), for posting it later."""
    lines = session.execute(
        select(m.RemittanceServiceLine).where(m.RemittanceServiceLine.remittance_claim_id == row.id)
    ).scalars()
    adjustments = list(
        session.execute(
            select(m.RemittanceAdjustment).where(m.RemittanceAdjustment.remittance_claim_id == row.id)
        ).scalars()
    )

    def adjustments_of(line_id: str | None) -> tuple[Adjustment, ...]:
        return tuple(
            Adjustment(a.group_code, a.reason_code, a.amount_cents, a.quantity)
            for a in adjustments
            if a.remittance_service_line_id == line_id
        )

    return ClaimPayment(
        patient_control_number=row.patient_control_number,
        status_code=row.status_code,
        charge_cents=row.charge_cents,
        paid_cents=row.paid_cents,
        patient_responsibility_cents=row.patient_responsibility_cents,
        payer_claim_control_number=row.payer_claim_control_number,
        adjustments=adjustments_of(None),
        service_lines=tuple(
            ServiceLinePayment(
                procedure=line.procedure_code,
                modifiers=tuple(line.modifiers or ()),
                charge_cents=line.charge_cents,
                paid_cents=line.paid_cents,
                line_control_number=line.line_control_number,
                adjustments=adjustments_of(line.id),
                remarks=tuple(line.remark_codes or ()),
            )
            for line in lines
        ),
        remarks=tuple(row.remark_codes or ()),
    )


def latest_adjudication(session: Session, claim_id: str) -> tuple[ClaimPayment, date | None] | None:
    """The payer's latest word on a claim as stored with its remittance, and the day it paid (None if it never
    answered). A reversal is skipped: its correction, or the payment it reversed, is the word that stands.

    A secondary claim carries this of its primary claim as the prior payer's adjudication (COB)."""
    row = session.execute(
        select(m.RemittanceClaim, m.Remittance.payment_date, m.Remittance.received_at)
        .join(m.Remittance, m.Remittance.id == m.RemittanceClaim.remittance_id)
        .where(m.RemittanceClaim.claim_id == claim_id, m.RemittanceClaim.status_code != "22")
        .order_by(m.Remittance.received_at.desc(), m.RemittanceClaim.id.desc())
        .limit(1)
    ).first()
    if row is None:
        return None
    stored, paid_on, received_at = row
    return stored_payment(session, stored), paid_on or received_at.date()


def post_manually(
    session: Session,
    remittance_claim_id: str,
    claim_id: str,
    *,
    actor: str,
    now: datetime | None = None,
) -> ClaimPosted:
    """Post a claim payment that was parked (unmatched, ambiguous) to the claim a person chose.

    The money moves from unapplied cash to the claim exactly as automatic posting would have posted it; the
    same checks apply (a claim that does not balance, an illegal status: ValidationError, nothing written).
    Idempotent: a claim payment already applied returns its result again without writing.
    """
    row = session.get(m.RemittanceClaim, remittance_claim_id)
    if row is None:
        raise NotFound(f"unknown remittance claim {remittance_claim_id}")
    stored = session.get(m.Remittance, row.remittance_id)
    claim = load_claims(session, [claim_id]).get(claim_id)
    if stored is None or claim is None:
        raise NotFound(f"unknown claim {claim_id}")
    if row.claim_id is not None:
        if row.claim_id != claim_id:
            raise ValidationError(f"remittance claim {remittance_claim_id} is already posted to another claim")
        return _posted_before(row, claim_id)
    if claim.payer_id != stored.payer_id:
        raise ValidationError(f"claim {claim_id} was billed to another payer than remittance {stored.trace_number}")
    payment = stored_payment(session, row)
    if payment.is_reversal:
        raise ValidationError("a reversal is posted by reposting its remittance, not by hand")
    line_ids, lines_ok = match_lines(candidate_of(claim), payment.service_lines)
    charges = missing_charges(session, [claim])
    balance = claim_insurance_balances(session, [claim.id]).get(claim.id, 0) + sum(c.debit_total for c in charges)
    amounts = rules.classify(payment)
    problems = rules.problems(payment) + ([] if lines_ok else ["lines_do_not_match"])
    if not problems:
        amounts, problems = claim_problems(claim, payment, amounts, balance)
    if problems:
        raise ValidationError(f"cannot post to claim {claim_id}: {', '.join(problems)}")
    outcome = _apply(
        session, stored, row, payment, claim, line_ids, amounts, charges, balance, now or datetime.now(UTC)
    )
    audit.record(
        session,
        actor=actor,
        action="remittance.posted_manually",
        entity_type="claim",
        entity_id=claim.id,
        details={"remittance_id": stored.id, "paid_cents": outcome.paid_cents, "status": outcome.outcome},
    )
    return outcome


def _posted_before(row: m.RemittanceClaim, claim_id: str) -> ClaimPosted:
    """The answer for a claim payment already applied to this claim (nothing is written again)."""
    return ClaimPosted(
        0,
        row.patient_control_number,
        row.status_code,
        "already_posted",
        claim_id,
        row.paid_cents,
        row.patient_responsibility_cents,
        0,
        100,
        "manual",
    )


def _apply(
    session: Session,
    stored: m.Remittance,
    row: m.RemittanceClaim,
    payment: ClaimPayment,
    claim: ClaimState,
    line_ids: tuple[str | None, ...],
    amounts: rules.ClaimAmounts,
    charges: list[EntryDraft],
    balance: int,
    at: datetime,
) -> ClaimPosted:
    """Post the checked payment from unapplied cash and link the stored claim payment to the claim."""
    payer = session.get(m.Payer, stored.payer_id)
    assert payer is not None
    remittance = Remittance(
        payer_id=payer.payer_id,
        payer_name=payer.name,
        payee_name="",
        payee_id="",
        payment_method=stored.payment_method,
        payment_amount_cents=stored.payment_amount_cents,
        trace_number=stored.trace_number,
        payment_date=stored.payment_date,
        claims=(payment,),
    )
    with session.no_autoflush:
        run = PostingRun(remittance, stored.id, at, source_account=acc.UNAPPLIED_CASH, new_remittance=False)
        run.drafts.extend(charges)
        run.claim_balances[claim.id] = balance
        match = ClaimMatch(claim.id, 100, "manual", (claim.id,), line_ids)
        sequence = 1_000_000 + int(hashlib.sha256(row.id.encode()).hexdigest()[:6], 16)  # apart from 835 order
        post_adjudication(run, sequence, payment, match, amounts, claim, secondary_setup(session, [claim]))
        run.write(session, run.drafts)
        row.claim_id = claim.id
        row.match_confidence = 100
        service_rows = session.execute(
            select(m.RemittanceServiceLine).where(m.RemittanceServiceLine.remittance_claim_id == row.id)
        ).scalars()
        for service_row, line_id in zip(service_rows, line_ids, strict=False):
            service_row.claim_line_id = line_id
    session.flush()
    return run.outcomes[0]
