"""Page objects, one per portal variant (Playwright, async). Selectors live here and nowhere else.

A missing selector is ``PortalLayoutChanged``; an error page, a 5xx or a timeout is ``PortalUnavailable``;
a refused password or code is ``PortalLoginFailed``. A session that expired mid-task signs in again once.
"""

from __future__ import annotations

import time
from datetime import date, datetime
from typing import Any
from urllib.parse import urljoin

from activities.portals.base import (
    ClaimStatusAnswer,
    EligibilityAnswer,
    EobListing,
    OtpProvider,
    OtpRequest,
    PortalAccount,
    normalise_status,
    parse_money,
)
from activities.portals.errors import PortalLayoutChanged, PortalLoginFailed, PortalUnavailable
from domain.totp import totp


class BrowserPortal:
    variant = ""
    login_path = ""

    def __init__(self, page: Any, account: PortalAccount, *, selector_timeout_ms: float = 5000) -> None:
        self.page = page
        self.account = account
        self.selector_timeout_ms = selector_timeout_ms
        self._otp: OtpProvider | None = None

    def url(self, path: str) -> str:
        return self.account.base_url.rstrip("/") + path

    async def _code(self, channel: str) -> str:
        if channel == "totp" and self.account.totp_secret:
            return totp(self.account.totp_secret, time.time())
        if self._otp is None:
            from activities.portals.errors import PortalOtpUnavailable

            raise PortalOtpUnavailable(f"{self.account.payer_id}: a one-time code is needed and no provider is set")
        return (await self._otp(OtpRequest(self.account.payer_id, self.account.username, channel))).strip()

    async def _check_error_page(self, response: Any) -> None:
        status = response.status if response is not None else 0
        if status >= 500 or await self.page.locator("body.portal-error").count():
            raise PortalUnavailable(f"{self.account.payer_id}: the portal shows an error page ({status})")

    async def goto(self, path: str) -> None:
        from playwright.async_api import Error as PlaywrightError

        try:
            response = await self.page.goto(self.url(path), wait_until="domcontentloaded")
        except PlaywrightError as exc:
            raise PortalUnavailable(f"{self.account.payer_id}: the portal cannot be reached ({_short(exc)})") from None
        await self._check_error_page(response)

    async def submit(self, selector: str) -> None:
        """Click a submit control and wait for the page it leads to."""
        from playwright.async_api import Error as PlaywrightError

        try:
            async with self.page.expect_navigation(wait_until="domcontentloaded") as navigation:
                await self.page.click(selector, timeout=self.selector_timeout_ms)
            response = await navigation.value
        except PlaywrightError as exc:
            if "Timeout" in type(exc).__name__ or "waiting for" in str(exc):
                if not await self.page.locator(selector).count():
                    raise PortalLayoutChanged(f"{self.account.payer_id}: {selector} is missing") from None
            raise PortalUnavailable(f"{self.account.payer_id}: the portal did not answer ({_short(exc)})") from None
        await self._check_error_page(response)

    async def need(self, selector: str, what: str) -> Any:
        from playwright.async_api import Error as PlaywrightError

        locator = self.page.locator(selector).first
        try:
            await locator.wait_for(state="attached", timeout=self.selector_timeout_ms)
        except PlaywrightError:
            await self._check_error_page(None)
            raise PortalLayoutChanged(f"{self.account.payer_id} {self.variant}: {what} not found") from None
        return locator

    async def fill(self, selector: str, value: str, what: str) -> None:
        await (await self.need(selector, what)).fill(value)

    async def texts(self, selectors: dict[str, str]) -> dict[str, str | None]:
        """The text of the first match of each selector (None if absent), in one round trip to the browser."""
        found: dict[str, str | None] = await self.page.evaluate(_TEXTS_JS, selectors)
        return found

    def on_path(self, path: str) -> bool:
        return str(self.page.url).split("?")[0].endswith(path)

    async def text(self, selector: str) -> str | None:
        locator = self.page.locator(selector)
        if not await locator.count():
            return None
        return str(await locator.first.inner_text()).strip()

    def on_login_page(self) -> bool:
        return str(self.page.url).split("?")[0].endswith(self.login_path)

    async def ensure_signed_in(self) -> None:
        """After a navigation: if the portal sent us to sign in (session expired), sign in again."""
        if self.on_login_page():
            if self._otp is None and not self.account.totp_secret:
                raise PortalLoginFailed(f"{self.account.payer_id}: the session expired")
            await self.login(self._otp or _no_provider)

    async def login(self, otp: OtpProvider) -> None:
        raise NotImplementedError

    async def check_eligibility(self, member_id: str, birth_date: date) -> EligibilityAnswer:
        raise NotImplementedError

    async def claim_status(self, claim_number: str, member_id: str, service_date: date) -> ClaimStatusAnswer:
        raise NotImplementedError

    async def list_eobs(self) -> list[EobListing]:
        raise NotImplementedError

    async def logout(self) -> None:
        raise NotImplementedError

    async def download_eob(self, listing: EobListing) -> bytes:
        from playwright.async_api import Error as PlaywrightError

        try:
            # The link is as the page wrote it: resolve it against the page, not the configured base URL.
            response = await self.page.context.request.get(urljoin(str(self.page.url), listing.url), timeout=30_000)
        except PlaywrightError as exc:
            raise PortalUnavailable(f"{self.account.payer_id}: the EOB download failed ({_short(exc)})") from None
        if response.status >= 500:
            raise PortalUnavailable(f"{self.account.payer_id}: the EOB download failed ({response.status})")
        body: bytes = await response.body()
        if response.status != 200 or not body.startswith(b"%PDF"):
            raise PortalLayoutChanged(f"{self.account.payer_id}: the EOB link did not give a PDF ({response.status})")
        return body


