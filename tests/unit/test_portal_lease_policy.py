"""The portal lease's pure parts: backoff, renewal cadence, the account hash and holder ids, error types."""

from __future__ import annotations

import os
import socket
from datetime import timedelta
from itertools import islice

import pytest

from activities.contracts import portal as contract
from activities.portals.activities import _application_error
from activities.portals.errors import PortalError
from activities.portals.lease import LeasePolicy, PortalAccountBusy, PortalLeaseLost, account_hash, new_holder_id


def test_polls_double_up_to_the_cap() -> None:
    policy = LeasePolicy(first_poll=timedelta(milliseconds=250), max_poll=timedelta(seconds=2))
    delays = [d.total_seconds() for d in islice(policy.poll_delays(), 7)]
    assert delays == [0.25, 0.5, 1.0, 2.0, 2.0, 2.0, 2.0]


def test_renewal_comes_three_times_per_ttl() -> None:
    assert LeasePolicy(ttl=timedelta(minutes=10)).renew_every == timedelta(seconds=200)
    assert LeasePolicy().ttl == timedelta(minutes=10)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"ttl": timedelta(0)},
        {"wait": timedelta(seconds=-1)},
        {"first_poll": timedelta(0)},
        {"first_poll": timedelta(seconds=5), "max_poll": timedelta(seconds=1)},
    ],
)
def test_a_policy_that_cannot_work_is_refused(kwargs: dict[str, timedelta]) -> None:
    with pytest.raises(ValueError):
        LeasePolicy(**kwargs)


def test_the_account_is_known_by_a_hash_only() -> None:
    key = "SBXCC:cc-biller"
    digest = account_hash(key)
    assert len(digest) == 64 and "cc-biller" not in digest
    assert digest == account_hash(key) != account_hash("SBXCC:cc-second")


def test_each_acquisition_has_its_own_holder_id() -> None:
    first, second = new_holder_id(), new_holder_id()
    assert first != second
    host, pid, _ = first.rsplit(":", 2)
    assert host == socket.gethostname()[:120] and pid == str(os.getpid())
    assert len(first) <= 200  # the column's width


@pytest.mark.parametrize("error", [PortalAccountBusy("SBXCC: busy"), PortalLeaseLost("SBXCC: lost")])
def test_lease_failures_are_retryable_portal_unavailable(error: PortalError) -> None:
    """The activity turns them into a retryable portal_unavailable ApplicationError: the retry policy waits."""
    application_error = _application_error(error, "SBXCC")
    assert application_error.type == contract.ERROR_UNAVAILABLE
    assert not application_error.non_retryable
