"""The demo's scripted biller at the posting desk: what a person does with posting's work items.

An unmatched or ambiguous claim payment: the biller looks for the claim the payer meant (the candidates posting
found, or a claim of that payer whose id is the one the payer sent with a typo) and posts the payment to it when
the rule says it fits; a payment that is no claim of ours is completed (the money stays in unapplied cash until
it is returned). A payment for a claim whose submit the store had not recorded yet (``illegal_status_ready``: the
worker that sent it was lost before it said so) waits until the claim shows as sent, then is posted to it. A
duplicate payment (more than the payer still owes) is left for the payer to recoup; a payment total that differs
from its claims is written off; a remittance from a payer we do not bill is returned.
Each choice goes through the same ``resolve`` Update a person's does, so the workflow's rule still decides.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from domain import models as m
from domain.claim_status import OPEN_STATUSES
from domain.errors import DomainError
from domain.posting.parked import ExceptionKind, check_manual_posting, is_posting_item
from domain.services.posting_exceptions import load_facts

Choice = tuple[str, dict[str, str], str]  # action, fields, note
LATER: Choice = ("", {}, "")  # posting's item, left for a later round: what it waits for has not happened yet
MAX_SEARCH = 50  # claims of the payer a biller looks through for a payment


def posting_choice(item: m.WorkItem, session: Any) -> Choice | None:
    """The biller's choice for an item posting opened (None: not posting's item)."""
    if not is_posting_item(item.reason_code, item.dedupe_key):
        return None
    try:
        facts = load_facts(session, item)
    except DomainError:
        return None
    if facts.kind is ExceptionKind.PAYMENT_TOTAL:
        return (
            "write_off",
            {"reason_code": "administrative"},
            "the bank deposit matches the payment: difference written off",
        )
    if facts.kind is ExceptionKind.UNKNOWN_PAYER:
        return "cancel", {}, "not a payer we bill: the payment was returned to it"
    claim_id = _claim_the_payer_meant(item, session)
    if claim_id:
        return "post_manually", {"claim_id": claim_id}, "found the claim the payer meant"
    problem = str((item.context or {}).get("problem", ""))
    if item.reason_code == "posting_exception":
        if problem == "illegal_status_ready":
            # Paid before the store recorded the claim's submit (the submitting worker was lost after the send):
            # the payer has it, so once the claim shows as sent it fits and is posted by hand (above).
            return LATER
        if "exceeds" in problem:
            return "cancel", {}, "a duplicate payment: the payer recoups it; it stays in unapplied cash until then"
        return "cancel", {}, "asked the payer for a corrected remittance"
    return "complete", {}, "no claim of ours: the payer was told; the money stays unapplied until it is returned"


def _claim_the_payer_meant(item: m.WorkItem, session: Any) -> str:
    """The one claim the parked payment fits: among posting's candidates, or the payer's open claims of the same
    charge whose id is the claim number the payer sent with at most two characters wrong."""
    context = item.context or {}
    sent = str(context.get("patient_control_number", "")).lower()
    candidates = [str(c) for c in context.get("candidate_claim_ids") or []]
    if item.entity_type == "claim":
        candidates.append(item.entity_id)
    if not candidates:
        row = session.get(m.RemittanceClaim, str(context.get("remittance_claim_id", "")))
        remittance = session.get(m.Remittance, row.remittance_id) if row is not None else None
        if remittance is None:
            return ""
        searched = session.execute(
            select(m.Claim.id)
            .where(
                m.Claim.payer_id == remittance.payer_id,
                m.Claim.total_charge_cents == row.charge_cents,
                m.Claim.status.in_(sorted(OPEN_STATUSES)),
            )
            .limit(MAX_SEARCH)
        ).scalars()
        candidates = [claim_id for claim_id in searched if _typo_of(sent, claim_id.lower())]
    facts = load_facts(session, item, candidates)
    fitting = []
    for target in facts.targets:
        try:
            if facts.parked is not None and check_manual_posting(facts.parked, target.claim_id, target):
                fitting.append(target.claim_id)
        except DomainError:
            continue
    return fitting[0] if len(fitting) == 1 else ""


def _typo_of(sent: str, claim_id: str) -> bool:
    return len(sent) == len(claim_id) and sum(a != b for a, b in zip(sent, claim_id, strict=True)) <= 2
