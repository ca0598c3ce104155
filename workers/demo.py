"""The main job: a synthetic practice through the whole revenue cycle on the embedded stack, through its doors.

``run_demo`` brings up Temporal (dev server from the wheel), the sandbox clearinghouse and payers, the workers
and the integration API; migrates the store and seeds the practice's set-up (practice, locations, providers,
payers, staff) if it is empty; loads the payers' rosters of their own members; sends every patient, coverage,
appointment and finished encounter as FHIR transaction Bundles to the API over HTTP with an API client of its
own (``workers.demo_fhir``), and some visits and their charges as HL7 SIU^S12 and DFT^P03 over MLLP to the HL7
listener (``workers.demo_hl7``), so intake starts each journey (PatientRegistration, the visit's Encounter ->
Claim); starts remittance intake; optionally lets a scripted biller resolve work items through the same ``resolve``
Update a person uses; and returns the summary. Nothing here writes a patient or a visit, or starts a patient's
workflow.

Business time is compressed through the workflows' ``RevenuePolicy.day_seconds`` and the sandbox's
``time_scale`` (both SECONDS_PER_DAY): no clock is touched. Because a workflow keeps its speed for life, the demo
runs in a home of its own (``demo_settings``: ``$CARECYCLE_HOME/demo``, its own SQLite store, dev server,
sandbox and local documents), marked compressed (workers.clock): a practice's home never runs at demo speed.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
import urllib.request
from collections import Counter
from collections.abc import Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import OperationalError
from temporalio.client import Client, WorkflowExecutionStatus, WorkflowUpdateFailedError
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.service import RPCError

from activities.contracts import revenue as c
from activities.contracts.queues import TaskQueue
from domain import models as m
from domain.audit import STATUS_INQUIRY_ACTION
from domain.claim_status import ClaimStatus
from domain.enums import PayerRouting, WorkItemState
from workers.composition import Container
from workers.demo_fhir import DemoPractice, Sent
from workers.demo_hl7 import Hl7Sent
from workers.settings import Settings

log = logging.getLogger("carecycle.demo")

DEFAULT_PATIENTS = 24
DEFAULT_SEED = 7
DEFAULT_TIME_SCALE = 0.3  # real seconds per business day: a 30-day follow-up window takes 9 s
BILLER = "biller.auto"

RUNNING = WorkflowExecutionStatus.RUNNING
FAILED_STATES = (
    WorkflowExecutionStatus.FAILED,
    WorkflowExecutionStatus.TERMINATED,
    WorkflowExecutionStatus.TIMED_OUT,
    WorkflowExecutionStatus.CANCELED,
)


@dataclass(frozen=True)
class DemoOptions:
    patients: int = DEFAULT_PATIENTS
    seed: int = DEFAULT_SEED
    time_scale: float = DEFAULT_TIME_SCALE
    auto_resolve: bool = False
    run_workers: bool = True  # False: workers run elsewhere (`carecycle worker`), e.g. the fault test
    max_seconds: float | None = None  # stop waiting after this long and report what still waits (None: wait_for)
    stall_seconds: float = 20.0  # without auto-resolve: nothing moved this long and work items wait: done


def wait_for(patients: int) -> float:
    """The default wait for a practice of ``patients``: the 24-patient demo's 170 s, growing with the practice,
    since one worker process and one dev server take the journeys through at a pace of their own."""
    return 110.0 + 2.5 * patients


@dataclass
class Progress:
    started: int = 0
    completed: int = 0
    waiting: int = 0
    failed: int = 0
    open_items: dict[str, int] = field(default_factory=dict)
    resolved: int = 0


def demo_settings(settings: Settings, home: Path, time_scale: float) -> Settings:
    """The demo's own world in ``home``: nothing of the practice's configuration is used (its store, cluster,
    clearinghouse, portal logins or S3 bucket), so a demo never writes synthetic claims into a practice's
    systems nor compressed timers into its workflows."""
    return replace(
        settings,
        home=home,
        database_url=f"sqlite:///{home / 'carecycle.db'}",
        temporal_address=None,
        temporal_namespace="default",
        temporal_api_key=None,
        temporal_tls_cert=None,
        temporal_tls_key=None,
        temporal_tls_ca=None,
        clearinghouse_url=None,
        clearinghouse_token=None,
        portal_url=None,
        portal_secrets_file=None,
        portal_credentials_env={},
        documents_backend="local",
        business_day_seconds=time_scale,
        sandbox_time_scale=time_scale,
    )


def demo_policy(time_scale: float) -> c.RevenuePolicy:
    return c.RevenuePolicy(day_seconds=time_scale)


# --- the store: seed, rosters, summary ----------------------------------------------------------------------


def prepare_store(container: Container, patients: int, seed: int) -> tuple[DemoPractice, bool]:
    """Migrate, and seed the practice's set-up (never a patient) if the store is empty; returns the synthetic
    practice's patients with yesterday's visits (to send through the API) and whether the set-up was seeded."""
    from domain.store.migrate import upgrade
    from workers.demo_fhir import demo_practice, seed_practice_setup
    from workers.synthetic import SyntheticPractice

    upgrade(container.engine)
    generated = SyntheticPractice(seed).generate(patients)
    with container.uow() as uow:
        session = uow.session
        seeded = False
        if session.execute(select(func.count()).select_from(m.Practice)).scalar_one() == 0:
            seed_practice_setup(session, generated)
            uow.commit()
            seeded = True
        practice = demo_practice(session, generated, seed)
    return practice, seeded


def payer_routings(container: Container) -> dict[str, PayerRouting]:
    with container.uow() as uow:
        rows = uow.session.execute(select(m.Payer.payer_id, m.Payer.routing)).all()
    return {code: PayerRouting(routing) for code, routing in rows}


def demo_api_token(container: Container) -> str:
    """An API client of the demo's own (a new one per run: a token is shown only when it is made)."""
    from api.clients import add_client

    with container.uow() as uow:
        token = add_client(
            uow.session, f"carecycle-demo-{datetime.now(UTC):%Y%m%d%H%M%S%f}", ("intake", "read"), actor="demo"
        )
        uow.commit()
    return token


