"""Journal entries as values: built and checked without a database.

An entry is one business event (a charge, an insurance payment, a contractual adjustment...). It is built from
signed amounts (positive debits, negative credits) and refuses to exist unless it balances, so nothing
unbalanced ever reaches the store. Its idempotency key comes from its source (the ERA's payer, trace number and
claim; a payment's id; a workflow's key), so the same event posted twice is written once.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum

from domain.errors import UnbalancedEntry
from domain.ledger.accounts import AccountRef


class EntryKind(StrEnum):
    CHARGE = "charge"
    PATIENT_CHARGE = "patient_charge"
    INSURANCE_PAYMENT = "insurance_payment"
    CONTRACTUAL = "contractual"
    TRANSFER_TO_PATIENT = "transfer_to_patient"
    TRANSFER_TO_SECONDARY = "transfer_to_secondary"
    DENIAL_WRITE_OFF = "denial_write_off"
    REBILL_TO_PATIENT = "rebill_to_patient"
    PATIENT_PAYMENT = "patient_payment"
    PATIENT_WRITE_OFF = "patient_write_off"
    REFUND = "refund"
    REVERSAL = "reversal"
    PROVIDER_ADJUSTMENT = "provider_adjustment"
    UNAPPLIED_CASH = "unapplied_cash"
    APPLY_UNAPPLIED = "apply_unapplied"
    # A parked claim payment a person wrote off (unapplied cash to the write-off account of the reason), and a
    # remittance's payment total that differs from its claims minus PLB, written off so cash matches the payment.
    UNAPPLIED_WRITE_OFF = "unapplied_write_off"
    PAYMENT_DIFFERENCE = "payment_difference"
    NO_SHOW_FEE = "no_show_fee"
    CHARGE_CORRECTION = "charge_correction"  # a biller corrected a charged claim's line charges
    PAYER_CHANGE = "payer_change"  # a biller corrected a charged claim to another payer: its AR moves along


@dataclass(frozen=True)
class Amount:
    """One line: debit when ``cents`` is positive, credit when negative."""

    account: AccountRef
    cents: int

    @property
    def debit_cents(self) -> int:
        return self.cents if self.cents > 0 else 0

    @property
    def credit_cents(self) -> int:
        return -self.cents if self.cents < 0 else 0


@dataclass(frozen=True)
class EntryDraft:
    key: str
    kind: EntryKind
    amounts: tuple[Amount, ...]
    memo: str = ""
    claim_id: str | None = None
    patient_id: str | None = None
    remittance_id: str | None = None
    reverses_entry_id: str | None = None
    occurred_at: datetime | None = None
    metadata: dict[str, str] = field(default_factory=dict, compare=False)

    @property
    def debit_total(self) -> int:
        return sum(a.debit_cents for a in self.amounts)

    @property
    def credit_total(self) -> int:
        return sum(a.credit_cents for a in self.amounts)


def build_entry(
    key: str,
    kind: EntryKind,
    amounts: Iterable[tuple[AccountRef, int]],
    *,
    memo: str = "",
    claim_id: str | None = None,
    patient_id: str | None = None,
    remittance_id: str | None = None,
    reverses_entry_id: str | None = None,
    occurred_at: datetime | None = None,
) -> EntryDraft | None:
    """A balanced entry from signed amounts, or None when every amount is zero (nothing happened).

    Amounts on the same account are netted first; raises :class:`UnbalancedEntry` when debits and credits
    differ, before anything can be written.
    """
    net: dict[AccountRef, int] = {}
    for account, cents in amounts:
        if not isinstance(cents, int) or isinstance(cents, bool):
            raise UnbalancedEntry(f"entry {kind}: amounts must be integer cents")
        net[account] = net.get(account, 0) + cents
    lines = tuple(Amount(account, cents) for account, cents in net.items() if cents != 0)
    total = sum(a.cents for a in lines)
    if total != 0:
        raise UnbalancedEntry(f"entry {kind} ({key}) does not balance: debits minus credits is {total} cents")
    if not lines:
        return None
    if len(lines) < 2:
        raise UnbalancedEntry(f"entry {kind} ({key}) needs at least two lines")
    if len(key) > 200:
        raise UnbalancedEntry(f"entry {kind}: idempotency key longer than 200 characters")
    return EntryDraft(
        key=key,
        kind=kind,
        amounts=lines,
        memo=memo[:200],
        claim_id=claim_id,
        patient_id=patient_id,
        remittance_id=remittance_id,
        reverses_entry_id=reverses_entry_id,
        occurred_at=occurred_at,
    )


def transfer(
    key: str,
    kind: EntryKind,
    debit: AccountRef,
    credit: AccountRef,
    cents: int,
    **links: str | None,
) -> EntryDraft | None:
    """The common two-line entry: ``cents`` from ``credit`` to ``debit`` (negative cents flips the sides).

    Balanced by construction, so it skips :func:`build_entry`'s netting (posting builds tens of thousands).
    """
    if debit == credit or type(cents) is not int:
        return build_entry(key, kind, [(debit, cents), (credit, -cents)], **links)  # type: ignore[arg-type]
    if cents == 0:
        return None
    if len(key) > 200:
        raise UnbalancedEntry(f"entry {kind}: idempotency key longer than 200 characters")
    memo = links.pop("memo", None) or ""
    return EntryDraft(
        key=key,
        kind=kind,
        amounts=(Amount(debit, cents), Amount(credit, -cents)),
        memo=memo[:200],
        **links,  # type: ignore[arg-type]
    )


def reversal_of(original: EntryDraft, original_entry_id: str, key: str) -> EntryDraft:
    """The exact mirror of an entry: same accounts, sides swapped; with it the original nets to zero."""
    return replace(
        original,
        key=key,
        kind=EntryKind.REVERSAL,
        amounts=tuple(Amount(a.account, -a.cents) for a in original.amounts),
        memo=f"reversal of {original.kind}"[:200],
        reverses_entry_id=original_entry_id,
    )
