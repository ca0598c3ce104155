"""Transaction Bundles sent with ``Prefer: respond-async`` (api.asynchronous), on SQLite and PostgreSQL: accepted
with 202 and a status URL, applied by the applier through the synchronous path's function (the same records,
idempotent, all or nothing), refusals answered at once or kept at the status URL as the synchronous POST would
have answered them, a restart applies what was queued, and one client cannot see or cancel another's.

The app's lifespan (which runs the applier) is entered only where a test wants the applier running, so a test
can hold Bundles queued (httpx's ASGI transport does not run it)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from activities.documents.local import LocalDocumentStore
from activities.documents.sealed import SealedDocuments
from api import asynchronous, create_app
from api.clients import Principal
from api.outcome import FhirError
from api.queue_limit import QueueLimit
from domain import models as m
from domain.store.engine import make_engine, make_session_factory, sqlite_write_lock_first
from domain.store.uow import UnitOfWork
from intake import Intake
from tests.support.api import Api, ApiPractice, RecordingStarter, snapshot
from tests.support.fhir import bad_bundles, transaction

ASYNC = {"Prefer": "respond-async"}


def _app(
    session_factory: sessionmaker[Session],
    sealer: SealedDocuments,
    starter: RecordingStarter,
    *,
    per_client: int = 1000,
    overall: int = 10_000,
) -> Any:
    return create_app(
        session_factory,
        Intake(session_factory, starter),
        rate_per_minute=100_000,
        max_body_bytes=200_000,
        sealer=sealer,
        async_poll_seconds=0.1,
        async_queue_per_client=per_client,
        async_queue_overall=overall,
    )


@pytest.fixture
def sealer(tmp_path: Path) -> SealedDocuments:
    return SealedDocuments(LocalDocumentStore(tmp_path / "documents"), {"k1": bytes(range(32))}, "k1")


@pytest.fixture
def api_app(api_practice: ApiPractice, sealer: SealedDocuments) -> Any:
    return _app(api_practice.session_factory, sealer, api_practice.starter)


@contextlib.asynccontextmanager
async def applying(app: Any) -> AsyncIterator[None]:
    """The app started as a server starts it: its applier runs (and first applies whatever is queued)."""
    async with app.router.lifespan_context(app):
        yield


async def post_async(api: Api, bundle: dict[str, Any]) -> str:
    answer = await api.client.post("/fhir", json=bundle, headers={**api.headers, **ASYNC})
    assert answer.status_code == 202, answer.text
    location = answer.headers["content-location"]
    assert location.startswith("http://api.test/fhir/_async/")
    return location.removeprefix("http://api.test")


async def outcome(api: Api, path: str, timeout: float = 60.0) -> httpx.Response:
    """Poll the status URL until it is no longer 202."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        answer = await api.client.get(path, headers=api.headers)
        if answer.status_code != 202:
            return answer
        assert answer.headers["x-progress"] == "queued"
        await asyncio.sleep(0.05)
    raise AssertionError("the asynchronous Bundle was never applied")


def journaled(api: Api) -> int:
    return api.count(m.FhirAsyncRequest)


def statuses(answer: httpx.Response) -> list[str]:
    return [e["response"]["status"] for e in answer.json()["entry"]]


async def test_an_async_bundle_ends_with_the_same_records_as_a_sync_one(api: Api) -> None:
    empty = snapshot(api)
    sync = await api.client.post("/fhir", json=transaction(api.npi, mrn="S1", member="BM1"), headers=api.headers)
    assert sync.status_code == 200
    after_sync = snapshot(api)
    async with applying(api.app):
        path = await post_async(api, transaction(api.npi, mrn="A1", member="BM2", given="Bea", birth="1981-02-03"))
        done = await outcome(api, path)
    assert done.status_code == 200 and done.json()["type"] == "transaction-response"
    assert statuses(done) == statuses(sync) == ["201 Created"] * len(sync.json()["entry"])
    after_async = snapshot(api)
    assert {k: after_async[k] - after_sync[k] for k in empty} == {k: after_sync[k] - empty[k] for k in empty}
    await api.settle()
    patient_id = done.json()["entry"][0]["response"]["location"].split("/")[1]
    # its processes started as a sync write's are: the visit's Encounter, which registers the new patient too
    assert len(api.starter.started) == 2 and f"registration-{patient_id}" not in api.starter.started
    read = await api.client.get(f"/fhir/Patient/{patient_id}", headers=api.headers)
    assert read.status_code == 200 and read.json()["name"][0]["given"] == ["Bea"]
    with api.session_factory() as session:
        row = session.execute(select(m.FhirAsyncRequest)).scalar_one()
        assert row.status == "done" and row.sealed_body is None  # the PHI is dropped once applied


