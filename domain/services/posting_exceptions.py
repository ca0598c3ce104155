"""Posting's work items worked for real: the facts of an item, and its resolution carried out in one transaction.

:func:`load_facts` reads what the rule of :mod:`domain.posting.parked` needs about a posting item (the parked claim
payment, the claims it could go to, a remittance's payment difference, whether an unknown payer is known now);
:func:`resolve_posting_item` runs that rule again with the store's facts and carries the resolution out through
the one domain function of each action: ``post_manually`` / ``retry_now`` -> :func:`domain.posting.post_manually`
(the money moves from unapplied cash to the claim with the entries automatic posting writes), ``write_off`` ->
:func:`write_off_parked_payment` or :func:`write_off_payment_difference` (balanced entries, keyed by the
remittance line, so a retry writes nothing twice). ``complete`` and ``cancel`` post nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from domain import audit
from domain import models as m
from domain.errors import NotFound, ValidationError
from domain.ledger import accounts as acc
from domain.ledger.entries import EntryKind, transfer
from domain.ledger.service import missing_charges
from domain.ledger.store import claim_insurance_balances, existing_keys, write_entries
from domain.posting import ClaimPosted, post_manually, rules
from domain.posting.adjudication import target_status
from domain.posting.manual import stored_payment
from domain.posting.matching import ClaimCandidate, LineCandidate, match_lines
from domain.posting.parked import (
    ExceptionFacts,
    ExceptionKind,
    ParkedPayment,
    PostingTarget,
    check_resolution,
    claim_of,
    exception_kind,
    looks_like_claim_id,
)
from domain.remittance import ClaimPayment
from domain.workitems import WRITE_OFF_REASONS, Action

MAX_CANDIDATES = 20  # the claims an item names that the workflow holds facts for


def parked_write_off_key(remittance_claim_id: str) -> str:
    return f"posting_write_off:{remittance_claim_id}"


def difference_write_off_key(remittance_id: str) -> str:
    return f"posting_difference:{remittance_id}"


# --- facts -------------------------------------------------------------------------------------------------


def parked_payment(session: Session, row: m.RemittanceClaim) -> tuple[ParkedPayment, ClaimPayment]:
    """The stored claim payment as the rule sees it, and as the 835 said it (for matching its lines)."""
    stored = session.get(m.Remittance, row.remittance_id)
    if stored is None:
        raise NotFound(f"unknown remittance of remittance claim {row.id}")
    payment = stored_payment(session, row)
    amounts = rules.classify(payment)
    written_off = bool(existing_keys(session, [parked_write_off_key(row.id)]))
    parked = ParkedPayment(
        remittance_claim_id=row.id,
        payer_row_id=stored.payer_id,
        trace_number=stored.trace_number,
        posted_to=row.claim_id or "",
        written_off=written_off,
        reversal=payment.is_reversal,
        problems=tuple(rules.problems(payment)),
        target_status=target_status(payment, amounts).value,
        paid_cents=amounts.paid_cents,
        patient_responsibility_cents=amounts.patient_responsibility_cents,
        contractual_cents=amounts.contractual_cents,
    )
    return parked, payment


def posting_targets(session: Session, payment: ClaimPayment, claim_ids: Sequence[str]) -> list[PostingTarget]:
    """The claims among ``claim_ids`` that exist, as the rule sees them for this payment."""
    wanted = sorted({c for c in claim_ids if looks_like_claim_id(c)})
    if not wanted:
        return []
    claims = list(session.execute(select(m.Claim).where(m.Claim.id.in_(wanted))).scalars())
    balances = claim_insurance_balances(session, [c.id for c in claims])
    for charge in missing_charges(session, claims):
        if charge.claim_id is not None:
            balances[charge.claim_id] = balances.get(charge.claim_id, 0) + charge.debit_total
    accounts = dict(
        session.execute(
            select(m.Patient.id, m.Patient.account_number).where(m.Patient.id.in_({c.patient_id for c in claims}))
        ).all()
    )
    targets = []
    for claim in claims:
        _, lines_match = match_lines(_candidate(claim, accounts.get(claim.patient_id, "")), payment.service_lines)
        targets.append(
            PostingTarget(
                claim_id=claim.id,
                payer_row_id=claim.payer_id,
                status=str(claim.status),
                balance_cents=balances.get(claim.id, 0),
                secondary=claim.primary_claim_id is not None,
                lines_match=lines_match,
            )
        )
    return targets


def _candidate(claim: m.Claim, account: str) -> ClaimCandidate:
    return ClaimCandidate(
        id=claim.id,
        payer_row_id=claim.payer_id,
        patient_id=claim.patient_id,
        patient_account=account,
        total_charge_cents=claim.total_charge_cents,
        date_of_service=claim.date_of_service,
        payer_claim_control_number=claim.payer_claim_control_number,
        lines=tuple(
            LineCandidate(
                line.id,
                line.line_number,
                line.procedure_code,
                tuple(line.modifiers or ()),
                line.charge_cents,
                line.date_of_service,
            )
            for line in claim.lines
        ),
    )


def load_facts(session: Session, item: m.WorkItem, claim_ids: Sequence[str] = ()) -> ExceptionFacts:
    """What the rule needs about a posting item: its candidates' and matched claim's facts, and ``claim_ids``'."""
    context = dict(item.context or {})
    kind = exception_kind(context)
    base = ExceptionFacts(work_item_id=item.id, kind=kind, reason=item.reason_code)
    if kind is ExceptionKind.UNKNOWN_PAYER:
        payer_id = str(context.get("payer_id", ""))
        known = session.execute(select(m.Payer.id).where(m.Payer.payer_id == payer_id)).first() is not None
        return replace(base, payer_known=known, trace_number=str(context.get("trace_number", "")))
    if kind is ExceptionKind.PAYMENT_TOTAL:
        return _payment_total_facts(session, item, base)
    if kind is ExceptionKind.CHANNEL_MISMATCH:  # the later channel posted nothing: no money to move
        return replace(base, trace_number=str(context.get("trace_number", "")))
    row = session.get(m.RemittanceClaim, str(context["remittance_claim_id"]))
    if row is None:
        raise NotFound(f"work item {item.id} names a remittance claim that does not exist")
    parked, payment = parked_payment(session, row)
    matched = item.entity_id if item.entity_type == "claim" else ""
    candidates = [str(c) for c in context.get("candidate_claim_ids") or []][:MAX_CANDIDATES]
    wanted = list(dict.fromkeys([*candidates, *([matched] if matched else []), *claim_ids]))
    return replace(
        base,
        matched_claim_id=matched,
        parked=parked,
        targets=tuple(posting_targets(session, payment, wanted)),
        looked_up=tuple(wanted),
        trace_number=parked.trace_number,
    )


