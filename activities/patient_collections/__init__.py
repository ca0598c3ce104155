"""Patient collections adapters: statement PDFs, the agency placement file, the messaging outbox.

Plain classes with constructor-injected adapters; the revenue worker wraps them as Temporal activities.
"""

from activities.patient_collections.agency import AgencyHandoff, AgencyResult, Placement, agency_csv
from activities.patient_collections.messaging import Message, OutboxMessenger
from activities.patient_collections.statements import (
    DocumentSink,
    StatementData,
    StatementLine,
    StatementRenderer,
    StatementResult,
    StatementSender,
    statement_data,
)

__all__ = [
    "AgencyHandoff",
    "AgencyResult",
    "DocumentSink",
    "Message",
    "OutboxMessenger",
    "Placement",
    "StatementData",
    "StatementLine",
    "StatementRenderer",
    "StatementResult",
    "StatementSender",
    "agency_csv",
    "statement_data",
]
