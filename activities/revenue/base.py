"""What every revenue activity class shares: the store, domain errors as non-retryable failures, the envelope.

Activities are synchronous (the worker runs them on its thread pool): the store and the clearinghouse
adapters are blocking. A ``DomainError`` means the data or the request is wrong, so retrying cannot help:
it leaves as a non-retryable ``ApplicationError`` whose type is the error's code, and the workflow turns it
into a work item. Every other exception is retried by the workflow's explicit retry policy.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import ParamSpec, TypeVar

from sqlalchemy.orm import Session, sessionmaker
from temporalio import activity
from temporalio.exceptions import ApplicationError

from domain import audit
from domain.errors import DomainError
from domain.store.uow import UnitOfWork

P = ParamSpec("P")
R = TypeVar("R")


def domain_errors_are_final(fn: Callable[P, R]) -> Callable[P, R]:
    """Turn a DomainError into a non-retryable ApplicationError (its message names codes and ids, no PHI)."""

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return fn(*args, **kwargs)
        except DomainError as exc:
            raise ApplicationError(exc.message, type=exc.code, non_retryable=True) from None

    return wrapper


def record_status_inquiry(session_factory: sessionmaker[Session], claim_id: str, details: dict[str, str]) -> None:
    """The audit trail of a claim-status inquiry (a 276/277 or a portal search): how it was asked, what the payer
    said. Called by both routes' activities."""
    with UnitOfWork(session_factory) as uow:
        audit.record(
            uow.session,
            actor=f"workflow:{activity.info().workflow_id}" if activity.in_activity() else "workflow",
            action=audit.STATUS_INQUIRY_ACTION,
            entity_type="claim",
            entity_id=claim_id,
            details=details,
        )
        uow.commit()


@dataclass(frozen=True)
class Envelope:
    """Who we are on the wire (ISA/GS sender and receiver), from the settings."""

    sender_id: str = "CARECYCLE"
    receiver_id: str = "SANDBOXCH"
    receiver_name: str = "CARECYCLE SANDBOX CLEARINGHOUSE"
    usage: str = "T"


class StoreActivities:
    def __init__(self, session_factory: sessionmaker[Session]) -> None:
        self._session_factory = session_factory

    def uow(self) -> UnitOfWork:
        return UnitOfWork(self._session_factory)
