"""Exclusion screening against the OIG LEIE and SAM files: the one service behind `carecycle staff screen` and the
monthly `exclusion-screening` batch flow.

Each file is read once, line by line (hashed as it goes, so the run records which file it screened against), and
every record is looked up in an index of the active staff (``domain.exclusions.ScreeningIndex``). Only the
matches are kept in memory. In one transaction the run then records itself (``exclusion_screenings``), each new
match (``exclusion_matches``, unique per staff member and list record, so the next month's file finds the same
match, not a new one) with an audit event, and renews the staff's ``exclusion_screening`` credentials of the
lists screened (screened today: good for a month). Last, each match still open gets its ``exclusion_match``
work item, owned by the staff member's StaffCredentialing workflow (``credentialing-<staff id>``) under the
business key ``exclusion-match:<match id>``, which the workflow adopts (docs/staff.md).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from activities.contracts.staff import credentialing_workflow_id
from activities.contracts.workitems import OpenWorkItemInput
from activities.workitems import WorkItemActivities
from domain import audit
from domain import exclusions as rules
from domain import models as m
from domain.enums import CredentialKind
from domain.errors import NotFound
from domain.staff import CREDENTIAL_ACTIVE, CREDENTIAL_RENEWED, CREDENTIAL_REVOKED
from domain.store.uow import UnitOfWork, retry_when_busy
from domain.workitems import Reason, queue_of


@dataclass(frozen=True)
class ListFile:
    source: str  # OIG or SAM
    path: Path


@dataclass(frozen=True)
class ScreeningHit:
    match_id: str
    staff_id: str
    source: str
    basis: str
    status: str
    exclusion_type: str
    excluded_on: date
    reinstated_on: date | None
    new: bool
    work_item_id: str = ""


@dataclass(frozen=True)
class ScreeningSummary:
    screening_id: str
    screened_on: date
    files: dict[str, dict[str, object]]  # source -> {file, rows, sha256}
    staff_screened: int
    matches: list[ScreeningHit] = field(default_factory=list)
    new_matches: int = 0
    work_items_opened: int = 0
    credentials_renewed: int = 0

    @property
    def staff_with_open_matches(self) -> list[str]:
        return sorted({hit.staff_id for hit in self.matches if hit.status == rules.MATCH_OPEN})


class _HashedLines:
    """The lines of a file, decoded, with the SHA-256 and line count of its bytes once read to the end."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.digest = hashlib.sha256()
        self.lines = 0

    def __iter__(self) -> Iterator[str]:
        with self.path.open("rb") as raw:
            for line in raw:
                self.digest.update(line)
                self.lines += 1
                yield line.decode("utf-8", "replace")


def _identities(session: Session) -> list[rules.StaffIdentity]:
    provider_npis = {
        staff_id: npi
        for staff_id, npi in session.execute(
            select(m.Provider.staff_id, m.Provider.npi).where(m.Provider.staff_id.is_not(None))
        )
    }
    staff = session.execute(select(m.Staff).where(m.Staff.active.is_(True)).order_by(m.Staff.id)).scalars()
    return [
        rules.StaffIdentity(s.id, s.first_name, s.last_name, s.birth_date, s.npi or provider_npis.get(s.id) or "")
        for s in staff
    ]


