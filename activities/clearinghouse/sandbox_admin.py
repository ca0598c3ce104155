"""The sandbox clearinghouse's admin API, for the demo and end-to-end tests (not for a real clearinghouse).

The demo loads the synthetic practice's coverages as the payers' enrollment rosters, then moves sandbox time
forward so 835s arrive. Roster entries carry PHI (member ids, birth dates): they go to the sandbox only.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from activities.clearinghouse.base import ClearinghouseRejected
from activities.clearinghouse.http_api import HttpClearinghouse
from domain import models as m
from domain.enums import PayerRouting, SubscriberRelationship


@dataclass(frozen=True)
class RosterEntry:
    """One enrollment as a sandbox payer knows it. ``birth_date`` is the SUBSCRIBER's (the 837's 2010BA DMG)."""

    payer_id: str
    member_id: str
    birth_date: date
    effective_from: date
    effective_to: date | None = None
    plan: str = "standard"
    copay_cents: int | None = None
    deductible_cents: int | None = None
    deductible_remaining_cents: int | None = None
    group_number: str | None = None
    last_name: str | None = None
    first_name: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "payer_id": self.payer_id,
            "member_id": self.member_id,
            "birth_date": self.birth_date.isoformat(),
            "effective_from": self.effective_from.isoformat(),
            "effective_to": self.effective_to.isoformat() if self.effective_to else None,
            "plan": self.plan,
            "copay_cents": self.copay_cents,
            "deductible_cents": self.deductible_cents,
            "deductible_remaining_cents": self.deductible_remaining_cents,
            "group_number": self.group_number,
            "last_name": self.last_name,
            "first_name": self.first_name,
        }


def roster_entry(coverage: m.Coverage, patient: m.Patient, payer: m.Payer) -> RosterEntry | None:
    """The sandbox payer's view of one of our coverages (None for payers not reached through a clearinghouse).

    The birth date is the subscriber's: the patient's own when they are the subscriber, else the coverage's
    subscriber birth date (what the 837's 2010BA DMG carries).
    """
    if str(payer.routing) != PayerRouting.CLEARINGHOUSE:
        return None
    self_insured = str(coverage.relationship_to_subscriber) == SubscriberRelationship.SELF
    birth = patient.birth_date if self_insured else coverage.subscriber_birth_date
    if birth is None:
        return None
    return RosterEntry(
        payer_id=payer.payer_id,
        member_id=coverage.member_id,
        birth_date=birth,
        effective_from=coverage.effective_from,
        effective_to=coverage.effective_to,
        copay_cents=coverage.copay_cents,
        deductible_remaining_cents=coverage.deductible_remaining_cents,
        group_number=coverage.group_number,
        last_name=patient.last_name if self_insured else coverage.subscriber_last_name,
        first_name=patient.first_name if self_insured else coverage.subscriber_first_name,
    )


class SandboxAdmin:
    def __init__(self, clearinghouse_url: str, *, timeout_seconds: float = 60.0) -> None:
        self._http = HttpClearinghouse(clearinghouse_url, timeout_seconds=timeout_seconds)

    def load_roster(self, entries: Sequence[RosterEntry], *, replace: bool = False) -> int:
        """Upsert enrollments (``replace`` drops the named payers' earlier rosters first)."""
        data = self._post("/admin/roster", {"members": [e.to_json() for e in entries], "replace": replace})
        return int(data["loaded"])

    def advance(self, days: float) -> datetime:
        """Move sandbox time forward; the payers release what became due."""
        return datetime.fromisoformat(str(self._post("/admin/advance", {"days": days})["now"]))

    def release(self) -> list[str]:
        return [str(d) for d in self._post("/admin/release", {})["documents"]]

    def schedule_follow_up(self, claim_id: str, kind: str, share_bp: int | None = None) -> None:
        """Force a reversal-with-correction or a recoupment of a paid claim on the payer's next 835."""
        self._post(f"/admin/claims/{claim_id}/follow-up", {"kind": kind, "share_bp": share_bp})

    def status(self) -> dict[str, Any]:
        return self._http._json(self._http._request("GET", "/admin/status"))

    def _post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        payload = self._http._request("POST", path, json.dumps(body).encode("utf-8"), "application/json")
        data = self._http._json(payload)
        if not data:
            raise ClearinghouseRejected(f"POST {path}: empty answer")
        return data
