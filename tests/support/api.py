"""The FHIR API under test (tests/integration/test_api*.py; the fixtures are in tests/integration/conftest.py): the
practice seeded for it, its process starts recorded instead of sent to Temporal, and the handle a test drives the
API through (client, token, store)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

import httpx
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from api.clients import add_client
from domain import models as m
from intake import PendingStart
from workers.synthetic import seed_practice

FHIR = "application/fhir+json"


@dataclass
class RecordingStarter:
    started: list[str] = field(default_factory=list)

    async def start(self, pending: PendingStart) -> None:
        self.started.append(pending.workflow_id)


def seed_api_client(session: Session, *, seed: int = 3, name: str = "ehr") -> tuple[str, str]:
    """A practice (no patients) seeded into ``session`` and an API client allowed to write and read: returns the
    first provider's NPI and the client's token. The caller commits."""
    seed_practice(session, patients=0, seed=seed)
    session.flush()
    npi = session.execute(select(m.Provider.npi).order_by(m.Provider.npi)).scalars().first()
    assert npi is not None
    token = add_client(session, name, ("intake", "read"), actor="test")
    return npi, token


@dataclass(frozen=True)
class ApiPractice:
    """A seeded practice (no patients) and an API client allowed to write and read: its first provider's NPI, the
    client's token and request headers, and the starter its writes' process starts go to."""

    session_factory: sessionmaker[Session]
    npi: str
    token: str
    headers: dict[str, str]
    starter: RecordingStarter


@dataclass
class Api:
    client: httpx.AsyncClient
    app: Any
    starter: RecordingStarter
    session_factory: sessionmaker[Session]
    npi: str
    token: str
    headers: dict[str, str]

    def token_for(self, name: str, scopes: tuple[str, ...]) -> dict[str, str]:
        with self.session_factory() as session:
            token = add_client(session, name, scopes, actor="test")
            session.commit()
        return {"Authorization": f"Bearer {token}", "Content-Type": FHIR}

    async def settle(self) -> None:
        await asyncio.gather(*self.app.state.api.dispatches, return_exceptions=True)

    def count(self, model: type[m.Base]) -> int:
        with self.session_factory() as session:
            return int(session.execute(select(func.count()).select_from(model)).scalar_one())


def snapshot(api: Api) -> dict[str, int]:
    """How many rows of each kind an intake write makes: equal snapshots mean nothing was written."""
    models = (m.Patient, m.Coverage, m.Appointment, m.Encounter, m.ClinicalEntry, m.ExternalIdentifier, m.ProcessStart)
    return {model.__tablename__: api.count(model) for model in models}
