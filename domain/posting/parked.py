"""A claim payment posting could not apply, and what a person may do with it: the rules, over plain facts. Pure.

Posting parks a claim payment that matches no claim, matches several, or fails a check (the money waits in
unapplied cash) and opens a work item in the ``posting`` queue; it opens one for a remittance whose payment total
(BPR02) differs from its claims minus PLB, and one for a remittance from an unknown payer (nothing stored). Each
item is worked through its own PostingException workflow (flows.revenue.posting_exceptions). This module is the
one rule of every resolution of these items: the workflow's Update validator runs it with the facts it holds, the
Update handler runs it again with the store's facts of a claim the workflow knew nothing of, and the activity that
carries the resolution out runs it once more inside its transaction (domain.services.posting_exceptions), so
"resolved" is printed only for what will be applied.

Messages name ids, codes and cents only (never PHI): they reach terminals, logs and reopened work items.
"""

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from domain.claim_status import ClaimStatus, can_transition
from domain.errors import NotFound, ValidationError
from domain.workitems import Action, Reason

# The reasons posting opens (domain.posting.work): the items a PostingException workflow works.
POSTING_REASONS = frozenset({Reason.UNMATCHED_REMITTANCE, Reason.AMBIGUOUS_MATCH, Reason.POSTING_EXCEPTION})
# Posting's own dedupe keys start so (domain.posting.service: ``posting:<payer>:<trace>:<seq>:<problem>`` and
# ``posting:unknown_payer:<payer>:<trace>``); items of other processes with these reasons are not ours.
POSTING_KEY_PREFIX = "posting:"


class ExceptionKind(StrEnum):
    CLAIM_PAYMENT = "claim_payment"  # one claim payment of a stored remittance, parked in unapplied cash
    PAYMENT_TOTAL = "payment_total"  # the remittance's BPR02 differs from its claims minus PLB
    UNKNOWN_PAYER = "unknown_payer"  # nothing was stored: the remittance names a payer we do not know
    # A payment stored already, stated differently by another arrival (domain.posting.channels): nothing of the
    # later arrival was posted; a person checks with the payer, then completes (the first posting stands) or
    # cancels the item.
    CHANNEL_MISMATCH = "channel_mismatch"


def exception_kind(context: Mapping[str, object]) -> ExceptionKind:
    """Which kind of posting exception an item's context describes (as domain.posting opened it)."""
    if context.get("remittance_claim_id"):
        return ExceptionKind.CLAIM_PAYMENT
    if context.get("problem") == "unknown_payer":
        return ExceptionKind.UNKNOWN_PAYER
    if context.get("problem") == "channel_mismatch":
        return ExceptionKind.CHANNEL_MISMATCH
    return ExceptionKind.PAYMENT_TOTAL


def is_posting_item(reason: str, dedupe_key: str) -> bool:
    """An item posting opened (and a PostingException workflow works), not one of another process."""
    return reason in POSTING_REASONS and dedupe_key.startswith(POSTING_KEY_PREFIX)


@dataclass(frozen=True)
class ParkedPayment:
    """A stored claim payment that posted to no claim, as the manual-posting rule sees it."""

    remittance_claim_id: str
    payer_row_id: str  # the payer that sent the remittance (our payer row id)
    trace_number: str
    posted_to: str  # the claim it was posted to since ("" while parked)
    written_off: bool  # taken out of unapplied cash by a write-off
    reversal: bool  # CLP02 = 22
    problems: tuple[str, ...]  # what the 835 itself gets wrong (domain.posting.rules.problems)
    target_status: str  # what a claim becomes when this posts (paid, partially_paid, denied)
    paid_cents: int
    patient_responsibility_cents: int
    contractual_cents: int


@dataclass(frozen=True)
class PostingTarget:
    """A claim a person may post a parked payment to, as the rule sees it (read with the payment: lines_match)."""

    claim_id: str
    payer_row_id: str
    status: str
    balance_cents: int  # what the claim's payer still owes on it (its charge counted if not posted yet)
    secondary: bool
    lines_match: bool  # every remitted service line fits one of the claim's lines (domain.posting.matching)