_TEXTS_JS = """(selectors) => {
  const out = {};
  for (const [name, selector] of Object.entries(selectors)) {
    const element = document.querySelector(selector);
    out[name] = element ? element.innerText.trim() : null;
  }
  return out;
}"""


async def _no_provider(request: OtpRequest) -> str:
    from activities.portals.errors import PortalOtpUnavailable

    raise PortalOtpUnavailable(f"{request.payer_id}: a one-time code is needed and no provider is set")


def _short(exc: Exception) -> str:
    return str(exc).strip().splitlines()[0][:120] if str(exc).strip() else type(exc).__name__


def _day(text: str | None, fmt: str) -> date | None:
    if not text or text in ("open", "-"):
        return None
    try:
        return datetime.strptime(text.strip(), fmt).date()
    except ValueError:
        return None


class CascadePortal(BrowserPortal):
    """Cascade Care Plans: separate pages, GET search forms, results in tables."""

    variant = "cascade"
    login_path = "/cascade/login"

    async def login(self, otp: OtpProvider) -> None:
        self._otp = otp
        await self.goto("/cascade/login")
        await self.fill("#username", self.account.username, "the username field")
        await self.fill("#password", self.account.password, "the password field")
        await self.submit("#sign-in")
        if await self.page.locator(".alert-error").count():
            raise PortalLoginFailed(f"{self.account.payer_id}: the portal refused the username or password")
        channel = "sms" if "sent" in (await self.text("main p") or "") else "totp"
        await self.fill("#otp-code", await self._code(channel), "the one-time code field")
        await self.submit("#verify")
        if await self.page.locator(".alert-error").count():
            raise PortalLoginFailed(f"{self.account.payer_id}: the portal refused the one-time code")
        await self.need("#main-nav", "the main menu")

    async def _search(self, path: str) -> None:
        await self.goto(path)
        if self.on_login_page():
            await self.ensure_signed_in()
            await self.goto(path)

    async def check_eligibility(self, member_id: str, birth_date: date) -> EligibilityAnswer:
        if not self.on_path("/cascade/eligibility"):  # the results page carries the search form too
            await self._search("/cascade/eligibility")
        await self.fill("#member-id", member_id, "the member id field")
        await self.fill("#dob", birth_date.isoformat(), "the birth date field")
        await self.submit("#check-eligibility")
        if self.on_login_page():  # the session expired between the form and the search
            await self.ensure_signed_in()
            return await self.check_eligibility(member_id, birth_date)
        found = await self.texts(
            {
                "none": ".no-match",
                "table": "table.coverage-result",
                "status": ".coverage-status",
                "plan": ".coverage-plan",
                "from": ".coverage-from",
                "to": ".coverage-to",
                "copay": ".coverage-copay",
                "deductible": ".coverage-deductible",
            }
        )
        if found["none"] is not None:
            return EligibilityAnswer(found=False)
        if found["table"] is None or found["status"] is None:
            raise PortalLayoutChanged(f"{self.account.payer_id} {self.variant}: the coverage result not found")
        return EligibilityAnswer(
            found=True,
            active=found["status"] == "Active",
            plan=found["plan"],
            effective_from=_day(found["from"], "%Y-%m-%d"),
            effective_to=_day(found["to"], "%Y-%m-%d"),
            copay_cents=parse_money(found["copay"] or ""),
            deductible_remaining_cents=parse_money(found["deductible"] or ""),
        )

    async def claim_status(self, claim_number: str, member_id: str, service_date: date) -> ClaimStatusAnswer:
        await self._search("/cascade/claims")
        await self.fill("#claim-number", claim_number, "the claim number field")
        await self.fill("#claim-member-id", member_id, "the claim member id field")
        await self.submit("#search-claims")
        if await self.page.locator(".no-match").count():
            return ClaimStatusAnswer(found=False)
        await self.need("#claim-results .claim-row", "the claim result row")
        return ClaimStatusAnswer(
            found=True,
            status=normalise_status(await self.text(".claim-row .claim-status") or ""),
            payer_claim_control_number=await self.text(".claim-row .claim-icn"),
            paid_cents=parse_money(await self.text(".claim-row .claim-paid") or ""),
            patient_responsibility_cents=parse_money(await self.text(".claim-row .claim-patient") or ""),
        )

    async def list_eobs(self) -> list[EobListing]:
        await self._search("/cascade/eobs")
        await self.need("#eob-list", "the remittance list")
        found = []
        for row in await self.page.locator("#eob-list tr.eob-row").all():
            link = row.locator("a.download")
            found.append(
                EobListing(
                    eob_id=str(await row.get_attribute("data-eob-id")),
                    trace_number=str(await row.locator(".check-number").inner_text()).strip(),
                    payment_date=_day(await row.locator(".check-date").inner_text(), "%Y-%m-%d"),
                    amount_cents=parse_money(await row.locator(".check-amount").inner_text()),
                    url=str(await link.get_attribute("href")),
                )
            )
        return found

    async def logout(self) -> None:
        if await self.page.locator("#sign-out").count():
            await self.submit("#sign-out")


