"""Payer portal automation through real Chromium against the sandbox portal (one browser for the module)."""

from __future__ import annotations

import asyncio
import json
import time
import urllib.request
from collections.abc import AsyncIterator, Iterator
from datetime import date, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities.contracts import portal as contract
from activities.documents.local import LocalDocumentStore
from activities.eob import extract_eob
from activities.portals.activities import EobActivities, PortalActivities
from activities.portals.base import OtpRequest, PayerPortal, PortalAccount
from activities.portals.credentials import PortalCredentials
from activities.portals.errors import PortalLayoutChanged, PortalLoginFailed, PortalOtpUnavailable, PortalUnavailable
from activities.portals.lease import LeasePolicy, LeaseStore, PortalLeases
from activities.portals.sandbox_loader import load_sandbox_portal
from activities.portals.session import PortalSessions
from domain import models as m
from domain.store.engine import make_engine, make_session_factory
from domain.totp import new_secret
from sandbox.portal.app import create_app
from sandbox.portal.serve import PortalServer
from sandbox.portal.state import Account, ClaimLineIn, Faults, Member, PortalClaim, PortalState
from workers.synthetic import seed_practice

pytestmark = pytest.mark.browser

CHROMIUM = "/usr/bin/chromium"
TOTP_SECRET = new_secret()
BIRTH = date(1971, 4, 9)


@pytest.fixture(scope="module")
def state() -> PortalState:
    portal = PortalState(seed=11, session_ttl_seconds=600)
    portal.add_account("SBXCC", Account("cc-biller", "cc-pass", "totp", TOTP_SECRET))
    portal.add_account("SBXCC", Account("cc-second", "cc-pass2", "totp", TOTP_SECRET))
    portal.add_account("SBXHH", Account("hh-biller", "hh-pass", "sms"))
    for payer in ("SBXCC", "SBXHH"):
        portal.load_members(
            payer,
            [
                Member("W100200300", BIRTH, "Gold PPO", date(2020, 1, 1), None, 3000, 45000),
                Member("W999", date(1980, 1, 1), "Bronze", date(2018, 1, 1), date(2019, 12, 31)),
            ],
        )
        portal.load_claims(
            payer,
            [
                PortalClaim(
                    f"CLM-{payer}-{n}",
                    "W100200300",
                    date(2026, 10, n),
                    (ClaimLineIn("99213", 15000), ClaimLineIn("36415", 2500, 1)),
                    date(2026, 10, n + 1),
                )
                for n in (1, 2, 3)
            ],
        )
        portal.issue_eob(payer, [f"CLM-{payer}-1", f"CLM-{payer}-2"], payment_date=date(2026, 11, 1))
    return portal


@pytest.fixture(scope="module")
def server(state: PortalState) -> Iterator[PortalServer]:
    with PortalServer(create_app(state, admin_token="adm")) as running:
        yield running


@pytest.fixture(scope="module")
def documents(tmp_path_factory: pytest.TempPathFactory) -> LocalDocumentStore:
    return LocalDocumentStore(tmp_path_factory.mktemp("docs"))


@pytest.fixture(scope="module")
async def sessions(documents: LocalDocumentStore) -> AsyncIterator[PortalSessions]:
    portal_sessions = PortalSessions(CHROMIUM, documents, attempts=3, backoff_seconds=0.05, selector_timeout_ms=1500)
    yield portal_sessions
    await portal_sessions.close()


def cascade(server: PortalServer, password: str = "cc-pass", username: str = "cc-biller") -> PortalAccount:
    return PortalAccount("SBXCC", "cascade", server.base_url, username, password, TOTP_SECRET)


def harbor(server: PortalServer) -> PortalAccount:
    return PortalAccount("SBXHH", "harbor", server.base_url, "hh-biller", "hh-pass")


def outbox_reader(server: PortalServer):  # the "person" who reads the texted code and types it in
    async def provide(request: OtpRequest) -> str:
        req = urllib.request.Request(
            f"{server.base_url}/admin/payers/{request.payer_id}/outbox/{request.username}",
            headers={"X-Sandbox-Admin": "adm"},
        )
        return str(json.loads(urllib.request.urlopen(req).read())["code"])

    return provide


