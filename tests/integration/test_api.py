"""The FHIR API on SQLite and PostgreSQL: transactions, conditional writes, versions, reads, searches, auth,
rate limits, refusals that write nothing, and an audit event per call without PHI.

Process starts go to a recording starter here (intake's Temporal side is tested in tests/workflows and end to end
in tests/e2e/test_front_door.py).
"""

from __future__ import annotations

import json

import httpx
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from api import create_app
from api.clients import WINDOW_SECONDS, revoke_client
from api.fhir.resources import REGISTRY
from domain import models as m
from intake import Intake
from tests.support.api import FHIR, Api, RecordingStarter, snapshot
from tests.support.fhir import MRN, bad_bundles, transaction


async def test_metadata_lists_exactly_what_is_registered(api: Api) -> None:
    answer = await api.client.get("/fhir/metadata")  # no token needed
    assert answer.status_code == 200 and answer.headers["content-type"].startswith(FHIR)
    statement = answer.json()
    assert statement["resourceType"] == "CapabilityStatement" and statement["fhirVersion"] == "4.0.1"
    served = {r["type"]: r for r in statement["rest"][0]["resource"]}
    assert set(served) == {d.type for d in REGISTRY}
    assert {i["code"] for i in served["Patient"]["interaction"]} == {"read", "search-type", "create", "update"}
    assert {i["code"] for i in served["Claim"]["interaction"]} == {"read", "search-type"}
    assert [o["name"] for o in served["Encounter"]["operation"]] == ["validate"]
    assert {"name", "identifier", "birthdate"} <= {p["name"] for p in served["Patient"]["searchParam"]}


async def test_a_transaction_bundle_is_written_once_and_read_back(api: Api) -> None:
    bundle = transaction(api.npi, codes=("99213", "36415"), diagnoses=("I10", "E11.9"))
    first = await api.client.post("/fhir", json=bundle, headers=api.headers)
    assert first.status_code == 200, first.text
    answer = first.json()
    assert answer["type"] == "transaction-response"
    assert [e["response"]["status"] for e in answer["entry"]] == ["201 Created"] * 8
    patient_id = answer["entry"][0]["response"]["location"].split("/")[1]
    await api.settle()
    # A new patient with its visit closed: one process, the visit's Encounter, which registers the patient too.
    assert f"registration-{patient_id}" not in api.starter.started
    assert sum(w.startswith("encounter-") for w in api.starter.started) == 1
    before, started = snapshot(api), list(api.starter.started)

    again = await api.client.post("/fhir", json=bundle, headers=api.headers)
    assert [e["response"]["status"] for e in again.json()["entry"]] == ["200 OK"] * 8
    await api.settle()
    assert snapshot(api) == before and api.starter.started == started  # nothing new, nothing started

    found = await api.client.get("/fhir/Patient", params={"identifier": f"{MRN}|M1"}, headers=api.headers)
    assert found.json()["total"] == 1 and found.json()["entry"][0]["resource"]["id"] == patient_id
    patient = await api.client.get(f"/fhir/Patient/{patient_id}", headers=api.headers)
    assert patient.headers["etag"] == 'W/"1"' and patient.json()["name"][0]["family"] == "Testcase"
    encounters = (await api.client.get("/fhir/Encounter", params={"patient": patient_id}, headers=api.headers)).json()
    encounter = encounters["entry"][0]["resource"]
    assert encounter["status"] == "finished" and len(encounter["diagnosis"]) == 2
    with api.session_factory() as session:
        row = session.get(m.Encounter, encounter["id"])
        assert row is not None and row.coded and [s.procedure_code for s in row.service_lines] == ["99213", "36415"]
    account = await api.client.get(f"/fhir/Account/{patient_id}", headers=api.headers)
    assert account.status_code == 200 and account.json()["extension"][0]["valueMoney"]["value"] == 0
    charges = (await api.client.get("/fhir/ChargeItem", params={"patient": patient_id}, headers=api.headers)).json()
    assert charges["total"] == 2


