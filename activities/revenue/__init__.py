"""The revenue cycle's activities, one class per area, each constructed with its adapters.

``revenue_activities`` is what the worker registry calls: it wires the classes to the store, the
clearinghouse, the document store and the envelope identifiers, and returns the bound activity methods.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy.orm import Session, sessionmaker
from temporalio.client import Client

from activities.clearinghouse.base import Clearinghouse
from activities.documents.store import DocumentStore
from activities.patient_collections.messaging import OutboxMessenger
from activities.revenue.base import Envelope
from activities.revenue.claims import ClaimActivities
from activities.revenue.collections_activities import CollectionsActivities
from activities.revenue.eligibility import EligibilityActivities
from activities.revenue.encounters import EncounterActivities
from activities.revenue.ledger import LedgerActivities
from activities.revenue.posting import TELL_CONCURRENCY, PostingActivities
from activities.revenue.posting_exceptions import PostingExceptionActivities
from activities.revenue.registration import RegistrationActivities


def revenue_activities(
    session_factory: sessionmaker[Session],
    clearinghouse: Clearinghouse,
    documents: DocumentStore,
    envelope: Envelope,
    client: Client | None = None,
    portal_payers: frozenset[str] = frozenset(),
    messenger: OutboxMessenger | None = None,
    tell_concurrency: int = TELL_CONCURRENCY,
) -> list[Callable[..., Any]]:
    """``portal_payers``: portal-routed payers with credentials; their eligibility goes through the portal.
    ``tell_concurrency``: items of a large remittance's page posting.tell tells at once."""
    registration = RegistrationActivities(session_factory)
    eligibility = EligibilityActivities(session_factory, clearinghouse, envelope, portal_payers)
    encounters = EncounterActivities(session_factory)
    claims = ClaimActivities(session_factory, clearinghouse, envelope, documents)
    posting = PostingActivities(session_factory, clearinghouse, documents, client, tell_concurrency)
    ledger = LedgerActivities(session_factory)
    collections = CollectionsActivities(session_factory, documents, client, messenger)
    exceptions = PostingExceptionActivities(session_factory, documents, client)
    return [
        registration.validate,
        eligibility.check,
        eligibility.record,
        eligibility.update_coverage,
        encounters.list_billable,
        encounters.prepare,
        encounters.record_codes,
        claims.create,
        claims.scrub,
        claims.terms,
        claims.correct,
        claims.submit,
        claims.acknowledgments,
        claims.status_inquiry,
        claims.set_status,
        posting.fetch_remittances,
        posting.confirm_remittances,
        posting.post_remittance,
        posting.tell,
        ledger.charge,
        ledger.adjust,
        exceptions.start_exceptions,
        exceptions.exception_facts,
        exceptions.resolve_exception,
        collections.notify_balance,
        collections.balance,
        collections.policy,
        collections.send_statement,
        collections.write_off,
        collections.create_payment_plan,
        collections.check_payment_plan,
        collections.update_payment_plan,
        collections.agency_handoff,
    ]


__all__ = [
    "ClaimActivities",
    "CollectionsActivities",
    "EligibilityActivities",
    "EncounterActivities",
    "Envelope",
    "LedgerActivities",
    "PostingActivities",
    "PostingExceptionActivities",
    "RegistrationActivities",
    "revenue_activities",
]
