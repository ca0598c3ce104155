"""The HL7 v2 door end to end on the real stack (dev server, workers, the sandbox clearinghouse adjudicating;
SQLite and PostgreSQL): an EHR sends ADT^A04, SIU^S12 and DFT^P03 over MLLP to the listener `carecycle up`
runs; intake registers the patient, books the visit and closes it for billing; the Encounter and Claim workflows
submit the 837P; the payer's 835 comes back through RemittanceIntake; the claim is paid. The same messages sent
again are answered with their first ACKs and start nothing."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from temporalio.client import Client, WorkflowExecutionStatus, WorkflowHandle
from temporalio.common import WorkflowIDConflictPolicy
from temporalio.service import RPCError

from activities.clearinghouse.sandbox_admin import RosterEntry
from activities.contracts import revenue as c
from domain import models as m
from flows.revenue import INTAKE_WORKFLOW_ID
from flows.revenue.claim import claim_workflow_id
from hl7 import samples as s
from hl7.mllp import MllpClient
from tests.support.revenue_stack import revenue_stack
from workers.composition import Container
from workers.hl7 import serve_hl7

pytestmark = [pytest.mark.temporal, pytest.mark.e2e]

PAYER, MEMBER = "SBXBM", "BM55501234"
PATIENT = s.SamplePatient("EHR-90210", "Robin", "Feedtest", date(1977, 7, 7))


def _ids(session_factory: object, appointment_value: str) -> tuple[str, str | None]:
    with session_factory() as session:  # type: ignore[operator]
        appointment_id = session.execute(
            select(m.ExternalIdentifier.entity_id).where(
                m.ExternalIdentifier.kind == "appointment", m.ExternalIdentifier.value == appointment_value
            )
        ).scalar_one()
        claim_id = session.execute(
            select(m.Claim.id)
            .join(m.Encounter, m.Encounter.id == m.Claim.encounter_id)
            .where(m.Encounter.appointment_id == appointment_id, m.Claim.rank == "primary")
        ).scalar()
    return appointment_id, claim_id


async def _journey(client: Client, container: Container) -> tuple[list[str], int, int]:
    """The patient's processes (runs of registration, eligibility, encounter, claim), the queued starts and the
    journaled messages."""
    runs = sorted(
        [
            f"{w.id}/{w.run_id}"
            async for w in client.list_workflows()
            if w.id.startswith(("registration-", "eligibility-", "encounter-", "claim-"))
        ]
    )
    with container.uow() as uow:
        starts = uow.session.execute(select(func.count()).select_from(m.ProcessStart)).scalar_one()
        journaled = uow.session.execute(select(func.count()).select_from(m.Hl7Message)).scalar_one()
    return runs, int(starts), int(journaled)


async def _why_unpaid(handle: WorkflowHandle[Any, c.ClaimResult], container: Container) -> str:
    """What a claim that did not finish waits on: its stage and every work item's queue, reason and state (no PHI)."""
    state = await handle.query("state", result_type=dict)
    with container.uow() as uow:
        queues = uow.session.execute(select(m.WorkItem.queue, m.WorkItem.reason_code, m.WorkItem.state)).all()
    return f"the claim did not finish: stage {state.get('stage')!r}, work items {sorted(map(tuple, queues))}"


async def _until(condition, what: str, seconds: float = 300.0):  # type: ignore[no-untyped-def]
    for _ in range(int(seconds / 0.5)):
        value = await condition()
        if value:
            return value
        await asyncio.sleep(0.5)
    raise AssertionError(f"timed out waiting for {what}")


async def test_adt_siu_dft_over_mllp_become_a_paid_claim(tmp_path: Path, store_url: str) -> None:
    async with revenue_stack(
        tmp_path / "home", store_url, patients=2, seed=21, visits=False, random_mix=False
    ) as revenue:
        stack, container = revenue.stack, revenue.container
        # The payer knows its member (enrolled at the payer, not told by us).
        roster = RosterEntry(
            PAYER,
            MEMBER,
            PATIENT.birth_date,
            date(2024, 1, 1),
            copay_cents=2000,
            deductible_remaining_cents=0,  # so the payer pays its share of this visit
            last_name=PATIENT.last_name,
            first_name=PATIENT.first_name,
        )
        await asyncio.to_thread(revenue.admin.load_roster, [roster])
        # The clearinghouse mailbox is polled every 2 seconds (up polls every CARECYCLE_REMITTANCE_POLL_MINUTES).
        await stack.client.start_workflow(
            "RemittanceIntake",
            c.IntakeInput(c.RevenuePolicy(remittance_poll_days=2 / 86400)),
            id=INTAKE_WORKFLOW_ID,
            task_queue=c.REVENUE_TASK_QUEUE,
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
        )
        with container.uow() as uow:
            npi = uow.session.execute(select(m.Provider.npi).order_by(m.Provider.npi)).scalars().first()
        assert npi
        yesterday = datetime.now(UTC).date() - timedelta(days=1)
        starts = datetime.combine(yesterday, time(15, 0), tzinfo=UTC)
        when = datetime.now(UTC)
        messages = [
            s.adt(
                "A04", "E2E-1", PATIENT, [s.SampleInsurance(PAYER, MEMBER, effective_from=date(2024, 1, 1))], when=when
            ),
            s.siu("S12", "E2E-2", "VISIT-77", PATIENT, npi, starts, when=when),
            s.dft("E2E-3", "VISIT-77", PATIENT, npi, yesterday, ["I10"], [s.SampleCharge("99213")], when=when),
        ]
        async with serve_hl7(container, stack.client, port=0) as listener:
            client = await MllpClient.connect("127.0.0.1", listener.server.port)
            try:
                acks = [(await client.exchange(text.encode()))[0] for text in messages]
                assert all(b"MSA|AA|E2E-" in ack for ack in acks), acks

                async def claim() -> str | None:
                    return (await asyncio.to_thread(_ids, container.session_factory, "VISIT-77"))[1]

                claim_id = await _until(claim, "the claim of the visit")
                handle = stack.client.get_workflow_handle(claim_workflow_id(claim_id), result_type=c.ClaimResult)

                async def submitted() -> bool:
                    try:
                        state = await handle.query("state", result_type=dict)
                    except RPCError:  # the claim row comes a moment before its workflow
                        return False
                    return state.get("stage") in ("awaiting_acknowledgment", "awaiting_remittance")

                await _until(submitted, "the 837P submitted")
                await asyncio.to_thread(revenue.admin.advance, 40)  # the payer adjudicates and sends its 835
                try:
                    result = await asyncio.wait_for(handle.result(), timeout=240)
                except TimeoutError:
                    raise AssertionError(await _why_unpaid(handle, container)) from None
                assert result.status in ("paid", "partially_paid") and result.paid_cents > 0, result
                with container.uow() as uow:
                    stored = uow.session.get(m.Claim, claim_id)
                    assert stored is not None and stored.status in ("paid", "partially_paid") and stored.paid_cents > 0

                before = await _journey(stack.client, container)
                again = [(await client.exchange(text.encode()))[0] for text in messages]
                assert again == acks  # the first ACKs, word for word
                await asyncio.sleep(2)
                assert await _journey(stack.client, container) == before  # nothing queued, nothing started
                appointment_id, _ = await asyncio.to_thread(_ids, container.session_factory, "VISIT-77")
                encounter = await stack.client.get_workflow_handle(f"encounter-{appointment_id}").describe()
                assert encounter.status == WorkflowExecutionStatus.COMPLETED
            finally:
                await client.close()
