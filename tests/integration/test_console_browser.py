"""Every console page as every role, in a real Chromium, against the whole embedded stack (`running_stack`: dev
server, workers, codec server, the Web UI's proxy, the console) with a seeded synthetic practice.

The role x page matrix (console.pages) is checked page by page: allowed pages answer 200 with no CSP violation
in the browser's console, the others 403; the table in docs/operations.md is the same matrix. A biller resolves
a work item through the generated form; operations opens the Temporal Web UI from the console and the UI decodes
payloads through its proxy at once; a biller is refused there. Screenshots of the dashboard, a claim page and an
audit timeline are taken (into docs/images/ with CARECYCLE_UPDATE_SCREENSHOTS=1)."""

from __future__ import annotations

import asyncio
import os
import shutil
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from activities.portals.session import CHROMIUM_ARGS
from console.accounts import PERMISSIONS, Role, add_user
from console.pages import PAGES, markdown_table
from domain import models as m
from domain.store.engine import make_engine, make_session_factory
from flows.workitems import StandaloneWorkItemInput, StandaloneWorkItemWorkflow
from tests.support.dev_stack import stack_settings
from workers.stack import running_stack
from workers.synthetic import seed_practice

pytestmark = [pytest.mark.browser, pytest.mark.temporal]

CHROMIUM = "/usr/bin/chromium"
PASSWORD = "browser test passphrase"
USERS = {
    Role.OPERATIONS: "otto",
    Role.BILLER: "bill",
    Role.AUDITOR: "aud",
    Role.ADMIN: "root",
    Role.COORDINATOR: "cora",
}
DOCS = Path(__file__).resolve().parents[2] / "docs"


@dataclass
class Running:
    console: str
    ui: str
    ids: dict[str, str]
    run_id: str
    shots: Path


def test_the_matrix_in_the_docs_is_the_code_s() -> None:
    assert markdown_table() in (DOCS / "operations.md").read_text()


def _remittances(session: Any) -> None:
    """Remittance rows for the dashboard's denial and cash charts (the seeded practice has claims, no 835s)."""
    claims = session.execute(select(m.Claim).order_by(m.Claim.id).limit(30)).scalars().all()
    today = date.today()
    for index, claim in enumerate(claims):
        denied = index % 4 == 0
        remittance = m.Remittance(
            payer_id=claim.payer_id,
            trace_number=f"TRC{index:05d}",
            payment_method="ACH",
            payment_amount_cents=0 if denied else 6000 + 731 * index,
            payment_date=today - timedelta(days=index % 25),
            source="835",
        )
        session.add(remittance)
        session.flush()
        row = m.RemittanceClaim(
            remittance_id=remittance.id,
            claim_id=claim.id,
            patient_control_number=claim.id[:20],
            status_code="4" if denied else "1",
            charge_cents=claim.total_charge_cents,
            paid_cents=remittance.payment_amount_cents,
        )
        session.add(row)
        session.flush()
        reason = ("50", "16", "197")[index % 3] if denied else "45"
        session.add(
            m.RemittanceAdjustment(remittance_claim_id=row.id, group_code="CO", reason_code=reason, amount_cents=1500)
        )
        if index % 3 == 0:
            session.add(
                m.PatientPayment(
                    patient_id=claim.patient_id,
                    amount_cents=2500 + 100 * index,
                    method="card",
                    received_at=datetime.now(UTC) - timedelta(days=index % 20),
                    recorded_by="front-desk",
                )
            )


