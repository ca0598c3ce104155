"""The console's front desk in a real Chromium: a coordinator registers a patient with a coverage and books a
virtual visit for them through intake (real Temporal dev server, no workers: the workflows are started and wait),
and sees the processes started; bad input (a past slot, a duplicate patient) is one form error and stores nothing.
An auditor may not open the page."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from activities.portals.session import CHROMIUM_ARGS
from console.accounts import Role, add_user
from console.app import create_app
from console.web import ConsoleOptions
from domain import models as m
from domain.enums import AppointmentKind
from tests.support.dev_stack import dev_stack, free_port
from tests.support.visits import add_provider, make_clinic
from workers.front_desk import FrontDeskForConsole
from workers.stack import serve_asgi
from workers.visit_desk import TelehealthDeskForConsole

pytestmark = [pytest.mark.browser, pytest.mark.temporal]

CHROMIUM = "/usr/bin/chromium"
PASSWORD = "front desk test passphrase"


@dataclass
class Desk:
    url: str
    factory: Any
    client: Any
    provider_id: str


@pytest.fixture
async def desk(tmp_path: Path, sqlite_url: str) -> AsyncIterator[Desk]:
    if shutil.which(CHROMIUM) is None:
        pytest.skip("Debian chromium is not installed")
    async with dev_stack(tmp_path / "home", sqlite_url, workers=False) as stack:
        factory = stack.container.session_factory
        clinic = make_clinic(factory)
        provider_id = add_provider(factory, clinic, "ada", licensed_in=("OR",))
        with factory() as session:
            add_user(session, "cora", Role.COORDINATOR, PASSWORD)
            add_user(session, "aud", Role.AUDITOR, PASSWORD)
            session.commit()
        app = create_app(
            stack.client,
            factory,
            session_secret=b"front-desk-test-secret-0123456789",
            options=ConsoleOptions(
                front_desk=FrontDeskForConsole(stack.container, stack.client),
                telehealth=TelehealthDeskForConsole(stack.container, stack.client),
            ),
        )
        port = free_port()
        async with serve_asgi(app, "127.0.0.1", port, name="console"):
            yield Desk(f"http://127.0.0.1:{port}", factory, stack.client, provider_id)


@pytest.fixture
async def browser() -> AsyncIterator[Any]:
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        chromium = await playwright.chromium.launch(executable_path=CHROMIUM, args=list(CHROMIUM_ARGS), headless=True)
        yield chromium
        await chromium.close()


async def _signed_in(browser: Any, desk: Desk, user: str) -> Any:
    page = await (await browser.new_context()).new_page()
    await page.goto(f"{desk.url}/login")
    await page.fill("#username", user)
    await page.fill("#password", PASSWORD)
    await page.click("button[type=submit]")
    await page.wait_for_url(f"{desk.url}/dashboard")
    return page


async def _register(page: Any, desk: Desk, member_id: str) -> None:
    await page.goto(f"{desk.url}/front-desk")
    form = page.locator("#register")
    await form.locator("[name=first_name]").fill("Testa")
    await form.locator("[name=last_name]").fill("Deskpatient")
    await form.locator("[name=birth_date]").fill("1984-03-09")
    await form.locator("[name=sex]").select_option("F")
    await form.locator("[name=phone]").fill("5035550177")
    await form.locator("[name=email]").fill("testa@example.invalid")
    await form.locator("[name=state]").fill("OR")
    await form.locator("[name=payer]").select_option("SBXBM")
    await form.locator("[name=member_id]").fill(member_id)
    await form.locator("#register-submit").click()
    await page.wait_for_load_state()


def _counts(desk: Desk) -> tuple[int, int, int, int]:
    with desk.factory() as session:
        return (
            session.scalar(select(func.count()).select_from(m.Patient)) or 0,
            session.scalar(select(func.count()).select_from(m.Coverage)) or 0,
            session.scalar(select(func.count()).select_from(m.Appointment)) or 0,
            session.scalar(select(func.count()).select_from(m.ProcessStart)) or 0,
        )


async def _book(page: Any, patient: str, provider_id: str, starts: datetime) -> None:
    form = page.locator("#book")
    await form.locator("[name=patient]").fill(patient)
    await form.locator("[name=provider_id]").select_option(provider_id)
    await form.locator("[name=where]").select_option("virtual")
    await form.locator("[name=visit_type]").select_option("telehealth_follow_up")
    await form.locator("[name=starts_at]").fill(starts.strftime("%Y-%m-%dT%H:%M"))
    await form.locator("#book-submit").click()
    await page.wait_for_load_state()


async def test_a_coordinator_registers_and_books_and_the_processes_start(browser: Any, desk: Desk) -> None:
    page = await _signed_in(browser, desk, "cora")
    await _register(page, desk, "MEMDESK001")
    assert await page.locator("#done").count() == 1, await page.content()
    patient_id = (await page.locator("#record").inner_text()).strip()
    assert f"registration-{patient_id}" in await page.locator("#started").inner_text()
    assert await page.locator("#dispatch").inner_text() == "Started."
    with desk.factory() as session:
        patient = session.get(m.Patient, patient_id)
        assert patient is not None and patient.state == "OR"
        coverage = session.execute(select(m.Coverage).where(m.Coverage.patient_id == patient_id)).scalar_one()
        assert coverage.member_id == "MEMDESK001"
        starts = session.execute(select(m.ProcessStart).where(m.ProcessStart.entity_id == patient_id)).scalars().all()
        assert [s.process for s in starts] == ["registration"] and starts[0].started_at is not None
    running = await desk.client.get_workflow_handle(f"registration-{patient_id}").describe()
    assert running.workflow_type == "PatientRegistration"  # started on the server

    before = _counts(desk)
    await _register(page, desk, "MEMDESK001")  # the same person again: the duplicate rule refuses
    assert await page.locator("#form-error").count() == 1
    assert _counts(desk) == before

    # A past slot is refused by intake's booking rule: one form error, nothing stored.
    await _book(page, patient_id, desk.provider_id, datetime.now(UTC) - timedelta(days=1))
    assert await page.locator("#form-error").count() == 1
    assert _counts(desk) == before

    await _book(page, patient_id, desk.provider_id, datetime.now(UTC) + timedelta(days=5))
    assert await page.locator("#done").count() == 1, await page.content()
    appointment_id = (await page.locator("#record").inner_text()).strip()
    started = await page.locator("#started").inner_text()
    with desk.factory() as session:
        row = session.get(m.Appointment, appointment_id)
        assert row is not None and row.patient_id == patient_id and row.kind == AppointmentKind.TELEHEALTH
        rows = session.execute(select(m.ProcessStart).where(m.ProcessStart.entity_id == appointment_id)).scalars()
        recorded = list(rows)
        assert all(r.started_at is not None for r in recorded)  # intake's outbox dispatched it
        # the outbox names the workflow that really runs: a virtual visit's VirtualVisit, not the Visit
        assert {r.workflow_id for r in recorded} == {f"virtual-visit-{appointment_id}"}
        audits = session.execute(select(m.AuditEvent.action, m.AuditEvent.actor)).all()
    assert f"virtual-visit-{appointment_id}" in started
    assert await page.locator("#dispatch").inner_text() == "Started."
    visit = await desk.client.get_workflow_handle(f"virtual-visit-{appointment_id}").describe()
    assert visit.workflow_type == "VirtualVisit"
    assert ("front_desk.book", "cora") in [(a, b) for a, b in audits]
    assert any(actor == "console:cora" for _, actor in audits)  # intake's own events name the console user

    # The coordinator's board: the visit's VirtualVisit has recorded nothing yet (no workers here), so it is
    # "booked", never "invited" before an invite went out; Start is intake's StartVisit (the running one is kept).
    day = (datetime.now(UTC) + timedelta(days=5)).date().isoformat()
    await page.goto(f"{desk.url}/telehealth?day={day}")
    row = page.locator(f"#visit-{appointment_id}")
    assert await row.get_attribute("data-state") == "booked"
    assert await row.locator("button.resend").count() == 0
    await row.locator("button.start").click()
    await page.wait_for_url("**done=start")
    assert (await desk.client.get_workflow_handle(f"virtual-visit-{appointment_id}").describe()).run_id == visit.run_id
    with desk.factory() as session:
        actions = session.execute(select(m.AuditEvent.action).where(m.AuditEvent.actor == "cora")).scalars().all()
    assert "telehealth.start" in actions


async def test_an_auditor_may_not_use_the_front_desk(browser: Any, desk: Desk) -> None:
    page = await _signed_in(browser, desk, "aud")
    response = await page.goto(f"{desk.url}/front-desk")
    assert response is not None and response.status == 403