async def test_conditional_writes_versions_and_if_match(api: Api) -> None:
    patient = transaction(api.npi)["entry"][0]["resource"]
    created = await api.client.post("/fhir/Patient", json=patient, headers=api.headers)
    assert created.status_code == 201 and created.headers["etag"] == 'W/"1"'
    patient_id = created.json()["id"]
    retried = await api.client.post("/fhir/Patient", json=patient, headers=api.headers)
    assert retried.status_code == 200 and retried.json()["id"] == patient_id  # a retry creates nothing
    changed = {**patient, "telecom": [{"system": "phone", "value": "5415550199"}]}
    conflict = await api.client.post("/fhir/Patient", json=changed, headers=api.headers)
    assert conflict.status_code == 409 and conflict.json()["resourceType"] == "OperationOutcome"
    kept = await api.client.post(
        "/fhir/Patient", json=changed, headers={**api.headers, "If-None-Exist": f"identifier={MRN}|M1"}
    )
    assert kept.status_code == 200 and kept.headers["etag"] == 'W/"1"'
    updated = await api.client.put(
        f"/fhir/Patient/{patient_id}", json={**changed, "id": patient_id}, headers={**api.headers, "If-Match": 'W/"1"'}
    )
    assert updated.status_code == 200 and updated.headers["etag"] == 'W/"2"'
    assert updated.json()["meta"]["versionId"] == "2"
    stale = await api.client.put(
        f"/fhir/Patient/{patient_id}", json={**patient, "id": patient_id}, headers={**api.headers, "If-Match": 'W/"1"'}
    )
    assert stale.status_code == 412
    other = {**patient, "identifier": [{"system": MRN, "value": "M2"}], "birthDate": "1990-01-01"}
    upsert = await api.client.put(f"/fhir/Patient?identifier={MRN}|M2", json=other, headers=api.headers)
    assert upsert.status_code == 201
    mismatch = await api.client.put(f"/fhir/Patient?identifier={MRN}|M9", json=other, headers=api.headers)
    assert mismatch.status_code == 400


async def test_refusals_are_operation_outcomes_and_write_nothing(api: Api) -> None:
    before = snapshot(api)
    for name, body, status, where in bad_bundles(api.npi):
        answer = await api.client.post("/fhir", json=body, headers=api.headers)
        assert answer.status_code == status, (name, answer.text)
        outcome = answer.json()
        assert outcome["resourceType"] == "OperationOutcome", name
        if where is not None:
            assert outcome["issue"][0]["expression"][0].startswith(where), (name, outcome)
    raw = [
        (b"{not json", 400),
        (b"[]", 400),
        (json.dumps({"resourceType": "Bundle", "type": "transaction", "entry": [{"resource": {}}]}).encode(), 400),
        (b"x" * 300_000, 413),
    ]
    for body, status in raw:
        answer = await api.client.post("/fhir", content=body, headers=api.headers)
        assert answer.status_code == status and answer.json()["resourceType"] == "OperationOutcome"
    assert (
        await api.client.post("/fhir", content=b"{}", headers={**api.headers, "Content-Type": "text/plain"})
    ).status_code == 415
    assert (await api.client.get("/fhir/Practitioner/1", headers=api.headers)).status_code == 404
    assert (await api.client.get(f"/fhir/Patient/{'0' * 36}", headers=api.headers)).status_code == 404
    assert (await api.client.delete("/fhir/Patient/1", headers=api.headers)).status_code == 405
    assert (
        await api.client.post("/fhir/Claim", json={"resourceType": "Claim"}, headers=api.headers)
    ).status_code == 405
    assert (await api.client.get("/fhir/Patient", params={"email": "x"}, headers=api.headers)).status_code == 400
    assert snapshot(api) == before


async def test_tokens_scopes_revocation_and_rate_limits(api: Api, session_factory: sessionmaker[Session]) -> None:
    bundle = transaction(api.npi)
    assert (await api.client.post("/fhir", json=bundle)).status_code == 401
    wrong = {"Authorization": "Bearer ccapi_not-a-token", "Content-Type": FHIR}
    assert (await api.client.get("/fhir/Patient", headers=wrong)).status_code == 401
    reader = api.token_for("reader", ("read",))
    refused = await api.client.post("/fhir", json=bundle, headers=reader)
    assert refused.status_code == 403 and refused.json()["issue"][0]["code"] == "forbidden"
    assert (await api.client.get("/fhir/Patient", headers=reader)).status_code == 200
    with session_factory() as session:
        revoke_client(session, "reader", actor="test")
        session.commit()
    assert (await api.client.get("/fhir/Patient", headers=reader)).status_code == 401
    with session_factory() as session:
        stored = session.execute(select(m.ApiClient.token_hash).where(m.ApiClient.name == "ehr")).scalar_one()
    assert api.token not in stored and len(stored) == 64

    _clear_of_a_window_edge()
    hurried = api.token_for("hurried", ("read",))
    slow = create_app(session_factory, Intake(session_factory, RecordingStarter()), rate_per_minute=3)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=slow), base_url="http://api.test") as client:
        codes = [(await client.get("/fhir/Patient", headers=hurried)).status_code for _ in range(5)]
    assert codes[:3] == [200, 200, 200] and codes[3] == 429


