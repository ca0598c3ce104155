"""The demo's payer portal: the sandbox portal's biller accounts, and the cycle that pushes accepted claims to
their portal payer, issues the EOBs that are due and triggers the payers' EOB schedules."""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import OperationalError
from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.service import RPCError

from domain import models as m
from domain.claim_status import ClaimStatus
from domain.enums import PayerRouting
from workers.composition import Container
from workers.demo_fhir import DemoPractice

log = logging.getLogger("carecycle.demo")

RUNNING = WorkflowExecutionStatus.RUNNING


class SandboxPortal:
    """The sandbox payer portal (Cascade and Harbor) for the demo: one biller account per payer, TOTP codes."""

    PAYERS = ("SBXCC", "SBXHH")

    def __init__(self, server: Any, token: str, accounts: dict[str, dict[str, str]]) -> None:
        self.server = server
        self.token = token
        self.accounts = accounts

    @classmethod
    def start(cls, host: str, seed: int) -> SandboxPortal:
        import base64
        import secrets

        from sandbox.portal.app import create_app as create_portal_app
        from sandbox.portal.serve import PortalServer

        token = secrets.token_hex(12)
        accounts = {
            payer: {
                "username": f"demo-biller-{payer.lower()}",
                "password": secrets.token_urlsafe(12),
                "otp": "totp",
                "totp_secret": base64.b32encode(secrets.token_bytes(10)).decode("ascii"),
            }
            for payer in cls.PAYERS
        }
        server = PortalServer(create_portal_app(seed=seed, admin_token=token), host=host).start()
        return cls(server, token, accounts)

    @property
    def base_url(self) -> str:
        return str(self.server.base_url)

    def credentials_env(self) -> dict[str, str]:
        env: dict[str, str] = {}
        for payer, account in self.accounts.items():
            env[f"CARECYCLE_PORTAL_{payer}_USERNAME"] = account["username"]
            env[f"CARECYCLE_PORTAL_{payer}_PASSWORD"] = account["password"]
            env[f"CARECYCLE_PORTAL_{payer}_TOTP_SECRET"] = account["totp_secret"]
        return env

    def load(self, practice: DemoPractice) -> None:
        """The portal payers' members (what each payer knows of its own members) and our biller accounts."""
        from activities.portals.sandbox_loader import load_portal_members
        from workers.demo_fhir import portal_members

        load_portal_members(
            self.base_url, portal_members(practice, set(self.PAYERS)), admin_token=self.token, accounts=self.accounts
        )

    def stop(self) -> None:
        self.server.stop()


@dataclass
class PortalCycle:
    """The portal payers' side of the demo, run once a second while the journeys go on.

    The payers receive the claims the clearinghouse accepted for them (pushed to the sandbox portal with our
    Claim.id as the claim number, so posting matches them by patient control number), answer each with an EOB
    once it has waited the payer's adjudication delay in business time, and the payer's EOB schedule (applied as
    `carecycle up` applies it) is triggered: its ``PortalEobIntake`` run fetches the new EOBs through Chromium,
    reads them and posts them like 835s. A secondary claim (one a crossover from the primary's remittance started)
    goes with the primary's adjudication from the store, and the payer answers it as the secondary payer
    (coordination of benefits: CARC 23, the rest to the patient).
    """

    portal: SandboxPortal
    day_seconds: float
    # (claim id, submission time) -> (payer, when the payer received it, monotonic): a resubmission is a new claim.
    received: dict[tuple[str, str], tuple[str, float]] = field(default_factory=dict)
    answered: set[tuple[str, str]] = field(default_factory=set)
    eobs_to_fetch: set[str] = field(default_factory=set)  # payers with an EOB no intake run has looked for yet
    eobs_issued: int = 0
    intakes_started: int = 0

    def exchange(self, container: Container) -> None:
        """Push newly accepted claims to their portal payer; issue the EOBs that are due (runs in a thread)."""
        from activities.portals.sandbox_loader import issue_eob, portal_rosters, push_claims
        from sandbox.portal.state import DEFAULT_PAYERS

        with container.uow() as uow:
            accepted = {
                claim_id: submitted_at.isoformat() if submitted_at else ""
                for claim_id, submitted_at in uow.session.execute(
                    select(m.Claim.id, m.Claim.submitted_at)
                    .join(m.Payer, m.Payer.id == m.Claim.payer_id)
                    .where(
                        m.Payer.routing == PayerRouting.PORTAL,
                        m.Claim.status == ClaimStatus.ACCEPTED,
                    )
                ).all()
            }
            fresh = {(claim_id, at) for claim_id, at in accepted.items()} - set(self.received)
            rosters = portal_rosters(uow.session) if fresh else {}
        now = time.monotonic()
        fresh_ids = {claim_id for claim_id, _ in fresh}
        for payer_id, (_, claims) in sorted(rosters.items()):
            new = [claim for claim in claims if claim["claim_number"] in fresh_ids]
            push_claims(self.portal.base_url, payer_id, new, admin_token=self.portal.token)
            for claim in new:
                self.received[(claim["claim_number"], accepted[claim["claim_number"]])] = (payer_id, now)
        for payer in DEFAULT_PAYERS:
            delay = payer.adjudication_days * self.day_seconds
            due = [
                key
                for key, (payer_id, at) in self.received.items()
                if payer_id == payer.payer_id and key not in self.answered and now - at >= delay
            ]
            if not due:
                continue
            eob = issue_eob(
                self.portal.base_url, payer.payer_id, [claim_id for claim_id, _ in due], admin_token=self.portal.token
            )
            self.answered.update(due)
            if eob is not None:
                self.eobs_issued += 1
                self.eobs_to_fetch.add(payer.payer_id)

    async def start_intakes(self, client: Client) -> None:
        """Trigger the payer's EOB schedule (the one `carecycle up` applies, as `carecycle schedules trigger`
        does) for each payer with new EOBs, unless its run is going (it is then triggered once that run closed)."""
        from workers.temporal.schedules import ScheduleBusy, trigger_schedule

        for payer_id in sorted(self.eobs_to_fetch):
            try:
                await trigger_schedule(client, payer_id)
            except ScheduleBusy:
                continue  # it may have listed the EOBs before the new one: look again once it closed
            self.intakes_started += 1
            self.eobs_to_fetch.discard(payer_id)

    async def step(self, client: Client, container: Container) -> None:
        try:
            await asyncio.to_thread(self.exchange, container)
        except OperationalError:  # a busy SQLite store: the payers look again next second
            log.info("portal claims not read: the store was busy")
        await self.start_intakes(client)


async def workflow_status(client: Client, workflow_id: str) -> WorkflowExecutionStatus | None:
    try:
        return (await client.get_workflow_handle(workflow_id).describe()).status
    except RPCError:
        return None
