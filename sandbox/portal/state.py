"""What the sandbox portal knows: payers, accounts, members, claims, EOBs, sessions and its faults.

All in memory, loaded through the admin API (or directly by the embedded stack). Adjudication is
deterministic from the seed, so a demo run prints the same EOBs every time.
"""

from __future__ import annotations

import random
import secrets
import threading
import time
from dataclasses import dataclass, field
from datetime import date

from domain.cob import PriorLine, prior_paid_share
from domain.remittance import ClaimPayment, Remittance
from domain.totp import verify_totp
from sandbox.eob import PriorPayment, render_eob
from sandbox.eob.samples import adjudicate_line, adjudicate_secondary_line, claim_from_lines


@dataclass(frozen=True)
class PortalPayer:
    payer_id: str
    name: str
    variant: str  # cascade or harbor: the page layout and the EOB layout
    # Business days between receiving a claim and the EOB that answers it (whoever runs the portal's clock,
    # e.g. the demo, issues EOBs on this schedule through the admin API).
    adjudication_days: int = 7
    # The group code its EOBs put on CARC 23 (what a prior payer settled) when it pays as secondary: payers
    # differ, CO or OA, and posting reads both.
    cob_group: str = "CO"


DEFAULT_PAYERS = (
    PortalPayer("SBXCC", "Cascade Care Plans", "cascade", adjudication_days=5, cob_group="CO"),
    PortalPayer("SBXHH", "Harbor Health Alliance", "harbor", adjudication_days=8, cob_group="OA"),
)


@dataclass
class Account:
    username: str
    password: str
    otp: str = "totp"  # totp (an authenticator app) or sms (a code sent out of band, read from the outbox)
    totp_secret: str | None = None


@dataclass
class Member:
    member_id: str
    birth_date: date
    plan: str
    active_from: date
    active_to: date | None = None
    copay_cents: int = 2500
    deductible_remaining_cents: int = 0

    def active_on(self, day: date) -> bool:
        return self.active_from <= day and (self.active_to is None or day <= self.active_to)


@dataclass(frozen=True)
class ClaimLineIn:
    procedure: str
    charge_cents: int
    units: int = 1
    modifiers: tuple[str, ...] = ()


@dataclass(frozen=True)
class PriorPayer:
    """Coordination of benefits: how the payer that adjudicated the claim before this one settled it, as its
    remittance said (what a secondary claim carries, the 837's 2320/2430 loops in a portal's form)."""

    payer_id: str
    paid_cents: int
    patient_responsibility_cents: int
    # Aligned with the claim's lines; None where the prior payer reported no line (its claim-level amounts are
    # then spread over the lines by charge).
    lines: tuple[PriorLine | None, ...] = ()

    def line(self, index: int, charge_cents: int, claim_charge_cents: int) -> PriorLine:
        known = self.lines[index] if index < len(self.lines) else None
        if known is not None:
            return known
        return PriorLine(
            prior_paid_share(self.paid_cents, charge_cents, claim_charge_cents),
            prior_paid_share(self.patient_responsibility_cents, charge_cents, claim_charge_cents),
        )


@dataclass
class PortalClaim:
    claim_number: str  # the provider's claim id as submitted (CLP01 in an 835)
    member_id: str
    service_date: date
    lines: tuple[ClaimLineIn, ...]
    received_on: date
    status: str = "In process"  # Received, In process, Paid, Denied
    icn: str = ""
    paid_cents: int = 0
    patient_responsibility_cents: int = 0
    eob_id: str | None = None
    prior_payer: PriorPayer | None = None  # set on a claim this payer receives as the secondary payer

    @property
    def charge_cents(self) -> int:
        return sum(line.charge_cents for line in self.lines)


@dataclass
class Eob:
    eob_id: str
    trace_number: str
    payment_date: date
    amount_cents: int
    claim_count: int
    pdf: bytes


@dataclass
class Session:
    token: str
    username: str
    authenticated: bool
    expires_at: float
    pending_code: str | None = None


@dataclass
class Faults:
    """Occasional slowness and error pages; deterministic from the seed and the request count."""

    error_rate: float = 0.0
    slow_rate: float = 0.0
    slow_seconds: float = 0.0