def _payment_total_facts(session: Session, item: m.WorkItem, base: ExceptionFacts) -> ExceptionFacts:
    stored = session.get(m.Remittance, item.entity_id)
    if stored is None:
        raise NotFound(f"work item {item.id} names a remittance that does not exist")
    return replace(
        base,
        trace_number=stored.trace_number,
        difference_cents=payment_difference(session, stored),
        difference_written_off=bool(existing_keys(session, [difference_write_off_key(stored.id)])),
    )


def payment_difference(session: Session, stored: m.Remittance) -> int:
    """BPR02 minus what its claims and provider adjustments explain (claims paid minus PLB), in cents."""
    claims = session.execute(
        select(func.coalesce(func.sum(m.RemittanceClaim.paid_cents), 0)).where(
            m.RemittanceClaim.remittance_id == stored.id
        )
    ).scalar_one()
    plb = session.execute(
        select(func.coalesce(func.sum(m.ProviderAdjustment.amount_cents), 0)).where(
            m.ProviderAdjustment.remittance_id == stored.id
        )
    ).scalar_one()
    return stored.payment_amount_cents - (int(claims) - int(plb))


# --- write-offs --------------------------------------------------------------------------------------------


def _reason(reason: str) -> str:
    if reason not in WRITE_OFF_REASONS:
        raise ValidationError(f"write-off reason_code must be one of: {', '.join(sorted(WRITE_OFF_REASONS))}")
    return reason