async def no_code(request: OtpRequest) -> str:
    raise PortalOtpUnavailable("nobody is there")


@pytest.mark.parametrize("variant", ["cascade", "harbor"])
async def test_eligibility_claim_status_and_eobs(
    variant: str, server: PortalServer, sessions: PortalSessions, state: PortalState
) -> None:
    account = cascade(server) if variant == "cascade" else harbor(server)
    payer = account.payer_id

    async def task(portal: PayerPortal):  # type: ignore[no-untyped-def]
        active = await portal.check_eligibility("W100200300", BIRTH)
        wrong_birth = await portal.check_eligibility("W100200300", date(1971, 4, 10))
        ended = await portal.check_eligibility("W999", date(1980, 1, 1))
        paid = await portal.claim_status(f"CLM-{payer}-1", "W100200300", date(2026, 10, 1))
        pending = await portal.claim_status(f"CLM-{payer}-3", "W100200300", date(2026, 10, 3))
        missing = await portal.claim_status("CLM-NOPE", "W100200300", date(2026, 10, 3))
        listings = await portal.list_eobs()
        pdf = await portal.download_eob(listings[0])
        return active, wrong_birth, ended, paid, pending, missing, listings, pdf

    active, wrong_birth, ended, paid, pending, missing, listings, pdf = await sessions.run(
        account, outbox_reader(server), task, label="test"
    )
    assert active.found and active.active and active.plan == "Gold PPO"
    assert (active.copay_cents, active.deductible_remaining_cents) == (3000, 45000)
    assert not wrong_birth.found
    assert ended.found and not ended.active and ended.effective_to == date(2019, 12, 31)
    claim = state.payer(payer).claims[f"CLM-{payer}-1"]
    assert (paid.status, paid.paid_cents, paid.payer_claim_control_number) == ("paid", claim.paid_cents, claim.icn)
    assert paid.patient_responsibility_cents == claim.patient_responsibility_cents
    assert pending.found and pending.status == "in_process"
    assert not missing.found
    assert len(listings) == 1 and listings[0].payment_date == date(2026, 11, 1)
    remittance = extract_eob(_write(pdf), payer)
    assert remittance.trace_number == listings[0].trace_number
    assert remittance.payment_amount_cents == listings[0].amount_cents
    assert sorted(c.patient_control_number for c in remittance.claims) == [f"CLM-{payer}-1", f"CLM-{payer}-2"]


def _write(data: bytes) -> Path:
    import tempfile

    handle = tempfile.NamedTemporaryFile(suffix=".pdf", delete=False)
    handle.write(data)
    handle.close()
    return Path(handle.name)


async def test_wrong_password_is_typed_and_leaves_evidence(
    server: PortalServer, sessions: PortalSessions, documents: LocalDocumentStore
) -> None:
    with pytest.raises(PortalLoginFailed) as caught:
        await sessions.run(cascade(server, password="nope"), no_code, _eligibility, label="badpw")
    assert "nope" not in str(caught.value)
    assert caught.value.screenshot_key and documents.get(caught.value.screenshot_key).startswith(b"\x89PNG")
    assert caught.value.html_key and b"Invalid username or password" in documents.get(caught.value.html_key)


async def test_a_code_nobody_supplies_is_typed(server: PortalServer, sessions: PortalSessions) -> None:
    with pytest.raises(PortalOtpUnavailable):
        await sessions.run(harbor(server), no_code, _eligibility, label="nocode")


async def _eligibility(portal: PayerPortal):  # type: ignore[no-untyped-def]
    return await portal.check_eligibility("W100200300", BIRTH)


async def test_changed_layout_is_typed(
    server: PortalServer, sessions: PortalSessions, state: PortalState, documents: LocalDocumentStore
) -> None:
    state.layout_revision["cascade"] = 2
    try:
        with pytest.raises(PortalLayoutChanged, match="member id field") as caught:
            await sessions.run(cascade(server), no_code, _eligibility, label="layout")
    finally:
        state.layout_revision["cascade"] = 1
    assert caught.value.html_key and b"subscriber-number" in documents.get(caught.value.html_key)


