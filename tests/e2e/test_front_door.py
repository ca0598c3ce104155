"""The front door end to end on the real stack (Temporal dev server, real workers, the sandbox clearinghouse and
payer, the FHIR API over HTTP), on SQLite and PostgreSQL: a transaction Bundle becomes a paid claim, read back as
ExplanationOfBenefit and Account; the same Bundle again makes nothing new and starts nothing new.

Business time is compressed (a business day is ``DAY`` real seconds for the workflows and the sandbox payer).
"""

from __future__ import annotations

import asyncio
import time
from datetime import date
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from temporalio.common import WorkflowIDConflictPolicy
from temporalio.service import RPCError

from activities.clearinghouse.sandbox_admin import RosterEntry, SandboxAdmin
from activities.contracts import revenue as c
from api.clients import add_client
from domain import models as m
from flows.revenue import INTAKE_WORKFLOW_ID
from tests.support.dev_stack import DevStack, dev_stack
from tests.support.fhir import transaction
from workers.api import serve_api
from workers.composition import Container
from workers.synthetic import seed_practice

pytestmark = [pytest.mark.e2e, pytest.mark.temporal]

DAY = 0.4
POLICY = c.RevenuePolicy(day_seconds=DAY)
MEMBER = "BM900100200"
COUNTED = (m.Patient, m.Coverage, m.Appointment, m.Encounter, m.ClinicalEntry, m.Claim, m.ProcessStart)


def _setup(container: Container) -> tuple[str, str]:
    """The practice's set-up only (no patient), and an API client; returns (an NPI, the token)."""
    with container.uow() as uow:
        seed_practice(uow.session, patients=0, seed=11)
        uow.session.flush()
        npi = uow.session.execute(select(m.Provider.npi).order_by(m.Provider.npi)).scalars().first()
        token = add_client(uow.session, "ehr", ("intake", "read"), actor="test")
        uow.commit()
    assert npi is not None
    return npi, token


def _counts(container: Container) -> dict[str, int]:
    with container.uow() as uow:
        return {
            model.__tablename__: int(uow.session.execute(select(func.count()).select_from(model)).scalar_one())
            for model in COUNTED
        }


def _claim_of(container: Container, patient_id: str) -> tuple[str, str] | None:
    with container.uow() as uow:
        row = uow.session.execute(
            select(m.Claim.id, m.Claim.status).where(m.Claim.patient_id == patient_id, m.Claim.rank == "primary")
        ).first()
    return (row[0], str(row[1])) if row else None


def _where(container: Container) -> str:
    """What the store says when a wait runs out: claims' statuses and the open work items (codes only)."""
    with container.uow() as uow:
        claims = uow.session.execute(select(m.Claim.status)).scalars().all()
        items = uow.session.execute(select(m.WorkItem.queue, m.WorkItem.reason_code, m.WorkItem.summary)).all()
        starts = uow.session.execute(select(m.ProcessStart.workflow_id, m.ProcessStart.started_at)).all()
    return f"claims {list(claims)}, work items {[tuple(i) for i in items]}, starts {[tuple(s) for s in starts]}"


