"""Staff activities: read a staff member's credentials and training standing, record a renewal, mark a
credential lapsed, record a training completion. Synchronous (the worker's thread pool), over the unit of work;
each one is idempotent so Temporal's retries never renew, lapse or record twice. Every change writes an audit
event in the same transaction.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any, ParamSpec, TypeVar

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.contracts import staff as contract
from domain import audit
from domain import exclusions as exclusion_rules
from domain import models as m
from domain import staff as rules
from domain.enums import WorkItemState
from domain.errors import DomainError, InvalidResolution, NotFound
from domain.store.uow import UnitOfWork

P = ParamSpec("P")
R = TypeVar("R")

_OPEN_STATES = (WorkItemState.OPEN, WorkItemState.CLAIMED)
_DONE_STATES = (WorkItemState.RESOLVED, WorkItemState.CANCELLED)


def _domain_errors_are_final(fn: Callable[P, R]) -> Callable[P, R]:
    """A DomainError means the request is wrong: retrying cannot help (its message names ids, no PHI)."""

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return fn(*args, **kwargs)
        except DomainError as exc:
            raise ApplicationError(exc.message, type=exc.code, non_retryable=True) from None

    return wrapper


def _item_states(session: Session, dedupe_keys: list[str]) -> dict[str, WorkItemState]:
    """The state of the work item under each business dedupe key that has one."""
    if not dedupe_keys:
        return {}
    rows = session.execute(
        select(m.WorkItem.dedupe_key, m.WorkItem.state).where(m.WorkItem.dedupe_key.in_(dedupe_keys))
    ).all()
    return {key: WorkItemState(state) for key, state in rows}


def _iso(day: date | None) -> str:
    return day.isoformat() if day is not None else ""


def _actor(workflow_id: str, by: str = "") -> str:
    return (by or f"workflow:{workflow_id}")[:60]


class StaffActivities:
    def __init__(self, session_factory: sessionmaker[Session]) -> None:
        self._session_factory = session_factory

    def all(self) -> list[Callable[..., Any]]:
        return [
            self.read_credentials,
            self.record_renewal,
            self.mark_lapsed,
            self.read_training,
            self.record_completion,
            self.record_exclusion_decision,
        ]

    # --- credentials ------------------------------------------------------------------------------------

    @activity.defn(name=contract.READ_CREDENTIALS)
    def read_credentials(self, request: contract.ReadCredentialsInput) -> contract.CredentialSnapshot:
        with UnitOfWork(self._session_factory) as uow:
            staff = uow.session.get(m.Staff, request.staff_id)
            if staff is None or not staff.active:
                return contract.CredentialSnapshot(staff_id=request.staff_id, active=False)
            rows = (
                uow.session.execute(
                    select(m.Credential).where(
                        m.Credential.staff_id == request.staff_id,
                        m.Credential.expires_on.is_not(None),
                        m.Credential.status != rules.CREDENTIAL_REVOKED,
                    )
                )
                .scalars()
                .all()
            )
            # The newest credential of a kind from an issuer counts (the sweep's rule): a renewal that was
            # entered as a new row supersedes the old one.
            newest: dict[tuple[str, str], m.Credential] = {}
            for row in rows:
                key = (str(row.kind), row.issuer)
                assert row.expires_on is not None
                current = newest.get(key)
                if current is None or (row.expires_on, row.id) > (current.expires_on or date.min, current.id):
                    newest[key] = row
            states = _item_states(
                uow.session, [rules.credential_item_key(c.id, c.expires_on) for c in newest.values() if c.expires_on]
            )
            views = [
                contract.CredentialView(
                    credential_id=c.id,
                    kind=str(c.kind),
                    issuer=c.issuer,
                    expires_on=c.expires_on.isoformat(),
                    lapsed=c.status == rules.CREDENTIAL_LAPSED,
                    item_open=states.get(rules.credential_item_key(c.id, c.expires_on)) in _OPEN_STATES,
                    item_done=states.get(rules.credential_item_key(c.id, c.expires_on)) in _DONE_STATES,
                )
                for c in sorted(newest.values(), key=lambda c: (c.expires_on or date.min, c.id))
                if c.expires_on is not None
            ]
            exclusions = _open_exclusions(uow.session, request.staff_id)
        return contract.CredentialSnapshot(
            staff_id=request.staff_id, active=True, credentials=views, exclusions=exclusions
        )

    @activity.defn(name=contract.RECORD_RENEWAL)
    @_domain_errors_are_final
    def record_renewal(self, request: contract.RecordRenewalInput) -> contract.RenewalRecorded:
        with UnitOfWork(self._session_factory) as uow:
            credential = uow.session.get(m.Credential, request.credential_id)
            if credential is None:
                raise NotFound(f"credential {request.credential_id} does not exist")
            expected = date.fromisoformat(request.expected_expires_on)
            if credential.expires_on != expected:
                # Recorded by an earlier attempt (or changed in the store meanwhile): nothing to do twice.
                current = credential.expires_on.isoformat() if credential.expires_on else ""
                return contract.RenewalRecorded(request.credential_id, current, changed=False)
            new_expires_on = rules.renewed_expiry({"new_expires_on": request.new_expires_on}, expected)
            previous_status = credential.status
            credential.expires_on = new_expires_on
            credential.status = rules.CREDENTIAL_ACTIVE
            credential.verified_on = activity_today()
            if request.number:
                credential.number = request.number[:40]
            audit.record(
                uow.session,
                actor=_actor(request.workflow_id, request.by),
                action=rules.CREDENTIAL_RENEWED,
                entity_type="credential",
                entity_id=credential.id,
                workflow_id=request.workflow_id,
                details={
                    "kind": str(credential.kind),
                    "previous_expires_on": request.expected_expires_on,
                    "expires_on": new_expires_on.isoformat(),
                    "previous_status": previous_status,
                    "number_changed": bool(request.number),
                    "document_id": request.document_id,
                    "work_item_id": request.work_item_id,
                },
            )
            uow.commit()
        activity.logger.info("credential renewed", extra={"credential_id": request.credential_id})
        return contract.RenewalRecorded(request.credential_id, new_expires_on.isoformat(), changed=True)

    @activity.defn(name=contract.MARK_LAPSED)
    @_domain_errors_are_final
    def mark_lapsed(self, request: contract.MarkLapsedInput) -> bool:
        with UnitOfWork(self._session_factory) as uow:
            credential = uow.session.get(m.Credential, request.credential_id)
            if credential is None:
                raise NotFound(f"credential {request.credential_id} does not exist")
            if (
                credential.expires_on != date.fromisoformat(request.expires_on)
                or credential.status != rules.CREDENTIAL_ACTIVE
            ):
                return False  # renewed in time, already lapsed, or set by a person (pending, revoked)
            credential.status = rules.CREDENTIAL_LAPSED
            audit.record(
                uow.session,
                actor=_actor(request.workflow_id),
                action=rules.CREDENTIAL_LAPSED_ACTION,
                entity_type="credential",
                entity_id=credential.id,
                workflow_id=request.workflow_id,
                details={"kind": str(credential.kind), "expires_on": request.expires_on},
            )
            uow.commit()
        activity.logger.info("credential lapsed", extra={"credential_id": request.credential_id})
        return True

    @activity.defn(name=contract.RECORD_EXCLUSION_DECISION)
    @_domain_errors_are_final
    def record_exclusion_decision(self, request: contract.ExclusionDecisionInput) -> bool:
        """A person decided an exclusion match: confirmed (billing stays blocked) or cleared (the block lifts)."""
        if request.decision not in (exclusion_rules.MATCH_CONFIRMED, exclusion_rules.MATCH_CLEARED):
            raise InvalidResolution(f"an exclusion match is confirmed or cleared, not {request.decision!r}")
        with UnitOfWork(self._session_factory) as uow:
            match = uow.session.get(m.ExclusionMatch, request.match_id)
            if match is None:
                raise NotFound(f"exclusion match {request.match_id} does not exist")
            if match.status != exclusion_rules.MATCH_OPEN:
                return False  # decided by an earlier attempt (or by hand): nothing to do twice
            match.status = request.decision
            match.decided_by = _actor(request.workflow_id, request.by)
            match.decided_at = datetime.now(UTC)
            audit.record(
                uow.session,
                actor=match.decided_by,
                action=exclusion_rules.MATCH_DECIDED,
                entity_type="staff",
                entity_id=match.staff_id,
                workflow_id=request.workflow_id,
                details={
                    "match_id": match.id,
                    "source": match.source,
                    "basis": match.basis,
                    "decision": request.decision,
                    "work_item_id": request.work_item_id,
                },
            )
            uow.commit()
        activity.logger.info(
            "exclusion match decided", extra={"match_id": request.match_id, "decision": request.decision}
        )
        return True

    # --- training ---------------------------------------------------------------------------------------

    @activity.defn(name=contract.READ_TRAINING)
    def read_training(self, request: contract.ReadTrainingInput) -> contract.TrainingSnapshot:
        with UnitOfWork(self._session_factory) as uow:
            staff = uow.session.get(m.Staff, request.staff_id)
            if staff is None or not staff.active:
                return contract.TrainingSnapshot(staff_id=request.staff_id, active=False)
            requirements = uow.session.execute(select(m.TrainingRequirement)).scalars().all()
            records = uow.session.execute(
                select(m.TrainingRecord).where(m.TrainingRecord.staff_id == request.staff_id)
            ).scalars()
            by_requirement: dict[str, list[tuple[date, date]]] = {}
            for record in records:
                by_requirement.setdefault(record.requirement_id, []).append((record.completed_on, record.expires_on))
            standings = {
                requirement.id: rules.training_standing(by_requirement.get(requirement.id, []), staff.hired_on)
                for requirement in requirements
                if rules.training_applies(requirement.roles, staff.role)
            }
            keys = {
                requirement_id: rules.training_item_key(request.staff_id, requirement_id, standing.due_on)
                for requirement_id, standing in standings.items()
            }
            states = _item_states(uow.session, list(keys.values()))
            views = [
                contract.TrainingView(
                    requirement_id=requirement.id,
                    code=requirement.code,
                    renewal_days=requirement.renewal_days,
                    due_on=standings[requirement.id].due_on.isoformat(),
                    last_completed_on=_iso(standings[requirement.id].last_completed_on),
                    item_open=states.get(keys[requirement.id]) in _OPEN_STATES,
                    item_done=states.get(keys[requirement.id]) in _DONE_STATES,
                )
                for requirement in sorted(requirements, key=lambda r: r.code)
                if requirement.id in standings
            ]
        return contract.TrainingSnapshot(staff_id=request.staff_id, active=True, requirements=views)

    @activity.defn(name=contract.RECORD_COMPLETION)
    @_domain_errors_are_final
    def record_completion(self, request: contract.RecordCompletionInput) -> contract.CompletionRecorded:
        with UnitOfWork(self._session_factory) as uow:
            requirement = uow.session.get(m.TrainingRequirement, request.requirement_id)
            if requirement is None:
                raise NotFound(f"training requirement {request.requirement_id} does not exist")
            if uow.session.get(m.Staff, request.staff_id) is None:
                raise NotFound(f"staff member {request.staff_id} does not exist")
            completed_on = date.fromisoformat(request.completed_on)
            existing = uow.session.execute(
                select(m.TrainingRecord).where(
                    m.TrainingRecord.staff_id == request.staff_id,
                    m.TrainingRecord.requirement_id == request.requirement_id,
                    m.TrainingRecord.completed_on == completed_on,
                )
            ).scalar_one_or_none()
            if existing is not None:  # a retry after the commit
                return contract.CompletionRecorded(existing.id, existing.expires_on.isoformat(), created=False)
            record = m.TrainingRecord(
                staff_id=request.staff_id,
                requirement_id=request.requirement_id,
                completed_on=completed_on,
                expires_on=rules.training_expiry(completed_on, requirement.renewal_days),
            )
            uow.session.add(record)
            uow.session.flush()
            audit.record(
                uow.session,
                actor=_actor(request.workflow_id, request.by),
                action=rules.TRAINING_COMPLETED,
                entity_type="training_record",
                entity_id=record.id,
                workflow_id=request.workflow_id,
                details={
                    "staff_id": request.staff_id,
                    "requirement": requirement.code,
                    "completed_on": request.completed_on,
                    "expires_on": record.expires_on.isoformat(),
                    "document_id": request.document_id,
                    "work_item_id": request.work_item_id,
                },
            )
            uow.commit()
            recorded = contract.CompletionRecorded(record.id, record.expires_on.isoformat(), created=True)
        activity.logger.info("training completion recorded", extra={"training_record_id": recorded.training_record_id})
        return recorded


def _open_exclusions(session: Session, staff_id: str) -> list[contract.ExclusionView]:
    rows = (
        session.execute(
            select(m.ExclusionMatch)
            .where(m.ExclusionMatch.staff_id == staff_id, m.ExclusionMatch.status == exclusion_rules.MATCH_OPEN)
            .order_by(m.ExclusionMatch.found_on, m.ExclusionMatch.id)
        )
        .scalars()
        .all()
    )
    states = _item_states(session, [exclusion_rules.exclusion_item_key(row.id) for row in rows])
    return [
        contract.ExclusionView(
            match_id=row.id,
            source=row.source,
            basis=row.basis,
            excluded_on=row.excluded_on.isoformat(),
            found_on=row.found_on.isoformat(),
            item_open=states.get(exclusion_rules.exclusion_item_key(row.id)) in _OPEN_STATES,
            item_done=states.get(exclusion_rules.exclusion_item_key(row.id)) in _DONE_STATES,
        )
        for row in rows
    ]


def activity_today() -> date:
    return datetime.now(UTC).date()


__all__ = ["StaffActivities"]
