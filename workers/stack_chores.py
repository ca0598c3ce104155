"""What the stack starts once its workers serve: the portal payers' EOB schedules, the staff workflows, the
remittance intake and the workflows of posting's orphaned work items. Temporal refusing any of them is logged,
not fatal: the workers still serve, and each has a command that retries it."""

from __future__ import annotations

import asyncio
import logging

from temporalio.client import Client

from workers.composition import Container
from workers.settings import Settings

log = logging.getLogger("carecycle.stack")


async def start_after_workers(client: Client, container: Container, settings: Settings) -> None:
    """Each in turn, in the order the stack always used."""
    await apply_schedules(client, container, settings)
    await start_staff_tracking(client, container, settings)
    await start_remittance_intake(client, settings)
    await adopt_posting_items(client, container, settings)


async def start_staff_tracking(client: Client, container: Container, settings: Settings) -> None:
    """Each active staff member's StaffCredentialing and TrainingRenewal workflows (workers.staff): running ones
    are left alone, so every start of the stack picks up staff hired since. A refusal is logged, not fatal."""
    from temporalio.service import RPCError

    from activities.contracts.staff import StaffPolicy
    from workers.staff import start_tracking

    try:
        policy = StaffPolicy(day_seconds=settings.business_day_seconds)
        outcome = await start_tracking(client, container.session_factory, policy=policy)
    except RPCError as exc:
        log.warning("staff credentialing and training workflows not started: %s", exc.message)
        return
    log.info(
        "staff credentialing and training workflows: %d started, %d already running",
        len(outcome.started),
        len(outcome.already_running),
    )


async def apply_schedules(client: Client, container: Container, settings: Settings) -> None:
    """The portal payers' EOB schedules (workers.temporal.schedules), once the store and the workers are up.

    Temporal refusing them is logged, not fatal: the workers still serve, and `carecycle schedules apply` retries."""
    from temporalio.service import RPCError

    from workers.temporal import schedules

    try:
        changes = await schedules.apply_schedules(client, container.session_factory, settings)
    except RPCError as exc:
        log.warning("portal EOB schedules not applied: %s", exc.message)
        return
    log.info(
        "portal EOB schedules applied: %d created, %d updated, %d deleted, %d unchanged",
        len(changes.created),
        len(changes.updated),
        len(changes.deleted),
        len(changes.unchanged),
    )


async def adopt_posting_items(client: Client, container: Container, settings: Settings) -> None:
    """Posting's open work items that wait on no workflow (a store from before PostingException) get theirs, so
    `carecycle tasks resolve` works them. A refusal is logged, not fatal: `carecycle tasks adopt` retries."""
    from temporalio.service import RPCError

    from workers.remittances import business_policy
    from workers.temporal.posting_exceptions import adopt, open_posting_items

    item_ids = await asyncio.to_thread(open_posting_items, container)
    if not item_ids:
        return
    try:
        started = await adopt(client, item_ids, business_policy(settings))
    except RPCError as exc:
        log.warning("posting work items not adopted: %s", exc.message)
        return
    log.info("posting work items: %d workflows started, %d already running", started.started, started.already_started)


async def start_remittance_intake(client: Client, settings: Settings) -> None:
    """RemittanceIntake (one per namespace; a running one is left alone). A refusal is logged, not fatal."""
    from temporalio.service import RPCError

    from workers import remittances

    try:
        started = await remittances.start_remittance_intake(client, settings)
    except RPCError as exc:
        log.warning("remittance intake not started: %s", exc.message)
        return
    if started is not None:
        log.info("remittance intake: polling the clearinghouse every %d minutes", settings.remittance_poll_minutes)
