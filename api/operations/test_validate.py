"""$validate, beside its operation: a valid resource is answered with an informational OperationOutcome, an
invalid one with the element named, and nothing is written either way (a SQLite store of its own)."""

from __future__ import annotations

from pathlib import Path

import httpx
from sqlalchemy import func, select

from api import create_app
from api.clients import add_client
from domain import models as m
from domain.store.engine import make_engine, make_session_factory
from domain.store.migrate import upgrade
from intake import Intake
from workers.synthetic import seed_practice

PATIENT = {
    "resourceType": "Patient",
    "identifier": [{"system": "urn:test:mrn", "value": "V1"}],
    "name": [{"family": "Validate", "given": ["Vera"]}],
    "birthDate": "1970-02-03",
    "address": [{"state": "OR"}],
}


async def test_validate_answers_and_writes_nothing(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'store.db'}")
    upgrade(engine)
    factory = make_session_factory(engine)
    with factory() as session:
        seed_practice(session, patients=0, seed=1)
        token = add_client(session, "validator", ("intake",), actor="test")
        session.commit()
    app = create_app(factory, Intake(factory))
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/fhir+json"}
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://api.test") as client:
        valid = await client.post("/fhir/Patient/$validate", json=PATIENT, headers=headers)
        no_name = await client.post("/fhir/Patient/$validate", json={**PATIENT, "name": []}, headers=headers)
        bad_date = await client.post(
            "/fhir/Patient/$validate", json={**PATIENT, "birthDate": "03/02/1970"}, headers=headers
        )
        dangling = await client.post(
            "/fhir/Coverage/$validate",
            json={
                "resourceType": "Coverage",
                "status": "active",
                "beneficiary": {"reference": "Patient/none"},
                "payor": [{"identifier": {"system": "urn:carecycle:payer-id", "value": "SBXBM"}}],
                "subscriberId": "X1",
            },
            headers=headers,
        )
    assert valid.status_code == 200 and valid.json()["issue"][0]["code"] == "informational"
    assert no_name.status_code == 422 and no_name.json()["issue"][0]["expression"] == ["Patient.name"]
    assert bad_date.status_code == 400 and bad_date.json()["issue"][0]["expression"] == ["Patient.birthDate"]
    assert dangling.status_code == 422 and dangling.json()["issue"][0]["code"] == "not-found"
    with factory() as session:
        assert session.execute(select(func.count()).select_from(m.Patient)).scalar_one() == 0
        assert session.execute(select(func.count()).select_from(m.ProcessStart)).scalar_one() == 0
    engine.dispose()
