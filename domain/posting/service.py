"""Posting a remittance (an 835 or an EOB PDF's extraction): match, check, post, once.

One call posts one Remittance in the caller's transaction. The remittance row is unique by payer and trace key
(``domain.remittance.trace_key``: the check/EFT number however a channel prints it), and every journal entry's
key is ``era:<payer>:<trace as received>:<claim>:<sequence>:<kind>`` (only the payment's first arrival writes
entries), so posting the same 835 again writes nothing and says ``already_posted``. Claim payments that match
no claim, match several, or fail a check (not balanced, overpaid, negative, illegal status) post nothing to any
claim: their money waits in unapplied cash and a work item names the problem and the candidates. All reads are
batched (one query per lookup kind, chunked) and all writes are bulk inserts plus one bulk update of the
changed claims.

The parts: ``candidates`` (what a remittance could be about), ``matching`` and ``rules`` (pure),
``adjudication`` (one claim payment), ``reversals``, ``secondary`` (crossover), ``run`` (the working state and
its write-out), ``manual`` (a person's choice), ``channels`` and ``arrivals`` (a payment already stored: the same
delivery again, or the same payment by another channel), ``retry`` (concurrent postings).
"""

from __future__ import annotations

import gc
import hashlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from domain import audit
from domain import models as m
from domain.ledger.entries import EntryDraft
from domain.ledger.service import missing_charges
from domain.ledger.store import claim_insurance_balances
from domain.posting.adjudication import post_claim
from domain.posting.arrivals import arrived_again
from domain.posting.candidates import load_candidates
from domain.posting.claims import ClaimState
from domain.posting.matching import match_claim
from domain.posting.results import PostingResult
from domain.posting.reversals import corrections, originals_of
from domain.posting.run import PostingRun, provider_adjustment_drafts, provider_adjustment_rows, remittance_row
from domain.posting.secondary import secondary_setup
from domain.posting.work import WorkItemDraft, open_work_items
from domain.remittance import Remittance, trace_key
from domain.store.bulk import bulk_insert
from domain.workitems import Reason, WorkQueue


def post_remittance(
    session: Session,
    remittance: Remittance,
    *,
    source_document_key: str | None = None,
    actor: str = "system:posting",
    now: datetime | None = None,
) -> PostingResult:
    """Post one remittance exactly once; see the module docstring. The caller commits."""
    at = now or datetime.now(UTC)
    payer = session.execute(select(m.Payer).where(m.Payer.payer_id == remittance.payer_id)).scalar_one_or_none()
    plb_total = sum(p.amount_cents for p in remittance.provider_adjustments)
    if payer is None:
        return _unknown_payer(session, remittance, plb_total, at)
    existing = session.execute(
        select(m.Remittance).where(
            m.Remittance.payer_id == payer.id, m.Remittance.trace_key == trace_key(remittance.trace_number)
        )
    ).scalar_one_or_none()
    if existing is not None:  # the payment is stored: the same delivery again, or the same payment by another channel
        return arrived_again(session, remittance, existing, plb_total, source_document_key, actor, at)
    with session.no_autoflush, _collector_paused():
        run = _post_new(session, remittance, payer.id, source_document_key, at)
    result = _result(run, plb_total)
    audit.record(
        session,
        actor=actor,
        action="remittance.posted",
        entity_type="remittance",
        entity_id=run.remittance_id,
        details={
            "payer": remittance.payer_id,
            "claims_matched": result.claims_matched,
            "claims_unmatched": result.claims_unmatched,
            "claims_in_exception": result.claims_in_exception,
            "paid_cents": result.paid_cents,
            "unapplied_cents": result.unapplied_cents,
        },
    )
    return result