def load_rosters(clearinghouse_url: str, entries: list[dict[str, Any]]) -> int:
    request = urllib.request.Request(  # noqa: S310 - our own sandbox URL
        f"{clearinghouse_url.rstrip('/')}/admin/roster",
        data=json.dumps({"members": entries}).encode("utf-8"),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 - our own sandbox URL
        body = json.loads(response.read() or b"{}")
    return int(body.get("loaded", len(entries)))


def store_summary(container: Container, since: datetime) -> dict[str, Any]:
    """Claims, money and work items as the store sees them (codes, counts and cents only)."""
    from domain.ledger.checks import run_ledger_checks

    with container.uow() as uow:
        session = uow.session
        touched = select(m.AuditEvent.entity_id).where(
            m.AuditEvent.entity_type == "claim", m.AuditEvent.occurred_at >= since
        )
        statuses = session.execute(select(m.Claim.status).where(m.Claim.id.in_(touched))).scalars()
        claims_by_status = dict(sorted(Counter(str(ClaimStatus(s)) for s in statuses).items()))
        paid = session.execute(
            select(func.coalesce(func.sum(m.RemittanceClaim.paid_cents), 0))
            .join(m.Remittance, m.Remittance.id == m.RemittanceClaim.remittance_id)
            .where(m.Remittance.received_at >= since)
        ).scalar_one()
        patient_ar = session.execute(
            select(func.coalesce(func.sum(m.JournalLine.debit_cents - m.JournalLine.credit_cents), 0))
            .join(m.Account, m.Account.id == m.JournalLine.account_id)
            .where(m.Account.code.like("patient_ar:%"))
        ).scalar_one()
        debits, credits = session.execute(
            select(
                func.coalesce(func.sum(m.JournalLine.debit_cents), 0),
                func.coalesce(func.sum(m.JournalLine.credit_cents), 0),
            )
        ).one()
        report = run_ledger_checks(session)
        open_items = session.execute(
            select(m.WorkItem.queue, func.count())
            .where(m.WorkItem.state.in_([WorkItemState.OPEN, WorkItemState.CLAIMED]))
            .group_by(m.WorkItem.queue)
        ).all()
        waiting_on = [
            {"work_item_id": item_id, "queue": queue, "reason": reason, "workflow_id": workflow_id}
            for item_id, queue, reason, workflow_id in session.execute(
                select(m.WorkItem.id, m.WorkItem.queue, m.WorkItem.reason_code, m.WorkItem.workflow_id)
                .where(m.WorkItem.state.in_([WorkItemState.OPEN, WorkItemState.CLAIMED]))
                .order_by(m.WorkItem.created_at)
                .limit(100)
            ).all()
        ]
        statements = session.execute(
            select(func.count()).select_from(m.Statement).where(m.Statement.sent_at >= since)
        ).scalar_one()
        remittances = session.execute(
            select(func.count()).select_from(m.Remittance).where(m.Remittance.received_at >= since)
        ).scalar_one()
        portal = portal_summary(session, since)
    return {
        "claims_by_status": claims_by_status,
        "payments_posted_cents": int(paid),
        "patient_balance_cents": int(patient_ar),
        "open_work_items": {queue: int(count) for queue, count in sorted(open_items)},
        "waiting_on": waiting_on,
        "ledger_balanced": int(debits) == int(credits) and report.ok,
        "ledger": {"debit_cents": int(debits), "credit_cents": int(credits), "checks_ok": report.ok},
        "statements_sent": int(statements),
        "remittances_posted": int(remittances),
        "portal": portal,
    }


def portal_summary(session: Any, since: datetime) -> dict[str, int]:
    """What went through the payer portals in this run, as the store recorded it."""
    portal_payers = select(m.Payer.id).where(m.Payer.routing == PayerRouting.PORTAL)
    # Eligibility answers recorded from a portal session (the audit names the route the payer was asked by).
    recorded = session.execute(
        select(m.AuditEvent.details)
        .join(m.Coverage, m.Coverage.id == m.AuditEvent.entity_id)
        .where(
            m.AuditEvent.action == "coverage.eligibility",
            m.AuditEvent.occurred_at >= since,
            m.Coverage.payer_id.in_(portal_payers),
        )
    ).scalars()
    eligibility = sum(1 for details in recorded if (details or {}).get("route") == "portal")
    eobs = session.execute(
        select(func.count()).select_from(m.Document).where(m.Document.kind == "eob_pdf", m.Document.created_at >= since)
    ).scalar_one()
    posted = session.execute(
        select(func.count())
        .select_from(m.Remittance)
        .where(m.Remittance.source == "eob_pdf", m.Remittance.received_at >= since)
    ).scalar_one()
    # Claim-status searches on a portal (the Claim workflow's follow-up for a payer without a 276/277 route).
    inquiries = session.execute(
        select(m.AuditEvent.details).where(
            m.AuditEvent.action == STATUS_INQUIRY_ACTION, m.AuditEvent.occurred_at >= since
        )
    ).scalars()
    status_checks = sum(1 for details in inquiries if (details or {}).get("route") == "portal")
    return {
        "eligibility_checks": int(eligibility),
        "claim_status_checks": status_checks,
        "eobs_read": int(eobs),
        "eob_remittances_posted": int(posted),
    }


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
    once it has waited the payer's adjudication delay in business time, and a ``PortalEobIntake`` run per payer
    fetches the new EOBs through Chromium, reads them and posts them like 835s. A secondary claim (one a
    crossover from the primary's remittance started) goes with the primary's adjudication from the store, and the
    payer answers it as the secondary payer (coordination of benefits: CARC 23, the rest to the patient).
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
        """A ``PortalEobIntake`` run for each payer with new EOBs, unless one is running (it is then started later)."""
        from activities.contracts.portal import PortalEobIntakeInput
        from flows.portal import portal_eob_intake_id

        for payer_id in sorted(self.eobs_to_fetch):
            workflow_id = portal_eob_intake_id(payer_id)
            if await _status(client, workflow_id) == RUNNING:
                continue  # it may have listed the EOBs before the new one: look again once it closed
            await client.start_workflow(
                "PortalEobIntake",
                PortalEobIntakeInput(payer_id, day_seconds=self.day_seconds),
                id=workflow_id,
                task_queue=TaskQueue.PORTAL.value,
                # One run at a time per payer; a new run once the previous one closed, however it closed.
                id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE,
                id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
            )
            self.intakes_started += 1
            self.eobs_to_fetch.discard(payer_id)

    async def step(self, client: Client, container: Container) -> None:
        try:
            await asyncio.to_thread(self.exchange, container)
        except OperationalError:  # a busy SQLite store: the payers look again next second
            log.info("portal claims not read: the store was busy")
        await self.start_intakes(client)


# --- the scripted biller ----------------------------------------------------------------------------------


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
    from workers.demo_posting import posting_choice

    reason = item.reason_code
    context = item.context or {}
    posting = posting_choice(item, session)  # posting's own items: worked like a person at the posting desk
    if posting is not None:
        action, fields, note = posting
        return Decision(action, fields, note=note)
    if reason == "claim_denied":
        codes = str(context.get("codes", ""))
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
    if reason in ("claim_rejected", "claim_edit_failed"):
        edits = str(context.get("edits", "")) + str(context.get("codes", "")) + item.summary
        if "TELEHEALTH_MODIFIER" in edits:
            return Decision("correct_and_resubmit", {"modifiers": "95"}, note="added the telehealth modifier")
        if "TIMELY" in edits.upper():
            return Decision("write_off", {"reason_code": "timely_filing"})
        if "PRIOR_AUTH" in edits and (number := _authorization_on_file(session, item)):
            return Decision("correct_and_resubmit", {"prior_auth": number}, note="the payer extended the authorization")
        return Decision("write_off", {"reason_code": "administrative"})
    if reason == "no_payer_response":
        return _no_payer_response(item, session, portal_payers_answer)
    if reason == "timely_filing_risk":
        return Decision("write_off", {"reason_code": "timely_filing"})
    if reason == "missing_codes":
        encounter = session.get(m.Encounter, item.entity_id)
        telehealth = encounter is not None and encounter.place_of_service in ("02", "10")
        fields = {"procedure_code": "99213", "diagnosis_codes": "I10"}
        if telehealth:
            fields["modifiers"] = "95"
        return Decision("add_codes", fields)
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
    clearinghouse took the batch, so wait for it. A payer that has not got the claim any other way: write it off."""
    context = item.context or {}
    category = str(context.get("category", ""))
    if "batch" in context and not category:  # no 999/277CA yet: the clearinghouse has the batch, so poll on
        return Decision("retry_now", note="the clearinghouse took the batch: its acknowledgment will come")
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


# --- the run ------------------------------------------------------------------------------------------------


def patients_pay(container: Container, since: datetime) -> list[tuple[str, int]]:
    """The synthetic practice's patients: about two in three pay their balance in full after a statement.

    Deterministic (the guarantor id decides), idempotent (keyed by guarantor): returns (guarantor, cents) paid now.
    """
    from domain.ledger.service import record_patient_payment
    from domain.ledger.store import guarantor_balance

    paid: list[tuple[str, int]] = []
    with container.uow() as uow:
        session = uow.session
        statements = session.execute(
            select(m.Statement.guarantor_id, m.Statement.patient_id).where(m.Statement.sent_at >= since).distinct()
        ).all()
        for guarantor_id, patient_id in statements:
            if int(guarantor_id.replace("-", ""), 16) % 3 == 0:
                continue  # this one does not pay: reminders, final notice, agency
            key = f"demo:{guarantor_id}"  # each paying guarantor pays once, whatever comes later
            if session.execute(
                select(m.JournalEntry.id).where(m.JournalEntry.idempotency_key == f"patient_payment:{key}")
            ).first():
                continue
            balance = guarantor_balance(session, guarantor_id)
            if balance <= 0:
                continue
            record_patient_payment(session, patient_id, balance, "card", recorded_by="demo:patient", key=key)
            paid.append((guarantor_id, balance))
        uow.commit()
    return paid


def _store_progress(container: Container) -> tuple[dict[str, int], int]:
    with container.uow() as uow:
        open_items = {
            queue_name: int(count)
            for queue_name, count in uow.session.execute(
                select(m.WorkItem.queue, func.count())
                .where(m.WorkItem.state == WorkItemState.OPEN)
                .group_by(m.WorkItem.queue)
            ).all()
        }
        postings = int(uow.session.execute(select(func.count()).select_from(m.JournalEntry)).scalar_one())
    return open_items, postings


async def _with_retries(read: Callable[[], dict[str, Any]], attempts: int = 10) -> dict[str, Any]:
    """A read of the store, tried again while SQLite reports it busy (every transaction takes the write lock)."""
    for attempt in range(attempts):
        try:
            return await asyncio.to_thread(read)
        except OperationalError:
            if attempt == attempts - 1:
                raise
            await asyncio.sleep(1.0)
    raise AssertionError("unreachable")


async def _status(client: Client, workflow_id: str) -> WorkflowExecutionStatus | None:
    try:
        return (await client.get_workflow_handle(workflow_id).describe()).status
    except RPCError:
        return None


async def _statuses(client: Client, ids: list[str]) -> list[WorkflowExecutionStatus | None]:
    return list(await asyncio.gather(*(_status(client, wf_id) for wf_id in ids)))


async def _running(client: Client, workflow_type: str) -> int:
    count = 0
    async for _ in client.list_workflows(f"WorkflowType = '{workflow_type}' AND ExecutionStatus = 'Running'"):
        count += 1
    return count


async def _settling_outside_journeys(client: Client) -> int:
    """Collections, and claims outside the journeys (secondary claims a crossover started): the run waits for them."""
    return await _running(client, "PatientCollections") + await _running(client, "Claim")


async def start_remittance_intake(client: Client, options: DemoOptions) -> None:
    """The clearinghouse's 835s polled by RemittanceIntake (not a patient's process: the demo starts it)."""
    from flows.revenue import INTAKE_WORKFLOW_ID

    await client.start_workflow(
        "RemittanceIntake",
        c.IntakeInput(demo_policy(options.time_scale)),
        id=INTAKE_WORKFLOW_ID,
        task_queue=TaskQueue.REVENUE.value,
        id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
    )


def _journey_counts(
    journeys: list[tuple[str, ...]], statuses: dict[str, WorkflowExecutionStatus | None]
) -> tuple[int, int]:
    """(completed, failed) journeys: completed when every workflow of it completed, failed when one failed."""
    completed = failed = 0
    for journey in journeys:
        states = [statuses.get(workflow_id) for workflow_id in journey]
        if any(state in FAILED_STATES for state in states):
            failed += 1
        elif all(state == WorkflowExecutionStatus.COMPLETED for state in states):
            completed += 1
    return completed, failed


async def drive(
    client: Client,
    container: Container,
    journeys: list[tuple[str, ...]],
    options: DemoOptions,
    on_progress: Callable[[Progress], None] | None = None,
    portal_cycle: PortalCycle | None = None,
) -> Progress:
    """Follow the journeys the front door started (each patient's registration and visit), resolve items if asked,
    and wait until all settle. The demo starts no patient's workflow: intake did, behind the API."""
    from flows.revenue import INTAKE_WORKFLOW_ID

    ids = [workflow_id for journey in journeys for workflow_id in journey]
    closed: dict[str, WorkflowExecutionStatus | None] = {}  # a closed workflow is never asked about again
    max_seconds = options.max_seconds if options.max_seconds is not None else wait_for(len(journeys))
    progress = Progress(started=len(journeys))
    since = datetime.now(UTC)
    began = time.monotonic()
    last_change = began
    previous: tuple[int, int, int, int] = (-1, -1, -1, -1)
    while True:
        await asyncio.sleep(1.0)
        if portal_cycle is not None:
            await portal_cycle.step(client, container)
        if options.auto_resolve:
            try:
                progress.resolved += await resolve_open_items(client, container, portal_cycle is not None)
            except OperationalError:  # a busy SQLite store: the biller looks again next second
                log.info("work items not read: the store was busy")
        try:
            payments = await asyncio.to_thread(patients_pay, container, since)
        except OperationalError:  # SQLite said busy (a writer got there first): the patients pay next round
            log.info("patients' payments postponed: the store was busy")
            payments = []
        for guarantor_id, cents in payments:
            try:
                await client.get_workflow_handle(f"collections-{guarantor_id}").signal(
                    "payment_received", c.PaymentNotice(cents, "card")
                )
            except RPCError:  # collections already ended for this guarantor: the payment is on the ledger
                log.info("payment for a guarantor whose collections ended")
        asking = [workflow_id for workflow_id in ids if workflow_id not in closed]
        for workflow_id, status in zip(asking, await _statuses(client, asking), strict=True):
            if status is not None and status != RUNNING:
                closed[workflow_id] = status
        statuses = {workflow_id: closed.get(workflow_id, RUNNING) for workflow_id in ids}
        progress.completed, progress.failed = _journey_counts(journeys, statuses)
        progress.waiting = len(journeys) - progress.completed - progress.failed
        try:
            progress.open_items, postings = await asyncio.to_thread(_store_progress, container)
        except OperationalError:  # a busy SQLite store: look again next second
            continue
        collections = await _settling_outside_journeys(client)
        if on_progress is not None:
            on_progress(progress)
        now = time.monotonic()
        state = (progress.completed, sum(progress.open_items.values()), int(postings), collections)
        if state != previous:
            previous, last_change = state, now
        journeys_done = progress.waiting == 0
        if journeys_done and collections == 0:
            break
        if not options.auto_resolve and progress.open_items and now - last_change > options.stall_seconds:
            break  # everything left waits on a person
        if journeys_done and options.auto_resolve and now - last_change > options.stall_seconds:
            break  # collections wait on people too
        if now - began > max_seconds:
            break
    await client.get_workflow_handle(INTAKE_WORKFLOW_ID).signal("stop")
    return progress


async def run_demo(
    settings: Settings, options: DemoOptions, on_progress: Callable[[Progress], None] | None = None
) -> dict[str, Any]:
    """Bring the stack up in ``settings.home``, send the practice through the front door, follow it through the
    cycle and return the summary."""
    began = time.monotonic()
    since = datetime.now(UTC)
    settings.home.mkdir(parents=True, exist_ok=True)
    settings.logs_dir.mkdir(parents=True, exist_ok=True)
    if settings.clearinghouse_url is None:
        settings = replace(
            settings, clearinghouse_url=f"http://{settings.bind_host}:{settings.sandbox_port}/clearinghouse"
        )
    portal = None
    if options.run_workers and settings.portal_url is None:
        portal = SandboxPortal.start(settings.bind_host, options.seed)
        settings = replace(settings, portal_url=portal.base_url, portal_credentials_env=portal.credentials_env())
    container = Container(settings)
    try:
        practice, seeded = await asyncio.to_thread(prepare_store, container, options.patients, options.seed)
        result = await _run_stack(settings, container, practice, portal, options, on_progress)
        summary = await _with_retries(lambda: store_summary(container, since))
    finally:
        container.close()
        if portal is not None:
            portal.stop()
    progress, sent, loaded, urls, hl7_sent, visits = result
    return {
        "journeys": {
            "started": progress.started,
            "completed": progress.completed,
            "waiting": progress.waiting,
            "failed": progress.failed,
        },
        **summary,
        "work_items_resolved_by_biller": progress.resolved,
        "patients": len(sent.patient_ids),
        "front_door": {
            "fhir_bundles_accepted": len(sent.journeys),
            "fhir_bundles_refused": len(sent.refused),
            "entries": sent.entries,
            "created": sent.created,
            "hl7_visits_sent": len(hl7_sent.visits),
            "hl7_messages_accepted": hl7_sent.accepted,
            "hl7_messages_refused": hl7_sent.refused,
        },
        "visits": visits,
        "seeded": seeded,
        "roster_members_loaded": loaded,
        "seed": options.seed,
        "time_scale_seconds_per_day": options.time_scale,
        "as_of": date.today().isoformat(),
        "elapsed_seconds": round(time.monotonic() - began, 1),
        "ui": urls,
    }


async def _run_stack(
    settings: Settings,
    container: Container,
    practice: DemoPractice,
    portal: SandboxPortal | None,
    options: DemoOptions,
    on_progress: Callable[[Progress], None] | None,
) -> tuple[Progress, Sent, int, dict[str, str], Hl7Sent, dict[str, Any]]:
    """The sandbox payers (with their members), Temporal, the workers, the FHIR API and the HL7 listener; then the
    practice is sent through the API (some visits as HL7 SIU/DFT over MLLP) and followed until it settles."""
    from sandbox.server import create_app
    from workers import demo_visits
    from workers.api import serve_api
    from workers.demo_fhir import roster_entries, send_practice
    from workers.demo_hl7 import encounter_workflows, hl7_share, send_visits
    from workers.hl7 import serve_hl7
    from workers.stack import serve_asgi, serve_codec_server
    from workers.temporal import embedded_stack

    urls: dict[str, str] = {}
    async with AsyncExitStack() as stack:
        sandbox_dir = settings.home / "sandbox"
        sandbox_dir.mkdir(parents=True, exist_ok=True)
        app = create_app(sandbox_dir, seed=options.seed, time_scale=options.time_scale, poll_seconds=0.5)
        await stack.enter_async_context(serve_asgi(app, settings.bind_host, settings.sandbox_port))
        urls["sandbox"] = f"http://{settings.bind_host}:{settings.sandbox_port}"
        assert settings.clearinghouse_url is not None
        entries = roster_entries(practice, payer_routings(container))
        loaded = await asyncio.to_thread(load_rosters, settings.clearinghouse_url, entries)
        if portal is not None:
            urls["payer_portal"] = portal.base_url
            await asyncio.to_thread(portal.load, practice)
        codec_url = None
        if settings.embedded_temporal:  # the Web UI decodes through it, for holders of its token only
            codec_url = await stack.enter_async_context(serve_codec_server(settings))
            urls["codec_server"] = codec_url
        temporal = await stack.enter_async_context(embedded_stack(settings, codec_endpoint=codec_url))
        if temporal.ui_url:
            urls["temporal_ui"] = temporal.ui_url
        if options.run_workers:
            await _run_workers(stack, temporal.client, container)
        api_url = await stack.enter_async_context(
            serve_api(settings, container, temporal.client, demo_policy(options.time_scale))
        )
        urls["fhir_api"] = api_url
        await start_remittance_intake(temporal.client, options)
        token = await asyncio.to_thread(demo_api_token, container)
        listener = await stack.enter_async_context(
            serve_hl7(container, temporal.client, port=0, policy=demo_policy(options.time_scale))
        )
        urls["hl7"] = listener.address
        share = hl7_share(practice)
        sent = await send_practice(api_url, token, practice, visits_elsewhere=share)
        if sent.refused:
            log.warning("the API refused some of the practice's bundles", extra={"count": len(sent.refused)})
        hl7_sent = await send_visits(listener.server.host, listener.server.port, practice, share)
        encounters = await asyncio.to_thread(encounter_workflows, container, practice, hl7_sent.visits)
        for mrn, workflow_id in encounters.items():  # the HL7 visit's Encounter joins its patient's journey
            if mrn in sent.journey_of_mrn:
                place = sent.journey_of_mrn[mrn]
                sent.journeys[place] = (*sent.journeys[place], workflow_id)
        cycle = PortalCycle(portal, options.time_scale) if portal is not None else None
        # Visits booked through the API, the virtual ones' steps through the CLI's services (workers.demo_visits).
        day = demo_visits.visit_day(options.time_scale)
        casting = await asyncio.to_thread(demo_visits.cast, container, sent.patient_ids, day)
        shown = await demo_visits.book(api_url, token, casting, options.time_scale)
        steps = asyncio.create_task(demo_visits.play(container, temporal.client, casting, shown))
        progress = await drive(temporal.client, container, sent.journeys, options, on_progress, cycle)
        await steps
        visits = await demo_visits.wait_for_outcomes(container, shown, seconds=60)
    return progress, sent, loaded, urls, hl7_sent, visits


async def _run_workers(stack: AsyncExitStack, client: Client, container: Container) -> None:
    from workers.registry import build_workers
    from workers.runtime import run_workers_until

    stop = asyncio.Event()
    task = asyncio.create_task(run_workers_until(build_workers(client, container), stop))

    async def drain() -> None:
        stop.set()
        await task

    stack.push_async_callback(drain)
