"""The one way a remittance file enters from outside the workflows: `remit post`, `remit extract --post` and the
drop-folder sweep all come through here.

A delivery is parsed (an unreadable file is refused before anything is kept), stored under its business key
(``activities.revenue.remittances``) and handed to PaymentPosting as ``posting-<key>``, the same workflow the
clearinghouse mailbox's RemittanceIntake starts: it posts once, signals each waiting Claim workflow with its
outcome, reopens ended claims and tells collections. The same payments delivered again start nothing new: the
caller is shown what the first posting did.

Without the workflow engine nothing is posted or kept (``TemporalUnavailable``): posting beside the workflows
would leave every waiting Claim workflow unaware of its payment.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import Any

from sqlalchemy.exc import IntegrityError
from temporalio.client import Client, WorkflowExecutionStatus, WorkflowHandle
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from activities.contracts import revenue as c
from activities.revenue.remittances import keep_delivery, read_report
from domain.errors import ValidationError
from domain.posting.retry import is_concurrent_write
from domain.remittance import Remittance, remittance_key
from domain.store.uow import retry_when_busy
from domain.x12.remit835 import parse_835
from flows.revenue.posting import POSTING_STARTS_AT, posting_workflow_id
from workers.composition import Container
from workers.settings import Settings

DEFAULT_WAIT_SECONDS = 300.0


class PostingNotFinished(Exception):
    """The posting was handed in but has not finished posting (a person must look, or the workers are down).

    The message names the workflow id and what to do; it holds no PHI."""


@dataclass(frozen=True)
class Delivery:
    key: str
    workflow_id: str
    started: bool  # False: the same payments were handed in before; that posting is the one shown


def read_835(text: str) -> list[Remittance]:
    """The remittances of an 835 file; a file that is not one raises a DomainError with a one-line reason."""
    remittances = parse_835(text)
    if not remittances:
        raise ValidationError("the file holds no 835 remittance")
    return remittances


async def start_remittance_intake(client: Client, settings: Settings) -> str | None:
    """RemittanceIntake, polling the clearinghouse mailbox every ``remittance_poll_minutes`` (0: not started).

    Returns its run id; a running intake is kept as it is (its own poll interval included)."""

    if settings.remittance_poll_minutes <= 0:
        return None
    from workers.clock import revenue_policy

    policy = replace(revenue_policy(settings), remittance_poll_days=settings.remittance_poll_minutes / (24 * 60))
    return await start_intake(client, policy)


async def start_intake(client: Client, policy: c.RevenuePolicy) -> str | None:
    """The one start of RemittanceIntake (``up`` and the demo): a running intake is kept as it is."""
    from flows.revenue.remittance_intake import INTAKE_WORKFLOW_ID

    handle = await client.start_workflow(
        "RemittanceIntake",
        c.IntakeInput(policy),
        id=INTAKE_WORKFLOW_ID,
        task_queue=c.REVENUE_TASK_QUEUE,
        id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
    )
    return handle.result_run_id


async def hand_in(
    client: Client,
    container: Container,
    x12: str,
    remittances: Sequence[Remittance],
    *,
    key_prefix: str = "era",
    policy: c.RevenuePolicy | None = None,
) -> Delivery:
    """Keep the 835 under its business key and start its PaymentPosting (or find the one already started)."""
    key = remittance_key(remittances, key_prefix)
    workflow_id = posting_workflow_id(key)
    if await _exists(client, workflow_id):
        return Delivery(key, workflow_id, started=False)
    await asyncio.to_thread(_keep, container, key, x12)
    try:
        await client.start_workflow(
            "PaymentPosting",
            c.PostingInput(key, policy or _policy_of(container)),
            id=workflow_id,
            task_queue=c.REVENUE_TASK_QUEUE,
            search_attributes=POSTING_STARTS_AT,
            id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
            id_conflict_policy=WorkflowIDConflictPolicy.FAIL,
        )
    except WorkflowAlreadyStartedError:  # handed in by someone else just now
        return Delivery(key, workflow_id, started=False)
    return Delivery(key, workflow_id, started=True)


def _policy_of(container: Container) -> c.RevenuePolicy:
    return business_policy(container.settings)


def business_policy(settings: Settings | None = None) -> c.RevenuePolicy:
    """The revenue policy of a process started from outside a workflow: the home's business day (workers.clock;
    real length unless `up --time-scale` compressed the home), or a real day without settings."""
    from workers.clock import revenue_policy

    return revenue_policy(settings) if settings is not None else c.RevenuePolicy()


async def _exists(client: Client, workflow_id: str) -> bool:
    try:
        await client.get_workflow_handle(workflow_id).describe()
    except RPCError as exc:
        if exc.status == RPCStatusCode.NOT_FOUND:
            return False
        raise
    return True


def _keep(container: Container, key: str, x12: str) -> None:
    """Keep the delivery once, also when another hand-in of the same payments keeps it at the same moment (the
    document row is unique by key: the other one's copy is the same payments', and its posting is the one)."""

    def keep() -> None:
        with container.uow() as uow:
            keep_delivery(container.documents, uow, key, x12)
            uow.commit()

    try:
        retry_when_busy(keep)
    except IntegrityError as exc:
        if not is_concurrent_write(exc):
            raise


async def posting_report(
    client: Client, container: Container, delivery: Delivery, *, wait_seconds: float = DEFAULT_WAIT_SECONDS
) -> list[dict[str, Any]]:
    """Wait until the delivery's PaymentPosting has posted; what it did, one dict per remittance.

    A handed-in delivery that was posted before is shown as the first posting saw it, marked ``already_posted``.
    """
    handle: WorkflowHandle[Any, Any] = client.get_workflow_handle(delivery.workflow_id)
    deadline = time.monotonic() + wait_seconds
    while True:
        if await _posted(handle, delivery):
            report = await asyncio.to_thread(read_report, container.documents, delivery.key)
            if report is None:
                raise PostingNotFinished(
                    f"{delivery.workflow_id} posted without a report (an older version posted it): "
                    "see `carecycle ledger check` and the claims"
                )
            if not delivery.started:
                report = [r | {"already_posted": True} for r in report]
            return report
        if time.monotonic() >= deadline:
            raise PostingNotFinished(
                f"{delivery.workflow_id} has not posted after {wait_seconds:g} s (are the workers running?); "
                "it goes on by itself"
            )
        await asyncio.sleep(0.25)


async def _posted(handle: WorkflowHandle[Any, Any], delivery: Delivery) -> bool:
    """True once the posting activity has run; raises when the posting cannot go on without a person."""
    description = await handle.describe()
    status = description.status
    if status == WorkflowExecutionStatus.COMPLETED:
        return True
    if status != WorkflowExecutionStatus.RUNNING:
        name = status.name.lower() if status is not None else "unknown"
        raise PostingNotFinished(f"{delivery.workflow_id} ended {name} before posting: see the Temporal Web UI")
    try:
        state: dict[str, Any] = await handle.query("state", result_type=dict, rpc_timeout=timedelta(seconds=10))
    except RPCError:
        return False  # no worker has picked it up yet
    if state.get("posted_cents") is not None:
        return True
    stage = str(state.get("stage", ""))
    if stage.startswith("waiting:"):
        raise PostingNotFinished(
            f"{delivery.workflow_id} waits for a person ({stage.removeprefix('waiting:')}): "
            "see `carecycle tasks list`; it posts once the work item is resolved"
        )
    return False


def deliver(
    x12: str,
    remittances: Sequence[Remittance],
    *,
    key_prefix: str = "era",
    wait_seconds: float = DEFAULT_WAIT_SECONDS,
    container: Container | None = None,
) -> list[dict[str, Any]]:
    """Hand one delivery in and wait for its posting (the blocking form, for the CLI and the batch sweep).

    Raises ``TemporalUnavailable`` (nothing kept, nothing posted) or ``PostingNotFinished``."""
    from workers.temporal.client import connect

    owned = container is None
    box = container or Container()
    try:
        box.require_schema()

        async def run() -> list[dict[str, Any]]:
            client = await connect(box.settings)
            delivery = await hand_in(client, box, x12, remittances, key_prefix=key_prefix)
            return await posting_report(client, box, delivery, wait_seconds=wait_seconds)

        return asyncio.run(run())
    finally:
        if owned:
            box.close()