async def test_the_same_bundle_async_twice_creates_nothing_new(api: Api) -> None:
    bundle = transaction(api.npi, codes=("99213", "36415"))
    async with applying(api.app):
        first = await outcome(api, await post_async(api, bundle))
        assert statuses(first) == ["201 Created"] * 7
        await api.settle()
        before, started = snapshot(api), list(api.starter.started)
        second = await outcome(api, await post_async(api, bundle))
    assert second.status_code == 200 and statuses(second) == ["200 OK"] * 7
    await api.settle()
    assert snapshot(api) == before and api.starter.started == started
    sync = await api.client.post("/fhir", json=bundle, headers=api.headers)  # and the sync path agrees
    assert statuses(sync) == ["200 OK"] * 7 and snapshot(api) == before


async def test_a_bad_bundle_ends_as_the_sync_answer_and_writes_nothing(api: Api) -> None:
    """Malformed or wrong-type Bundles are refused at once, nothing journaled; one that breaks a business rule
    (a reference to no stored record, an unknown payer or provider, a bad code) is accepted, then its status
    URL answers the OperationOutcome and status the synchronous POST answers, and nothing of it is written."""
    to_nobody = transaction(api.npi)
    to_nobody["entry"][1]["resource"]["beneficiary"]["reference"] = "Patient/00000000-0000-4000-8000-000000000000"
    cases = [*bad_bundles(api.npi), ("reference to no stored record", to_nobody, 422, "Bundle.entry[1]")]
    before = snapshot(api)
    kept = 0
    async with applying(api.app):
        for name, body, status, _ in cases:
            sync = await api.client.post("/fhir", json=body, headers=api.headers)
            assert sync.status_code == status, (name, sync.text)
            answer = await api.client.post("/fhir", json=body, headers={**api.headers, **ASYNC})
            if answer.status_code == 202:  # the rule needs the store: the outcome is at the status URL
                kept += 1
                answer = await outcome(api, answer.headers["content-location"].removeprefix("http://api.test"))
            else:
                assert journaled(api) == kept, name  # refused at once: nothing journaled
            assert (answer.status_code, answer.json()) == (sync.status_code, sync.json()), name
        for raw, status in ((b"{not json", 400), (b"[]", 400), (b"x" * 300_000, 413)):
            answer = await api.client.post("/fhir", content=raw, headers={**api.headers, **ASYNC})
            assert answer.status_code == status and answer.json()["resourceType"] == "OperationOutcome"
    assert kept >= 5 and journaled(api) == kept
    assert snapshot(api) == before
    with api.session_factory() as session:
        rows = session.execute(select(m.FhirAsyncRequest)).scalars().all()
    assert {r.status for r in rows} == {"failed"} and all(r.sealed_body is None for r in rows)


async def test_a_restart_applies_what_was_queued(
    api: Api, session_factory: sessionmaker[Session], sealer: SealedDocuments
) -> None:
    before = snapshot(api)
    paths = [await post_async(api, transaction(api.npi, mrn=f"Q{n}", member=f"BMQ{n}")) for n in range(3)]
    assert (await api.client.get(paths[0], headers=api.headers)).status_code == 202
    assert snapshot(api) == before and journaled(api) == 3  # queued, nothing applied: this process "stops"

    restarted = _app(session_factory, sealer, RecordingStarter())
    transport = httpx.ASGITransport(app=restarted)
    async with httpx.AsyncClient(transport=transport, base_url="http://api.test") as client, applying(restarted):
        again = Api(client, restarted, restarted.state.api.intake.starter, session_factory, api.npi, api.token, {})
        again.headers = api.headers
        answers = [await outcome(again, path) for path in paths]
        await again.settle()
    assert [a.status_code for a in answers] == [200, 200, 200]
    assert snapshot(api)["patients"] == before["patients"] + 3


