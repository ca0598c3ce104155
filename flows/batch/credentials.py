"""Credential-expiry sweep: what expires within N days becomes a report and, per credential, one work item.

Work items are deduplicated by credential and expiry date (the port's dedupe key), so the daily sweep opens
an item once and a renewed credential, with its new expiry date, gets a new one when its time comes.
"""

# No `from __future__ import annotations`: a served flow is pickled into a process of its own, and Prefect
# reads its parameters' types from the function, so they must be objects, not names to look up there.

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from prefect import Flow, flow, task
from prefect.cache_policies import NO_CACHE

from flows.batch import CREDENTIAL_EXPIRY_SWEEP


@dataclass(frozen=True)
class ExpiringCredential:
    credential_id: str
    staff_id: str
    kind: str
    issuer: str
    expires_on: date
    days_left: int  # negative: already expired


@dataclass(frozen=True)
class ExpiringTraining:
    training_record_id: str
    staff_id: str
    requirement_code: str
    expires_on: date
    days_left: int


@dataclass(frozen=True)
class ExpiringSet:
    credentials: tuple[ExpiringCredential, ...]
    training: tuple[ExpiringTraining, ...]


@dataclass(frozen=True)
class CredentialSweepPorts:
    find_expiring: Callable[[date, int], ExpiringSet]
    # Opens the credentialing work item for one credential; False when it was already open (deduplicated).
    open_work_item: Callable[[ExpiringCredential, date], bool]
    # Writes a report (kind, as_of, document) and returns where it went.
    write_report: Callable[[str, date, Mapping[str, Any]], str]
    today: Callable[[], date]


@dataclass(frozen=True)
class CredentialSweepSummary:
    as_of: date
    within_days: int
    credentials_expiring: int
    credentials_expired: int
    training_due: int
    training_overdue: int
    work_items_opened: int
    work_items_already_open: int
    report: str


def sweep_report(expiring: ExpiringSet, as_of: date, within_days: int) -> dict[str, Any]:
    """The report document: soonest first, opaque ids and codes only."""
    return {
        "as_of": as_of.isoformat(),
        "within_days": within_days,
        "credentials": [
            {
                "credential_id": c.credential_id,
                "staff_id": c.staff_id,
                "kind": c.kind,
                "issuer": c.issuer,
                "expires_on": c.expires_on.isoformat(),
                "days_left": c.days_left,
            }
            for c in sorted(expiring.credentials, key=lambda c: (c.expires_on, c.credential_id))
        ],
        "training": [
            {
                "training_record_id": t.training_record_id,
                "staff_id": t.staff_id,
                "requirement": t.requirement_code,
                "expires_on": t.expires_on.isoformat(),
                "days_left": t.days_left,
            }
            for t in sorted(expiring.training, key=lambda t: (t.expires_on, t.training_record_id))
        ],
    }


def build_credential_expiry_sweep(ports: CredentialSweepPorts) -> Flow[..., CredentialSweepSummary]:
    # Every step is safe to repeat (a read; an item opened once per dedupe key; a report rewritten whole).
    retrying: dict[str, Any] = {"cache_policy": NO_CACHE, "retries": 2, "retry_delay_seconds": 10}
    find_expiring = task(name="credentials.find_expiring", **retrying)(ports.find_expiring)
    open_work_item = task(name="credentials.open_work_item", **retrying)(ports.open_work_item)
    write_report = task(name="reports.write", **retrying)(ports.write_report)

    @flow(name=CREDENTIAL_EXPIRY_SWEEP.name, description=CREDENTIAL_EXPIRY_SWEEP.description)
    def credential_expiry_sweep(as_of: date | None = None, within_days: int = 60) -> CredentialSweepSummary:
        if within_days < 0:
            raise ValueError("within_days must not be negative")
        day = as_of or ports.today()
        expiring = find_expiring(day, within_days)
        opened = 0
        for credential in expiring.credentials:
            if open_work_item(credential, day):
                opened += 1
        report = write_report("credential-expiry", day, sweep_report(expiring, day, within_days))
        return CredentialSweepSummary(
            as_of=day,
            within_days=within_days,
            credentials_expiring=len(expiring.credentials),
            credentials_expired=sum(1 for c in expiring.credentials if c.days_left < 0),
            training_due=len(expiring.training),
            training_overdue=sum(1 for t in expiring.training if t.days_left < 0),
            work_items_opened=opened,
            work_items_already_open=len(expiring.credentials) - opened,
            report=report,
        )

    return credential_expiry_sweep