class HarborPortal(BrowserPortal):
    """Harbor Health Alliance: one sign-in page in steps, POST forms, date selects, cards and <dl>s."""

    variant = "harbor"
    login_path = "/harbor/signin"

    async def login(self, otp: OtpProvider) -> None:
        self._otp = otp
        await self.goto("/harbor/signin")
        await self.fill("form.hh-signin input[name=user_id]", self.account.username, "the user id field")
        await self.fill("form.hh-signin input[name=passphrase]", self.account.password, "the passphrase field")
        await self.submit("form.hh-signin [data-action=continue]")
        if await self.page.locator(".hh-notice[data-kind=problem]").count():
            raise PortalLoginFailed(f"{self.account.payer_id}: the portal refused the user id or passphrase")
        channel = "sms" if "texted" in (await self.text("form.hh-signin p") or "") else "totp"
        await self.fill("form.hh-signin input[name=verification]", await self._code(channel), "the code field")
        await self.submit("form.hh-signin [data-action=verify]")
        if await self.page.locator(".hh-notice[data-kind=problem]").count():
            raise PortalLoginFailed(f"{self.account.payer_id}: the portal refused the one-time code")
        await self.need("ul.hh-menu", "the section menu")

    async def _open(self, section: str) -> None:
        await self.goto(f"/harbor/{section}")
        if self.on_login_page():
            await self.ensure_signed_in()
            await self.goto(f"/harbor/{section}")

    async def check_eligibility(self, member_id: str, birth_date: date) -> EligibilityAnswer:
        await self._open("coverage")
        await self.fill("form.hh-coverage-form input[name=subscriber]", member_id, "the subscriber field")
        for name, value in (
            ("dob_month", birth_date.month),
            ("dob_day", birth_date.day),
            ("dob_year", birth_date.year),
        ):
            select = await self.need(f"form.hh-coverage-form select[name={name}]", f"the {name} select")
            await select.select_option(str(value))
        await self.submit("form.hh-coverage-form [data-action=lookup]")
        if await self.page.locator("[data-result=none]").count():
            return EligibilityAnswer(found=False)
        await self.need("dl.hh-coverage", "the coverage details")

        async def field(name: str) -> str:
            return await self.text(f"dl.hh-coverage dd[data-field={name}]") or ""

        return EligibilityAnswer(
            found=True,
            active=(await field("status")) == "ACTIVE",
            plan=await field("plan"),
            effective_from=_day(await field("begins"), "%m/%d/%Y"),
            effective_to=_day(await field("ends"), "%m/%d/%Y"),
            copay_cents=parse_money(await field("copay")),
            deductible_remaining_cents=parse_money(await field("deductible")),
        )

    async def claim_status(self, claim_number: str, member_id: str, service_date: date) -> ClaimStatusAnswer:
        await self._open("claims")
        await self.fill("form.hh-claims-form input[name=member]", member_id, "the subscriber field")
        await self.fill("form.hh-claims-form input[name=from]", service_date.isoformat(), "the from date")
        await self.fill("form.hh-claims-form input[name=to]", service_date.isoformat(), "the to date")
        await self.submit("form.hh-claims-form [data-action=find-claims]")
        await self.need("div.hh-claims", "the claim list")
        card = self.page.locator(f'div.hh-claim[data-claim-ref="{claim_number}"]')
        if not await card.count():
            return ClaimStatusAnswer(found=False)
        return ClaimStatusAnswer(
            found=True,
            status=normalise_status(str(await card.locator(".hh-status").inner_text())),
            payer_claim_control_number=str(await card.locator(".hh-icn").inner_text()).strip(),
            paid_cents=parse_money(str(await card.locator(".hh-paid").inner_text())),
            patient_responsibility_cents=parse_money(str(await card.locator(".hh-owed").inner_text())),
        )

    async def list_eobs(self) -> list[EobListing]:
        await self._open("remits")
        await self.need("ul.hh-remits", "the remittance list")
        found = []
        for item in await self.page.locator("ul.hh-remits li[data-remit-id]").all():
            found.append(
                EobListing(
                    eob_id=str(await item.get_attribute("data-remit-id")),
                    trace_number=str(await item.locator(".hh-trace").inner_text()).strip(),
                    payment_date=_day(await item.locator(".hh-issued").inner_text(), "%m/%d/%Y"),
                    amount_cents=parse_money(await item.locator(".hh-amount").inner_text()),
                    url=str(await item.locator("a.hh-get-pdf").get_attribute("href")),
                )
            )
        return found

    async def logout(self) -> None:
        await self.goto("/harbor/signout")


PAGE_OBJECTS: dict[str, type[BrowserPortal]] = {"cascade": CascadePortal, "harbor": HarborPortal}
