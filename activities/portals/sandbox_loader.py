"""Load the sandbox payer portal with what its payers would know about our patients: the members (roster)
and the claims we sent them (a secondary claim with its primary's adjudication, as an 837 would carry it).
The demo and the tests call this after seeding the synthetic practice.

It reads the store and speaks to the portal's admin API over HTTP (JSON), like any outside system.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from domain import models as m
from domain.claim_status import ClaimStatus
from domain.cob import prior_line, prior_lines
from domain.enums import PayerRouting
from domain.errors import DomainError
from domain.posting import latest_adjudication
from domain.store.uow import UnitOfWork


class SandboxPortalError(DomainError):
    code = "sandbox_portal_error"


@dataclass(frozen=True)
class LoadedPortal:
    payer_id: str
    members: int
    claims: int


def _post(base_url: str, path: str, payload: Any, admin_token: str | None) -> Any:
    if not base_url.startswith(("http://", "https://")):
        raise SandboxPortalError("the sandbox portal URL must be http(s)")
    request = urllib.request.Request(  # noqa: S310 - scheme checked above
        base_url.rstrip("/") + path,
        data=json.dumps(payload).encode(),
        headers={"Content-Type": "application/json", **({"X-Sandbox-Admin": admin_token} if admin_token else {})},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=60) as response:  # noqa: S310 - our own sandbox URL
            return json.loads(response.read())
    except urllib.error.HTTPError as exc:
        raise SandboxPortalError(f"the sandbox portal refused {path} ({exc.code})") from None
    except urllib.error.URLError as exc:
        raise SandboxPortalError(f"the sandbox portal cannot be reached ({exc.reason})") from None


def portal_rosters(session: Session) -> dict[str, tuple[list[dict[str, Any]], list[dict[str, Any]]]]:
    """Per portal payer: (members, claims) as the admin API takes them."""
    payers = {
        row.id: row.payer_id for row in session.scalars(select(m.Payer).where(m.Payer.routing == PayerRouting.PORTAL))
    }
    members: dict[str, dict[str, dict[str, Any]]] = defaultdict(dict)
    coverages = session.execute(
        select(m.Coverage, m.Patient.birth_date)
        .join(m.Patient, m.Patient.id == m.Coverage.patient_id)
        .where(m.Coverage.payer_id.in_(payers))
    ).all()
    member_of: dict[str, str] = {}
    for coverage, birth in coverages:
        payer_id = payers[coverage.payer_id]
        member_of[coverage.id] = coverage.member_id
        members[payer_id][coverage.member_id] = {
            "member_id": coverage.member_id,
            "birth_date": (coverage.subscriber_birth_date or birth).isoformat(),
            "plan": "Sandbox PPO" if coverage.group_number else "Sandbox Individual",
            "active_from": coverage.effective_from.isoformat(),
            "active_to": coverage.effective_to.isoformat() if coverage.effective_to else None,
            "copay_cents": coverage.copay_cents if coverage.copay_cents is not None else 2500,
            "deductible_remaining_cents": coverage.deductible_remaining_cents or 0,
        }
    claims: dict[str, list[dict[str, Any]]] = defaultdict(list)
    # The claims the payer holds and has not yet paid: those are what its portal shows as in process.
    waiting = (ClaimStatus.SUBMITTED, ClaimStatus.ACKNOWLEDGED, ClaimStatus.ACCEPTED)
    rows = session.scalars(select(m.Claim).where(m.Claim.payer_id.in_(payers), m.Claim.status.in_(waiting))).all()
    for claim in rows:
        member_id = member_of.get(claim.coverage_id or "")
        if member_id is None:
            continue
        prior = prior_payer(session, claim) if claim.primary_claim_id is not None else None
        if claim.primary_claim_id is not None and prior is None:
            continue  # a secondary goes to its payer with the primary's answer, or not at all
        claims[payers[claim.payer_id]].append(
            {
                "claim_number": claim.id,
                "member_id": member_id,
                "service_date": claim.date_of_service.isoformat(),
                "received_on": claim.submitted_at.date().isoformat() if claim.submitted_at else None,
                "lines": [
                    {
                        "procedure": line.procedure_code,
                        "charge_cents": line.charge_cents,
                        "units": line.units,
                        "modifiers": list(line.modifiers),
                    }
                    for line in claim.lines
                ],
                **({"prior_payer": prior} if prior is not None else {}),
            }
        )
    return {payer_id: (list(members[payer_id].values()), claims[payer_id]) for payer_id in payers.values()}


def prior_payer(session: Session, claim: m.Claim) -> dict[str, Any] | None:
    """A secondary claim's prior payer as the admin API takes it: the primary's latest adjudication as stored with
    its remittance (paid, patient responsibility and allowed amount per line), lined up with the claim's lines the
    way the 837's COB loops are (domain.cob). None when the primary has no remittance yet."""
    if claim.primary_claim_id is None:
        return None
    primary = session.get(m.Claim, claim.primary_claim_id)
    adjudication = latest_adjudication(session, claim.primary_claim_id)
    if primary is None or adjudication is None:
        return None
    payment, _ = adjudication
    payer = session.get(m.Payer, primary.payer_id)
    matched = prior_lines(payment, [(line.procedure_code, tuple(line.modifiers or ())) for line in claim.lines])
    lines: list[dict[str, int | None] | None] = []
    for line in matched:
        if line is None:
            lines.append(None)
            continue
        known = prior_line(line)
        lines.append(
            {
                "paid_cents": known.paid_cents,
                "patient_responsibility_cents": known.patient_responsibility_cents,
                "allowed_cents": known.allowed_cents,
            }
        )
    return {
        "payer_id": payer.payer_id if payer is not None else "",
        "paid_cents": payment.paid_cents,
        "patient_responsibility_cents": payment.patient_responsibility_cents,
        "lines": lines,
    }


