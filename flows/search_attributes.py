"""The custom search attributes every workflow may set: typed keys, one place.

They are NOT encrypted (the server indexes them), so they hold codes and opaque ids only, never PHI.
The embedded dev server registers every key in :data:`ALL_KEYS` at start (``workers.temporal.dev_server``);
a production namespace needs the same list registered once (docs/operations.md shows the command).
"""

from __future__ import annotations

from typing import Any

from temporalio.common import SearchAttributeKey, SearchAttributePair, TypedSearchAttributes

STAGE = SearchAttributeKey.for_keyword("Stage")  # registration, eligibility, encounter, claim, posting, ...
PAYER_ID = SearchAttributeKey.for_keyword("PayerId")  # the payer's code, e.g. "60054"
CLAIM_STATUS = SearchAttributeKey.for_keyword("ClaimStatus")  # domain.claim_status.ClaimStatus value
WORK_QUEUE = SearchAttributeKey.for_keyword("WorkQueue")  # the people's queue the workflow waits on; "" none
AGING_BUCKET = SearchAttributeKey.for_keyword("AgingBucket")  # 0-30, 31-60, 61-90, 91-120, 120+
ENTITY_ID = SearchAttributeKey.for_keyword("EntityId")  # opaque uuid of the workflow's business entity
ENTITY_TYPE = SearchAttributeKey.for_keyword("EntityType")  # patient, encounter, claim, remittance, ...
PATIENT_ID = SearchAttributeKey.for_keyword("PatientId")  # opaque uuid, never a name or member id
CLAIM_ID = SearchAttributeKey.for_keyword("ClaimId")  # opaque uuid
ESCALATED = SearchAttributeKey.for_bool("Escalated")  # a work item of this workflow passed its SLA

ALL_KEYS: tuple[SearchAttributeKey[Any], ...] = (
    STAGE,
    PAYER_ID,
    CLAIM_STATUS,
    WORK_QUEUE,
    AGING_BUCKET,
    ENTITY_ID,
    ENTITY_TYPE,
    PATIENT_ID,
    CLAIM_ID,
    ESCALATED,
)

# The names workflows set them by (flows.revenue._common.set_visibility, starting_visibility).
BY_NAME: dict[str, SearchAttributeKey[str]] = {
    "stage": STAGE,
    "payer_id": PAYER_ID,
    "claim_status": CLAIM_STATUS,
    "aging_bucket": AGING_BUCKET,
    "entity_id": ENTITY_ID,
    "entity_type": ENTITY_TYPE,
    "patient_id": PATIENT_ID,
    "claim_id": CLAIM_ID,
}


def starting_visibility(**values: str) -> TypedSearchAttributes:
    """Search attributes given to a workflow when it is started: its first stage, visible from the start and free
    (Temporal bills an upsert, not the attributes of a start); the workflow's first upsert of the same values is
    then skipped (flows.revenue._common.set_first_visibility)."""
    return TypedSearchAttributes([SearchAttributePair(BY_NAME[name], value) for name, value in values.items()])


def aging_bucket(days: int) -> str:
    """The A/R aging bucket for an age in days (the same buckets the A/R reports use)."""
    if days <= 30:
        return "0-30"
    if days <= 60:
        return "31-60"
    if days <= 90:
        return "61-90"
    if days <= 120:
        return "91-120"
    return "120+"
