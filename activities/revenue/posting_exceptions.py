"""Posting-exception activities: start each item's workflow, read an item's facts, carry a resolution out.

The rule and the store work are domain.posting.parked and domain.services.posting_exceptions; these activities
only open the unit of work, find an unknown payer's stored 835 in the document store, and translate the result
into what the workflow tells the claim's process (a ``ClaimOutcome``) and collections.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime

from temporalio import activity
from temporalio.client import Client
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError

from activities.contracts import posting_exceptions as xc
from activities.contracts import revenue as c
from activities.documents.store import DocumentStore
from activities.revenue.base import StoreActivities, domain_errors_are_final
from activities.revenue.remittances import document_key
from domain import models as m
from domain.actors import acting_as
from domain.errors import DomainError, NotFound, ValidationError
from domain.posting.parked import ExceptionKind, exception_kind, is_posting_item
from domain.remittance import payment_key
from domain.services.denials import explain
from domain.services.posting_exceptions import load_facts, record_refusal, resolve_posting_item
from domain.workitems import Action

# What an item asked again repeats of posting's context (codes, ids and cents; never the patient control number).
CONTEXT_KEYS = (
    "problem",
    "remittance_claim_id",
    "candidate_claim_ids",
    "paid_cents",
    "charge_cents",
    "status_code",
    "rule",
    "confidence",
    "payment_amount_cents",
    "expected_cents",
    "payer_id",
    "trace_number",
)


async def start_exception_workflows(
    client: Client,
    work_item_ids: Sequence[str],
    *,
    task_queue: str,
    remittance_key: str = "",
    policy: c.RevenuePolicy | None = None,
) -> xc.StartedExceptions:
    """Start each item's PostingException workflow under its business id. A running one is left as it is, and
    one that completed (the item was resolved) is never started again; a failed or terminated one may be."""
    started = already = 0
    for item_id in dict.fromkeys(work_item_ids):
        try:
            await client.start_workflow(
                xc.WORKFLOW_TYPE,
                xc.PostingExceptionInput(item_id, remittance_key, policy or c.RevenuePolicy()),
                id=xc.posting_exception_workflow_id(item_id),
                task_queue=task_queue,
                id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE_FAILED_ONLY,
                id_conflict_policy=WorkflowIDConflictPolicy.FAIL,
                static_summary="Posting exception: a remittance line waits for a biller",
                static_details=f"Work item {item_id}. Resolve with `carecycle tasks resolve {item_id[:8]}`.",
            )
            started += 1
        except WorkflowAlreadyStartedError:
            already += 1
    return xc.StartedExceptions(started=started, already_started=already)


class PostingExceptionActivities(StoreActivities):
    def __init__(self, session_factory: object, documents: DocumentStore, client: Client | None = None) -> None:
        super().__init__(session_factory)  # type: ignore[arg-type]
        self._documents = documents
        self._client = client

    @activity.defn(name=xc.START)
    async def start_exceptions(self, data: xc.StartExceptions) -> xc.StartedExceptions:
        """Posting's items, each to its own workflow (one activity however many lines were parked)."""
        client = self._client or activity.client()
        with acting_as("system", f"activity:{xc.START}"):  # the starts carry who: the system (domain.actors)
            started = await start_exception_workflows(
                client,
                data.work_item_ids,
                task_queue=activity.info().task_queue,
                remittance_key=data.remittance_key,
                policy=data.policy,
            )
        activity.logger.info(
            "posting exception workflows started",
            extra={"started": started.started, "already_started": started.already_started},
        )
        return started

    @activity.defn(name=xc.FACTS)
    @domain_errors_are_final
    def exception_facts(self, request: xc.FactsRequest) -> xc.ExceptionItem:
        """The item's facts; its row names the asking workflow from now on (so `tasks resolve` finds it)."""
        with self.uow() as uow:
            session = uow.session
            item = session.get(m.WorkItem, request.work_item_id)
            if item is None:
                raise NotFound(f"unknown work item {request.work_item_id}")
            if not is_posting_item(item.reason_code, item.dedupe_key):
                raise ValidationError(f"work item {item.id} was not opened by posting")
            facts = load_facts(session, item, request.claim_ids)
            if facts.kind is ExceptionKind.UNKNOWN_PAYER:
                facts = replace(facts, remittance_key=self._stored_835(request.remittance_key, item))
            if item.workflow_id != request.workflow_id:
                item.workflow_id = request.workflow_id
            view = xc.ExceptionItem(
                state=str(item.state),
                reason=item.reason_code,
                entity_type=item.entity_type,
                entity_id=item.entity_id,
                summary=item.summary,
                dedupe_key=item.dedupe_key,
                sla_due_at=_utc(item.sla_due_at),
                facts=facts,
                context=_codes(item.context or {}),
            )
            uow.commit()
        return view

    def _stored_835(self, remittance_key: str, item: m.WorkItem) -> str:
        """The stored 835 of an unknown payer's item: the key posting read, or the one its payment names."""
        context = item.context or {}
        keys = [remittance_key] if remittance_key else []
        payer, trace = str(context.get("payer_id", "")), str(context.get("trace_number", ""))
        keys.append(payment_key(payer, trace))
        keys.append(payment_key(payer, trace, as_received=True))  # stored before trace keys
        return next((key for key in keys if key and self._documents.exists(document_key(key))), "")

    @activity.defn(name=xc.RESOLVE)
    @domain_errors_are_final
    def resolve_exception(self, data: xc.ExceptionResolution) -> xc.ExceptionApplied:
        """Carry the person's resolution out: the rule again on the store's facts, then the one domain function."""
        with self.uow() as uow:
            session = uow.session
            key = ""
            refusal: DomainError | None = None
            if data.action == Action.RETRY_NOW:
                item = session.get(m.WorkItem, data.work_item_id)
                if item is not None and exception_kind(item.context or {}) is ExceptionKind.UNKNOWN_PAYER:
                    key = self._stored_835(data.remittance_key, item)
            try:
                applied = resolve_posting_item(
                    session,
                    data.work_item_id,
                    data.action,
                    dict(data.fields),
                    actor=data.by,
                    remittance_key=key,
                    answered_item_id=data.answered_item_id,
                )
            except DomainError as exc:  # nothing of it was written; the item says why, the workflow asks again
                uow.session.rollback()
                refusal = exc
            else:
                uow.commit()
        if refusal is not None:
            with self.uow() as uow:
                record_refusal(uow.session, data.answered_item_id or data.work_item_id, data.action, refusal.message)
                uow.commit()
            raise refusal
        activity.logger.info(
            "posting exception resolved", extra={"work_item_id": data.work_item_id, "action": data.action}
        )
        posted = applied.posted
        outcome = None
        if posted is not None and posted.claim_id:
            status = posted.outcome if posted.posted else applied.target_status
            outcome = c.ClaimOutcome(
                claim_id=posted.claim_id,
                remittance_key=data.remittance_key or f"trace-{applied.trace_number}",
                status=status,
                paid_cents=posted.paid_cents,
                patient_responsibility_cents=posted.patient_responsibility_cents,
                adjustment_codes=posted.adjustment_codes,
                remark_codes=posted.remark_codes,
                explanation=explain(posted.adjustment_codes, posted.remark_codes) if status == "denied" else (),
                claim_status=applied.claim_status,
            )
        return xc.ExceptionApplied(
            action=data.action,
            outcome=outcome,
            guarantor_id=applied.guarantor_id,
            secondary_claim_id=(posted.secondary_claim_id or "") if posted is not None else "",
            written_off_cents=applied.written_off_cents,
            repost_key=applied.repost_key,
        )


def _utc(at: datetime) -> datetime:
    return at if at.tzinfo else at.replace(tzinfo=UTC)  # SQLite hands back naive UTC


def _codes(context: dict[str, object]) -> dict[str, str]:
    found: dict[str, str] = {}
    for key in CONTEXT_KEYS:
        value = context.get(key)
        if value is None or value == "":
            continue
        found[key] = ",".join(str(v) for v in value) if isinstance(value, list) else str(value)
    return found
