"""Where a delivered 835 is kept before PaymentPosting reads it, under its business key.

Every way an 835 arrives (the clearinghouse mailbox polled by RemittanceIntake, `carecycle remit post`, the
drop-folder sweep, an EOB PDF read into an 835) stores it here, under ``edi/835/<remittance key>.x12``, and
starts PaymentPosting as ``posting-<remittance key>``. The key is the payments' identity
(``domain.remittance.remittance_key``), so a re-delivery keeps the first copy and starts nothing new.
What posting did is kept beside it (``<key>.posting.json``): the per-remittance results `remit post` prints;
a large remittance's outcomes to tell wait there too (``<key>.fan-out.json``, read a page at a time by posting.tell).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from activities.contracts import revenue as c
from activities.documents.records import store_and_record
from activities.documents.store import DocumentStore
from domain.errors import DomainError
from domain.remittance import remittance_key
from domain.store.uow import UnitOfWork
from domain.x12.remit835 import parse_835

REMITTANCE_PREFIX = "edi/835"
# Remittance keys of EOB PDFs read into 835s (eob.read): what they post is recorded with source "eob_pdf".
EOB_REMITTANCE_KEY_PREFIX = "eob-"


def document_key(key: str) -> str:
    return f"{REMITTANCE_PREFIX}/{key}.x12"


def report_key(key: str) -> str:
    return f"{REMITTANCE_PREFIX}/{key}.posting.json"


def safe_key_part(text: str) -> str:
    cleaned = "".join(ch if (ch.isascii() and ch.isalnum()) or ch in "-_." else "-" for ch in text.strip())
    return cleaned.strip(".-")[:100] or "unnamed"


def delivery_key(x12: str, fallback_name: str) -> str:
    """The business key of an 835 file: its payments' identity, or (unreadable) ``file-<name>`` so that
    posting still runs and a person hears why it cannot post."""
    try:
        remittances = parse_835(x12)
    except DomainError:
        remittances = []
    if not remittances:
        return f"file-{safe_key_part(fallback_name)}"
    return remittance_key(remittances)


def keep_delivery(documents: DocumentStore, uow: UnitOfWork, key: str, x12: str) -> bool:
    """Store the 835 under its key unless a copy is there already (the first delivery is what posts).

    Returns True when this call stored it. The Document row commits with the caller's unit of work."""
    if documents.exists(document_key(key)):
        return False
    store_and_record(
        documents, uow, document_key(key), x12.encode("ascii", errors="replace"), "application/edi-x12", "era_835"
    )
    return True


def write_report(documents: DocumentStore, key: str, results: Sequence[Mapping[str, Any]]) -> str:
    """What posting did with each remittance of the delivery (as ``domain.posting`` reports it)."""
    body = json.dumps({"remittance_key": key, "remittances": list(results)}, indent=1, default=str)
    return documents.put(report_key(key), body.encode("utf-8"), "application/json").key


def read_report(documents: DocumentStore, key: str) -> list[dict[str, Any]] | None:
    if not documents.exists(report_key(key)):
        return None
    data = json.loads(documents.get(report_key(key)).decode("utf-8"))
    return list(data.get("remittances", []))


def fan_out_key(key: str) -> str:
    return f"{REMITTANCE_PREFIX}/{key}.fan-out.json"


@dataclass(frozen=True)
class FanOut:
    """What a large remittance's posting has to tell, kept beside its 835 (PaymentPosting's history only counts
    it): each claim's outcome, the secondary claims the crossover created, the guarantors left with a balance.
    Ids, codes and cents only, like the workflow payloads it stands in for."""

    outcomes: tuple[c.ClaimOutcome, ...]
    secondary_claims: tuple[str, ...]
    guarantors: tuple[str, ...]

    def __len__(self) -> int:
        return len(self.outcomes) + len(self.secondary_claims) + len(self.guarantors)


def keep_fan_out(documents: DocumentStore, key: str, fan_out: FanOut) -> None:
    body = {
        "remittance_key": key,
        "outcomes": [asdict(o) for o in fan_out.outcomes],
        "secondary_claims": list(fan_out.secondary_claims),
        "guarantors": list(fan_out.guarantors),
    }
    documents.put(fan_out_key(key), json.dumps(body, separators=(",", ":")).encode("utf-8"), "application/json")


def read_fan_out(documents: DocumentStore, key: str) -> FanOut | None:
    if not documents.exists(fan_out_key(key)):
        return None
    data = json.loads(documents.get(fan_out_key(key)).decode("utf-8"))
    return FanOut(
        outcomes=tuple(_outcome(o) for o in data["outcomes"]),
        secondary_claims=tuple(data["secondary_claims"]),
        guarantors=tuple(data["guarantors"]),
    )


def _outcome(data: dict[str, Any]) -> c.ClaimOutcome:
    return c.ClaimOutcome(
        claim_id=str(data["claim_id"]),
        remittance_key=str(data["remittance_key"]),
        status=str(data["status"]),
        paid_cents=int(data["paid_cents"]),
        patient_responsibility_cents=int(data["patient_responsibility_cents"]),
        adjustment_codes=tuple(data["adjustment_codes"]),
        remark_codes=tuple(data["remark_codes"]),
        explanation=tuple(data["explanation"]),
        claim_status=str(data["claim_status"]),
    )