@pytest.fixture(scope="module")
async def running(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Running]:
    if shutil.which(CHROMIUM) is None:
        pytest.skip("Debian chromium is not installed")
    home = tmp_path_factory.mktemp("console-browser") / "home"
    settings = stack_settings(home, f"sqlite:///{home / 'carecycle.db'}", ui=True)
    home.mkdir(parents=True)
    async with running_stack(settings) as info:
        assert info.temporal is not None
        factory = make_session_factory(make_engine(settings.database_url))
        with factory() as session:
            seed_practice(session, patients=25, seed=11, as_of=date.today())
            _remittances(session)
            for role, name in USERS.items():
                add_user(session, name, role, PASSWORD)
            session.commit()
            claim = (
                session.execute(
                    select(m.Claim).join(m.RemittanceClaim, m.RemittanceClaim.claim_id == m.Claim.id).limit(1)
                ).scalar_one_or_none()
                or session.execute(select(m.Claim).limit(1)).scalar_one()
            )
            claim_id, patient_id = claim.id, claim.patient_id
        client = info.temporal.client
        handle = await client.start_workflow(
            StandaloneWorkItemWorkflow.run,
            StandaloneWorkItemInput(
                reason="claim_denied", entity_type="claim", entity_id=claim_id, summary="CO-50", sla_seconds=86400
            ),
            id=f"workitem-claim-{claim_id}-claim_denied",
            task_queue="revenue",
        )
        views: list[Any] = []
        for _ in range(200):
            views = await handle.query(StandaloneWorkItemWorkflow.open_work_items)
            if views:
                break
            await asyncio.sleep(0.1)
        assert views, "the work item never opened"
        telehealth = await _blocked_virtual_visit(settings, client)
        shots = DOCS / "images" if os.environ.get("CARECYCLE_UPDATE_SCREENSHOTS") == "1" else home / "shots"
        shots.mkdir(parents=True, exist_ok=True)
        yield Running(
            console=info.urls["console"],
            ui=info.urls["temporal_ui"],
            ids={
                "claim": claim_id,
                "patient": patient_id,
                "workflow": handle.id,
                "work_item": views[0].work_item_id,
                **telehealth,
            },
            run_id=handle.result_run_id or "",
            shots=shots,
        )
        factory.kw["bind"].dispose()


@pytest.fixture(scope="module")
async def browser(running: Running) -> AsyncIterator[Any]:
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        chromium = await playwright.chromium.launch(executable_path=CHROMIUM, args=list(CHROMIUM_ARGS), headless=True)
        yield chromium
        await chromium.close()


async def _signed_in(browser: Any, running: Running, role: Role) -> tuple[Any, Any, list[str]]:
    context = await browser.new_context(viewport={"width": 1360, "height": 900})
    page = await context.new_page()
    problems: list[str] = []
    page.on("console", lambda msg: problems.append(msg.text) if msg.type == "error" else None)
    await page.goto(f"{running.console}/login")
    await page.fill("#username", USERS[role])
    await page.fill("#password", PASSWORD)
    await page.click("button[type=submit]")
    await page.wait_for_url(f"{running.console}/dashboard")
    return context, page, problems


@pytest.mark.parametrize("role", list(Role))
async def test_every_page_as_every_role(browser: Any, running: Running, role: Role) -> None:
    context, page, problems = await _signed_in(browser, running, role)
    try:
        for entry in PAGES:
            allowed = entry.permission in PERMISSIONS[role]
            path = entry.path.format(**running.ids)
            if entry.path.endswith("#resolve"):
                await page.goto(f"{running.console}{path.removesuffix('#resolve')}")
                buttons = await page.locator("text=Send resolution").count()
                assert (buttons > 0) is allowed, (role, entry.name)
                continue
            response = await page.goto(f"{running.console}{path}")
            assert response is not None
            if entry.path == "/temporal-ui" and allowed:
                assert page.url.startswith(running.ui), (role, page.url)  # through the grant, into the Web UI
                assert response.status == 200
                continue
            assert response.status == (200 if allowed else 403), (role, entry.name, response.status)
            if role is Role.OPERATIONS and entry.path == "/dashboard":
                await page.screenshot(path=str(running.shots / "console-dashboard.png"), full_page=True)
            shown = [p for p in problems if "Content Security Policy" in p or "Refused" in p]
            assert not shown, (role, entry.name, shown)
    finally:
        await context.close()