async def test_the_bundle_is_kept_sealed_until_applied(api: Api) -> None:
    await post_async(api, transaction(api.npi, family="Sealedname"))
    with api.session_factory() as session:
        sealed = session.execute(select(m.FhirAsyncRequest.sealed_body)).scalar_one()
    assert sealed is not None and b"Sealedname" not in sealed and b"BM100200300" not in sealed


async def test_another_client_cannot_read_or_cancel_and_a_queued_one_can_be_cancelled(api: Api) -> None:
    before = snapshot(api)
    path = await post_async(api, transaction(api.npi))
    other = api.token_for("other-ehr", ("intake", "read"))
    assert (await api.client.get(path, headers=other)).status_code == 404
    assert (await api.client.delete(path, headers=other)).status_code == 404
    unknown = "/fhir/_async/00000000-0000-4000-8000-000000000000"
    assert (await api.client.get(unknown, headers=api.headers)).status_code == 404
    reader = api.token_for("reader", ("read",))
    assert (await api.client.get(path, headers=reader)).status_code == 403

    assert (await api.client.delete(path, headers=api.headers)).status_code == 202
    assert (await api.client.delete(path, headers=api.headers)).status_code == 202
    assert (await api.client.get(path, headers=api.headers)).status_code == 404
    async with applying(api.app):  # the applier skips it
        applied = await outcome(api, await post_async(api, transaction(api.npi, mrn="M2", member="BM2")))
        assert applied.status_code == 200
    assert snapshot(api)["patients"] == before["patients"] + 1
    done_path = str(applied.url.path)
    assert (await api.client.delete(done_path, headers=api.headers)).status_code == 409


async def test_every_async_call_is_audited_without_phi(api: Api) -> None:
    async with applying(api.app):
        path = await post_async(api, transaction(api.npi))
        await outcome(api, path)
        await api.client.delete(path, headers=api.headers)
    request_id = path.rsplit("/", 1)[1]
    with api.session_factory() as session:
        events = session.execute(select(m.AuditEvent).where(m.AuditEvent.action.like("api.%"))).scalars().all()
        records = session.execute(select(func.count()).select_from(m.AuditEvent)).scalar_one()
    calls = {(e.actor, e.action, e.entity_id, e.details.get("status")) for e in events}
    assert ("api:ehr", "api.transaction-async", request_id, 202) in calls
    assert ("api:ehr", "api.transaction", request_id, 200) in calls  # the applier's unit, as the sync one
    assert ("api:ehr", "api.transaction-async-status", request_id, 200) in calls
    assert ("api:ehr", "api.transaction-async-cancel", None, 409) in {(a, b, None, d) for a, b, _, d in calls}
    assert records > len(events)  # and each record's own event (patient.registered, intake.*)
    text = json.dumps([[e.entity_type, e.entity_id, e.details] for e in events])
    for phi in ("Testcase", "Ada", "1980-05-17", "BM100200300", "5415550100", "M1"):
        assert phi not in text


async def test_two_api_processes_apply_each_queued_bundle_once(
    api: Api, session_factory: sessionmaker[Session], sealer: SealedDocuments
) -> None:
    """Two API apps on one store (two processes behind the load balancer), both appliers running: every Bundle
    is applied once (one registration, one audit event of its application), whichever applier took it."""
    before = snapshot(api)
    paths = [await post_async(api, transaction(api.npi, mrn=f"P{n}", member=f"BMP{n}")) for n in range(6)]
    second = _app(session_factory, sealer, RecordingStarter())
    async with applying(api.app), applying(second):
        answers = [await outcome(api, path) for path in paths]
    assert [a.status_code for a in answers] == [200] * 6
    assert all(set(statuses(a)) == {"201 Created"} for a in answers)
    assert snapshot(api)["patients"] == before["patients"] + 6
    with session_factory() as session:
        applied = session.execute(
            select(m.AuditEvent.entity_id).where(m.AuditEvent.action == "api.transaction")
        ).scalars()
        assert sorted(applied) == sorted(p.rsplit("/", 1)[1] for p in paths)


