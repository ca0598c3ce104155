"""Remittance posting: new 835s fetched and kept, then each posted once.

Posting goes through ``domain.posting.post_remittance`` (idempotent by payer + trace number + claim + line; run
again by ``domain.posting.retry`` when it meets a concurrent posting) and
the ledger services; what a posting did is kept as a report in the document store for ``remit post``.
"""

from __future__ import annotations

from dataclasses import replace

from sqlalchemy import select
from temporalio import activity

from activities.clearinghouse.base import Clearinghouse
from activities.contracts import revenue as c
from activities.documents.store import DocumentStore
from activities.revenue.base import StoreActivities, domain_errors_are_final
from activities.revenue.remittances import (
    EOB_REMITTANCE_KEY_PREFIX,
    delivery_key,
    document_key,
    keep_delivery,
    read_report,
    write_report,
)
from domain import models as m
from domain.posting.results import ClaimPosted
from domain.posting.retry import post_remittance_retrying
from domain.services.denials import explain
from domain.x12.remit835 import parse_835


class PostingActivities(StoreActivities):
    def __init__(self, session_factory: object, clearinghouse: Clearinghouse, documents: DocumentStore) -> None:
        super().__init__(session_factory)  # type: ignore[arg-type]
        self._clearinghouse = clearinghouse
        self._documents = documents

    @activity.defn(name=c.POSTING_FETCH_REMITTANCES)
    @domain_errors_are_final
    def fetch_remittances(self, _: c.Nothing) -> c.FetchedRemittances:
        """New 835s from the clearinghouse, stored in the document store first, then confirmed (at least once).

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
        if documents:
            self._clearinghouse.confirm([d.id for d in documents])
        return c.FetchedRemittances(tuple(keys))

    @activity.defn(name=c.POSTING_POST_REMITTANCE)
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
        return c.PostingResult(
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
