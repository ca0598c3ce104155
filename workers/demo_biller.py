"""The demo's scripted biller: what a sensible biller does with each kind of work item, sent through the same
``resolve`` Update (with a signed actor) a person uses in ``carecycle tasks resolve``."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from temporalio.client import Client, WorkflowUpdateFailedError
from temporalio.service import RPCError

from domain import models as m
from domain.claim_status import ClaimStatus
from domain.enums import PayerRouting, WorkItemState
from workers.composition import Container

log = logging.getLogger("carecycle.demo")

BILLER = "biller.auto"


@dataclass(frozen=True)
class Decision:
    action: str
    fields: dict[str, str] = field(default_factory=dict)
    note: str = ""


def biller_decision(item: m.WorkItem, session: Any, portal_payers_answer: bool = False) -> Decision | None:
    """What a sensible biller does with each kind of item (the same choices a person makes in `tasks resolve`).

    ``portal_payers_answer``: the portal payers send EOBs in this run, so a claim they still have in process
    (277 P1) is worth another wait rather than a write-off; secondaries too, as the portal pays them under
    coordination of benefits."""
    from workers.demo_posting import LATER, posting_choice

    reason = item.reason_code
    posting = posting_choice(item, session)  # posting's own items: worked like a person at the posting desk
    if posting is LATER:
        return None
    if posting is not None:
        action, fields, note = posting
        return Decision(action, fields, note=note)
    if reason == "claim_denied":
        return _denied(item, session)
    if reason in ("claim_rejected", "claim_edit_failed"):
        return _rejected(item, session)
    if reason == "no_payer_response":
        return _no_payer_response(item, session, portal_payers_answer)
    if reason == "missing_codes":
        return _coded(item, session)
    return _routine(reason)


def _denied(item: m.WorkItem, session: Any) -> Decision:
    """A denial, by its CARC codes."""
    codes = str((item.context or {}).get("codes", ""))
    if "-197" in codes and (number := _authorization_on_file(session, item)):
        return Decision("correct_and_resubmit", {"prior_auth": number}, note="the authorization was on file")
    if "-50" in codes or "-197" in codes or "-151" in codes:
        return Decision("appeal", note="medical records attached")
    if "-16" in codes:
        return Decision("correct_and_resubmit", {"modifiers": "95"}, note="added the missing modifier")
    if "-97" in codes:
        return Decision("write_off", {"reason_code": "contractual"})
    if "-29" in codes:
        return Decision("write_off", {"reason_code": "timely_filing"})
    if "-204" in codes or "-96" in codes or "-27" in codes:
        return Decision("bill_patient")
    return Decision("write_off", {"reason_code": "administrative"})


def _rejected(item: m.WorkItem, session: Any) -> Decision:
    """A rejection or a failed claim edit, by the edits it names."""
    context = item.context or {}
    edits = str(context.get("edits", "")) + str(context.get("codes", "")) + item.summary
    if "TELEHEALTH_MODIFIER" in edits:
        return Decision("correct_and_resubmit", {"modifiers": "95"}, note="added the telehealth modifier")
    if "TIMELY" in edits.upper():
        return Decision("write_off", {"reason_code": "timely_filing"})
    if "PRIOR_AUTH" in edits and (number := _authorization_on_file(session, item)):
        return Decision("correct_and_resubmit", {"prior_auth": number}, note="the payer extended the authorization")
    return Decision("write_off", {"reason_code": "administrative"})


def _coded(item: m.WorkItem, session: Any) -> Decision:
    """Missing codes: the visit coded as the coder would (a telehealth visit with its modifier)."""
    encounter = session.get(m.Encounter, item.entity_id)
    telehealth = encounter is not None and encounter.place_of_service in ("02", "10")
    fields = {"procedure_code": "99213", "diagnosis_codes": "I10"}
    if telehealth:
        fields["modifiers"] = "95"
    return Decision("add_codes", fields)


def _routine(reason: str) -> Decision | None:
    """The items a biller answers the same way every time (None: one the demo's biller leaves alone)."""
    if reason == "timely_filing_risk":
        return Decision("write_off", {"reason_code": "timely_filing"})
    if reason == "eligibility_inactive":
        return Decision("mark_inactive", note="payer confirms the plan ended: bill the patient")
    if reason == "eligibility_inconclusive":
        return Decision("confirm_eligibility", note="verified by phone")
    if reason == "possible_duplicate_patient":
        return Decision("not_duplicate", note="different people")
    if reason == "registration_incomplete":
        return Decision("complete")
    if reason == "patient_balance_overdue":
        return Decision("send_to_agency", note="no answer to the statements")
    if reason in ("manual_task", "unmatched_remittance", "ambiguous_match"):
        return Decision("complete")
    if reason == "posting_exception":
        return Decision("write_off", {"reason_code": "administrative"})
    return None


def _no_payer_response(item: m.WorkItem, session: Any, portal_payers_answer: bool) -> Decision:
    """A payer that has adjudicated the claim (277 category F: finalized) has its remittance on the way: writing the
    claim off would leave that payment nowhere to go (it arrives as ``exceeds_claim_balance``, or
    ``secondary_exceeds_crossover`` for a secondary). The demo's portal payers answer every claim with an EOB:
    one they have in process (P1) or have not been handed yet (A4: the portal cycle pushes accepted claims a
    second at a time) will be paid too. No acknowledgment yet (the item names the batch, not a 277 category): the
    clearinghouse took the batch, so wait for it. A payer that has not got the claim any other way: write it off.
    An appealed claim the payer still reports finalized as denied (F2): the denial stands (the remittance that
    said so is posted, and the sandbox payers take no appeals), so waiting again would wait for ever: write it
    off."""
    context = item.context or {}
    category = str(context.get("category", ""))
    if "batch" in context and not category:  # no 999/277CA yet: the clearinghouse has the batch, so poll on
        return Decision("retry_now", note="the clearinghouse took the batch: its acknowledgment will come")
    if category == "F2" and _appealed(session, item):
        return Decision("write_off", {"reason_code": "administrative"}, note="the payer upheld its denial")
    if category.startswith("F"):
        return Decision("retry_now", note="the payer finalized it: its remittance is on the way")
    if portal_payers_answer and category in ("P1", "A4") and _portal_claim(session, item):
        return Decision("retry_now", note="the payer's portal has it in process (or will): its EOB will come")
    return Decision("write_off", {"reason_code": "administrative"})


def _authorization_on_file(session: Any, item: m.WorkItem) -> str | None:
    """The number of the patient's latest authorization with the claim's payer, whatever its dates: the biller asks
    the payer to extend it to the visit (the correction records that), rather than appealing a CO-197."""
    claim = session.get(m.Claim, item.entity_id) if item.entity_type == "claim" else None
    if claim is None:
        return None
    number: str | None = session.execute(
        select(m.PriorAuthorization.number)
        .where(m.PriorAuthorization.patient_id == claim.patient_id, m.PriorAuthorization.payer_id == claim.payer_id)
        .order_by(m.PriorAuthorization.valid_to.desc())
        .limit(1)
    ).scalar()
    return number


def _appealed(session: Any, item: m.WorkItem) -> bool:
    claim = session.get(m.Claim, item.entity_id) if item.entity_type == "claim" else None
    return claim is not None and claim.status == ClaimStatus.APPEALED


def _portal_claim(session: Any, item: m.WorkItem) -> bool:
    """A claim to a portal payer, primary or secondary: the demo's portal answers it with an EOB (see PortalCycle)."""
    claim = session.get(m.Claim, item.entity_id) if item.entity_type == "claim" else None
    if claim is None:
        return False
    payer = session.get(m.Payer, claim.payer_id)
    return payer is not None and payer.routing == PayerRouting.PORTAL


async def resolve_open_items(client: Client, container: Container, portal_payers_answer: bool = False) -> int:
    """Resolve every open item a workflow waits on, through the ``resolve`` Update; returns how many."""
    from domain.actors import resolve_scope, sign_actor
    from flows.workitems import ResolveRequest
    from workers.security.actors import load_actor_keys

    keys = load_actor_keys(container.settings)
    with container.uow() as uow:
        items = list(
            uow.session.execute(
                select(m.WorkItem).where(m.WorkItem.state == WorkItemState.OPEN, m.WorkItem.workflow_id.is_not(None))
            ).scalars()
        )
        decisions = [
            (item.id, item.workflow_id, biller_decision(item, uow.session, portal_payers_answer)) for item in items
        ]
    resolved = 0
    for item_id, workflow_id, decision in decisions:
        if decision is None or workflow_id is None:
            continue
        handle = client.get_workflow_handle(workflow_id)
        # The scripted biller signs like any door does (domain.actors): the workers refuse an unsigned resolution.
        scope = resolve_scope(workflow_id, item_id, decision.action, dict(decision.fields), decision.note)
        actor = sign_actor(keys, "system", BILLER, scope=scope)
        try:
            await handle.execute_update(
                "resolve",
                ResolveRequest(
                    item_id, decision.action, actor.label, dict(decision.fields), decision.note, actor=actor
                ),
            )
            resolved += 1
        except (WorkflowUpdateFailedError, RPCError) as exc:
            log.info("could not resolve work item %s: %s", item_id, type(exc).__name__)
    return resolved