async def test_error_pages_are_retried_then_typed(
    server: PortalServer, sessions: PortalSessions, state: PortalState, tmp_path: Path
) -> None:
    documents = LocalDocumentStore(tmp_path)
    sessions = PortalSessions(CHROMIUM, documents, attempts=4, backoff_seconds=0.05, selector_timeout_ms=1500)
    state.faults = Faults(error_rate=1.0)
    try:
        with pytest.raises(PortalUnavailable) as caught:
            await sessions.run(cascade(server), no_code, _eligibility, label="down")
        assert caught.value.html_key and b"temporarily unavailable" in documents.get(caught.value.html_key)
        assert len(documents.list("portal/SBXCC/failures/")) == 2  # one attempt's evidence: png and html
        state.faults = Faults(error_rate=0.15, slow_rate=0.3, slow_seconds=0.05)
        answers = [await sessions.run(cascade(server), no_code, _eligibility, label="flaky") for _ in range(3)]
    finally:
        state.faults = Faults()
        await sessions.close()
    assert all(a.found for a in answers)


async def test_expired_session_signs_in_again(server: PortalServer, sessions: PortalSessions, state: PortalState):
    async def slow_task(portal: PayerPortal):  # type: ignore[no-untyped-def]
        first = await portal.check_eligibility("W100200300", BIRTH)
        state.sessions.clear()  # the portal forgets every session, as an expiry would
        second = await portal.check_eligibility("W100200300", BIRTH)
        return first, second

    first, second = await sessions.run(harbor(server), outbox_reader(server), slow_task, label="expiry")
    assert first == second and first.found


async def test_one_session_per_account_at_a_time(server: PortalServer, sessions: PortalSessions) -> None:
    spans: list[tuple[str, float, float]] = []

    def timed(name: str):  # type: ignore[no-untyped-def]
        async def task(portal: PayerPortal):  # type: ignore[no-untyped-def]
            start = time.monotonic()
            answer = await portal.check_eligibility("W100200300", BIRTH)
            spans.append((name, start, time.monotonic()))
            return answer

        return task

    same = cascade(server)
    other = cascade(server, password="cc-pass2", username="cc-second")
    results = await asyncio.gather(
        sessions.run(same, no_code, timed("a1"), label="lock"),
        sessions.run(same, no_code, timed("a2"), label="lock"),
        sessions.run(other, no_code, timed("b"), label="lock"),
    )
    assert all(r.found for r in results)  # the second sign-in did not knock the first session out
    a = sorted((s for s in spans if s[0].startswith("a")), key=lambda s: s[1])
    assert a[0][2] <= a[1][1]  # the same account's sessions never overlapped


async def test_workers_on_different_machines_share_the_account_lease(server: PortalServer, sqlite_url: str) -> None:
    """Two PortalSessions with their own engines on one store (as workers on two machines) take turns."""
    engines = [make_engine(sqlite_url), make_engine(sqlite_url)]
    policy = LeasePolicy(ttl=timedelta(seconds=30), first_poll=timedelta(milliseconds=50))
    first, second = (
        PortalSessions(CHROMIUM, None, leases=PortalLeases(make_session_factory(engine), policy)) for engine in engines
    )
    spans: list[tuple[float, float]] = []

    async def task(portal: PayerPortal):  # type: ignore[no-untyped-def]
        start = time.monotonic()
        answer = await portal.check_eligibility("W100200300", BIRTH)
        spans.append((start, time.monotonic()))
        return answer

    try:
        results = await asyncio.gather(
            first.run(cascade(server), no_code, task, label="lock"),
            second.run(cascade(server), no_code, task, label="lock"),
        )
    finally:
        await first.close()
        await second.close()
    assert all(r.found for r in results)
    spans.sort()
    assert spans[0][1] <= spans[1][0]
    stored = LeaseStore(make_session_factory(engines[0])).current(cascade(server).lock_key)
    assert stored is not None and stored.token == 2  # the account changed hands once, through the store
    for engine in engines:
        engine.dispose()