async def test_bundles_accepted_together_are_journaled_each_with_its_audit_event(api: Api) -> None:
    """Accepts arriving together share a journal transaction (group commit); each is its own row, audit event
    and outcome."""
    bundles = [transaction(api.npi, mrn=f"G{n}", member=f"BMG{n}") for n in range(8)]
    answers = await asyncio.gather(
        *(api.client.post("/fhir", json=b, headers={**api.headers, **ASYNC}) for b in bundles)
    )
    assert [a.status_code for a in answers] == [202] * 8 and journaled(api) == 8
    ids = {a.headers["content-location"].rsplit("/", 1)[1] for a in answers}
    with api.session_factory() as session:
        accepted = session.execute(
            select(m.AuditEvent.entity_id).where(m.AuditEvent.action == "api.transaction-async")
        ).scalars()
        assert sorted(accepted) == sorted(ids)
    async with applying(api.app):
        done = [await outcome(api, a.headers["content-location"].removeprefix("http://api.test")) for a in answers]
    assert [d.status_code for d in done] == [200] * 8


# --- the queue's depth limit (api.queue_limit) -------------------------------------------------------------------


@contextlib.asynccontextmanager
async def served(api: Api, app: Any) -> AsyncIterator[Api]:
    """``app`` (over the practice's store, as ``api``'s) served to a client of its own, with the practice's token."""
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://api.test") as client:
        handle = Api(client, app, app.state.api.intake.starter, api.session_factory, api.npi, api.token, api.headers)
        yield handle
        await handle.settle()


def refusals_audited(api: Api) -> list[tuple[str, str, dict[str, Any]]]:
    """The audit events of refused POST /fhir calls: (actor, entity id, details)."""
    with api.session_factory() as session:
        events = session.execute(select(m.AuditEvent).where(m.AuditEvent.action == "api.transaction")).scalars()
        found = [(e.actor, e.entity_id, dict(e.details)) for e in events if e.details.get("status") in (429, 503)]
    return sorted(found, key=repr)  # in no order of their calls: audit ids are random


def queued_rows(api: Api) -> int:
    with api.session_factory() as session:
        found = select(func.count()).where(m.FhirAsyncRequest.status == "queued")
        return int(session.execute(found).scalar_one())


async def test_a_client_beyond_its_queue_limit_is_refused_until_the_applier_drains_it(
    api: Api, sealer: SealedDocuments
) -> None:
    async with served(api, _app(api.session_factory, sealer, api.starter, per_client=2)) as limited:
        for n in range(2):
            await post_async(limited, transaction(api.npi, mrn=f"L{n}", member=f"BML{n}"))
        before = snapshot(limited)
        over = transaction(api.npi, mrn="L2", member="BML2", family="Overlimit")
        refused = await limited.client.post("/fhir", json=over, headers={**api.headers, **ASYNC})
        assert refused.status_code == 429, refused.text
        assert int(refused.headers["retry-after"]) >= 1 and "content-location" not in refused.headers
        body = refused.json()
        assert body["resourceType"] == "OperationOutcome" and body["issue"][0]["code"] == "throttled"
        assert "2 asynchronous Bundles queued" in body["issue"][0]["diagnostics"]
        assert "Overlimit" not in refused.text and "BML2" not in refused.text and "L2" not in refused.text
        assert journaled(limited) == 2 and snapshot(limited) == before  # nothing of it kept
        assert refusals_audited(limited) == [("api:ehr", "-", {"status": 429, "issue": "throttled"})]

        other = limited.token_for("other-ehr", ("intake", "read"))  # another client has places of its own
        theirs = await limited.client.post(
            "/fhir", json=transaction(api.npi, mrn="O1", member="BMO1"), headers={**other, **ASYNC}
        )
        assert theirs.status_code == 202
        sync = await limited.client.post(
            "/fhir", json=transaction(api.npi, mrn="S1", member="BMS1"), headers=api.headers
        )
        assert sync.status_code == 200  # a synchronous POST queues nothing: no queue limit

        assert await asynchronous.apply_queued(limited.app.state.api) == 3  # the applier drains the queue
        assert queued_rows(limited) == 0
        again = await post_async(limited, over)
        assert journaled(limited) == 4 and again.startswith("/fhir/_async/")
    with api.session_factory() as session:
        finished = session.execute(select(m.FhirAsyncRequest.status).where(m.FhirAsyncRequest.status != "queued"))
        assert set(finished.scalars()) == {"done"}


