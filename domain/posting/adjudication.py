"""One claim payment: the checks before posting, then the entries of an adjudication, or the money parked.

A claim payment posts when it matched one claim and passes every check (``rules.problems``, what the payer still
owes on the claim, the claim's lifecycle); otherwise its money waits in unapplied cash and a work item names the
problem and the candidates (``park``). Reversals are ``domain.posting.reversals``.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from domain.claim_status import ClaimStatus, can_transition
from domain.enums import CoverageRank
from domain.ledger import accounts as acc
from domain.ledger.entries import EntryDraft, EntryKind, transfer
from domain.posting import rules
from domain.posting.claims import ClaimState
from domain.posting.matching import ClaimMatch
from domain.posting.results import ClaimPosted
from domain.posting.reversals import reversal_problems, reverse
from domain.posting.run import PostingRun, store_remittance_claim
from domain.posting.secondary import Secondaries
from domain.posting.work import WorkItemDraft
from domain.remittance import ClaimPayment
from domain.workitems import Reason, WorkQueue


def post_claim(
    run: PostingRun,
    sequence: int,
    payment: ClaimPayment,
    match: ClaimMatch,
    claims: dict[str, ClaimState],
    originals: dict[str, list[tuple[str, EntryDraft]]],
    secondaries: Secondaries,
) -> None:
    amounts = rules.classify(payment)
    problems = rules.problems(payment)
    claim = claims.get(match.claim_id) if match.claim_id and match.postable else None
    if claim is not None and not problems:
        if payment.is_reversal:
            reversed_entries = originals.get(claim.id, [])
            share = _correction_share(run, claim, reversed_entries)
            problems = reversal_problems(payment, reversed_entries, claim, share)
        else:
            amounts, found = claim_problems(claim, payment, amounts, run.claim_balances.get(claim.id, 0))
            problems = found[:1]
    stored_claim_id = claim.id if claim is not None and not problems else None
    row_id = store_remittance_claim(run, payment, match, stored_claim_id)
    if claim is None or problems:
        park(run, sequence, payment, match, amounts, problems, row_id)
        return
    if payment.is_reversal:
        reverse(run, sequence, payment, match, amounts, claim, originals.setdefault(claim.id, []))
    else:
        post_adjudication(run, sequence, payment, match, amounts, claim, secondaries)


def _correction_share(run: PostingRun, claim: ClaimState, originals: list[tuple[str, EntryDraft]]) -> int | None:
    """The patient share of this claim's correction later in the remittance, if the correction will post once the
    reversal has (the claim reopened, the payer owing what the reversal gives back); else None."""
    correction = run.corrections.get(claim.id)
    if correction is None or rules.problems(correction):
        return None
    payer_ar = acc.insurance_ar(claim.payer_id).code
    returned = sum(a.cents for _, d in originals for a in d.amounts if a.account.code == payer_ar)
    reopened = ClaimStatus.ACCEPTED if claim.status in (ClaimStatus.PAID, ClaimStatus.PARTIALLY_PAID) else claim.status
    balance = run.claim_balances.get(claim.id, 0) - returned
    _, problems = claim_problems(replace(claim, status=reopened), correction, rules.classify(correction), balance)
    return None if problems else correction.patient_responsibility_cents


def claim_problems(
    claim: ClaimState, payment: ClaimPayment, amounts: rules.ClaimAmounts, balance_cents: int
) -> tuple[rules.ClaimAmounts, list[str]]:
    """What stops an adjudication from posting to this claim, given what its payer still owes on it.

    A secondary owes only what crossed over: its contractual amount is what closes that balance (the amounts
    come back so). A payment may not resolve more than the payer owes (a duplicate under another trace number,
    or a payment beyond the charge), nor move the claim where its lifecycle does not allow."""
    if claim.primary_claim_id is not None:
        closing = balance_cents - amounts.paid_cents - amounts.patient_responsibility_cents
        if closing < 0:
            return amounts, ["secondary_exceeds_crossover"]
        amounts = replace(amounts, contractual_cents=closing)
    problems: list[str] = []
    target = target_status(payment, amounts)
    resolved = amounts.paid_cents + amounts.patient_responsibility_cents
    resolved += amounts.contractual_cents if target != ClaimStatus.DENIED else 0
    if resolved > balance_cents:
        problems.append("exceeds_claim_balance")
    if claim.status != target and not can_transition(claim.status, target):
        problems.append(f"illegal_status_{claim.status.value}")
    return amounts, problems


def target_status(payment: ClaimPayment, amounts: rules.ClaimAmounts) -> ClaimStatus:
    if rules.is_denial(payment, amounts):
        return ClaimStatus.DENIED
    for line in payment.service_lines:
        responsibility = sum(a.amount_cents for a in line.adjustments if a.group == "PR")
        # A secondary's line the primary settled in full (CARC 23) owes nothing more: not a denial.
        settled = any(a.reason == rules.PRIOR_PAYER_REASON for a in line.adjustments)
        if rules.line_denied(line.paid_cents, line.charge_cents, responsibility) and not settled:
            return ClaimStatus.PARTIALLY_PAID
    return ClaimStatus.PAID


def park(
    run: PostingRun,
    sequence: int,
    payment: ClaimPayment,
    match: ClaimMatch,
    amounts: rules.ClaimAmounts,
    problems: list[str],
    remittance_claim_id: str,
) -> None:
    """Nothing posts to a claim: the money waits in unapplied cash and a person is asked (the resolution
    ``post_manually claim_id=...`` applies it with :func:`post_manually`)."""
    remittance = run.remittance
    pcn = payment.patient_control_number.strip()[:38]
    draft = transfer(
        f"{run.key_prefix}{sequence}:{pcn}:unapplied",
        EntryKind.UNAPPLIED_CASH,
        acc.CASH,
        acc.UNAPPLIED_CASH,
        payment.paid_cents,
        remittance_id=run.remittance_id,
        memo=f"unapplied: claim payment {sequence} of {remittance.trace_number}",
    )
    if draft is not None:
        run.drafts.append(draft)
    outcome = _park_item(run, sequence, payment, match, problems, remittance_claim_id)
    run.outcomes.append(
        ClaimPosted(
            sequence=sequence,
            patient_control_number=pcn,
            status_code=payment.status_code,
            outcome=outcome,
            claim_id=match.claim_id,
            paid_cents=payment.paid_cents,
            patient_responsibility_cents=payment.patient_responsibility_cents,
            contractual_cents=amounts.contractual_cents,
            confidence=match.confidence,
            rule=match.rule,
            adjustment_codes=amounts.codes,
            remark_codes=payment.remarks,
            problems=tuple(problems) if problems else ((match.problem,) if match.problem else ()),
            candidates=match.candidates,
        )
    )


def _patient_share(
    run: PostingRun,
    claim: ClaimState,
    base: str,
    responsibility: int,
    secondary_id: str | None,
    secondaries: Secondaries,
    links: dict[str, Any],
) -> list[EntryDraft | None]:
    """The patient's share leaves the payer's AR: to the secondary claim (crossover), else to the guarantor."""
    payer_ar = acc.insurance_ar(claim.payer_id)
    if secondary_id is None:
        guarantor = secondaries.guarantor_of[claim.patient_id]
        run.guarantors.add(guarantor)
        return [
            transfer(
                f"{base}:patient",
                EntryKind.TRANSFER_TO_PATIENT,
                acc.patient_ar(guarantor),
                payer_ar,
                responsibility,
                **links,
            )
        ]
    return [
        transfer(
            f"{base}:crossover", EntryKind.TRANSFER_TO_SECONDARY, acc.COB_CROSSOVER, payer_ar, responsibility, **links
        ),
        transfer(
            f"{base}:crossover_charge",
            EntryKind.CHARGE,
            acc.insurance_ar(secondaries.payer_of[secondary_id]),
            acc.COB_CROSSOVER,
            responsibility,
            claim_id=secondary_id,
            patient_id=claim.patient_id,
            remittance_id=run.remittance_id,
            memo=f"crossover from claim {claim.id}",
        ),
    ]


def _park_item(
    run: PostingRun,
    sequence: int,
    payment: ClaimPayment,
    match: ClaimMatch,
    problems: list[str],
    remittance_claim_id: str,
) -> str:
    """The work item a parked claim payment opens (once per dedupe key); returns the claim payment's outcome."""
    remittance = run.remittance
    pcn = payment.patient_control_number.strip()[:38]
    if problems:
        outcome, reason, problem = "exception", Reason.POSTING_EXCEPTION, ",".join(problems)
        summary = f"remittance {remittance.trace_number} claim payment {sequence}: {problem}"
        entity_type, entity_id = ("claim", match.claim_id) if match.claim_id else ("remittance", run.remittance_id)
    else:
        problem = match.problem or "low_confidence"
        outcome = "unmatched" if problem == "unmatched" else "ambiguous"
        reason = Reason.UNMATCHED_REMITTANCE if outcome == "unmatched" else Reason.AMBIGUOUS_MATCH
        summary = (
            f"remittance {remittance.trace_number} claim payment {sequence}: {problem}, "
            f"{len(match.candidates)} candidate claim(s)"
        )
        entity_type, entity_id = "remittance", run.remittance_id
    context = {
        "remittance_id": run.remittance_id,
        "remittance_claim_id": remittance_claim_id,
        "sequence": sequence,
        "patient_control_number": pcn,
        "status_code": payment.status_code,
        "problem": problem,
        "rule": match.rule,
        "confidence": match.confidence,
        "candidate_claim_ids": list(match.candidates),
        "paid_cents": payment.paid_cents,
        "charge_cents": payment.charge_cents,
    }
    dedupe = run.dedupe(sequence, problem.split(",")[0])
    run.work.append(
        (sequence, WorkItemDraft(WorkQueue.POSTING, reason, summary, entity_type, entity_id, dedupe, context))
    )
    return outcome