# --- the activities, over a seeded store -------------------------------------------------------------------


async def test_activities_over_the_synthetic_practice(
    server: PortalServer, sessions: PortalSessions, documents: LocalDocumentStore, sqlite_url: str
) -> None:
    engine = make_engine(sqlite_url)
    factory = make_session_factory(engine)
    with factory() as session:
        seed_practice(session, patients=60, seed=5, as_of=date(2026, 11, 1))
        session.commit()
    accounts = {
        "SBXCC": {"username": "demo-cc", "password": "pw-cc", "otp": "totp", "totp_secret": TOTP_SECRET},
        "SBXHH": {"username": "demo-hh", "password": "pw-hh", "otp": "totp", "totp_secret": TOTP_SECRET},
    }
    loaded = load_sandbox_portal(factory, server.base_url, admin_token="adm", accounts=accounts)
    assert {p.payer_id for p in loaded} == {"SBXCC", "SBXHH"} and all(p.members for p in loaded)
    credentials = PortalCredentials.from_sources(
        {
            "CARECYCLE_PORTAL_SBXCC_USERNAME": "demo-cc",
            "CARECYCLE_PORTAL_SBXCC_PASSWORD": "pw-cc",
            "CARECYCLE_PORTAL_SBXCC_TOTP_SECRET": TOTP_SECRET,
            "CARECYCLE_PORTAL_SBXHH_USERNAME": "demo-hh",
            "CARECYCLE_PORTAL_SBXHH_PASSWORD": "pw-hh",
            "CARECYCLE_PORTAL_SBXHH_TOTP_SECRET": TOTP_SECRET,
        },
        default_url=server.base_url,
    )
    activities = PortalActivities(factory, sessions, credentials, documents)
    env = ActivityEnvironment()
    with factory() as session:
        coverage = session.scalars(
            select(m.Coverage).join(m.Payer, m.Payer.id == m.Coverage.payer_id).where(m.Payer.payer_id == "SBXCC")
        ).first()
        claim = session.scalars(
            select(m.Claim)
            .join(m.Payer, m.Payer.id == m.Claim.payer_id)
            .where(
                m.Payer.payer_id == "SBXHH",
                m.Claim.status.in_(("submitted", "accepted")),
                m.Claim.coverage_id.is_not(None),
            )
        ).first()
        assert coverage is not None and claim is not None
        expected_active = coverage.is_active_on(date.today())
        claim_id = claim.id
    eligibility = await env.run(activities.check_eligibility, contract.PortalEligibilityInput(coverage.id))
    assert eligibility.status == ("active" if expected_active else "inactive") and eligibility.route == "portal"
    status = await env.run(activities.claim_status, contract.PortalClaimStatusInput(claim_id))
    assert status.found and status.status == "in_process" and status.category == "P1"
    with factory() as session:  # the audit trail says what the portal answered, and that the portal was asked
        (asked,) = session.scalars(select(m.AuditEvent).where(m.AuditEvent.action == "claim.status_inquiry"))
        assert asked.entity_id == claim_id
        assert asked.details == {"route": "portal", "payer": "SBXHH", "category": "P1", "status": "in_process"}

    server.app.state.portal.issue_eob("SBXHH", payment_date=date(2026, 11, 20))
    first = await env.run(activities.download_eobs, contract.PortalEobDownloadInput("SBXHH"))
    assert first.document_keys
    # Stored but not read yet (the run that fetched them may have failed before reading): handed out again.
    again = await env.run(activities.download_eobs, contract.PortalEobDownloadInput("SBXHH"))
    assert set(again.document_keys) == set(first.document_keys)
    with factory() as session:
        rows = session.scalars(select(m.Document).where(m.Document.kind == "eob_pdf")).all()
        assert {r.key for r in rows} >= set(first.document_keys)
    read = env.run(EobActivities(documents).read, contract.EobReadInput(first.document_keys[-1], "SBXHH"))
    assert read.status == "ok" and read.claims > 0 and read.payer_id == "SBXHH" and read.remittance_key
    for key in first.document_keys[:-1]:
        env.run(EobActivities(documents).read, contract.EobReadInput(key, "SBXHH"))
    # Once read, an EOB is known: a new download skips it.
    third = await env.run(activities.download_eobs, contract.PortalEobDownloadInput("SBXHH"))
    assert third.document_keys == () and third.already_stored >= len(first.document_keys)
    # The reading was stored as an 835 where posting reads 835s: it posts to the ledger like one, once.
    from domain.posting.service import post_remittance
    from domain.x12.remit835 import parse_835

    (remittance,) = parse_835(documents.get(f"edi/835/{read.remittance_key}.x12").decode())
    assert remittance.payment_amount_cents == read.payment_amount_cents
    with factory() as session:
        posted = post_remittance(session, remittance, source_document_key=first.document_keys[-1])
        session.commit()
        # The portal also held a claim made up by this module's fixture: it matches nothing, as it should.
        outcomes = {c.patient_control_number: c.outcome for c in posted.claims}
        assert outcomes.pop("CLM-SBXHH-3") == "unmatched"
        assert outcomes and set(outcomes.values()) <= {"paid", "partially_paid", "denied"}
        assert posted.claims_matched == len(outcomes) and posted.entries_written and not posted.already_posted
        again_posted = post_remittance(session, remittance)
        assert again_posted.already_posted
    status = await env.run(activities.claim_status, contract.PortalClaimStatusInput(claim_id))
    assert status.finalized and status.category in ("F1", "F2")

    wrong = PortalCredentials.from_sources(
        {"CARECYCLE_PORTAL_SBXCC_USERNAME": "demo-cc", "CARECYCLE_PORTAL_SBXCC_PASSWORD": "bad"},
        default_url=server.base_url,
    )
    with pytest.raises(ApplicationError) as caught:
        await env.run(
            PortalActivities(factory, sessions, wrong, documents).check_eligibility,
            contract.PortalEligibilityInput(coverage.id),
        )
    assert caught.value.type == contract.ERROR_LOGIN_FAILED and caught.value.non_retryable
    details = caught.value.details[0]
    assert isinstance(details, contract.PortalFailureDetails) and details.screenshot_key
    missing = PortalCredentials.from_sources({}, default_url=server.base_url)
    with pytest.raises(ApplicationError) as caught:
        await env.run(
            PortalActivities(factory, sessions, missing, documents).check_eligibility,
            contract.PortalEligibilityInput(coverage.id),
        )
    assert caught.value.type == contract.ERROR_CREDENTIALS_MISSING
    engine.dispose()


