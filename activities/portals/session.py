"""Browser sessions at payer portals, under control.

* One Chromium per process (Debian's, from settings), one fresh browser context per session: no cookies or
  storage leak from one account or attempt to the next.
* At most one session per portal account at a time: an asyncio lock per account within the process (so a
  process never polls the store against itself) and, with ``leases``, a lease in the domain store that the
  portal workers of every machine respect (:mod:`activities.portals.lease`). Portals end an account's
  earlier session when it signs in again, so parallel work would knock itself out.
* An unavailable portal is retried with exponential backoff; a refused login or a changed page is not.
* On failure a screenshot and the page's HTML go to the document store; the error carries their keys.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

from activities.documents import DocumentStore
from activities.portals.base import OtpProvider, PayerPortal, PortalAccount
from activities.portals.errors import PortalError, PortalLayoutChanged, PortalUnavailable
from activities.portals.lease import PortalLeases
from activities.portals.pages import PAGE_OBJECTS, BrowserPortal

T = TypeVar("T")
log = logging.getLogger("carecycle.portals")

CHROMIUM_ARGS = (
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-dev-shm-usage",
)


class PortalSessions:
    def __init__(
        self,
        chromium_path: str,
        documents: DocumentStore | None = None,
        *,
        attempts: int = 3,
        backoff_seconds: float = 1.0,
        selector_timeout_ms: float = 5000,
        navigation_timeout_ms: float = 30_000,
        leases: PortalLeases | None = None,
    ) -> None:
        self.chromium_path = chromium_path
        self.documents = documents
        self.attempts = max(1, attempts)
        self.backoff_seconds = backoff_seconds
        self.selector_timeout_ms = selector_timeout_ms
        self.navigation_timeout_ms = navigation_timeout_ms
        self._playwright: Any = None
        self._browser: Any = None
        self._start_lock = asyncio.Lock()
        self._locks: dict[str, asyncio.Lock] = {}
        # Without leases (one worker process, tests, benchmarks) the asyncio lock alone keeps accounts apart.
        self.leases = leases

    async def _ensure_browser(self) -> Any:
        async with self._start_lock:
            if self._browser is None or not self._browser.is_connected():
                from playwright.async_api import async_playwright

                if self._playwright is None:
                    self._playwright = await async_playwright().start()
                self._browser = await self._playwright.chromium.launch(
                    executable_path=self.chromium_path, args=list(CHROMIUM_ARGS), headless=True
                )
            return self._browser

    async def close(self) -> None:
        if self._browser is not None:
            await self._browser.close()
            self._browser = None
        if self._playwright is not None:
            await self._playwright.stop()
            self._playwright = None

    def lock_for(self, account: PortalAccount) -> asyncio.Lock:
        return self._locks.setdefault(account.lock_key, asyncio.Lock())

    @contextlib.asynccontextmanager
    async def _account_lease(self, account: PortalAccount) -> AsyncIterator[None]:
        if self.leases is None:
            yield
            return
        async with self.leases.hold(account):
            yield

    async def run(
        self,
        account: PortalAccount,
        otp: OtpProvider,
        task: Callable[[PayerPortal], Awaitable[T]],
        *,
        label: str,
    ) -> T:
        """Sign in, run ``task`` on the signed-in portal, sign out; retries and evidence as described above."""
        if account.variant not in PAGE_OBJECTS:
            raise PortalLayoutChanged(f"{account.payer_id}: no page objects for portal variant {account.variant!r}")
        async with self.lock_for(account), self._account_lease(account):
            for attempt in range(1, self.attempts + 1):
                try:
                    return await self._attempt(account, otp, task, label, last=attempt == self.attempts)
                except PortalUnavailable:
                    if attempt == self.attempts:
                        raise
                    delay = self.backoff_seconds * 2 ** (attempt - 1)
                    log.info("portal unavailable, retrying", extra={"payer_id": account.payer_id, "attempt": attempt})
                    await asyncio.sleep(delay)
        raise AssertionError("unreachable")

    async def _attempt(
        self,
        account: PortalAccount,
        otp: OtpProvider,
        task: Callable[[PayerPortal], Awaitable[T]],
        label: str,
        *,
        last: bool,
    ) -> T:
        browser = await self._ensure_browser()
        context = await browser.new_context(accept_downloads=True)
        context.set_default_navigation_timeout(self.navigation_timeout_ms)
        page = await context.new_page()
        portal: BrowserPortal = PAGE_OBJECTS[account.variant](
            page, account, selector_timeout_ms=self.selector_timeout_ms
        )
        try:
            await portal.login(otp)
            result = await task(portal)
            try:
                await portal.logout()
            except PortalError:
                pass  # the work is done; the portal ends the session itself when it expires
            return result
        except PortalError as exc:
            if exc.retryable and not last:
                raise  # another attempt follows: evidence only of the failure that stands
            screenshot_key, html_key = await self._capture(page, account, label)
            raise exc.with_evidence(screenshot_key, html_key) from None
        finally:
            await context.close()

    async def _capture(self, page: Any, account: PortalAccount, label: str) -> tuple[str | None, str | None]:
        if self.documents is None:
            return None, None
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
        base = f"portal/{account.payer_id}/failures/{stamp}-{label}-{uuid.uuid4().hex[:8]}"
        screenshot_key = html_key = None
        try:
            png = await page.screenshot(full_page=True, timeout=10_000)
            screenshot_key = self.documents.put(f"{base}.png", png, "image/png").key
        except Exception:  # evidence is best effort: never hide the real failure behind it
            log.warning("portal screenshot failed", extra={"payer_id": account.payer_id})
        try:
            html = str(await page.content()).encode()
            html_key = self.documents.put(f"{base}.html", html, "text/html").key
        except Exception:
            log.warning("portal page capture failed", extra={"payer_id": account.payer_id})
        return screenshot_key, html_key