async def test_the_queue_as_a_whole_is_bounded_and_a_cancel_frees_a_place(api: Api, sealer: SealedDocuments) -> None:
    async with served(api, _app(api.session_factory, sealer, api.starter, per_client=5, overall=3)) as limited:
        other = limited.token_for("other-ehr", ("intake", "read"))
        mine = [await post_async(limited, transaction(api.npi, mrn=f"W{n}", member=f"BMW{n}")) for n in range(2)]
        theirs = await limited.client.post(
            "/fhir", json=transaction(api.npi, mrn="X0", member="BMX0"), headers={**other, **ASYNC}
        )
        assert theirs.status_code == 202
        for headers in (other, api.headers):  # full for every client, each under its own limit
            refused = await limited.client.post("/fhir", json=transaction(api.npi), headers={**headers, **ASYNC})
            assert refused.status_code == 503, refused.text
            assert int(refused.headers["retry-after"]) >= 1
            issue = refused.json()["issue"][0]
            assert issue["code"] == "transient" and "queue is full (3 Bundles" in issue["diagnostics"]
        assert journaled(limited) == 3
        refused_by = [actor for actor, _, details in refusals_audited(limited) if details["status"] == 503]
        assert refused_by == ["api:ehr", "api:other-ehr"]

        assert (await limited.client.delete(mine[0], headers=api.headers)).status_code == 202
        again = await limited.client.post("/fhir", json=transaction(api.npi), headers={**other, **ASYNC})
        assert again.status_code == 202 and queued_rows(limited) == 3


async def test_accepts_committed_together_are_counted_one_by_one(api: Api, sealer: SealedDocuments) -> None:
    """Accepts arriving together (group commit) each take their place before the next is judged."""
    async with served(api, _app(api.session_factory, sealer, api.starter, per_client=3)) as limited:
        bundles = [transaction(api.npi, mrn=f"C{n}", member=f"BMC{n}") for n in range(7)]
        answers = await asyncio.gather(
            *(limited.client.post("/fhir", json=b, headers={**api.headers, **ASYNC}) for b in bundles)
        )
        assert sorted(a.status_code for a in answers) == [202] * 3 + [429] * 4
        assert journaled(limited) == 3 and len(refusals_audited(limited)) == 4


def test_the_rule_judges_a_group_in_order() -> None:
    limit = QueueLimit(per_client=2, overall=4)
    found = limit.refusals({"a": 1, "b": 1}, ["a", "a", "b", "c", "c"])
    assert [None if f is None else f.status for f in found] == [None, 429, None, 503, 503]
    assert QueueLimit(0, 0).refusals({"a": 10**6}, ["a"]) == [None]


async def test_two_api_processes_share_one_count(api: Api, sealer: SealedDocuments, store_url: str) -> None:
    """A second API process (an engine of its own) journals while the first one's journal transaction, which took
    the client's last place, is still open: it waits for that commit and is refused. Its outcome does not depend
    on the timing; the pause only gives a second process that did not wait the time to count a stale queue."""
    second_engine = make_engine(store_url)
    try:
        first = _app(api.session_factory, sealer, api.starter, per_client=1).state.api
        second = _app(make_session_factory(second_engine), sealer, RecordingStarter(), per_client=1).state.api
        with api.session_factory() as session:
            client_id = session.execute(select(m.ApiClient.id).where(m.ApiClient.name == "ehr")).scalar_one()
        who = Principal(client_id, "ehr", frozenset({"intake", "read"}))
        loop = asyncio.get_running_loop()

        def accept() -> asynchronous.Accepted:
            return asynchronous.Accepted(who, m.new_id(), b"sealed", "http://api.test/fhir", 1, loop.create_future())

        taking = accept()
        with sqlite_write_lock_first(), UnitOfWork(api.session_factory) as uow:  # the first process's journal
            assert asynchronous.journal_refusals(uow.session, first, [taking]) == [None]
            uow.session.add(
                m.FhirAsyncRequest(
                    id=taking.request_id,
                    client_id=client_id,
                    status="queued",
                    sealed_body=b"x",
                    base_url="-",
                    entries=1,
                )
            )
            uow.session.flush()
            later = asyncio.ensure_future(asyncio.to_thread(asynchronous.journal, second, [accept()]))
            await asyncio.sleep(0.5)
            uow.commit()
        refusals = await later
        assert len(refusals) == 1 and isinstance(refusals[0], FhirError) and refusals[0].status == 429
        assert journaled(api) == 1
    finally:
        second_engine.dispose()
