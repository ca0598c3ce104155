"""A posting pauses Python's cyclic garbage collector while it builds its rows, and always turns it back on."""

from __future__ import annotations

import gc

import pytest

from domain.posting.service import _collector_paused


def test_the_collector_is_off_during_and_back_on_after_even_on_an_exception() -> None:
    assert gc.isenabled()
    with _collector_paused():
        assert not gc.isenabled()
    assert gc.isenabled()
    with pytest.raises(RuntimeError), _collector_paused():
        raise RuntimeError("a posting that fails half-way")
    assert gc.isenabled()


def test_a_collector_turned_off_by_the_caller_stays_off() -> None:
    gc.disable()
    try:
        with _collector_paused():
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()