def post_adjudication(
    run: PostingRun,
    sequence: int,
    payment: ClaimPayment,
    match: ClaimMatch,
    amounts: rules.ClaimAmounts,
    claim: ClaimState,
    secondaries: Secondaries,
) -> None:
    base = run.base_key(claim.id, sequence)
    payer_ar = acc.insurance_ar(claim.payer_id)
    links: dict[str, Any] = {"claim_id": claim.id, "patient_id": claim.patient_id, "remittance_id": run.remittance_id}
    target = target_status(payment, amounts)
    drafts = _payer_drafts(run, base, payer_ar, amounts, target, links)
    responsibility = amounts.patient_responsibility_cents
    secondary_id: str | None = None
    kept = run.kept_crossovers.pop(claim.id, None)
    if kept is not None and kept == responsibility:
        # The payer's correction after it reversed a crossed-over adjudication, with the same patient share: the
        # secondary claim kept its charge, so the share only moves to it again (no second secondary charge).
        drafts.append(
            transfer(f"{base}:crossover", EntryKind.TRANSFER_TO_SECONDARY, acc.COB_CROSSOVER, payer_ar, kept, **links)
        )
    elif responsibility > 0:
        secondary_id = secondaries.secondary_for(run, claim) if claim.rank == CoverageRank.PRIMARY else None
        drafts += _patient_share(run, claim, base, responsibility, secondary_id, secondaries, links)
    posted = [d for d in drafts if d is not None]
    run.drafts.extend(posted)
    run.claim_balances[claim.id] = run.claim_balances.get(claim.id, 0) + sum(
        a.cents for d in posted if d.claim_id == claim.id for a in d.amounts if a.account == payer_ar
    )
    run.apply(payment, match, claim, responsibility)
    if claim.status != target:
        claim.transition(target)
    run.outcomes.append(
        ClaimPosted(
            sequence=sequence,
            patient_control_number=payment.patient_control_number.strip()[:38],
            status_code=payment.status_code,
            outcome=target.value,
            claim_id=claim.id,
            paid_cents=amounts.paid_cents,
            patient_responsibility_cents=responsibility,
            contractual_cents=amounts.contractual_cents if target != ClaimStatus.DENIED else 0,
            confidence=match.confidence,
            rule=match.rule,
            adjustment_codes=amounts.codes,
            remark_codes=payment.remarks,
            secondary_claim_id=secondary_id,
        )
    )


def _payer_drafts(
    run: PostingRun,
    base: str,
    payer_ar: acc.AccountRef,
    amounts: rules.ClaimAmounts,
    target: ClaimStatus,
    links: dict[str, Any],
) -> list[EntryDraft | None]:
    """The payer's payment and, unless the claim is denied, the contractual adjustment, off the payer's AR."""
    drafts: list[EntryDraft | None] = [
        transfer(
            f"{base}:payment", EntryKind.INSURANCE_PAYMENT, run.source_account, payer_ar, amounts.paid_cents, **links
        ),
    ]
    # A denial leaves the balance with the payer (appeal, correct or write off: a person decides); only the
    # patient's share, if the payer named one, moves now.
    if target != ClaimStatus.DENIED:
        drafts.append(
            transfer(
                f"{base}:contractual",
                EntryKind.CONTRACTUAL,
                acc.CONTRACTUAL,
                payer_ar,
                amounts.contractual_cents,
                **links,
            )
        )
    return drafts
