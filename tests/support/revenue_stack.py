"""A dev stack with the sandbox clearinghouse served and a small synthetic practice whose payers know its members:
claims submitted by the real workflows are accepted and adjudicated by the sandbox (its time moved by the test).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select
from temporalio.client import WorkflowHandle
from temporalio.common import WorkflowIDConflictPolicy
from temporalio.service import RPCError

from activities.clearinghouse.sandbox_admin import SandboxAdmin, roster_entry
from activities.contracts import revenue as c
from domain import models as m
from tests.support.dev_stack import DevStack, dev_stack
from workers.composition import Container


@dataclass
class RevenueStack:
    stack: DevStack
    admin: SandboxAdmin
    patient_ids: list[str]

    @property
    def container(self) -> Container:
        return self.stack.container


def seed_practice_with_visits(container: Container, patients: int, seed: int) -> list[str]:
    """The synthetic practice and, for each patient, yesterday's coded office visit (99213, I10)."""
    from domain.enums import AppointmentKind, AppointmentStatus
    from domain.services.encounters import EncounterInput, ServiceLineInput, record_encounter
    from workers.synthetic import seed_practice

    day = datetime.now(UTC).date() - timedelta(days=1)
    with container.uow() as uow:
        session = uow.session
        seed_practice(session, patients=patients, seed=seed)
        session.flush()
        provider = session.execute(select(m.Provider).order_by(m.Provider.npi)).scalars().first()
        location = session.execute(select(m.Location).order_by(m.Location.name)).scalars().first()
        assert provider is not None and location is not None
        ids = list(session.execute(select(m.Patient.id).order_by(m.Patient.account_number)).scalars())
        for index, patient_id in enumerate(ids):
            appointment = m.Appointment(
                patient_id=patient_id,
                provider_id=provider.id,
                location_id=location.id,
                kind=AppointmentKind.IN_PERSON,
                status=AppointmentStatus.COMPLETED,
                starts_at=datetime.combine(day, time(9 + index % 8), tzinfo=UTC),
            )
            session.add(appointment)
            session.flush()
            record_encounter(
                session,
                EncounterInput(
                    patient_id=patient_id,
                    provider_id=provider.id,
                    location_id=location.id,
                    date_of_service=day,
                    place_of_service=location.place_of_service,
                    diagnosis_codes=("I10",),
                    service_lines=(ServiceLineInput("99213", 12_500),),
                    appointment_id=appointment.id,
                ),
                actor="test:checkout",
            )
        uow.commit()
    return ids


def seed_practice_only(container: Container, patients: int, seed: int) -> list[str]:
    from workers.synthetic import seed_practice

    with container.uow() as uow:
        seed_practice(uow.session, patients=patients, seed=seed, ledger_history=False)
        uow.commit()
        return list(uow.session.execute(select(m.Patient.id)).scalars())


def load_rosters(container: Container, admin: SandboxAdmin) -> int:
    with container.uow() as uow:
        rows = uow.session.execute(
            select(m.Coverage, m.Patient, m.Payer)
            .join(m.Payer, m.Payer.id == m.Coverage.payer_id)
            .join(m.Patient, m.Patient.id == m.Coverage.patient_id)
        ).all()
        entries = [e for e in (roster_entry(cov, pat, pay) for cov, pat, pay in rows) if e is not None]
    return admin.load_roster(entries)


@asynccontextmanager
async def revenue_stack(
    home: Path, store_url: str, *, patients: int = 3, seed: int = 11, visits: bool = True, random_mix: bool = True
) -> AsyncIterator[RevenueStack]:
    """``visits`` False: the practice only (its history seeded), for tests whose visits come through a door.
    ``random_mix`` False: the sandbox payers decide by their documented forced rules only (no seeded random denial,
    keyed on the claims' random ids), for tests that need every clean claim paid."""
    from sandbox.server import create_app
    from workers.stack import serve_asgi

    async with dev_stack(home, store_url) as stack:
        settings = stack.settings
        app = create_app(home / "sandbox", seed=seed, time_scale=86400, poll_seconds=0.2, random_mix=random_mix)
        async with serve_asgi(app, settings.bind_host, settings.sandbox_port, name="sandbox"):
            admin = SandboxAdmin(settings.clearinghouse_endpoint)
            if visits:
                ids = await asyncio.to_thread(seed_practice_with_visits, stack.container, patients, seed)
            else:
                ids = await asyncio.to_thread(seed_practice_only, stack.container, patients, seed)
            await asyncio.to_thread(load_rosters, stack.container, admin)
            yield RevenueStack(stack, admin, ids)


async def start_registrations(revenue: RevenueStack, policy: c.RevenuePolicy) -> list[WorkflowHandle[Any, Any]]:
    """Each patient's journey (what the intake module does for a registered patient)."""
    from flows.revenue import registration_workflow_id

    handles = []
    for patient_id in revenue.patient_ids:
        handles.append(
            await revenue.stack.client.start_workflow(
                "PatientRegistration",
                c.RegistrationInput(patient_id, policy),
                id=registration_workflow_id(patient_id),
                task_queue=c.REVENUE_TASK_QUEUE,
                id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
            )
        )
    return handles


async def claims_in_stage(revenue: RevenueStack, stages: frozenset[str]) -> dict[str, dict[str, Any]]:
    """The claims whose Claim workflow is running in one of ``stages``: claim id -> its state query."""
    from flows.revenue.claim import claim_workflow_id

    def claim_ids() -> list[str]:
        with revenue.container.uow() as uow:
            recent = datetime.now(UTC).date() - timedelta(days=2)  # the visits of seed_practice_with_visits
            query = select(m.Claim.id).where(m.Claim.rank == "primary", m.Claim.date_of_service >= recent)
            return list(uow.session.execute(query).scalars())

    found: dict[str, dict[str, Any]] = {}
    for claim_id in await asyncio.to_thread(claim_ids):
        handle = revenue.stack.client.get_workflow_handle(claim_workflow_id(claim_id))
        try:
            state: dict[str, Any] = await handle.query("state", result_type=dict)
        except RPCError:  # not started yet (or no workflow of this run): not waiting
            continue
        if state.get("stage") in stages:
            found[claim_id] = state
    return found