def write_off_parked_payment(session: Session, remittance_claim_id: str, reason: str, *, actor: str) -> int:
    """Take a parked claim payment out of unapplied cash to the write-off account of ``reason``; returns the cents
    written off now (0 when a retry finds it done). The caller has checked the rule (nothing posted since)."""
    row = session.get(m.RemittanceClaim, remittance_claim_id)
    if row is None:
        raise NotFound(f"unknown remittance claim {remittance_claim_id}")
    key = parked_write_off_key(row.id)
    draft = transfer(
        key,
        EntryKind.UNAPPLIED_WRITE_OFF,
        acc.UNAPPLIED_CASH,
        acc.write_off(_reason(reason)),
        row.paid_cents,
        remittance_id=row.remittance_id,
        memo=f"parked claim payment written off ({reason})",
    )
    written = write_entries(session, [draft] if draft is not None else []).written
    if written:
        audit.record(
            session,
            actor=actor,
            action="remittance.parked_written_off",
            entity_type="remittance_claim",
            entity_id=row.id,
            details={"remittance_id": row.remittance_id, "amount_cents": row.paid_cents, "reason": reason},
        )
    return row.paid_cents if written else 0


def write_off_payment_difference(session: Session, remittance_id: str, reason: str, *, actor: str) -> int:
    """Write off what a remittance's payment total (BPR02) has beyond (or short of) its claims minus PLB, so the
    ledger's cash matches the payment; returns the signed cents written off now (0 when a retry finds it done)."""
    stored = session.get(m.Remittance, remittance_id)
    if stored is None:
        raise NotFound(f"unknown remittance {remittance_id}")
    difference = payment_difference(session, stored)
    draft = transfer(
        difference_write_off_key(stored.id),
        EntryKind.PAYMENT_DIFFERENCE,
        acc.CASH,
        acc.write_off(_reason(reason)),
        difference,
        remittance_id=stored.id,
        memo=f"BPR02 differs from claims minus PLB ({reason})",
    )
    written = write_entries(session, [draft] if draft is not None else []).written
    if written:
        audit.record(
            session,
            actor=actor,
            action="remittance.difference_written_off",
            entity_type="remittance",
            entity_id=stored.id,
            details={"amount_cents": difference, "reason": reason},
        )
    return difference if written else 0


# --- a resolution, carried out ----------------------------------------------------------------------------


@dataclass(frozen=True)
class AppliedResolution:
    action: str
    posted: ClaimPosted | None = None  # post_manually / retry_now: what posted to the claim
    claim_status: str = ""  # the claim's status in the store afterwards
    guarantor_id: str = ""  # whose patient balance the posting changed ("" if none)
    written_off_cents: int = 0
    repost_key: str = ""  # retry_now of an unknown payer's remittance: the stored 835 to post again
    target_status: str = ""  # what the payment makes of a claim (paid, partially_paid, denied)
    trace_number: str = ""


def resolve_posting_item(
    session: Session,
    work_item_id: str,
    action: str,
    fields: dict[str, str],
    *,
    actor: str,
    remittance_key: str = "",
    answered_item_id: str = "",
) -> AppliedResolution:
    """Carry out a person's resolution of a posting item, after the rule passes on the store's facts (raises its
    DomainError otherwise, nothing written). ``remittance_key``: an unknown payer's stored 835, if found.
    The caller commits; the work item's own state is recorded by the work-item activities."""
    item = session.get(m.WorkItem, work_item_id)
    if item is None:
        raise NotFound(f"unknown work item {work_item_id}")
    facts = load_facts(session, item)
    claim_id = claim_of(action, fields, facts)
    if claim_id and claim_id not in facts.looked_up:
        facts = load_facts(session, item, [claim_id])
    facts = replace(facts, remittance_key=remittance_key)
    check_resolution(action, fields, facts)  # the same rule the Update validator ran, on the store's facts
    applied = _carry_out(session, item, facts, action, fields, claim_id, actor)
    answered = session.get(m.WorkItem, answered_item_id) if answered_item_id else None
    record_applied(answered or item, applied)  # on the item the person answered (asked again: the new one)
    return applied