def load_sandbox_portal(
    session_factory: sessionmaker[Session],
    base_url: str,
    *,
    admin_token: str | None = None,
    accounts: dict[str, dict[str, str]] | None = None,
) -> list[LoadedPortal]:
    """Push the store's portal-payer members and submitted claims (and any accounts) to the sandbox portal."""
    with UnitOfWork(session_factory) as uow:
        rosters = portal_rosters(uow.session)
    loaded = []
    for payer_id, (members, claims) in sorted(rosters.items()):
        if accounts and payer_id in accounts:
            _post(base_url, f"/admin/payers/{payer_id}/accounts", accounts[payer_id], admin_token)
        _post(base_url, f"/admin/payers/{payer_id}/members", members, admin_token)
        _post(base_url, f"/admin/payers/{payer_id}/claims", claims, admin_token)
        loaded.append(LoadedPortal(payer_id, len(members), len(claims)))
    return loaded


def push_claims(base_url: str, payer_id: str, claims: list[dict[str, Any]], *, admin_token: str | None = None) -> int:
    """Hand the portal claims its payer has just received (the admin API's claim shape, see ``portal_rosters``).

    A claim number the portal already holds is replaced, EOB and all: push each claim once.
    """
    if not claims:
        return 0
    body = _post(base_url, f"/admin/payers/{payer_id}/claims", claims, admin_token)
    return int(body.get("loaded", len(claims)))


def issue_eob(base_url: str, payer_id: str, claim_numbers: list[str], *, admin_token: str | None = None) -> str | None:
    """Have the payer adjudicate these claims and print one EOB for them; its id, or None if none was due."""
    body = _post(base_url, f"/admin/payers/{payer_id}/eobs", {"claim_numbers": claim_numbers}, admin_token)
    return str(body["eob_id"]) if body.get("issued") else None


def load_portal_members(
    base_url: str,
    members_by_payer: dict[str, list[dict[str, Any]]],
    *,
    admin_token: str | None = None,
    accounts: dict[str, dict[str, str]] | None = None,
) -> list[LoadedPortal]:
    """Give each portal payer its members (as the payer knows them, not read from our store) and our accounts."""
    loaded = []
    for payer_id, members in sorted(members_by_payer.items()):
        if accounts and payer_id in accounts:
            _post(base_url, f"/admin/payers/{payer_id}/accounts", accounts[payer_id], admin_token)
        _post(base_url, f"/admin/payers/{payer_id}/members", members, admin_token)
        loaded.append(LoadedPortal(payer_id, len(members), 0))
    return loaded