@dataclass(frozen=True)
class ExceptionFacts:
    """What a PostingException workflow knows about its item; ``targets`` holds the claims it read (candidates,
    the claim posting matched, a claim a person named)."""

    work_item_id: str
    kind: ExceptionKind
    reason: str
    matched_claim_id: str = ""  # the claim posting matched (posting_exception on a claim), "" if none
    parked: ParkedPayment | None = None
    targets: tuple[PostingTarget, ...] = ()
    looked_up: tuple[str, ...] = ()  # every claim id the facts were read for (absent ones have no target)
    difference_cents: int = 0  # PAYMENT_TOTAL: BPR02 minus (claims minus PLB)
    difference_written_off: bool = False
    payer_known: bool = True  # UNKNOWN_PAYER: whether the payer exists now
    remittance_key: str = ""  # the stored 835 of an UNKNOWN_PAYER item ("" when it cannot be found)
    trace_number: str = ""
    extra: dict[str, str] = field(default_factory=dict)

    def target(self, claim_id: str) -> PostingTarget | None:
        return next((t for t in self.targets if t.claim_id == claim_id), None)


def posting_problems(parked: ParkedPayment, target: PostingTarget) -> list[str]:
    """What stops this payment from posting to this claim (empty: it posts), by the checks automatic posting makes.

    The 835's own problems and lines that fit none of the claim's come first; then, for a claim that can take it,
    a secondary owes only what crossed over from the primary, a payment may not resolve more than the payer still
    owes, nor move the claim where its lifecycle does not allow."""
    problems = list(parked.problems) + ([] if target.lines_match else ["lines_do_not_match"])
    if problems:
        return problems
    contractual = parked.contractual_cents
    if target.secondary:
        closing = target.balance_cents - parked.paid_cents - parked.patient_responsibility_cents
        if closing < 0:
            return ["secondary_exceeds_crossover"]
        contractual = closing
    target_status = ClaimStatus(parked.target_status)
    resolved = parked.paid_cents + parked.patient_responsibility_cents
    resolved += contractual if target_status != ClaimStatus.DENIED else 0
    if resolved > target.balance_cents:
        problems.append("exceeds_claim_balance")
    current = ClaimStatus(target.status)
    if current != target_status and not can_transition(current, target_status):
        problems.append(f"illegal_status_{current.value}")
    return problems


def check_manual_posting(parked: ParkedPayment, claim_id: str, target: PostingTarget | None) -> bool:
    """Raise the reason ``post_manually claim_id=<claim_id>`` cannot post this payment; True when it would post
    now, False when it is already posted to that claim (posting it again changes nothing)."""
    if parked.posted_to:
        if parked.posted_to != claim_id:
            raise ValidationError(
                f"remittance claim {parked.remittance_claim_id} is already posted to claim {parked.posted_to}"
            )
        return False
    if parked.written_off:
        raise ValidationError(f"remittance claim {parked.remittance_claim_id} was written off: nothing is left to post")
    if parked.reversal:
        raise ValidationError("a reversal is posted by reposting its remittance, not by hand")
    if target is None:
        raise NotFound(f"unknown claim {claim_id}")
    if target.payer_row_id != parked.payer_row_id:
        raise ValidationError(f"claim {claim_id} was billed to another payer than remittance {parked.trace_number}")
    problems = posting_problems(parked, target)
    if problems:
        raise ValidationError(
            f"cannot post to claim {claim_id}: {', '.join(problems)} "
            f"(paid {parked.paid_cents} cents, the payer owes {target.balance_cents} cents, claim {target.status})"
        )
    return True


def claim_of(action: str, fields: Mapping[str, str], facts: ExceptionFacts) -> str:
    """The claim a resolution posts to: the one named (post_manually) or the one posting matched (retry_now);
    "" for actions that post nothing."""
    if action == Action.POST_MANUALLY:
        return fields.get("claim_id", "").strip()
    if action == Action.RETRY_NOW and facts.kind is ExceptionKind.CLAIM_PAYMENT:
        return facts.matched_claim_id
    return ""


def check_resolution(action: str, fields: Mapping[str, str], facts: ExceptionFacts) -> None:
    """The rule of every resolution of a posting item, given the facts (raises a DomainError naming what failed).

    A claim the facts do not hold is left to the caller: the Update handler reads it from the store and runs this
    again with it (see :func:`needs_claim_facts`)."""
    if action == Action.POST_MANUALLY:
        _post_manually(fields.get("claim_id", "").strip(), facts)
    elif action == Action.RETRY_NOW:
        _retry_now(facts)
    elif action == Action.WRITE_OFF:
        _write_off(facts)
    elif action == Action.COMPLETE:
        _complete(facts)