async def test_a_biller_resolves_through_the_generated_form(browser: Any, running: Running) -> None:
    context, page, _ = await _signed_in(browser, running, Role.BILLER)
    try:
        await page.goto(f"{running.console}/claims/{running.ids['claim']}")
        await page.screenshot(path=str(running.shots / "console-claim.png"), full_page=True)
        await page.goto(f"{running.console}/work-items/{running.ids['work_item']}")
        form = page.locator("#action-appeal")
        await form.locator("textarea[name=note]").fill("records attached")
        await form.locator("button").click()
        await page.wait_for_url("**done=appeal")
        assert "Resolution sent: appeal" in await page.content()
    finally:
        await context.close()


async def test_operations_opens_the_web_ui_and_it_decodes(browser: Any, running: Running) -> None:
    context, page, _ = await _signed_in(browser, running, Role.OPERATIONS)
    try:
        await page.click("text=Temporal Web UI")
        await page.wait_for_url(f"{running.ui}/**")
        history = f"{running.ui}/namespaces/default/workflows/{running.ids['workflow']}/{running.run_id}/history"
        async with page.expect_response(lambda r: "/codec/decode" in r.url, timeout=60_000) as decoding:
            await page.goto(history)
        assert (await decoding.value).status == 200
        await page.wait_for_timeout(1500)  # let the UI render the decoded input for the picture
        await page.screenshot(path=str(running.shots / "temporal-web-ui-decoded.png"))
    finally:
        await context.close()
    fresh = await browser.new_context()
    try:
        stranger = await fresh.new_page()
        await stranger.goto(f"{running.ui}/namespaces/default/workflows")
        assert stranger.url.startswith(f"{running.console}/login")  # the Web UI asks the console who you are
    finally:
        await fresh.close()


async def test_an_admin_adds_and_revokes_an_api_client(browser: Any, running: Running) -> None:
    context, page, _ = await _signed_in(browser, running, Role.ADMIN)
    try:
        await page.goto(f"{running.console}/admin/api-clients")
        await page.fill("#client-name", "emr-feed")
        await page.check("#scope-read")
        await page.click("text=Add client")
        token = await page.locator("code.secret").inner_text()
        assert token.startswith("ccapi_") and "emr-feed" in await page.content()
        await page.goto(f"{running.console}/admin/api-clients")
        assert token not in await page.content()  # shown once
        await page.click("text=Revoke")
        assert "revoked emr-feed" in await page.content()
        await page.goto(f"{running.console}/audit-log?action=api_client.&actor=root")
        text = await page.inner_text("main")
        assert "api_client.added" in text and "api_client.revoked" in text
    finally:
        await context.close()


async def test_an_auditor_reads_the_timeline(browser: Any, running: Running) -> None:
    context, page, _ = await _signed_in(browser, running, Role.AUDITOR)
    try:
        await page.goto(f"{running.console}/workflows/{running.ids['workflow']}")
        text = await page.inner_text("main")
        assert "Replays deterministically" in text, text[:3000]
        assert (
            "Opened a work item for a person" in text and "Update resolve accepted: appeal (records attached)" in text
        )
        await page.screenshot(path=str(running.shots / "console-timeline.png"), full_page=True)
        await page.click("text=#1 raw")
        assert "WORKFLOW_EXECUTION_STARTED" in await page.content()
        await page.goto(f"{running.console}/audit-log?action=phi.view&actor=aud")
        assert "workflow_timeline" in await page.content()
    finally:
        await context.close()


