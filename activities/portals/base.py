"""The payer portal interface: what carecycle asks any payer's portal, whatever its pages look like."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Protocol

from activities.portals.errors import PortalLayoutChanged
from domain.errors import InvalidAmount
from domain.money import parse_amount


@dataclass(frozen=True)
class PortalAccount:
    payer_id: str
    variant: str  # which page objects drive it (cascade, harbor)
    base_url: str
    username: str
    password: str = field(repr=False)
    totp_secret: str | None = field(default=None, repr=False)

    @property
    def lock_key(self) -> str:
        return f"{self.payer_id}:{self.username}"


@dataclass(frozen=True)
class OtpRequest:
    """A one-time code is needed for this account; ``channel`` is how the portal delivers it."""

    payer_id: str
    username: str
    channel: str  # totp or sms


OtpProvider = Callable[[OtpRequest], Awaitable[str]]


@dataclass(frozen=True)
class EligibilityAnswer:
    found: bool
    active: bool = False
    plan: str | None = None
    effective_from: date | None = None
    effective_to: date | None = None
    copay_cents: int | None = None
    deductible_remaining_cents: int | None = None


@dataclass(frozen=True)
class ClaimStatusAnswer:
    found: bool
    status: str = "not_found"  # received, in_process, paid, denied, not_found
    payer_claim_control_number: str | None = None
    paid_cents: int | None = None
    patient_responsibility_cents: int | None = None


@dataclass(frozen=True)
class EobListing:
    eob_id: str
    trace_number: str
    payment_date: date | None
    amount_cents: int | None
    url: str


class PayerPortal(Protocol):
    """One signed-in browser session at one payer's portal."""

    async def login(self, otp: OtpProvider) -> None: ...

    async def check_eligibility(self, member_id: str, birth_date: date) -> EligibilityAnswer: ...

    async def claim_status(self, claim_number: str, member_id: str, service_date: date) -> ClaimStatusAnswer: ...

    async def list_eobs(self) -> list[EobListing]: ...

    async def download_eob(self, listing: EobListing) -> bytes: ...

    async def logout(self) -> None: ...


# What a portal prints in an amount's cell when there is no amount.
_NO_AMOUNT = frozenset({"", "-", "\u2014", "n/a", "N/A"})


def parse_money(text: str) -> int | None:
    """An amount as a portal page prints it ("$1,234.56", "-$5.00") in cents; None for an empty cell.

    The rule is :func:`domain.money.parse_amount`'s; anything else on the page means the page is not what the
    page object expects (the payer changed it), so it raises :class:`PortalLayoutChanged` with the rule's message.
    """
    cleaned = text.strip()
    if cleaned in _NO_AMOUNT:
        return None
    try:
        return parse_amount(cleaned, allow_negative=True, formatted=True)
    except InvalidAmount as exc:
        raise PortalLayoutChanged(f"an amount on the page is {exc.message}") from None


def normalise_status(text: str) -> str:
    lowered = text.strip().lower().replace("-", " ")
    for word, status in (("paid", "paid"), ("denied", "denied"), ("process", "in_process"), ("received", "received")):
        if word in lowered:
            return status
    return "unknown"
