"""Contract of the posting-exception activities and workflow (implemented by
``activities.revenue.posting_exceptions.PostingExceptionActivities``; the workflow is
``flows.revenue.posting_exceptions.PostingExceptionWorkflow``).

Each work item posting opens (``unmatched_remittance``, ``ambiguous_match``, ``posting_exception``) is worked by
one PostingException workflow, ``posting-exception-<work item id>``: an opaque business id (the item is unique
per remittance line and problem, so posting a remittance again starts nothing new).
"""

from dataclasses import dataclass, field
from datetime import datetime

from activities.contracts.reference import ActivityRef
from activities.contracts.revenue import ClaimOutcome, RevenuePolicy
from domain.posting.parked import ExceptionFacts

START = "posting.start_exceptions"
FACTS = "posting.exception_facts"
RESOLVE = "posting.resolve_exception"

WORKFLOW_TYPE = "PostingException"


def posting_exception_workflow_id(work_item_id: str) -> str:
    return f"posting-exception-{work_item_id}"


@dataclass(frozen=True)
class PostingExceptionInput:
    work_item_id: str
    remittance_key: str = ""  # the stored 835 posting read ("" for an item adopted without its posting)
    policy: RevenuePolicy = field(default_factory=RevenuePolicy)


@dataclass(frozen=True)
class PostingExceptionResult:
    work_item_id: str
    action: str  # the resolution carried out ("" when the item was closed before the workflow adopted it)
    by: str
    claim_id: str = ""  # the claim the payment was posted to
    claim_status: str = ""
    refusals: int = 0  # resolutions the store refused after they were accepted (each asked again, once)


@dataclass(frozen=True)
class StartExceptions:
    """Start (or find running) the workflow of each item; a closed one is never started again."""

    work_item_ids: tuple[str, ...]
    remittance_key: str = ""
    policy: RevenuePolicy = field(default_factory=RevenuePolicy)


@dataclass(frozen=True)
class StartedExceptions:
    started: int
    already_started: int  # running, or completed (the item was resolved): nothing new started


@dataclass(frozen=True)
class FactsRequest:
    """Read an item's facts; the item's row names ``workflow_id`` from now on (the workflow adopts it)."""

    work_item_id: str
    workflow_id: str
    claim_ids: tuple[str, ...] = ()  # claims a person named that the workflow holds no facts for
    remittance_key: str = ""


@dataclass(frozen=True)
class ExceptionItem:
    """The item as stored (codes and ids only) and the facts of its rule."""

    state: str  # open, claimed, resolved, cancelled
    reason: str
    entity_type: str
    entity_id: str
    summary: str
    dedupe_key: str
    sla_due_at: datetime
    facts: ExceptionFacts
    context: dict[str, str] = field(default_factory=dict)  # what a reopened item repeats (codes, ids, cents)


@dataclass(frozen=True)
class ExceptionResolution:
    work_item_id: str
    action: str
    by: str  # the verified actor's label: the ledger's audit names who posted
    fields: dict[str, str] = field(default_factory=dict)
    remittance_key: str = ""
    # The item the person answered (a new one after a refusal asked again; "": ``work_item_id``): what carrying it
    # out did is recorded on it (``resolution.applied``), for `tasks resolve`, `tasks show` and the console.
    answered_item_id: str = ""


@dataclass(frozen=True)
class ExceptionApplied:
    action: str
    outcome: ClaimOutcome | None = None  # a payment posted to a claim: what its Claim workflow hears
    guarantor_id: str = ""  # a patient balance changed: collections hears it
    secondary_claim_id: str = ""  # the crossover created a secondary claim: it gets its Claim workflow
    written_off_cents: int = 0
    repost_key: str = ""  # an unknown payer's 835, to post again now that the payer is known


# Typed references (flows.calls): the workflow schedules each activity through one of these.
posting_start_exceptions = ActivityRef(START, StartExceptions, StartedExceptions)
posting_exception_facts = ActivityRef(FACTS, FactsRequest, ExceptionItem)
posting_resolve_exception = ActivityRef(RESOLVE, ExceptionResolution, ExceptionApplied)
