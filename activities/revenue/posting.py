"""Remittance posting: new 835s fetched and kept, then each posted once.

Posting goes through ``domain.posting.post_remittance`` (idempotent by payer + trace number + claim + line; run
again by ``domain.posting.retry`` when it meets a concurrent posting) and
the ledger services; what a posting did is kept as a report in the document store for ``remit post``.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace

from sqlalchemy import select
from temporalio import activity
from temporalio.client import Client
from temporalio.exceptions import ApplicationError, WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from activities.clearinghouse.base import Clearinghouse
from activities.contracts import revenue as c
from activities.documents.store import DocumentStore
from activities.heartbeats import kept_alive
from activities.revenue.base import StoreActivities, domain_errors_are_final
from activities.revenue.collections_activities import notify_collections
from activities.revenue.remittances import (
    EOB_REMITTANCE_KEY_PREFIX,
    FanOut,
    delivery_key,
    document_key,
    keep_delivery,
    keep_fan_out,
    read_fan_out,
    read_report,
    write_report,
)
from domain import models as m
from domain.actors import acting_as
from domain.posting.results import ClaimPosted
from domain.posting.retry import post_remittance_retrying
from domain.services.denials import explain
from domain.x12.remit835 import parse_835

# Items of a page posting.tell tells at once (signals and starts: round trips to the Temporal server, not work here);
# the workers set it from CARECYCLE_POSTING_TELL_CONCURRENCY.
TELL_CONCURRENCY = 32


class PostingActivities(StoreActivities):
    def __init__(
        self,
        session_factory: object,
        clearinghouse: Clearinghouse,
        documents: DocumentStore,
        client: Client | None = None,
        tell_concurrency: int = TELL_CONCURRENCY,
    ) -> None:
        super().__init__(session_factory)  # type: ignore[arg-type]
        self._clearinghouse = clearinghouse
        self._documents = documents
        self._client = client
        self._tell_concurrency = max(1, tell_concurrency)

    @activity.defn(name=c.POSTING_FETCH_REMITTANCES)
    @domain_errors_are_final
    def fetch_remittances(self, request: c.FetchRemittances) -> c.FetchedRemittances:
        """New 835s from the clearinghouse, stored in the document store; confirmed here only if ``request``
        says so (older histories), else by RemittanceIntake once their postings are started (at least once).

        Each is kept under its business key (the payments it carries), so a re-delivered 835 maps to the posting
        that already ran: the intake starts nothing new for it."""
        documents = self._clearinghouse.fetch_remittances()
        keys: list[str] = []
        with self.uow() as uow:
            for document in documents:
                key = delivery_key(document.x12, document.id)
                keep_delivery(self._documents, uow, key, document.x12)
                if key not in keys:
                    keys.append(key)
            uow.commit()
        ids = tuple(d.id for d in documents)
        if ids and request.confirm:
            self._clearinghouse.confirm(ids)
            return c.FetchedRemittances(tuple(keys))
        return c.FetchedRemittances(tuple(keys), ids)

    @activity.defn(name=c.POSTING_CONFIRM_REMITTANCES)
    @domain_errors_are_final
    def confirm_remittances(self, request: c.ConfirmRemittances) -> c.Nothing:
        """Tell the clearinghouse these 835s are stored and handed to posting (it may drop them); idempotent."""
        self._clearinghouse.confirm(request.document_ids)
        return c.Nothing()

    @activity.defn(name=c.POSTING_POST_REMITTANCE)
    @kept_alive
    @domain_errors_are_final
    def post_remittance(self, ref: c.RemittanceRef) -> c.PostingResult:
        """Post every remittance of the stored 835 once; a re-run posts nothing and says so."""
        key = document_key(ref.remittance_key)
        remittances = parse_835(self._documents.get(key).decode("ascii", errors="replace"))
        reports: list[dict[str, object]] = []
        outcomes: list[c.ClaimOutcome] = []
        unmatched: list[str] = []
        guarantors: set[str] = set()
        secondaries: list[str] = []
        exception_items: list[str] = []
        arrivals: list[str] = []
        posted_cents = 0
        already = True
        payer_id = ""
        for remittance in remittances:
            if ref.remittance_key.startswith(EOB_REMITTANCE_KEY_PREFIX):
                remittance = replace(remittance, source="eob_pdf")  # the 835 is our transcript of a payer's EOB
            # In its own transaction, run again if it met a concurrent posting of the same payment or claims.
            result = post_remittance_retrying(
                self._session_factory, remittance, source_document_key=key, actor="workflow:posting"
            )
            reports.append(result.as_dict() | {"posted_total_cents": result.posted_total_cents})
            payer_id = result.payer_id
            already = already and result.already_posted
            posted_cents += result.paid_cents
            guarantors.update(result.guarantors_with_balance)
            secondaries.extend(result.secondary_claims_created)
            exception_items.extend(result.work_items_opened)  # each gets its PostingException workflow
            if result.arrival:
                arrivals.append(f"{result.arrival}:{result.first_source}:{result.remittance_id}")
            for posted in result.claims:
                if posted.outcome in ("unmatched", "ambiguous", "exception"):
                    if posted.work_item_id:  # posting opens its own item with the candidates
                        exception_items.append(posted.work_item_id)
                    else:
                        unmatched.append(posted.patient_control_number[:38])
                    continue
                if posted.claim_id is None or not posted.posted:
                    continue
                outcomes.append(_claim_outcome(posted, posted.claim_id, ref.remittance_key))
        outcomes = self._with_claim_statuses(outcomes)
        if not (already and remittances) or read_report(self._documents, ref.remittance_key) is None:
            # What this posting did, for `remit post` (a retried attempt that posts nothing keeps the first report).
            write_report(self._documents, ref.remittance_key, reports)
        posting = c.PostingResult(
            remittance_key=ref.remittance_key,
            already_posted=already and bool(remittances),
            payer_id=payer_id,
            posted_cents=posted_cents,
            claims=tuple(outcomes),
            unmatched=tuple(unmatched),
            guarantors_with_balance=tuple(sorted(guarantors)),
            secondary_claims=tuple(secondaries),
            exception_items=tuple(dict.fromkeys(exception_items)),
            arrivals=tuple(arrivals),
        )
        return self._kept_when_large(posting, ref.carry_limit)

    def _with_claim_statuses(self, outcomes: list[c.ClaimOutcome]) -> list[c.ClaimOutcome]:
        """Each outcome with its claim's status in the store after posting (the Claim workflow's status)."""
        if not outcomes:
            return outcomes
        with self.uow() as uow:
            statuses = dict(
                uow.session.execute(
                    select(m.Claim.id, m.Claim.status).where(m.Claim.id.in_({o.claim_id for o in outcomes}))
                ).all()
            )
        return [replace(o, claim_status=str(statuses.get(o.claim_id, ""))) for o in outcomes]

    def _kept_when_large(self, result: c.PostingResult, carry_limit: int) -> c.PostingResult:
        """A remittance with more to tell than ``carry_limit`` keeps it beside the 835 and carries only its count:
        10,000 outcomes are megabytes of payload, and a signal each would pass the workflow's history limits.
        A retried attempt that posted nothing finds what the first attempt kept."""
        if carry_limit < 0:
            return result
        fan_out = FanOut(result.claims, result.secondary_claims, result.guarantors_with_balance)
        if not fan_out:
            fan_out = read_fan_out(self._documents, result.remittance_key) or fan_out
        if len(fan_out) <= carry_limit:
            return replace(
                result,
                claims=fan_out.outcomes,
                secondary_claims=fan_out.secondary_claims,
                guarantors_with_balance=fan_out.guarantors,
            )
        keep_fan_out(self._documents, result.remittance_key, fan_out)
        return replace(
            result,
            claims=(),
            secondary_claims=(),
            guarantors_with_balance=(),
            kept=len(fan_out),
            kept_claims=len(fan_out.outcomes),
        )

    @activity.defn(name=c.POSTING_TELL)
    async def tell(self, page: c.TellPage) -> c.Told:
        """Tell one page of a large remittance's fan-out: each claim's workflow its outcome (a claim whose process
        has ended gets a new run from it, as PaymentPosting does for a small one), each secondary claim its Claim
        workflow, each guarantor's PatientCollections its new balance.

        Up to ``tell_concurrency`` items are told at once: each is a round trip to the server, and told one at a
        time they were most of a 10,000-claim ERA's 1,004 s (docs/capacity.md). The heartbeat is the end of the page's
        told prefix (items finish out of order), so a retried page goes on after it instead of telling a claim
        twice: at most the items in flight and those of one heartbeat interval are told again, which the Claim
        workflow ignores (an outcome it heard already). The first failure stops the page and is raised as is."""
        fan_out = await asyncio.to_thread(read_fan_out, self._documents, page.remittance_key)
        if fan_out is None:
            raise ApplicationError(
                f"no fan-out kept for remittance {page.remittance_key[:60]}", type="not_found", non_retryable=True
            )
        client = self._client or activity.client()
        queue = activity.info().task_queue
        details = activity.info().heartbeat_details
        start = max(page.offset, int(details[0]) if details else page.offset)
        end = min(page.offset + page.limit, len(fan_out))
        told = _Told()
        claims, secondaries = len(fan_out.outcomes), len(fan_out.secondary_claims)
        # A claim in the 835 twice (a reversal, then the corrected payment) hears its outcomes in the 835's order:
        # tell_one is called in index order and takes its claim's lock before it first waits.
        in_order: defaultdict[str, asyncio.Lock] = defaultdict(asyncio.Lock)

        async def tell_one(index: int) -> None:
            if index < claims:
                outcome = fan_out.outcomes[index]
                async with in_order[outcome.claim_id]:
                    await _tell_claim(client, queue, outcome, page.policy, told)
            elif index < claims + secondaries:
                await _start_secondary(client, queue, fan_out.secondary_claims[index - claims], page.policy, told)
            else:
                guarantor = fan_out.guarantors[index - claims - secondaries]
                await notify_collections(client, queue, c.BalanceNotice(guarantor, page.policy))
                told.guarantors_notified += 1

        with acting_as("system", f"activity:{c.POSTING_TELL}"):  # the starts carry who: the system
            await tell_concurrently(range(start, end), tell_one, self._tell_concurrency, activity.heartbeat)
        return c.Told(told.signalled, told.reopened, told.secondary_started, told.guarantors_notified)


async def tell_concurrently(
    indexes: range, tell_one: Callable[[int], Awaitable[None]], concurrency: int, progress: Callable[[int], None]
) -> None:
    """``tell_one`` for each index, at most ``concurrency`` at once, called in index order; ``progress(n)`` after
    each item told, ``n`` the end of the prefix of the range told in full (what a retried attempt may skip). The
    first failure cancels the rest and is raised itself (not wrapped in a group), as telling one at a time did."""
    pending = iter(indexes)
    done: set[int] = set()
    prefix = indexes.start

    async def teller() -> None:
        nonlocal prefix
        for index in pending:  # one shared iterator: each index is taken by exactly one teller
            await tell_one(index)
            done.add(index)
            while prefix in done:
                done.discard(prefix)
                prefix += 1
            progress(prefix)  # after every item, so that the page beats while one slow item holds the prefix

    tasks = [asyncio.create_task(teller()) for _ in range(max(1, min(concurrency, len(indexes))))]
    try:
        finished, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    for task in tasks:  # in the tellers' order: deterministic when several failed in the same step
        failure = task.exception() if task in finished and not task.cancelled() else None
        if failure is not None:
            raise failure


@dataclass
class _Told:
    signalled: int = 0
    reopened: int = 0
    secondary_started: int = 0
    guarantors_notified: int = 0


async def _tell_claim(
    client: Client, queue: str, outcome: c.ClaimOutcome, policy: c.RevenuePolicy, told: _Told
) -> None:
    """The claim's running workflow hears its outcome; one whose process has ended (or never ran) is reopened by a
    new run that starts from it (PaymentPosting's LATE_REMITTANCE_PATCH path, here from outside the workflow)."""
    workflow_id = f"claim-{outcome.claim_id}"
    try:
        await client.get_workflow_handle(workflow_id).signal("remittance", outcome)
        told.signalled += 1
        return
    except RPCError as exc:
        if exc.status != RPCStatusCode.NOT_FOUND:
            raise
    try:
        await client.start_workflow(
            "Claim",
            c.ClaimInput(outcome.claim_id, policy, reopened_by=outcome),
            id=workflow_id,
            task_queue=queue,
        )
        told.reopened += 1
    except WorkflowAlreadyStartedError:  # another posting reopened it just now: it hears this outcome too
        await client.get_workflow_handle(workflow_id).signal("remittance", outcome)
        told.signalled += 1


async def _start_secondary(client: Client, queue: str, claim_id: str, policy: c.RevenuePolicy, told: _Told) -> None:
    try:
        await client.start_workflow("Claim", c.ClaimInput(claim_id, policy), id=f"claim-{claim_id}", task_queue=queue)
        told.secondary_started += 1
    except WorkflowAlreadyStartedError:
        pass


def _claim_outcome(posted: ClaimPosted, claim_id: str, remittance_key: str) -> c.ClaimOutcome:
    """What a posted claim payment tells the claim's workflow; a denial's codes come explained."""
    return c.ClaimOutcome(
        claim_id=claim_id,
        remittance_key=remittance_key,
        status=posted.outcome,
        paid_cents=posted.paid_cents,
        patient_responsibility_cents=posted.patient_responsibility_cents,
        adjustment_codes=posted.adjustment_codes,
        remark_codes=posted.remark_codes,
        explanation=explain(posted.adjustment_codes, posted.remark_codes) if posted.outcome == "denied" else (),
    )
