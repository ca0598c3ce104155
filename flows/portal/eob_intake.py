"""PortalEobIntake: fetch a portal payer's new EOB PDFs through its web portal, read each, post it like an 835.

* The download runs on the ``portal`` task queue (a browser); an unavailable portal is retried by Temporal.
  A refused login, a changed page or missing credentials opens a work item whose context links the
  screenshot and HTML the activity stored; the person fixes the cause and completes it (the workflow tries
  again) or cancels it (the run ends). A portal that wants a one-time code nobody configured asks a person
  for it (``complete`` with field ``code``) and tries again with that code.
* Each PDF is read on the ``documents`` task queue. A good reading (stored as an 835) starts PaymentPosting
  (``posting-<remittance key>``: starting twice is a no-op). A low-confidence reading or a totals mismatch
  opens a posting-exception work item with the page image; an unreadable file opens one too. Nothing of
  those is posted unless a person says so.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import ActivityError, ApplicationError, WorkflowAlreadyStartedError
from temporalio.workflow import ParentClosePolicy

from flows.revenue._common import LONG_ACTIVITY_HEARTBEAT, portal_failure_evidence, portal_retry
from flows.revenue.posting import POSTING_STARTS_AT, posting_workflow_id
from flows.workitems import WorkItemRequest, WorkItemsMixin

with workflow.unsafe.imports_passed_through():
    import flows.calls as calls  # by its full name: `from flows import calls` would re-run it in each sandbox
    from activities.contracts import portal as contract
    from activities.contracts import revenue as revenue_contract
    from domain.workitems import Action, Reason

PORTAL_RETRY = portal_retry(maximum_attempts=8)
READ_RETRY = RetryPolicy(initial_interval=timedelta(seconds=2), maximum_attempts=5)


def _policy(data: contract.PortalEobIntakeInput) -> revenue_contract.RevenuePolicy:
    if data.day_seconds is None:
        return revenue_contract.RevenuePolicy()
    return revenue_contract.RevenuePolicy(day_seconds=data.day_seconds)


def portal_eob_intake_id(payer_id: str) -> str:
    return f"portal-eobs-{payer_id}"


@workflow.defn(name="PortalEobIntake")
class PortalEobIntakeWorkflow(WorkItemsMixin):
    def __init__(self) -> None:
        self._stage = "started"

    @workflow.query(name="state")
    def state(self) -> dict[str, object]:
        return {"stage": self._stage}

    @workflow.run
    async def run(self, data: contract.PortalEobIntakeInput) -> contract.PortalEobIntakeResult:
        result = await self._run(data)
        await workflow.wait_condition(workflow.all_handlers_finished)
        return result

    def _request(self, data: contract.PortalEobIntakeInput, **kwargs: object) -> WorkItemRequest:
        return WorkItemRequest(sla=timedelta(hours=data.work_item_sla_hours), **kwargs)  # type: ignore[arg-type]

    async def _download(self, data: contract.PortalEobIntakeInput) -> contract.PortalEobDownloadResult | None:
        code: str | None = None
        while True:
            self._stage = "downloading"
            try:
                result: contract.PortalEobDownloadResult = await calls.execute(
                    contract.portal_download_eobs,
                    contract.PortalEobDownloadInput(data.payer_id, code),
                    task_queue=data.portal_task_queue,
                    start_to_close_timeout=timedelta(minutes=15),
                    retry_policy=PORTAL_RETRY,
                    heartbeat_timeout=LONG_ACTIVITY_HEARTBEAT,
                )
                return result
            except ActivityError as exc:
                cause = exc.cause
                if not isinstance(cause, ApplicationError):
                    raise
                context = {"payer": data.payer_id, **portal_failure_evidence(cause)}
                failure = context["error"]
                self._stage = f"waiting:{failure}"
                asks_code = failure == contract.ERROR_OTP_UNAVAILABLE
                resolution = await self.work_items.open_and_wait(
                    self._request(
                        data,
                        reason=Reason.MANUAL_TASK,
                        entity_type="payer",
                        entity_id=data.payer_id,
                        summary=(
                            f"portal {data.payer_id} needs a one-time code: complete with field code"
                            if asks_code
                            else f"portal {data.payer_id} failed ({failure}): fix it and complete, or cancel"
                        ),
                        context=context,
                    )
                )
                if resolution.action == Action.CANCEL:
                    return None
                code = resolution.fields.get("code") or None

    async def _review(
        self, data: contract.PortalEobIntakeInput, read: contract.EobReadResult, round_: int
    ) -> contract.EobReadResult | None:
        """Ask a person about a reading that cannot be posted; a retry reads it again."""
        context = {
            "document_key": read.document_key,
            "status": read.status,
            "reason_code": read.reason_code or "",
        }
        if read.page_image_key:
            context["page_image_key"] = read.page_image_key
        if read.page is not None:
            context["page"] = str(read.page)
        resolution = await self.work_items.open_and_wait(
            self._request(
                data,
                reason=Reason.POSTING_EXCEPTION,
                entity_type="document",
                entity_id=read.document_key[-36:],
                summary=f"EOB from {data.payer_id}: {read.reason_code}",
                context=context,
                key=f"{read.document_key}#{round_}",  # a re-read that still fails is a new item
            )
        )
        if resolution.action == Action.RETRY_NOW:
            return await self._read(data, read.document_key)
        return None

    async def _read(self, data: contract.PortalEobIntakeInput, key: str) -> contract.EobReadResult:
        read: contract.EobReadResult = await calls.execute(
            contract.eob_read,
            contract.EobReadInput(key, data.payer_id),
            task_queue=data.documents_task_queue,
            start_to_close_timeout=timedelta(minutes=5),
            retry_policy=READ_RETRY,
            heartbeat_timeout=LONG_ACTIVITY_HEARTBEAT,
        )
        return read

    async def _post(self, data: contract.PortalEobIntakeInput, remittance_key: str) -> None:
        try:
            # By name: the child is abandoned, its result is the posting workflow's business, not ours.
            await workflow.start_child_workflow(
                "PaymentPosting",
                revenue_contract.PostingInput(remittance_key, _policy(data)),
                id=posting_workflow_id(remittance_key),
                search_attributes=POSTING_STARTS_AT,
                task_queue=data.posting_task_queue,
                id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
                parent_close_policy=ParentClosePolicy.ABANDON,
            )
        except WorkflowAlreadyStartedError:
            pass  # posted (or being posted) already: posting is keyed by the remittance

    async def _handle(
        self, data: contract.PortalEobIntakeInput, key: str, posted: list[str], reviewed: list[str]
    ) -> None:
        read: contract.EobReadResult | None = await self._read(data, key)
        round_ = 0
        while read is not None and read.status != "ok":
            reviewed.append(key)
            round_ += 1
            read = await self._review(data, read, round_)
        if read is not None and read.remittance_key and data.post:
            await self._post(data, read.remittance_key)
            posted.append(read.remittance_key)

    async def _run(self, data: contract.PortalEobIntakeInput) -> contract.PortalEobIntakeResult:
        downloaded = await self._download(data)
        if downloaded is None:
            return contract.PortalEobIntakeResult(data.payer_id, (), (), (), gave_up=True)
        self._stage = "reading"
        posted: list[str] = []
        reviewed: list[str] = []
        # Each EOB goes its own way: one waiting on a person does not hold up the others.
        await asyncio.gather(*(self._handle(data, key, posted, reviewed) for key in downloaded.document_keys))
        self._stage = "done"
        return contract.PortalEobIntakeResult(
            data.payer_id, downloaded.document_keys, tuple(posted), tuple(dict.fromkeys(reviewed))
        )