async def test_mounted_under_a_prefix(state: PortalState, sessions: PortalSessions) -> None:
    """The embedded sandbox mounts the portal at /portal: links, redirects and downloads follow the prefix."""
    from fastapi import FastAPI

    parent = FastAPI()
    parent.mount("/portal", create_app(state))
    with PortalServer(parent) as mounted:
        account = PortalAccount("SBXCC", "cascade", mounted.base_url + "/portal", "cc-biller", "cc-pass", TOTP_SECRET)

        async def task(portal: PayerPortal):  # type: ignore[no-untyped-def]
            answer = await portal.check_eligibility("W100200300", BIRTH)
            listings = await portal.list_eobs()
            return answer, listings[0].url, await portal.download_eob(listings[0])

        answer, url, pdf = await sessions.run(account, no_code, task, label="mounted")
    assert answer.found and url.startswith("/portal/cascade/eob/") and pdf.startswith(b"%PDF")


async def test_a_portal_that_cannot_be_reached_is_unavailable(sessions: PortalSessions) -> None:
    import socket

    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    account = PortalAccount("SBXCC", "cascade", f"http://127.0.0.1:{port}", "cc-biller", "cc-pass", TOTP_SECRET)
    with pytest.raises(PortalUnavailable, match="cannot be reached") as caught:
        await sessions.run(account, no_code, _eligibility, label="unreachable")
    assert "cc-pass" not in str(caught.value)