def needs_claim_facts(action: str, fields: Mapping[str, str], facts: ExceptionFacts) -> str:
    """The claim whose store facts the rule needs and the workflow lacks ("" when the facts it holds decide)."""
    claim_id = claim_of(action, fields, facts)
    if not claim_id or facts.kind is not ExceptionKind.CLAIM_PAYMENT or not looks_like_claim_id(claim_id):
        return ""
    parked = facts.parked
    if parked is not None and (parked.posted_to or parked.written_off or parked.reversal):
        return ""  # refused (or already done) whatever the claim
    return "" if claim_id in facts.looked_up else claim_id


def looks_like_claim_id(text: str) -> bool:
    """Our ids are UUID strings; anything else typed as a claim id is refused without echoing it (it may be a
    name or a member id)."""
    return len(text) == 36 and text.count("-") == 4 and all(ch in "0123456789abcdef-" for ch in text.lower())


def _parked(facts: ExceptionFacts, action: str) -> ParkedPayment:
    if facts.kind is not ExceptionKind.CLAIM_PAYMENT or facts.parked is None:
        what = (
            f"remittance {facts.trace_number} names a payer we do not know: nothing of it was stored"
            if facts.kind is ExceptionKind.UNKNOWN_PAYER
            else f"this item is about remittance {facts.trace_number} as a whole, not one claim payment"
        )
        raise ValidationError(f"{action} needs a parked claim payment; {what}")
    return facts.parked


def _post_manually(claim_id: str, facts: ExceptionFacts) -> None:
    parked = _parked(facts, Action.POST_MANUALLY)
    if not looks_like_claim_id(claim_id):
        raise ValidationError("claim_id must be a claim id (36 characters, as `carecycle claims` and the console show)")
    if needs_claim_facts(Action.POST_MANUALLY, {"claim_id": claim_id}, facts):
        return  # a claim the facts do not hold: the caller reads it and asks again
    check_manual_posting(parked, claim_id, facts.target(claim_id))


def _retry_now(facts: ExceptionFacts) -> None:
    if facts.kind is ExceptionKind.UNKNOWN_PAYER:
        if not facts.payer_known:
            raise ValidationError(
                f"the payer of remittance {facts.trace_number} is still unknown: add the payer, then retry_now"
            )
        if not facts.remittance_key:
            raise NotFound(
                f"the 835 of remittance {facts.trace_number} is not in the document store: "
                "hand it in again (carecycle remit post FILE), then cancel this item with a note"
            )
        return
    if facts.kind is ExceptionKind.PAYMENT_TOTAL:
        raise ValidationError(
            f"posting remittance {facts.trace_number} again changes nothing: its payment total still differs from "
            f"its claims minus PLB by {facts.difference_cents} cents; write off the difference "
            "(write_off reason_code=...) or cancel with a note"
        )
    parked = _parked(facts, Action.RETRY_NOW)
    if not facts.matched_claim_id:
        raise ValidationError(
            f"remittance claim {parked.remittance_claim_id} matched no claim: post it with post_manually claim_id=..."
        )
    if needs_claim_facts(Action.RETRY_NOW, {}, facts):
        return
    check_manual_posting(parked, facts.matched_claim_id, facts.target(facts.matched_claim_id))


def _write_off(facts: ExceptionFacts) -> None:
    if facts.kind is ExceptionKind.CHANNEL_MISMATCH:
        raise ValidationError(
            f"remittance {facts.trace_number}: the later channel posted nothing, so nothing is there to write off; "
            "check with the payer, then complete (the first posting stands) or cancel with a note"
        )
    if facts.kind is ExceptionKind.PAYMENT_TOTAL:
        if facts.difference_written_off:
            return  # written off already (a retried activity finds its own work done): nothing more to do
        if facts.difference_cents == 0:
            raise ValidationError(f"remittance {facts.trace_number}: nothing to write off (no payment difference)")
        return
    parked = _parked(facts, Action.WRITE_OFF)
    if parked.posted_to:
        raise ValidationError(
            f"remittance claim {parked.remittance_claim_id} is posted to claim {parked.posted_to}: "
            "nothing is left in unapplied cash to write off"
        )
    if parked.written_off:
        return  # written off already (a retried activity finds its own work done): nothing more to do
    if parked.paid_cents <= 0:
        raise ValidationError(
            f"remittance claim {parked.remittance_claim_id} parked no money ({parked.paid_cents} cents): "
            "nothing to write off"
        )


def _complete(facts: ExceptionFacts) -> None:
    """``complete``: handled outside carecycle; the parked money stays in unapplied cash (nothing is posted).
    A channel mismatch parked nothing: completing it says the first posting stands."""
    if facts.kind is ExceptionKind.CHANNEL_MISMATCH:
        return
    _parked(facts, Action.COMPLETE)
