"""Reversals (CLP02 = 22): the payer takes back an adjudication it posted before.

Every unreversed remittance entry of the claim is mirrored exactly (``reverses_entry_id`` set), so the original
and its reversal net to zero and the charge is owed by the payer again; the claim goes back from paid or
partially paid to accepted and awaits the payer's corrected claim payment. A denial reversed and corrected in the
same remittance (the payer reprocessed it) has nothing to mirror: the reversal is recorded, the correction posts.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from domain import models as m
from domain.claim_status import ClaimStatus
from domain.enums import AccountKind
from domain.ledger import accounts as acc
from domain.ledger.accounts import AccountRef
from domain.ledger.entries import Amount, EntryDraft, EntryKind, reversal_of
from domain.ledger.store import select_in
from domain.posting import rules
from domain.posting.claims import ClaimState
from domain.posting.matching import ClaimMatch
from domain.posting.results import ClaimPosted
from domain.posting.run import PostingRun
from domain.remittance import ClaimPayment

POSTED_KINDS = (
    EntryKind.INSURANCE_PAYMENT,
    EntryKind.CONTRACTUAL,
    EntryKind.TRANSFER_TO_PATIENT,
    EntryKind.TRANSFER_TO_SECONDARY,
)


def originals_of(session: Session, claim_ids: Sequence[str]) -> dict[str, list[tuple[str, EntryDraft]]]:
    """Per claim, the remittance entries not reversed yet, as drafts (entry id, draft) to mirror."""
    if not claim_ids:
        return {}
    # A reversal entry names the claim of the entry it mirrors.
    reversals = select(m.JournalEntry.reverses_entry_id).where(m.JournalEntry.reverses_entry_id.is_not(None))
    reversed_ids = {r[0] for r in select_in(session, m.JournalEntry.claim_id, list(claim_ids), reversals)}
    stmt = (
        select(m.JournalEntry, m.JournalLine, m.Account)
        .join(m.JournalLine, m.JournalLine.entry_id == m.JournalEntry.id)
        .join(m.Account, m.Account.id == m.JournalLine.account_id)
        .where(m.JournalEntry.remittance_id.is_not(None))
        .where(m.JournalEntry.kind.in_([k.value for k in POSTED_KINDS]))
        .order_by(m.JournalEntry.occurred_at, m.JournalEntry.id, m.JournalLine.id)
    )
    grouped: dict[str, tuple[m.JournalEntry, list[Amount]]] = {}
    for entry, line, account in select_in(session, m.JournalEntry.claim_id, list(claim_ids), stmt):
        if entry.id in reversed_ids:
            continue
        ref = AccountRef(account.code, account.name, AccountKind(account.kind), account.owner_type, account.owner_id)
        grouped.setdefault(entry.id, (entry, []))[1].append(Amount(ref, line.debit_cents - line.credit_cents))
    result: dict[str, list[tuple[str, EntryDraft]]] = {}
    for entry_id, (entry, amounts) in grouped.items():
        draft = EntryDraft(
            key=entry.idempotency_key,
            kind=EntryKind(entry.kind),
            amounts=tuple(amounts),
            claim_id=entry.claim_id,
            patient_id=entry.patient_id,
            remittance_id=entry.remittance_id,
        )
        result.setdefault(str(entry.claim_id), []).append((entry_id, draft))
    return result


def _cash_of(draft: EntryDraft) -> int:
    return sum(a.cents for a in draft.amounts if a.account == acc.CASH or a.account.code == acc.CASH.code)


def corrections(payments: Sequence[ClaimPayment], claim_ids: Sequence[str | None]) -> dict[str, ClaimPayment]:
    """Per claim reversed in this remittance, the adjudication that follows its reversal here (the payer's
    correction), if one does."""
    reversed_here: set[str] = set()
    found: dict[str, ClaimPayment] = {}
    for payment, claim_id in zip(payments, claim_ids, strict=True):
        if claim_id is None:
            continue
        if payment.is_reversal:
            reversed_here.add(claim_id)
        elif claim_id in reversed_here and claim_id not in found:
            found[claim_id] = payment
    return found


def crossed_over(originals: Sequence[tuple[str, EntryDraft]]) -> int:
    """What the original adjudication moved to the secondary claim (0: no crossover)."""
    return sum(
        a.cents
        for _, d in originals
        if d.kind == EntryKind.TRANSFER_TO_SECONDARY
        for a in d.amounts
        if a.account.code == acc.COB_CROSSOVER.code
    )


def is_denial_reprocessed(payment: ClaimPayment, claim: ClaimState, corrected_share: int | None) -> bool:
    """The payer takes back a denial and adjudicates the claim again in the same remittance (CLP02=22 for the $0
    denial, then the corrected claim payment), on its own or after the practice's appeal: a denial posted no
    entry, so there is nothing to mirror; the reversal is recorded and the correction posts from the denied (or
    appealed) claim. A denial taken back with no correction here stays a person's question
    (``reversal_without_original``): the claim was denied and the payer has not said what now."""
    no_money = payment.paid_cents == 0 and payment.patient_responsibility_cents == 0
    denied = claim.status in (ClaimStatus.DENIED, ClaimStatus.APPEALED)
    return denied and no_money and corrected_share is not None


def reversal_problems(
    payment: ClaimPayment,
    originals: list[tuple[str, EntryDraft]],
    claim: ClaimState,
    corrected_share: int | None = None,
) -> list[str]:
    """What stops a reversal. A primary whose patient share crossed over to a secondary claim is reversed only
    when this remittance corrects it with the same patient share (``corrected_share``): the secondary claim keeps
    its charge and the correction moves the share to it again. Otherwise the secondary was billed an amount the
    payer no longer states, which a person must settle (``reversal_after_crossover``)."""
    if not originals:
        if is_denial_reprocessed(payment, claim, corrected_share):
            return []
        return ["reversal_without_original"]
    crossed = crossed_over(originals)
    has_crossover = any(d.kind == EntryKind.TRANSFER_TO_SECONDARY for _, d in originals)
    if has_crossover and (corrected_share is None or corrected_share != crossed):
        return ["reversal_after_crossover"]
    paid = sum(_cash_of(d) for _, d in originals)
    if paid != -payment.paid_cents:
        return ["reversal_amount_mismatch"]
    return []


def reverse(
    run: PostingRun,
    sequence: int,
    payment: ClaimPayment,
    match: ClaimMatch,
    amounts: rules.ClaimAmounts,
    claim: ClaimState,
    originals: list[tuple[str, EntryDraft]],
) -> None:
    base = run.base_key(claim.id, sequence)
    responsibility = 0
    for entry_id, original in originals:
        mirror = reversal_of(original, entry_id, f"{base}:reverses:{entry_id}")
        run.drafts.append(
            EntryDraft(
                key=mirror.key,
                kind=mirror.kind,
                amounts=mirror.amounts,
                memo=mirror.memo,
                claim_id=claim.id,
                patient_id=claim.patient_id,
                remittance_id=run.remittance_id,
                reverses_entry_id=entry_id,
            )
        )
        if original.kind == EntryKind.TRANSFER_TO_PATIENT:
            responsibility += sum(a.cents for a in original.amounts if a.cents > 0)
            run.guarantors.update(
                a.account.owner_id for a in original.amounts if a.account.owner_id and acc.is_patient_ar(a.account.code)
            )
    run.claim_balances[claim.id] = run.claim_balances.get(claim.id, 0) - sum(
        a.cents
        for _, original in originals
        for a in original.amounts
        if a.account.code == acc.insurance_ar(claim.payer_id).code
    )
    if crossed := crossed_over(originals):
        run.kept_crossovers[claim.id] = crossed  # the secondary keeps its charge: the correction moves it again
    originals.clear()  # a second reversal of the same claim in this remittance finds nothing left to reverse
    run.apply(payment, match, claim, -(responsibility + crossed))
    if claim.status in (ClaimStatus.PAID, ClaimStatus.PARTIALLY_PAID):
        # The payer took its adjudication back: the claim is open again, awaiting the corrected claim payment
        # (posted next in this remittance, or in a later one); the Claim workflow waits for it.
        claim.transition(ClaimStatus.ACCEPTED)
    run.outcomes.append(
        ClaimPosted(
            sequence=sequence,
            patient_control_number=payment.patient_control_number.strip()[:38],
            status_code=payment.status_code,
            outcome="reversed",
            claim_id=claim.id,
            paid_cents=payment.paid_cents,
            patient_responsibility_cents=-responsibility,
            contractual_cents=amounts.contractual_cents,
            confidence=match.confidence,
            rule=match.rule,
            adjustment_codes=amounts.codes,
            remark_codes=payment.remarks,
        )
    )
