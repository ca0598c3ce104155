"""Adopting posting's work items: each open item gets its PostingException workflow.

PaymentPosting starts one per item it opens. Items opened before that workflow existed (a store from an older
version), or whose workflow failed or was terminated, wait on nothing; ``carecycle tasks resolve`` adopts such an
item on the spot, ``carecycle tasks adopt`` (and every start of ``carecycle up``) adopts them all. Adopting is
starting the item's workflow under its business id (``posting-exception-<work item id>``): a running one is left
alone, one that completed is never started again.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from sqlalchemy import select
from temporalio.client import Client
from temporalio.service import RPCError

from activities.contracts import posting_exceptions as xc
from activities.contracts import revenue as c
from activities.revenue.posting_exceptions import start_exception_workflows
from domain import models as m
from domain.posting.parked import POSTING_KEY_PREFIX, POSTING_REASONS, is_posting_item
from workers.composition import Container

OPEN_STATES = ("open", "claimed")


def adoptable(item: m.WorkItem) -> bool:
    """An open item posting opened that no other workflow owns (none, or its own PostingException)."""
    return (
        item.state in OPEN_STATES
        and is_posting_item(item.reason_code, item.dedupe_key)
        and item.workflow_id in (None, "", xc.posting_exception_workflow_id(item.id))
    )


def carried_out_by_workflow(item: m.WorkItem) -> bool:
    """Posting's item, or one its PostingException workflow asked again: a resolution of it is carried out after it
    is accepted (the outcome lands in ``resolution.applied``)."""
    owner = item.workflow_id or ""
    return is_posting_item(item.reason_code, item.dedupe_key) or owner.startswith(WORKFLOW_ID_PREFIX)


WORKFLOW_ID_PREFIX = xc.posting_exception_workflow_id("")


def open_posting_items(container: Container) -> list[str]:
    """The ids of every open item posting opened (and no other workflow owns)."""
    query = select(m.WorkItem).where(
        m.WorkItem.state.in_(OPEN_STATES),
        m.WorkItem.reason_code.in_(sorted(POSTING_REASONS)),
        m.WorkItem.dedupe_key.startswith(POSTING_KEY_PREFIX),
    )
    with container.uow() as uow:
        return [item.id for item in uow.session.execute(query).scalars() if adoptable(item)]


async def adopt(
    client: Client, work_item_ids: Sequence[str], policy: c.RevenuePolicy | None = None
) -> xc.StartedExceptions:
    """Start the PostingException workflow of each item (business ids: idempotent)."""
    return await start_exception_workflows(
        client, work_item_ids, task_queue=c.REVENUE_TASK_QUEUE, policy=policy or c.RevenuePolicy()
    )


async def wait_until_waiting(client: Client, work_item_id: str, seconds: float = 30.0) -> bool:
    """Whether the item's workflow waits on it within ``seconds`` (it reads the item, then opens it)."""
    handle = client.get_workflow_handle(xc.posting_exception_workflow_id(work_item_id))
    for _ in range(int(seconds / 0.2)):
        try:
            views = await handle.query("work_items")
        except RPCError:  # not started, or its first task not run yet
            views = []
        if any(view.get("work_item_id") == work_item_id for view in views):
            return True
        await asyncio.sleep(0.2)
    return False