class ExclusionScreening:
    def __init__(self, session_factory: sessionmaker[Session], *, item_sla_days: int = rules.ITEM_SLA_DAYS) -> None:
        self._session_factory = session_factory
        self._item_sla_days = item_sla_days

    def run(self, files: Sequence[ListFile], today: date, actor: str) -> ScreeningSummary:
        """Screen every active staff member against ``files``; a file that is not its layout changes nothing."""
        for list_file in files:
            if not list_file.path.is_file():
                raise NotFound(f"no {list_file.source} exclusion file at {list_file.path}")
        with UnitOfWork(self._session_factory) as uow:
            index = rules.ScreeningIndex(_identities(uow.session))
        found: list[rules.Match] = []
        described: dict[str, dict[str, object]] = {}
        for list_file in files:
            lines = _HashedLines(list_file.path)
            records = 0
            for party in rules.read_list(list_file.source, lines):
                records += 1
                found.extend(index.matches(party))
            described[list_file.source] = {
                "file": list_file.path.name,
                "records": records,
                "sha256": lines.digest.hexdigest(),
            }
        # One transaction; run again when SQLite's writer lock was taken meanwhile (a worker wrote).
        summary = retry_when_busy(lambda: self._record(found, described, index.size, today, actor))
        return self._open_items(summary, today)

    def _record(
        self,
        found: list[rules.Match],
        files: dict[str, dict[str, object]],
        staff_screened: int,
        today: date,
        actor: str,
    ) -> ScreeningSummary:
        with UnitOfWork(self._session_factory) as uow:
            session = uow.session
            screening = m.ExclusionScreening(screened_on=today, sources=files, staff_screened=staff_screened)
            session.add(screening)
            session.flush()
            hits = [self._record_match(session, match, screening.id, today, actor) for match in found]
            renewed = _renew_screening_credentials(session, sorted(files), today, actor)
            screening.matches_found = len(hits)
            screening.new_matches = sum(1 for hit in hits if hit.new)
            audit.record(
                session,
                actor=actor,
                action=rules.SCREENING_COMPLETED,
                entity_type="exclusion_screening",
                entity_id=screening.id,
                details={
                    "sources": sorted(files),
                    "staff_screened": staff_screened,
                    "matches": len(hits),
                    "new_matches": screening.new_matches,
                },
            )
            uow.commit()
            return ScreeningSummary(
                screening_id=screening.id,
                screened_on=today,
                files=files,
                staff_screened=staff_screened,
                matches=hits,
                new_matches=screening.new_matches,
                credentials_renewed=renewed,
            )

    def _record_match(
        self, session: Session, match: rules.Match, screening_id: str, today: date, actor: str
    ) -> ScreeningHit:
        party = match.party
        row = session.execute(
            select(m.ExclusionMatch).where(
                m.ExclusionMatch.staff_id == match.staff_id,
                m.ExclusionMatch.source == party.source,
                m.ExclusionMatch.list_key == party.list_key,
            )
        ).scalar_one_or_none()
        new = row is None
        if row is None:
            row = m.ExclusionMatch(
                staff_id=match.staff_id,
                source=party.source,
                list_key=party.list_key,
                basis=match.basis,
                exclusion_type=party.exclusion_type,
                excluded_on=party.excluded_on,
                reinstated_on=party.reinstated_on,
                status=rules.MATCH_OPEN,
                found_on=today,
                screening_id=screening_id,
            )
            session.add(row)
            session.flush()
            audit.record(
                session,
                actor=actor,
                action=rules.MATCH_FOUND,
                entity_type="staff",
                entity_id=match.staff_id,
                details={
                    "match_id": row.id,
                    "source": party.source,
                    "basis": match.basis,
                    "excluded_on": party.excluded_on.isoformat(),
                    "screening_id": screening_id,
                },
            )
        elif row.reinstated_on != party.reinstated_on:
            row.reinstated_on = party.reinstated_on  # the list now says when the exclusion ended (or no longer)
        return ScreeningHit(
            match_id=row.id,
            staff_id=row.staff_id,
            source=row.source,
            basis=row.basis,
            status=row.status,
            exclusion_type=row.exclusion_type,
            excluded_on=row.excluded_on,
            reinstated_on=row.reinstated_on,
            new=new,
        )

    def _open_items(self, summary: ScreeningSummary, today: date) -> ScreeningSummary:
        """One ``exclusion_match`` item per open match (idempotent by its business key)."""
        opener = WorkItemActivities(self._session_factory)
        due = datetime.combine(today, time(), tzinfo=UTC) + timedelta(days=self._item_sla_days)
        hits, opened = [], 0
        for hit in summary.matches:
            if hit.status != rules.MATCH_OPEN:
                hits.append(hit)
                continue
            result = opener.open(
                OpenWorkItemInput(
                    reason=Reason.EXCLUSION_MATCH.value,
                    queue=queue_of(Reason.EXCLUSION_MATCH).value,
                    summary=rules.match_summary(hit.source, hit.basis, hit.excluded_on),
                    entity_type="staff",
                    entity_id=hit.staff_id,
                    workflow_id=credentialing_workflow_id(hit.staff_id),
                    dedupe_key=rules.exclusion_item_key(hit.match_id),
                    sla_due_at=due,
                    context=rules.match_context(hit.match_id, hit.staff_id, hit.source, hit.basis, hit.excluded_on),
                )
            )
            opened += result.created
            hits.append(replace(hit, work_item_id=result.work_item_id))
        return ScreeningSummary(
            screening_id=summary.screening_id,
            screened_on=summary.screened_on,
            files=summary.files,
            staff_screened=summary.staff_screened,
            matches=hits,
            new_matches=summary.new_matches,
            work_items_opened=opened,
            credentials_renewed=summary.credentials_renewed,
        )


def _renew_screening_credentials(session: Session, sources: list[str], today: date, actor: str) -> int:
    """Each active staff member's newest ``exclusion_screening`` credential of a screened list is good for a
    month from today (a screening is what renews it)."""
    rows = session.execute(
        select(m.Credential)
        .join(m.Staff, m.Staff.id == m.Credential.staff_id)
        .where(
            m.Staff.active.is_(True),
            m.Credential.kind == CredentialKind.EXCLUSION_SCREENING.value,
            m.Credential.issuer.in_(sources),
            m.Credential.status != CREDENTIAL_REVOKED,
        )
        .order_by(m.Credential.staff_id, m.Credential.issuer, m.Credential.expires_on, m.Credential.id)
    ).scalars()
    newest: dict[tuple[str, str], m.Credential] = {}
    for row in rows:
        newest[(row.staff_id, row.issuer)] = row  # ordered: the last one is the newest
    expires_on = rules.screening_expires_on(today)
    renewed = 0
    for credential in newest.values():
        if credential.expires_on is not None and credential.expires_on >= expires_on:
            continue
        previous = credential.expires_on
        credential.expires_on = expires_on
        credential.verified_on = today
        credential.status = CREDENTIAL_ACTIVE
        audit.record(
            session,
            actor=actor,
            action=CREDENTIAL_RENEWED,
            entity_type="credential",
            entity_id=credential.id,
            details={
                "kind": CredentialKind.EXCLUSION_SCREENING.value,
                "previous_expires_on": previous.isoformat() if previous else None,
                "expires_on": expires_on.isoformat(),
                "by": "exclusion screening",
            },
        )
        renewed += 1
    return renewed


__all__ = ["ExclusionScreening", "ListFile", "ScreeningHit", "ScreeningSummary"]
