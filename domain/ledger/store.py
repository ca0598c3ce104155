"""Writing entries and reading balances: batched, so posting 10,000 claims is a handful of round trips.

Accounts are found or created by code in one query; entries whose idempotency key is already in the store are
skipped (that is what makes every posting safe to repeat); the rest go in as two bulk inserts (through the
session's bulk writer, ``domain.store.bulk``: COPY on PostgreSQL when the composition root wired it).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar

from sqlalchemy import String, any_, bindparam, func, select
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session

from domain import models as m
from domain.ledger import accounts as acc
from domain.ledger.accounts import AccountRef
from domain.ledger.entries import EntryDraft
from domain.store.bulk import bulk_insert, bulk_insert_missing

CHUNK = 1000  # keys per IN (...) query: far below every backend's parameter limit

T = TypeVar("T")


def chunks(items: Sequence[T], size: int = CHUNK) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def one_of(session: Session, column: Any, values: Sequence[str]) -> Any:
    """``column IN values`` that stays one bound parameter on PostgreSQL (``= ANY(array)``): a list of a
    thousand ids is then neither a thousand placeholders to parse nor a new statement text each time."""
    if session.get_bind().dialect.name == "postgresql":
        return column == any_(bindparam(None, list(values), type_=ARRAY(String)))
    return column.in_(list(values))


def select_in(session: Session, column: Any, values: Iterable[str], stmt: Any) -> list[Any]:
    """Rows of ``stmt`` whose ``column`` is one of ``values``: chunked, so any number of values works."""
    rows: list[Any] = []
    ordered = sorted(set(values))
    size = 20 * CHUNK if session.get_bind().dialect.name == "postgresql" else CHUNK
    for part in chunks(ordered, size):
        rows.extend(session.execute(stmt.where(one_of(session, column, part))).all())
    return rows


_VARIANT = {digit: "89ab"[int(digit, 16) & 3] for digit in "0123456789abcdef"}


def new_ids(count: int) -> list[str]:
    """``count`` random (version 4) UUID strings, like :func:`domain.models.new_id` but in one draw: posting
    needs tens of thousands of row ids at once. The version digit is 4 and the variant digit one of 8, 9, a, b
    (RFC 4122); the other 122 bits are random."""
    h = os.urandom(16 * count).hex()
    variant = _VARIANT
    return [
        f"{h[o : o + 8]}-{h[o + 8 : o + 12]}-4{h[o + 13 : o + 16]}-"
        f"{variant[h[o + 16]]}{h[o + 17 : o + 20]}-{h[o + 20 : o + 32]}"
        for o in range(0, 32 * count, 32)
    ]


class IdPool:
    """Hands out fresh row ids, drawn :func:`new_ids` a batch at a time."""

    def __init__(self, batch: int = 4096) -> None:
        self._batch = batch
        self._ids: list[str] = []

    def __call__(self) -> str:
        if not self._ids:
            self._ids = new_ids(self._batch)
        return self._ids.pop()


def ensure_accounts(session: Session, refs: Iterable[AccountRef]) -> dict[str, str]:
    """The account id of every ref, creating the missing accounts; code -> id."""
    wanted = {ref.code: ref for ref in refs}
    found: dict[str, str] = {}
    codes = sorted(wanted)
    for code, account_id in select_in(session, m.Account.code, codes, select(m.Account.code, m.Account.id)):
        found[code] = account_id
    missing = [wanted[code] for code in codes if code not in found]
    if missing:
        rows: list[dict[str, Any]] = [
            {
                "id": m.new_id(),
                "code": ref.code,
                "name": ref.name,
                "kind": ref.kind.value,
                "owner_type": ref.owner_type,
                "owner_id": ref.owner_id,
            }
            for ref in missing
        ]
        if bulk_insert_missing(session, m.Account, rows, ("code",)) == len(rows):
            found.update({row["code"]: row["id"] for row in rows})
        else:  # another transaction created some of them meanwhile: theirs are the accounts
            stmt = select(m.Account.code, m.Account.id)
            found.update(select_in(session, m.Account.code, [ref.code for ref in missing], stmt))
    return found


def existing_keys(session: Session, keys: Iterable[str]) -> dict[str, str]:
    """Idempotency key -> entry id for the keys already posted."""
    found: dict[str, str] = {}
    stmt = select(m.JournalEntry.idempotency_key, m.JournalEntry.id)
    for key, entry_id in select_in(session, m.JournalEntry.idempotency_key, keys, stmt):
        found[str(key)] = str(entry_id)
    return found


@dataclass(frozen=True)
class WriteResult:
    written: int
    skipped: int
    entry_ids: dict[str, str] = field(default_factory=dict)  # key -> id, written and skipped alike
    cents_debited: int = 0  # total of the written entries' debits


def write_entries(
    session: Session, drafts: Sequence[EntryDraft], *, now: datetime | None = None, new_prefix: str | None = None
) -> WriteResult:
    """Write the drafts not posted before (by idempotency key); two bulk inserts, no per-line round trip.

    ``new_prefix``: the caller knows that no key starting so is in the store (posting a remittance: its keys
    carry its payer and trace number, unique to the remittance row it has just inserted); those are not looked
    up. Should one be there all the same, the unique key refuses the write and nothing is posted twice."""
    if not drafts:
        return WriteResult(0, 0)
    seen: set[str] = set()
    for draft in drafts:
        if draft.key in seen:
            raise ValueError(f"two entries in one posting share the idempotency key {draft.key}")
        seen.add(draft.key)
    lookup = seen if new_prefix is None else {key for key in seen if not key.startswith(new_prefix)}
    known = existing_keys(session, lookup)
    fresh = [d for d in drafts if d.key not in known]
    if not fresh:
        return WriteResult(0, len(drafts), dict(known))
    account_ids = ensure_accounts(session, (a.account for d in fresh for a in d.amounts))
    at = now or datetime.now(UTC)
    entry_rows: list[dict[str, Any]] = []
    line_rows: list[dict[str, Any]] = []
    ids = dict(known)
    debited = 0
    line_ids = iter(new_ids(sum(len(d.amounts) for d in fresh)))
    entry_ids = iter(new_ids(len(fresh)))
    for draft in fresh:
        entry_id = next(entry_ids)
        ids[draft.key] = entry_id
        entry_rows.append(
            {
                "id": entry_id,
                "idempotency_key": draft.key,
                "kind": draft.kind.value,
                "memo": draft.memo,
                "occurred_at": draft.occurred_at or at,
                "claim_id": draft.claim_id,
                "remittance_id": draft.remittance_id,
                "patient_id": draft.patient_id,
                "reverses_entry_id": draft.reverses_entry_id,
            }
        )
        for amount in draft.amounts:
            debited += amount.debit_cents
            line_rows.append(
                {
                    "id": next(line_ids),
                    "entry_id": entry_id,
                    "account_id": account_ids[amount.account.code],
                    "debit_cents": amount.debit_cents,
                    "credit_cents": amount.credit_cents,
                }
            )
    bulk_insert(session, m.JournalEntry, entry_rows)
    bulk_insert(session, m.JournalLine, line_rows)
    return WriteResult(len(fresh), len(drafts) - len(fresh), ids, debited)


# --- balances (debit-positive) ---------------------------------------------------------------------------


def _net() -> Any:
    return func.coalesce(func.sum(m.JournalLine.debit_cents - m.JournalLine.credit_cents), 0)


def account_balance(session: Session, code: str) -> int:
    stmt = select(_net()).join(m.Account, m.Account.id == m.JournalLine.account_id).where(m.Account.code == code)
    return int(session.execute(stmt).scalar_one())


def balances_by_account(session: Session) -> dict[str, int]:
    stmt = (
        select(m.Account.code, _net())
        .join(m.JournalLine, m.JournalLine.account_id == m.Account.id)
        .group_by(m.Account.code)
    )
    return {code: int(net) for code, net in session.execute(stmt)}


def patient_ar_balance(session: Session, patient_id: str) -> int:
    """What one patient owes (negative: a credit balance to refund)."""
    stmt = (
        select(_net())
        .select_from(m.JournalLine)
        .join(m.JournalEntry, m.JournalEntry.id == m.JournalLine.entry_id)
        .join(m.Account, m.Account.id == m.JournalLine.account_id)
        .where(m.JournalEntry.patient_id == patient_id, m.Account.code.like(f"{acc.PATIENT_AR}:%"))
    )
    return int(session.execute(stmt).scalar_one())


def patient_balances_of_guarantor(session: Session, guarantor_id: str) -> dict[str, int]:
    """Patient id -> balance on the guarantor's patient AR account."""
    stmt = (
        select(m.JournalEntry.patient_id, _net())
        .select_from(m.JournalLine)
        .join(m.JournalEntry, m.JournalEntry.id == m.JournalLine.entry_id)
        .join(m.Account, m.Account.id == m.JournalLine.account_id)
        .where(m.Account.code == acc.patient_ar(guarantor_id).code)
        .group_by(m.JournalEntry.patient_id)
    )
    return {str(patient_id): int(net) for patient_id, net in session.execute(stmt)}


def guarantor_balance(session: Session, guarantor_id: str) -> int:
    return account_balance(session, acc.patient_ar(guarantor_id).code)


def claim_insurance_balances(session: Session, claim_ids: Sequence[str]) -> dict[str, int]:
    """Claim id -> what its payer still owes on it (insurance AR lines of the claim's entries)."""
    result: dict[str, int] = {}
    ordered = sorted(set(claim_ids))
    for part in chunks(ordered, 20 * CHUNK):
        stmt = (
            select(m.JournalEntry.claim_id, _net())
            .select_from(m.JournalLine)
            .join(m.JournalEntry, m.JournalEntry.id == m.JournalLine.entry_id)
            .join(m.Account, m.Account.id == m.JournalLine.account_id)
            .where(one_of(session, m.JournalEntry.claim_id, part), m.Account.code.like(f"{acc.INSURANCE_AR}:%"))
            .group_by(m.JournalEntry.claim_id)
        )
        result.update({str(claim_id): int(net) for claim_id, net in session.execute(stmt)})
    return result