def _carry_out(
    session: Session,
    item: m.WorkItem,
    facts: ExceptionFacts,
    action: str,
    fields: dict[str, str],
    claim_id: str,
    actor: str,
) -> AppliedResolution:
    if action in (Action.POST_MANUALLY, Action.RETRY_NOW) and facts.parked is not None:
        applied = _post(session, action, facts.parked.remittance_claim_id, claim_id, actor)
        return replace(applied, target_status=facts.parked.target_status, trace_number=facts.trace_number)
    if action == Action.RETRY_NOW and facts.kind is ExceptionKind.UNKNOWN_PAYER:
        return AppliedResolution(action, repost_key=facts.remittance_key)
    if action == Action.WRITE_OFF:
        reason = fields.get("reason_code", "")
        if facts.parked is not None:
            cents = write_off_parked_payment(session, facts.parked.remittance_claim_id, reason, actor=actor)
        else:
            cents = write_off_payment_difference(session, item.entity_id, reason, actor=actor)
        return AppliedResolution(action, written_off_cents=cents)
    return AppliedResolution(action)  # complete, cancel: nothing posts; the parked money stays unapplied


def _post(session: Session, action: str, remittance_claim_id: str, claim_id: str, actor: str) -> AppliedResolution:
    posted = post_manually(session, remittance_claim_id, claim_id, actor=actor)
    claim = session.get(m.Claim, claim_id)
    assert claim is not None  # the rule found it
    guarantor = ""
    if posted.patient_responsibility_cents > 0 and posted.secondary_claim_id is None:
        patient = session.get(m.Patient, claim.patient_id)
        guarantor = patient.guarantor_id if patient is not None else ""
    return AppliedResolution(action, posted=posted, claim_status=str(claim.status), guarantor_id=guarantor)


# --- what the person is told ------------------------------------------------------------------------------


def applied_text(applied: AppliedResolution) -> str:
    """One sentence: what carrying the resolution out did (shown by `tasks resolve`, `tasks show`, the console)."""
    posted = applied.posted
    if posted is not None and posted.claim_id:
        money = f"{posted.paid_cents // 100}.{posted.paid_cents % 100:02d}"
        return f"posted {money} to claim {posted.claim_id} (claim now {applied.claim_status or posted.outcome})"
    if applied.written_off_cents:
        cents = applied.written_off_cents
        return f"wrote off {cents // 100}.{cents % 100:02d}"
    if applied.repost_key:
        return "the payer is known now: its remittance is posted again"
    if applied.action == Action.WRITE_OFF:
        return "nothing left to write off (written off already)"
    return "nothing to post: the money stays in unapplied cash"


def record_applied(item: m.WorkItem, applied: AppliedResolution) -> None:
    """Mark the item's recorded resolution as carried out (same transaction as the postings: both or neither)."""
    if ((item.resolution or {}).get("applied") or {}).get("state") == "applied":
        return  # a retry finds its own work done: the first account of it stays
    posted = applied.posted
    item.resolution = {  # a new dict: the JSON column sees the change
        **(item.resolution or {}),
        "applied": {
            "state": "applied",
            "action": applied.action,
            "outcome": applied_text(applied),
            "claim_id": (posted.claim_id or "") if posted is not None else "",
            "claim_status": applied.claim_status,
            "written_off_cents": applied.written_off_cents,
        },
    }


def record_refusal(session: Session, work_item_id: str, action: str, message: str) -> None:
    """The store refused a resolution the rule had passed (it changed in between): the item says so; the workflow
    asks again in a new item."""
    item = session.get(m.WorkItem, work_item_id)
    if item is None:
        return
    item.resolution = {
        **(item.resolution or {}),
        "applied": {"state": "refused", "action": action, "outcome": f"refused when applied: {message}"[:300]},
    }