async def _until(check: Any, what: str, container: Container, timeout: float = 240.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = await asyncio.to_thread(check)
        if found:
            return found
        await asyncio.sleep(0.5)
    raise AssertionError(f"never happened: {what}; {_where(container)}")


async def _runs(stack: DevStack, workflow_ids: list[str]) -> dict[str, str]:
    return {w: (await stack.client.get_workflow_handle(w).describe()).run_id for w in workflow_ids}


async def test_a_fhir_bundle_becomes_a_paid_claim_and_the_same_bundle_twice_changes_nothing(
    tmp_path: Path, store_url: str
) -> None:
    from sandbox.server import create_app
    from workers.stack import serve_asgi

    async with dev_stack(tmp_path / "home", store_url) as stack:
        settings = stack.settings
        npi, token = await asyncio.to_thread(_setup, stack.container)
        sandbox = create_app(tmp_path / "sandbox", seed=11, time_scale=DAY, poll_seconds=0.2, random_mix=False)
        async with serve_asgi(sandbox, settings.bind_host, settings.sandbox_port, name="sandbox"):
            admin = SandboxAdmin(settings.clearinghouse_endpoint)
            entry = RosterEntry(
                "SBXBM", MEMBER, date(1980, 5, 17), date(2025, 1, 1), last_name="Testcase", first_name="Ada"
            )
            await asyncio.to_thread(admin.load_roster, [entry])
            intake_handle = await stack.client.start_workflow(
                "RemittanceIntake",
                c.IntakeInput(POLICY),
                id=INTAKE_WORKFLOW_ID,
                task_queue=c.REVENUE_TASK_QUEUE,
                id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
            )
            async with serve_api(settings, stack.container, stack.client, POLICY) as url:
                headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/fhir+json"}
                bundle = transaction(npi, member=MEMBER, codes=("99213",), diagnoses=("I10",))
                async with httpx.AsyncClient(timeout=60) as web:
                    first = await web.post(url, json=bundle, headers=headers)
                    assert first.status_code == 200, first.text
                    locations = [e["response"]["location"].split("/") for e in first.json()["entry"]]
                    patient_id = next(parts[1] for parts in locations if parts[0] == "Patient")
                    appointment_id = next(parts[1] for parts in locations if parts[0] == "Appointment")

                    def paid() -> tuple[str, str] | None:
                        claim = _claim_of(stack.container, patient_id)
                        return claim if claim and claim[1] in ("paid", "partially_paid") else None

                    claim_id, status = await _until(paid, "the claim paid", stack.container)
                    read = {"Authorization": headers["Authorization"]}
                    eob = (
                        await web.get(f"{url}/ExplanationOfBenefit", params={"patient": patient_id}, headers=read)
                    ).json()
                    assert eob["total"] >= 1
                    benefit = eob["entry"][0]["resource"]
                    assert benefit["claim"]["reference"] == f"Claim/{claim_id}"
                    assert benefit["payment"]["amount"]["value"] > 0 and benefit["item"][0]["adjudication"]
                    account = (await web.get(f"{url}/Account/{patient_id}", headers=read)).json()
                    assert account["subject"][0]["reference"] == f"Patient/{patient_id}"
                    assert {e["url"] for e in account["extension"]} >= {"urn:carecycle:fhir:patient-balance"}
                    claim = (await web.get(f"{url}/Claim/{claim_id}", headers=read)).json()
                    assert claim["extension"][0]["valueCode"] == status
                    response = (await web.get(f"{url}/ClaimResponse/{claim_id}", headers=read)).json()
                    assert response["outcome"] in ("complete", "partial")

                    # One process for the new patient and its visit: the Encounter ran the registration too (the
                    # coverage's eligibility checked through the sandbox's 270/271); no PatientRegistration ran.
                    def eligible() -> bool:
                        with stack.container.uow() as uow:
                            status = uow.session.execute(
                                select(m.Coverage.eligibility_status).where(m.Coverage.patient_id == patient_id)
                            ).scalar_one()
                        return status == "active"

                    await _until(eligible, "the coverage's eligibility checked", stack.container)
                    with pytest.raises(RPCError):
                        await stack.client.get_workflow_handle(f"registration-{patient_id}").describe()
                    workflows = [f"encounter-{appointment_id}"]
                    before, runs = _counts(stack.container), await _runs(stack, workflows)
                    again = await web.post(url, json=bundle, headers=headers)
                    assert [e["response"]["status"] for e in again.json()["entry"]] == ["200 OK"] * len(bundle["entry"])
                    await asyncio.sleep(1.0)  # let any (wrong) background start happen before looking
                    assert _counts(stack.container) == before
                    assert await _runs(stack, workflows) == runs
            await intake_handle.signal("stop")
