"""Fixtures of the integration tests: the FHIR API over a seeded practice (tests/integration/test_api*.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from sqlalchemy.orm import Session, sessionmaker

from api import create_app
from intake import Intake
from tests.support.api import FHIR, Api, ApiPractice, RecordingStarter, seed_api_client


@pytest.fixture
def api_practice(session_factory: sessionmaker[Session]) -> ApiPractice:
    """The test store seeded with a practice (no patients) and an API client allowed to write and read."""
    with session_factory() as session:
        npi, token = seed_api_client(session)
        session.commit()
    headers = {"Authorization": f"Bearer {token}", "Content-Type": FHIR}
    return ApiPractice(session_factory, npi, token, headers, RecordingStarter())


@pytest.fixture
def api_app(api_practice: ApiPractice) -> Any:
    """The API app over the practice's store (no rate limit to speak of); a test module overrides it to serve the
    API with other settings."""
    factory = api_practice.session_factory
    return create_app(factory, Intake(factory, api_practice.starter), rate_per_minute=100_000, max_body_bytes=200_000)


@pytest.fixture
async def api(api_practice: ApiPractice, api_app: Any) -> AsyncIterator[Api]:
    """``api_app`` served to an httpx client (its lifespan is not entered), with the practice's client token."""
    practice = api_practice
    transport = httpx.ASGITransport(app=api_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://api.test") as client:
        found = Api(
            client, api_app, practice.starter, practice.session_factory, practice.npi, practice.token, practice.headers
        )
        yield found
        await found.settle()