def _clear_of_a_window_edge() -> None:
    """Rate limits count per minute: wait out the last seconds of one so that a test's calls share a window."""
    import time

    if (left := WINDOW_SECONDS - time.time() % WINDOW_SECONDS) < 5:
        time.sleep(left + 0.1)


async def test_the_rate_limit_holds_across_api_processes(api: Api, session_factory: sessionmaker[Session]) -> None:
    """Two API apps on one store (two processes behind the load balancer) together allow a client its limit, not
    twice it: the call beyond it is refused by either with 429, Retry-After and an OperationOutcome."""
    _clear_of_a_window_edge()
    headers = api.token_for("busy-ehr", ("read",))
    first, second = (create_app(session_factory, Intake(session_factory), rate_per_minute=4) for _ in range(2))
    transports = [httpx.ASGITransport(app=app) for app in (first, second)]
    async with (
        httpx.AsyncClient(transport=transports[0], base_url="http://api-1.test") as one,
        httpx.AsyncClient(transport=transports[1], base_url="http://api-2.test") as two,
    ):
        answers = [await client.get("/fhir/Patient", headers=headers) for client in (one, two, one, two, one, two)]
        other = await one.get("/fhir/Patient", headers=api.headers)  # another client's own count
    assert [a.status_code for a in answers] == [200, 200, 200, 200, 429, 429]
    for refused in answers[4:]:
        assert 1 <= int(refused.headers["retry-after"]) <= WINDOW_SECONDS
        outcome = refused.json()
        assert outcome["resourceType"] == "OperationOutcome" and outcome["issue"][0]["code"] == "throttled"
    assert other.status_code == 200
    with session_factory() as session:
        calls = session.execute(select(m.ApiRateWindow.calls).join(m.ApiClient).where(m.ApiClient.name == "busy-ehr"))
        assert calls.scalars().all() == [6]  # one window, every call counted once


async def test_every_call_is_an_audit_event_without_phi(api: Api) -> None:
    await api.client.post("/fhir", json=transaction(api.npi), headers=api.headers)
    await api.client.get("/fhir/Patient", params={"name": "Testcase"}, headers=api.headers)
    await api.client.get("/fhir/Patient", headers={"Authorization": "Bearer nope"})
    with api.session_factory() as session:
        events = session.execute(select(m.AuditEvent).where(m.AuditEvent.action.like("api.%"))).scalars().all()
    calls = {(e.actor, e.action, e.details.get("status")) for e in events}
    assert ("api:ehr", "api.transaction", 200) in calls and ("api:ehr", "api.search", 200) in calls
    assert ("api:anonymous", "api.search", 401) in calls
    text = json.dumps([[e.entity_type, e.entity_id, e.details] for e in events])
    for phi in ("Testcase", "Ada", "1980-05-17", "BM100200300", "5415550100", "M1"):
        assert phi not in text


async def test_validate_writes_nothing(api: Api) -> None:
    before = snapshot(api)
    patient = transaction(api.npi)["entry"][0]["resource"]
    valid = await api.client.post("/fhir/Patient/$validate", json=patient, headers=api.headers)
    assert valid.status_code == 200 and valid.json()["issue"][0]["severity"] == "information"
    invalid = await api.client.post(
        "/fhir/Patient/$validate", json={**patient, "birthDate": "2999-01-01"}, headers=api.headers
    )
    assert invalid.status_code == 422
    assert snapshot(api) == before


async def test_the_sample_bundle_of_the_docs_is_accepted(api: Api) -> None:
    from pathlib import Path

    text = (Path(__file__).resolve().parents[2] / "docs" / "integration.md").read_text(encoding="utf-8")
    sample = text.split("```json\n", 1)[1].split("```", 1)[0].replace("1234567893", api.npi)
    answer = await api.client.post("/fhir", content=sample.encode(), headers=api.headers)
    assert answer.status_code == 200, answer.text
    assert [e["response"]["status"] for e in answer.json()["entry"]] == ["201 Created"] * 6
    with api.session_factory() as session:
        line = session.execute(select(m.ServiceLine)).scalar_one()
        assert (line.procedure_code, line.modifiers, line.diagnosis_pointers) == ("99213", ["25"], [1])
