"""One payment's check/EFT number, however a channel prints it, is one trace key; different payments never share one."""

from __future__ import annotations

import pytest

from domain.remittance import Remittance, payment_key, remittance_key, trace_key


@pytest.mark.parametrize(
    "printed",
    [
        "000123456",
        "123456",
        " 123456 ",
        "CHK 123456",
        "chk 123456",
        "CHK# 000123456",
        "# 123456",
        "#123456",
        "Check No. 123456",
        "Check Number: 0123456",
        "EFT Trace: 000123456",
        "TRN 123456",
        "123 456",
        "12 34 56",
        "\t123456\n",
    ],
)
def test_one_check_printed_many_ways_is_one_key(printed: str) -> None:
    assert trace_key(printed) == "123456"


@pytest.mark.parametrize(
    ("one", "other"),
    [
        ("123456", "1234560"),  # trailing zeros are digits of the number
        ("123456", "123457"),
        ("EFT12345", "12345"),  # letters joined to the number are the trace itself
        ("CHK7001", "7001"),
        ("12345A", "12345"),
        ("A0012345", "A12345"),  # leading zeros go only from a number of digits alone
        ("123-456", "123456"),  # punctuation inside the trace stays
        ("123.456", "123456"),
        ("0", "00A"),
        ("1", "10"),
    ],
)
def test_different_payments_stay_distinct(one: str, other: str) -> None:
    assert trace_key(one) != trace_key(other)


@pytest.mark.parametrize(
    ("printed", "key"),
    [
        ("0", "0"),
        ("0000", "0"),
        ("eft4242", "EFT4242"),
        ("CHK", "CHK"),  # a label alone is not emptied
        ("#", "#"),
        ("CHK-123", "CHK-123"),  # no separator the rule knows: kept as printed
        ("x" * 60, "X" * 50),  # the column's length
    ],
)
def test_edge_cases(printed: str, key: str) -> None:
    assert trace_key(printed) == key


def test_a_key_is_its_own_key() -> None:
    for printed in ("000123456", "CHK 0042", "eft4242", "123-456", "0"):
        assert trace_key(trace_key(printed)) == trace_key(printed)


def _remit(trace: str, payer: str = "SBXCC") -> Remittance:
    return Remittance(payer, "Payer", "Clinic", "1999999984", "CHK", 100, trace, None)


def test_workflow_ids_of_one_payment_meet() -> None:
    assert payment_key("SBXCC", "000123456") == payment_key("SBXCC", "CHK 123456") == "era-SBXCC-123456"
    assert payment_key("SBXCC", "# 123456", prefix="eob") == "eob-SBXCC-123456"
    assert payment_key("SBXCC", "CHK7001", prefix="eob") == "eob-SBXCC-CHK7001"  # ids of existing traces unchanged
    assert payment_key("SBXCC", "123456") != payment_key("SBXCC", "1234560")
    assert payment_key("SBXCC", "000123456", as_received=True) == "era-SBXCC-000123456"
    assert remittance_key([_remit("000123456")]) == remittance_key([_remit("123456")]) == "era-SBXCC-123456"
    two = [_remit("000123456"), _remit("777")]
    assert remittance_key(two) == remittance_key([_remit("777"), _remit("CHK 123456")])
    assert remittance_key(two) != remittance_key([_remit("123456"), _remit("778")])


class _Documents:
    def __init__(self, *keys: str) -> None:
        self.keys = set(keys)

    def exists(self, key: str) -> bool:
        return key in self.keys


def test_an_unknown_payers_stored_835_is_found_under_either_id() -> None:
    """Retrying an unknown payer's item finds its stored 835 under the trace key's id, or under the id as received
    (stored before trace keys)."""
    from activities.revenue.posting_exceptions import PostingExceptionActivities
    from activities.revenue.remittances import document_key
    from domain import models as m

    item = m.WorkItem(context={"payer_id": "SBXQQ", "trace_number": "000123"})
    for stored in ("era-SBXQQ-123", "era-SBXQQ-000123"):
        activities = PostingExceptionActivities(None, _Documents(document_key(stored)))  # type: ignore[arg-type]
        assert activities._stored_835("", item) == stored
    nothing = PostingExceptionActivities(None, _Documents())  # type: ignore[arg-type]
    assert nothing._stored_835("", item) == ""
