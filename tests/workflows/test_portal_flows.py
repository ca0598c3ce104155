"""PortalEobIntake on the time-skipping server: activities registered by name (the browser and PDF parts have
their own tests), real work-item activities over a SQLite store, a stand-in PaymentPosting child."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor

import pytest
from temporalio import activity, workflow
from temporalio.client import WorkflowHandle
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

with workflow.unsafe.imports_passed_through():
    from activities.contracts import portal as contract
    from activities.contracts.revenue import PostingInput
    from activities.workitems import WorkItemActivities
    from domain.store.engine import make_engine, make_session_factory
    from domain.workitems import ResolveRequest
    from flows.portal import PortalEobIntakeWorkflow, portal_eob_intake_id
    from flows.revenue.posting import posting_workflow_id

pytestmark = pytest.mark.temporal


@workflow.defn(name="PaymentPosting")
class FakePosting:
    @workflow.run
    async def run(self, data: PostingInput) -> str:
        return data.remittance_key


class FakePortal:
    """Scripted answers: the first download fails as a refused login, then two EOBs arrive."""

    def __init__(self) -> None:
        self.downloads = 0
        self.codes: list[str | None] = []
        self.reads: dict[str, int] = {}

    @activity.defn(name=contract.DOWNLOAD_EOBS)
    async def download(self, request: contract.PortalEobDownloadInput) -> contract.PortalEobDownloadResult:
        self.downloads += 1
        self.codes.append(request.one_time_code)
        if self.downloads == 1:
            raise ApplicationError(
                "SBXCC: the portal refused the username or password",
                contract.PortalFailureDetails("SBXCC", "portal/SBXCC/failures/x.png", "portal/SBXCC/failures/x.html"),
                type=contract.ERROR_LOGIN_FAILED,
                non_retryable=True,
            )
        if self.downloads == 2:
            raise ApplicationError("code needed", type=contract.ERROR_OTP_UNAVAILABLE, non_retryable=True)
        return contract.PortalEobDownloadResult(request.payer_id, ("eob/SBXCC/good.pdf", "eob/SBXCC/smudged.pdf"), 0)

    @activity.defn(name=contract.READ_EOB)
    async def read(self, request: contract.EobReadInput) -> contract.EobReadResult:
        self.reads[request.document_key] = self.reads.get(request.document_key, 0) + 1
        if "good" in request.document_key:
            return contract.EobReadResult(
                request.document_key, "ok", "SBXCC", "T1", 3, 12345, 1.0, remittance_key="eob-SBXCC-T1"
            )
        return contract.EobReadResult(
            request.document_key,
            "needs_review",
            "SBXCC",
            reason_code="eob_totals_mismatch",
            reason="claim 2: the lines' paid amounts do not add up to the claim's",
            page=2,
            page_image_key=request.document_key + ".page2.png",
        )


@pytest.fixture
async def queues(time_skipping_env: WorkflowEnvironment, sqlite_url: str) -> AsyncIterator[tuple[str, FakePortal]]:
    queue = f"tq-{uuid.uuid4()}"
    portal = FakePortal()
    work_items = WorkItemActivities(make_session_factory(make_engine(sqlite_url)))
    with ThreadPoolExecutor(4) as executor:
        async with (
            Worker(
                time_skipping_env.client,
                task_queue=queue,
                workflows=[PortalEobIntakeWorkflow, FakePosting],
                activities=[*work_items.all(), portal.download, portal.read],
                activity_executor=executor,
            ),
        ):
            yield queue, portal


async def _next_item(handle: WorkflowHandle, seen: set[str]) -> tuple[str, str]:  # type: ignore[type-arg]
    for _ in range(400):
        for view in await handle.query(PortalEobIntakeWorkflow.open_work_items):
            if view.work_item_id not in seen:
                seen.add(view.work_item_id)
                return view.work_item_id, view.reason
        await asyncio.sleep(0.05)
    raise AssertionError("no work item opened")


async def test_login_failure_code_request_review_and_posting(
    time_skipping_env: WorkflowEnvironment, queues: tuple[str, FakePortal]
) -> None:
    queue, portal = queues
    handle = await time_skipping_env.client.start_workflow(
        PortalEobIntakeWorkflow.run,
        contract.PortalEobIntakeInput(
            "SBXCC", portal_task_queue=queue, documents_task_queue=queue, posting_task_queue=queue
        ),
        id=portal_eob_intake_id("SBXCC") + uuid.uuid4().hex[:6],
        task_queue=queue,
    )
    seen: set[str] = set()
    login_item, reason = await _next_item(handle, seen)
    assert reason == "manual_task"
    await handle.execute_update(
        PortalEobIntakeWorkflow.resolve, ResolveRequest(login_item, "complete", "ann", note="password reset")
    )
    code_item, _ = await _next_item(handle, seen)
    await handle.execute_update(
        PortalEobIntakeWorkflow.resolve, ResolveRequest(code_item, "complete", "ann", fields={"code": "123456"})
    )
    review_item, reason = await _next_item(handle, seen)
    assert reason == "posting_exception"
    await handle.execute_update(PortalEobIntakeWorkflow.resolve, ResolveRequest(review_item, "retry_now", "ann"))
    second_review, _ = await _next_item(handle, seen)
    await handle.execute_update(
        PortalEobIntakeWorkflow.resolve,
        ResolveRequest(second_review, "write_off", "ann", fields={"reason_code": "administrative"}),
    )
    result = await handle.result()
    assert result.downloaded == ("eob/SBXCC/good.pdf", "eob/SBXCC/smudged.pdf")
    assert result.posted == ("eob-SBXCC-T1",) and result.reviewed == ("eob/SBXCC/smudged.pdf",)
    assert portal.codes == [None, None, "123456"]  # the person's code went into the retried download
    assert portal.reads["eob/SBXCC/smudged.pdf"] == 2
    posting = time_skipping_env.client.get_workflow_handle(posting_workflow_id("eob-SBXCC-T1"))
    assert await posting.result() == "eob-SBXCC-T1"  # PaymentPosting was started for the good EOB


async def test_a_person_can_give_up_on_a_failing_portal(
    time_skipping_env: WorkflowEnvironment, queues: tuple[str, FakePortal]
) -> None:
    queue, _ = queues
    handle = await time_skipping_env.client.start_workflow(
        PortalEobIntakeWorkflow.run,
        contract.PortalEobIntakeInput("SBXCC", portal_task_queue=queue, documents_task_queue=queue),
        id=f"portal-eobs-test-{uuid.uuid4().hex[:6]}",
        task_queue=queue,
    )
    item, _ = await _next_item(handle, set())
    await handle.execute_update(PortalEobIntakeWorkflow.resolve, ResolveRequest(item, "cancel", "ann", note="closed"))
    result = await handle.result()
    assert result.gave_up and result.downloaded == ()