@contextmanager
def _collector_paused() -> Iterator[None]:
    """Python's cyclic garbage collector off while a posting builds and writes its rows: a 10,000-claim posting
    keeps a few hundred thousand young objects (rows, drafts, outcomes) alive at once, and the collector walked
    them again and again (about 1 s of an 8 s posting, for nothing: they are freed by reference counting when
    the posting ends). Other threads' cycles wait for the next collection; it is back on (if it was on) when the
    posting ends, even by an exception."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _post_new(
    session: Session, remittance: Remittance, payer_row_id: str, source_document_key: str | None, at: datetime
) -> PostingRun:
    """Decide every claim payment in memory, then write it all in bulk."""
    index, claims = load_candidates(session, remittance, payer_row_id)
    run = PostingRun(remittance, m.new_id(), at)
    bulk_insert(
        session, m.Remittance, [remittance_row(remittance, payer_row_id, run.remittance_id, source_document_key, at)]
    )
    matches = [match_claim(payment, index) for payment in remittance.claims]
    run.corrections = corrections(remittance.claims, [mt.claim_id if mt.postable else None for mt in matches])
    postable = [claims[i] for i in sorted({mt.claim_id for mt in matches if mt.postable and mt.claim_id})]
    _opening_balances(session, run, postable)
    reversal_ids = sorted(
        {mt.claim_id for mt, p in zip(matches, remittance.claims, strict=True) if mt.claim_id and p.is_reversal}
    )
    originals = originals_of(session, reversal_ids)
    secondaries = secondary_setup(session, postable)
    for sequence, (payment, match) in enumerate(zip(remittance.claims, matches, strict=True)):
        post_claim(run, sequence, payment, match, claims, originals, secondaries)
    drafts = run.drafts + provider_adjustment_drafts(run)
    if remittance.payment_amount_cents != remittance.expected_payment_cents():
        run.work.append((-1, _payment_total_item(run)))
    run.entries_written = run.write(session, drafts).written
    bulk_insert(session, m.ProviderAdjustment, provider_adjustment_rows(remittance, run.remittance_id))
    opened = open_work_items(session, [draft for _, draft in run.work], now=at)
    _link_work_items(run, opened)
    return run


def _opening_balances(session: Session, run: PostingRun, postable: list[ClaimState]) -> None:
    """What each payer still owes per claim, before this remittance (charges never posted are posted first): a
    payment may not resolve more than that (a duplicate remittance under another trace, or a payment beyond the
    charge, would otherwise post twice)."""
    charges: list[EntryDraft] = missing_charges(session, postable)
    run.drafts.extend(charges)
    run.claim_balances = claim_insurance_balances(session, [c.id for c in postable])
    for charge in charges:
        if charge.claim_id is not None:
            run.claim_balances[charge.claim_id] = run.claim_balances.get(charge.claim_id, 0) + charge.debit_total


def _payment_total_item(run: PostingRun) -> WorkItemDraft:
    remittance = run.remittance
    return WorkItemDraft(
        WorkQueue.POSTING,
        Reason.POSTING_EXCEPTION,
        f"remittance {remittance.trace_number}: BPR02 {remittance.payment_amount_cents} cents differs "
        f"from claims minus PLB {remittance.expected_payment_cents()} cents",
        "remittance",
        run.remittance_id,
        run.dedupe(-1, "payment_total_mismatch"),
        {
            "problem": "payment_total_mismatch",
            "payment_amount_cents": remittance.payment_amount_cents,
            "expected_cents": remittance.expected_payment_cents(),
        },
    )


def _link_work_items(run: PostingRun, opened: list[tuple[str, bool]]) -> None:
    """Each parked claim payment's outcome names its work item; the items opened now are kept for the result."""
    item_of_sequence = {seq: item_id for (seq, _), (item_id, _) in zip(run.work, opened, strict=True) if seq >= 0}
    run.outcomes = [
        o if o.sequence not in item_of_sequence else replace(o, work_item_id=item_of_sequence[o.sequence])
        for o in run.outcomes
    ]
    run.work_items_opened = [item_id for item_id, created in opened if created]


def _result(run: PostingRun, plb_total: int) -> PostingResult:
    remittance = run.remittance
    outcomes = tuple(run.outcomes)
    posted = [o for o in outcomes if o.posted]
    return PostingResult(
        payer_id=remittance.payer_id,
        trace_number=remittance.trace_number,
        already_posted=False,
        payer_known=True,
        remittance_id=run.remittance_id,
        payment_amount_cents=remittance.payment_amount_cents,
        provider_adjustment_cents=plb_total,
        paid_cents=sum(o.paid_cents for o in posted),
        unapplied_cents=sum(o.paid_cents for o in outcomes if not o.posted),
        contractual_cents=sum(o.contractual_cents for o in posted),
        patient_responsibility_cents=sum(o.patient_responsibility_cents for o in posted),
        entries_written=run.entries_written,
        claims=outcomes,
        work_items_opened=tuple(run.work_items_opened),
        secondary_claims_created=tuple(row["id"] for row in run.new_claims),
        guarantors_with_balance=tuple(sorted(run.guarantors)),
        source=remittance.source,
    )


def _unknown_payer(session: Session, remittance: Remittance, plb_total: int, at: datetime) -> PostingResult:
    digest = hashlib.sha256(f"{remittance.payer_id}|{remittance.trace_number}".encode()).hexdigest()[:32]
    opened = open_work_items(
        session,
        [
            WorkItemDraft(
                WorkQueue.POSTING,
                Reason.POSTING_EXCEPTION,
                f"remittance {remittance.trace_number} names unknown payer {remittance.payer_id[:20]}: nothing posted",
                "remittance_file",
                digest,
                f"posting:unknown_payer:{remittance.payer_id}:{remittance.trace_number}",
                {
                    "problem": "unknown_payer",
                    "payer_id": remittance.payer_id,
                    "trace_number": remittance.trace_number,
                    "payment_amount_cents": remittance.payment_amount_cents,
                    "claims": len(remittance.claims),
                },
            )
        ],
        now=at,
    )
    return PostingResult(
        payer_id=remittance.payer_id,
        trace_number=remittance.trace_number,
        already_posted=False,
        payer_known=False,
        remittance_id=None,
        payment_amount_cents=remittance.payment_amount_cents,
        provider_adjustment_cents=plb_total,
        paid_cents=0,
        unapplied_cents=0,
        contractual_cents=0,
        patient_responsibility_cents=0,
        entries_written=0,
        work_items_opened=tuple(item_id for item_id, created in opened if created),
        source=remittance.source,
    )
