"""Pure ledger rules: entries balance or are refused; a reversal mirrors its original exactly."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.errors import UnbalancedEntry
from domain.ledger import accounts as acc
from domain.ledger.entries import EntryKind, build_entry, reversal_of, transfer

ACCOUNTS = [
    acc.CASH,
    acc.REVENUE,
    acc.CONTRACTUAL,
    acc.UNAPPLIED_CASH,
    acc.patient_ar("g1"),
    acc.patient_ar("g2"),
    acc.insurance_ar("p1"),
    acc.write_off("bad_debt"),
]
amounts = st.lists(st.tuples(st.sampled_from(ACCOUNTS), st.integers(-(10**7), 10**7)), min_size=1, max_size=8)


@given(amounts)
def test_an_entry_exists_only_when_it_balances(lines: list[tuple[acc.AccountRef, int]]) -> None:
    total = sum(cents for _, cents in lines)
    if total != 0:
        with pytest.raises(UnbalancedEntry):
            build_entry("k", EntryKind.CHARGE, lines)
        return
    net: dict[str, int] = {}
    for account, cents in lines:
        net[account.code] = net.get(account.code, 0) + cents
    if all(v == 0 for v in net.values()):
        assert build_entry("k", EntryKind.CHARGE, lines) is None
        return
    entry = build_entry("k", EntryKind.CHARGE, lines)
    assert entry is not None
    assert entry.debit_total == entry.credit_total
    assert all((a.debit_cents == 0) != (a.credit_cents == 0) for a in entry.amounts)


@given(amounts)
def test_a_reversal_and_its_original_net_to_zero(lines: list[tuple[acc.AccountRef, int]]) -> None:
    balancing = (acc.REFUNDS_PAYABLE, -sum(cents for _, cents in lines))  # an account the strategy never draws
    original = build_entry("orig", EntryKind.INSURANCE_PAYMENT, [*lines, balancing])
    if original is None:
        return
    mirror = reversal_of(original, "entry-1", "rev")
    assert mirror.kind == EntryKind.REVERSAL and mirror.reverses_entry_id == "entry-1"
    net: dict[str, int] = {}
    for amount in (*original.amounts, *mirror.amounts):
        net[amount.account.code] = net.get(amount.account.code, 0) + amount.cents
    assert set(net.values()) == {0}
    assert mirror.debit_total == mirror.credit_total == original.debit_total


@given(st.integers(-(10**8), 10**8))
def test_transfer_is_balanced_and_flips_for_negative_amounts(cents: int) -> None:
    entry = transfer("k", EntryKind.PATIENT_PAYMENT, acc.CASH, acc.patient_ar("g1"), cents)
    if cents == 0:
        assert entry is None
        return
    assert entry is not None and entry.debit_total == entry.credit_total == abs(cents)
    cash = next(a for a in entry.amounts if a.account == acc.CASH)
    assert cash.cents == cents


def test_refusals_are_typed() -> None:
    with pytest.raises(UnbalancedEntry, match="does not balance"):
        build_entry("k", EntryKind.CHARGE, [(acc.CASH, 100), (acc.REVENUE, -99)])
    with pytest.raises(UnbalancedEntry, match="integer cents"):
        build_entry("k", EntryKind.CHARGE, [(acc.CASH, 1.5), (acc.REVENUE, -1.5)])  # type: ignore[list-item]
    with pytest.raises(UnbalancedEntry, match="longer than 200"):
        transfer("k" * 201, EntryKind.CHARGE, acc.CASH, acc.REVENUE, 5)
    with pytest.raises(ValueError):
        acc.write_off("lottery")


def test_new_ids_are_distinct_version_4_uuids() -> None:
    """Posting draws its row ids in one batch (``new_ids``): each a canonical version-4, RFC 4122 UUID string."""
    import uuid

    from domain.ledger.store import new_ids

    ids = new_ids(5000)
    assert len(set(ids)) == 5000
    for text in ids:
        parsed = uuid.UUID(text)
        assert str(parsed) == text and parsed.version == 4 and parsed.variant == uuid.RFC_4122
    assert new_ids(0) == []
