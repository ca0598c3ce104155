"""Typed portal errors. Messages name the payer and the step, never a member or a credential.

A failure's evidence (a screenshot and the page's HTML) goes to the document store; the error carries
their keys so the work item a person opens links to them.
"""

from __future__ import annotations

from domain.errors import DomainError


class PortalError(DomainError):
    code = "portal_error"
    retryable = False

    def __init__(self, message: str, *, screenshot_key: str | None = None, html_key: str | None = None) -> None:
        super().__init__(message)
        self.screenshot_key = screenshot_key
        self.html_key = html_key

    def with_evidence(self, screenshot_key: str | None, html_key: str | None) -> PortalError:
        self.screenshot_key = screenshot_key
        self.html_key = html_key
        return self


class PortalLoginFailed(PortalError):
    """The portal refused the password or the one-time code: a person must fix the credentials."""

    code = "portal_login_failed"


class PortalLayoutChanged(PortalError):
    """An element the page object relies on is missing: the payer changed its pages."""

    code = "portal_layout_changed"


class PortalUnavailable(PortalError):
    """Error pages, timeouts, refused connections: worth another try later."""

    code = "portal_unavailable"
    retryable = True


class PortalCredentialsMissing(PortalError):
    code = "portal_credentials_missing"


class PortalOtpUnavailable(PortalError):
    """No one-time code could be had (no TOTP secret and nobody answered in time)."""

    code = "portal_otp_unavailable"