@dataclass
class PayerData:
    payer: PortalPayer
    accounts: dict[str, Account] = field(default_factory=dict)
    members: dict[str, Member] = field(default_factory=dict)
    claims: dict[str, PortalClaim] = field(default_factory=dict)
    eobs: dict[str, Eob] = field(default_factory=dict)
    outbox: dict[str, str] = field(default_factory=dict)  # username -> last out-of-band code


def prior_payment_notes(secondaries: dict[str, PriorPayer]) -> dict[str, PriorPayment]:
    """What an EOB prints about each secondary claim's prior payer."""
    return {number: PriorPayment(prior.payer_id, prior.paid_cents) for number, prior in secondaries.items()}


class PortalState:
    def __init__(
        self,
        payers: tuple[PortalPayer, ...] = DEFAULT_PAYERS,
        *,
        seed: int = 0,
        session_ttl_seconds: float = 900.0,
        faults: Faults | None = None,
    ) -> None:
        self.payers = {p.payer_id: PayerData(p) for p in payers}
        self.by_variant = {p.variant: p.payer_id for p in payers}
        self.seed = seed
        self.session_ttl_seconds = session_ttl_seconds
        self.faults = faults or Faults()
        self.sessions: dict[str, Session] = {}
        # A payer "redesigns" its pages when its revision goes up: selectors move (tests of layout changes).
        self.layout_revision: dict[str, int] = {p.variant: 1 for p in payers}
        self._requests = 0
        self._lock = threading.Lock()
        self._counter = 0

    # --- loading (admin) -------------------------------------------------------------------------------

    def payer(self, payer_id: str) -> PayerData:
        try:
            return self.payers[payer_id]
        except KeyError:
            raise KeyError(f"unknown payer {payer_id}") from None

    def add_account(self, payer_id: str, account: Account) -> None:
        if account.otp not in ("totp", "sms"):
            raise ValueError("otp must be totp or sms")
        if account.otp == "totp" and not account.totp_secret:
            raise ValueError("a totp account needs a totp_secret")
        self.payer(payer_id).accounts[account.username] = account

    def load_members(self, payer_id: str, members: list[Member]) -> int:
        data = self.payer(payer_id)
        for member in members:
            data.members[member.member_id] = member
        return len(members)

    def load_claims(self, payer_id: str, claims: list[PortalClaim]) -> int:
        data = self.payer(payer_id)
        for claim in claims:
            if not claim.icn:
                claim.icn = f"{payer_id[-2:]}{self._next():09d}"
            data.claims[claim.claim_number] = claim
        return len(claims)

    def _next(self) -> int:
        with self._lock:
            self._counter += 1
            return self._counter

    def issue_eob(
        self,
        payer_id: str,
        claim_numbers: list[str] | None = None,
        *,
        payment_date: date | None = None,
        trace_number: str | None = None,
        payee_name: str = "Sandbox Family Medicine",
        payee_id: str = "1999999984",
    ) -> Eob | None:
        """Adjudicate the claims still in process and print one EOB for them (None if there are none)."""
        data = self.payer(payer_id)
        wanted = [
            c
            for c in data.claims.values()
            if c.eob_id is None and (claim_numbers is None or c.claim_number in claim_numbers)
        ]
        if not wanted:
            return None
        number = self._next()
        day = payment_date or date.today()
        trace = trace_number or f"{self.seed % 1000:03d}{number:07d}"
        payments = []
        secondaries: dict[str, PriorPayer] = {}
        for claim in wanted:
            payment = _claim_payment(self.seed, payer_id, data, claim)
            if claim.prior_payer is not None:
                secondaries[claim.claim_number] = claim.prior_payer
            payments.append(payment)
            claim.status = "Denied" if payment.status_code == "4" else "Paid"
            claim.paid_cents = payment.paid_cents
            claim.patient_responsibility_cents = payment.patient_responsibility_cents
        paid = sum(p.paid_cents for p in payments)
        remittance = Remittance(
            payer_id=payer_id,
            payer_name=data.payer.name,
            payee_name=payee_name,
            payee_id=payee_id,
            payment_method="CHK" if data.payer.variant == "cascade" else "ACH",
            payment_amount_cents=paid,
            trace_number=trace,
            payment_date=day,
            claims=tuple(payments),
            source="eob_pdf",
        )
        eob = Eob(
            f"eob{number:06d}",
            trace,
            day,
            paid,
            len(payments),
            render_eob(remittance, data.payer.variant, prior_payers=prior_payment_notes(secondaries)),
        )
        data.eobs[eob.eob_id] = eob
        for claim in wanted:
            claim.eob_id = eob.eob_id
        return eob

    # --- sessions ----------------------------------------------------------------------------------------

    def check_password(self, payer_id: str, username: str, password: str) -> Account | None:
        account = self.payer(payer_id).accounts.get(username)
        if account is None or not secrets.compare_digest(account.password.encode(), password.encode()):
            return None
        return account

    def start_session(self, payer_id: str, account: Account) -> Session:
        # One session per account: a new sign-in ends the account's earlier session, as real portals do.
        for token, existing in list(self.sessions.items()):
            if existing.username == f"{payer_id}/{account.username}":
                del self.sessions[token]
        session = Session(
            secrets.token_urlsafe(24), f"{payer_id}/{account.username}", False, time.time() + self.session_ttl_seconds
        )
        if account.otp == "sms":
            code = f"{random.Random(f'{self.seed}:{session.token}').randint(0, 999_999):06d}"
            session.pending_code = code
            self.payer(payer_id).outbox[account.username] = code
        self.sessions[session.token] = session
        return session

    def verify_code(self, payer_id: str, session: Session, code: str) -> bool:
        username = session.username.split("/", 1)[1]
        account = self.payer(payer_id).accounts.get(username)
        if account is None:
            return False
        if account.otp == "sms":
            ok = session.pending_code is not None and secrets.compare_digest(session.pending_code, code.strip())
        else:
            assert account.totp_secret is not None
            ok = verify_totp(account.totp_secret, code.strip(), time.time())
        if ok:
            session.authenticated = True
            session.pending_code = None
            session.expires_at = time.time() + self.session_ttl_seconds
        return ok

    def session(self, token: str | None, payer_id: str) -> Session | None:
        """The live session for ``token`` at this payer; an expired one is dropped. Activity extends it."""
        if token is None:
            return None
        session = self.sessions.get(token)
        if session is None or not session.username.startswith(payer_id + "/"):
            return None
        now = time.time()
        if now > session.expires_at:
            del self.sessions[token]
            return None
        session.expires_at = now + self.session_ttl_seconds
        return session

    # --- faults --------------------------------------------------------------------------------------------

    def next_fault(self) -> tuple[bool, float]:
        """(show an error page?, seconds to stall) for the next page request."""
        with self._lock:
            self._requests += 1
            n = self._requests
        if not (self.faults.error_rate or self.faults.slow_rate):
            return False, 0.0
        rng = random.Random(f"{self.seed}:fault:{n}")
        error = rng.random() < self.faults.error_rate
        slow = self.faults.slow_seconds if rng.random() < self.faults.slow_rate else 0.0
        return error, slow


def _claim_payment(seed: int, payer_id: str, data: PayerData, claim: PortalClaim) -> ClaimPayment:
    """How the portal payer adjudicates one claim (seeded per claim): as primary, or as secondary to its prior payer."""
    rng = random.Random(f"{seed}:{payer_id}:{claim.claim_number}")
    member = data.members.get(claim.member_id)
    deny = member is None or not member.active_on(claim.service_date)
    prior = claim.prior_payer
    if prior is None:
        lines = tuple(
            adjudicate_line(
                line.procedure,
                line.modifiers,
                line.units,
                line.charge_cents,
                claim.service_date,
                rng,
                deny=deny,
            )
            for line in claim.lines
        )
    else:
        lines = tuple(
            adjudicate_secondary_line(
                line.procedure,
                line.modifiers,
                line.units,
                line.charge_cents,
                claim.service_date,
                rng,
                prior.line(index, line.charge_cents, claim.charge_cents),
                cob_group=data.payer.cob_group,
                deny=deny,
            )
            for index, line in enumerate(claim.lines)
        )
    return claim_from_lines(
        claim.claim_number, claim.icn, claim.member_id, lines, secondary=prior is not None and not deny
    )