async def _blocked_virtual_visit(settings: Any, client: Any) -> dict[str, str]:
    """A virtual visit later today, through the CLI's desk (intake): the patient is in a state (set here) where the
    provider holds no license, so the VirtualVisit is blocked; one provider who may take it, one who may not."""
    from domain.services.licensure import provider_licensed_in
    from intake import Actor
    from workers.composition import Container
    from workers.visit_desk import Booking, VisitDesk

    container = Container(settings)
    today = datetime.now(UTC).date()
    try:
        with container.session_factory() as session:
            providers = session.execute(select(m.Provider.id).order_by(m.Provider.npi)).scalars().all()
            state = next(
                s for s in ("WA", "CA", "ID") if any(provider_licensed_in(session, p, s, today) for p in providers)
            )
            licensed = [p for p in providers if provider_licensed_in(session, p, state, today)]
            unlicensed = [p for p in providers if not provider_licensed_in(session, p, state, today)]
            patient = session.execute(
                select(m.Patient).where((m.Patient.phone != "") | m.Patient.email.is_not(None)).limit(1)
            ).scalar_one()
            patient.state = state
            session.commit()
            patient_id = patient.id
        starts = datetime.now(UTC).replace(second=0, microsecond=0) + timedelta(hours=2)
        desk = VisitDesk(container, client)
        outcome = await desk.book(
            Actor("cli", "browser-test"), Booking(patient_id, unlicensed[0], starts, kind="telehealth")
        )
        for _ in range(300):
            state_now = await desk.state(outcome.id)
            if state_now is not None and state_now.get("state") == "blocked":
                break
            await asyncio.sleep(0.1)
        else:
            raise AssertionError("the virtual visit was never blocked")
    finally:
        container.close()
    return {
        "telehealth_visit": outcome.id,
        "telehealth_day": starts.date().isoformat(),
        "licensed_provider": licensed[0],
        "unlicensed_provider": unlicensed[-1],
    }


async def test_the_coordinator_reassigns_resends_and_cancels_a_virtual_visit(browser: Any, running: Running) -> None:
    ids = running.ids
    visit, day = ids["telehealth_visit"], ids["telehealth_day"]
    context, page, problems = await _signed_in(browser, running, Role.COORDINATOR)
    board = f"{running.console}/telehealth?day={day}"

    async def row_state() -> str | None:
        await page.goto(board)
        row = page.locator(f"#visit-{visit}")
        return await row.get_attribute("data-state") if await row.count() else None

    async def until_state(wanted: str) -> None:
        seen = None
        for _ in range(100):
            seen = await row_state()
            if seen == wanted:
                return
            await asyncio.sleep(0.2)
        raise AssertionError(f"the visit never showed as {wanted} (last {seen})")

    try:
        await page.click("header >> a[href='/telehealth']")  # the role's menu has the page
        await until_state("blocked")
        assert await page.inner_text("#count-blocked") == "1"
        row = page.locator(f"#visit-{visit}")
        assert await row.locator("button.resend").count() == 0  # no room yet: nothing to resend
        # A provider with no license in the patient's state: the VirtualVisit's validator refuses, with the reason.
        await row.locator("input[name=provider_id]").fill(ids["unlicensed_provider"])
        await row.locator("button.reassign").click()
        assert "no active license" in await page.inner_text("[role=alert]")
        await until_state("blocked")
        row = page.locator(f"#visit-{visit}")
        await row.locator("input[name=provider_id]").fill(ids["licensed_provider"])
        await row.locator("button.reassign").click()
        await page.wait_for_url("**done=reassign")
        await until_state("invited")
        await page.locator(f"#visit-{visit} button.resend").click()
        await page.wait_for_url("**done=resend-invite")
        await page.screenshot(path=str(running.shots / "console-telehealth.png"), full_page=True)
        await page.locator(f"#visit-{visit} select[name=reason]").select_option("weather")
        await page.locator(f"#visit-{visit} button.cancel").click()
        await page.wait_for_url("**done=cancel")
        await until_state("cancelled")
        assert await page.locator(f"#visit-{visit} button").count() == 0  # an ended visit has no actions
        assert not [p for p in problems if "Content Security Policy" in p or "Refused" in p]
    finally:
        await context.close()
    context, page, _ = await _signed_in(browser, running, Role.ADMIN)
    try:
        await page.goto(f"{running.console}/audit-log?action=telehealth.&actor={USERS[Role.COORDINATOR]}")
        text = await page.inner_text("main")
        for action in ("telehealth.reassign", "telehealth.resend_invite", "telehealth.cancel"):
            assert action in text, action
        assert "refused" in text  # the refused reassignment is on the trail too
    finally:
        await context.close()
