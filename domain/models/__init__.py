"""The SQLAlchemy 2 mapping of the domain, one module per area behind this one import path.

``from domain import models as m; m.Claim`` names every entity; all of them share one declarative ``Base`` (one
``MetaData`` with the naming convention, which the Alembic migrations under ``domain/store`` are compared to).
The modules are imported here in the order the tables were always declared, so ``Base.metadata.tables`` keeps
its order, and every relationship's target (named by string or annotation) is in the registry before the
mappers are configured.

* :mod:`~domain.models.base`: ``Base``, the naming convention, ids and timestamps
* :mod:`~domain.models.practice`: the practice, locations, providers, staff
* :mod:`~domain.models.access`: console users, sessions, sign-in throttles
* :mod:`~domain.models.patients`: payers, guarantors, patients, coverages, prior authorizations
* :mod:`~domain.models.visits`: appointments, virtual visits, telehealth consent, encounters, service lines
* :mod:`~domain.models.claims`: claims and their lines
* :mod:`~domain.models.remittances`: remittances as received
* :mod:`~domain.models.ledger`: the double-entry ledger, payments, deposits and collections
* :mod:`~domain.models.workitems`: work items
* :mod:`~domain.models.credentials`: credentials, enrollments, exclusion screening, training
* :mod:`~domain.models.audit`: the hash-chained audit trail
* :mod:`~domain.models.sending`: claim submissions, control numbers, documents, messages, portal leases
* :mod:`~domain.models.front_door`: external identifiers, intake records, process starts, API clients, HL7 messages
"""

from __future__ import annotations

# isort: off
# The tables' declaration order (Base.metadata.tables) is this import order: keep it.
from domain.models.base import NAMING_CONVENTION, Base, new_id, utcnow
from domain.models.practice import Location, Practice, Provider, Staff
from domain.models.access import ConsoleSession, ConsoleUser, SignInThrottle
from domain.models.patients import Coverage, Guarantor, Patient, Payer, PriorAuthorization
from domain.models.visits import Appointment, Encounter, ServiceLine, TelehealthConsent, VirtualVisit
from domain.models.claims import Claim, ClaimLine
from domain.models.remittances import (
    ProviderAdjustment,
    Remittance,
    RemittanceAdjustment,
    RemittanceClaim,
    RemittanceServiceLine,
)
from domain.models.ledger import (
    Account,
    BankDeposit,
    BankDepositLine,
    CollectionsPolicyVersion,
    JournalEntry,
    JournalLine,
    PatientPayment,
    PaymentPlan,
    Statement,
)
from domain.models.workitems import WorkItem
from domain.models.credentials import (
    Credential,
    ExclusionMatch,
    ExclusionScreening,
    PayerEnrollment,
    TrainingRecord,
    TrainingRequirement,
)
from domain.models.audit import AuditChain, AuditEvent
from domain.models.sending import (
    ClaimSubmission,
    ControlNumber,
    Document,
    MessageOptOut,
    OutboundMessage,
    PortalSessionLease,
)
from domain.models.front_door import (
    ApiClient,
    ApiRateWindow,
    ClinicalEntry,
    ExternalIdentifier,
    FhirAsyncRequest,
    Hl7Message,
    IntakeRecord,
    ProcessStart,
)
# isort: on

__all__ = [
    "NAMING_CONVENTION",
    "Account",
    "ApiClient",
    "ApiRateWindow",
    "Appointment",
    "AuditChain",
    "AuditEvent",
    "BankDeposit",
    "BankDepositLine",
    "Base",
    "Claim",
    "ClaimLine",
    "ClaimSubmission",
    "ClinicalEntry",
    "CollectionsPolicyVersion",
    "ConsoleSession",
    "ConsoleUser",
    "ControlNumber",
    "Coverage",
    "Credential",
    "Document",
    "Encounter",
    "ExclusionMatch",
    "ExclusionScreening",
    "ExternalIdentifier",
    "FhirAsyncRequest",
    "Guarantor",
    "Hl7Message",
    "IntakeRecord",
    "JournalEntry",
    "JournalLine",
    "Location",
    "MessageOptOut",
    "OutboundMessage",
    "Patient",
    "PatientPayment",
    "Payer",
    "PayerEnrollment",
    "PaymentPlan",
    "PortalSessionLease",
    "Practice",
    "PriorAuthorization",
    "ProcessStart",
    "Provider",
    "ProviderAdjustment",
    "Remittance",
    "RemittanceAdjustment",
    "RemittanceClaim",
    "RemittanceServiceLine",
    "ServiceLine",
    "SignInThrottle",
    "Staff",
    "Statement",
    "TelehealthConsent",
    "TrainingRecord",
    "TrainingRequirement",
    "VirtualVisit",
    "WorkItem",
    "new_id",
    "utcnow",
]
